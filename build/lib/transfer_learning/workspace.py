"""What a process keeps between runs: compiled graphs by shape, and datasets by name.

A single run gets a fresh Workspace, shared by its phases and arms. A sweep worker keeps one for
every run it is given (``worker_workspace``), so a sweep compiles each graph shape and reads each
dataset once per worker process instead of once per run.
"""

from dataclasses import dataclass, field

from .train import GraphCache


@dataclass
class Workspace:
    graphs: GraphCache = field(default_factory=GraphCache)
    datasets: dict = field(default_factory=dict)  # load_task's cache: (name, path, options) -> loaded data


_WORKER = None


def worker_workspace() -> Workspace:
    """This process's long-lived workspace, for sweep workers (the one piece of process state, on purpose)."""
    global _WORKER
    if _WORKER is None:
        _WORKER = Workspace()
    return _WORKER
