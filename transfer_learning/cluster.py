"""Where a sweep's runs execute: local worker processes (joblib), or a Dask distributed cluster.

Both runners take (tag, function, args) tasks and yield (tag, result) as runs finish, so the sweep
reads the same either way. The cluster runner first checks the cluster: that it has workers, that the
scheduler and every worker can import this package at this version (the scheduler unpickles the
tasks, so it needs the package too), and that every worker can read the sweep's datasets and write
its folder; each problem stops the sweep with one line saying what is missing where and how to fix it.
Then every run is one task, retried once if it raises; a task whose worker dies is resubmitted by the
scheduler. The sweep never waits in silence: with nothing finishing it prints what it is waiting for.
"""

import concurrent.futures
import sys
import time
from dataclasses import asdict

from . import __version__
from .data.cache import CHECKOUT
from .vocab import ConfigError

#: Seconds a cluster check may take before the sweep stops saying which step did not answer.
CHECK_TIMEOUT = 120
#: Seconds without a finished run after which the sweep says what it is waiting for.
HEARTBEAT = 60


class LocalRunner:
    """joblib worker processes on this machine (``jobs``: -1 one per core; 1 runs in this process)."""

    where = "local"

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.failures = []

    def __enter__(self):
        if self.jobs != 1:
            quiet_resource_tracker()
        return self

    def __exit__(self, *exc):
        return False

    def run(self, tasks):
        import joblib

        parallel = joblib.Parallel(n_jobs=self.jobs, return_as="generator_unordered")
        yield from parallel(joblib.delayed(_tagged)(tag, function, *args) for tag, function, args in tasks)


#: The warning Python's resource tracker prints at exit for each semaphore of a worker pool stopped by Ctrl-C: six
#: lines after the sweep's one-line message, about objects the tracker then frees itself.
TRACKER_WARNING = "ignore:resource_tracker:UserWarning"


def quiet_resource_tracker() -> None:
    """Keep the resource tracker (a process of its own, started with this environment when the pool starts) from
    warning about the semaphores a stopped pool leaves (added after the user's own PYTHONWARNINGS, which stay)."""
    import os

    current = os.environ.get("PYTHONWARNINGS", "")
    if TRACKER_WARNING not in current.split(","):
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [current, TRACKER_WARNING]))


def _tagged(tag, function, *args):
    """A worker call that returns its tag with the result, since results arrive in any order."""
    return tag, function(*args)


def _within(seconds, what, call):
    """``call()``, or a one-line ConfigError if it takes longer than ``seconds``."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(call).result(timeout=seconds)
    except concurrent.futures.TimeoutError as err:
        raise ConfigError(f"--scheduler: {what} did not answer within {seconds} s; check the scheduler's and "
                          "workers' logs") from err
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


IMPORT_CHECK = "__import__('transfer_learning').__version__"
FIX_IMPORT = (f"start them where this package can be imported: pip install it there (pip install {CHECKOUT}), "
              f"or run them with PYTHONPATH={CHECKOUT}")


def probe_worker(base: dict, out_dir: str) -> str:
    """On a worker: read every dataset of the sweep (kept for its runs) and write into the sweep folder."""
    from pathlib import Path

    from .config import TransferConfig
    from .experiment import load_tasks
    from .workspace import worker_workspace

    cfg = TransferConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in base.items()})
    load_tasks(cfg, worker_workspace().datasets)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".probe-{time.time_ns()}"
    probe.write_text("ok")
    probe.unlink()
    return "ok"


class ClusterRunner:
    """A Dask distributed cluster at ``address``; see the module docstring."""

    def __init__(self, address: str, base, out_dir, log=None):
        self.address, self.base, self.out_dir = address, base, str(out_dir)
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.failures = []
        self.client = None

    def __enter__(self):
        try:
            from distributed import Client
        except ImportError as err:
            raise ConfigError("--scheduler: Dask is not installed here (pip install 'transfer-learning-mlp[dask]', "
                              "or dask and distributed)") from err
        try:
            self.client = Client(self.address, timeout="10s")
        except (OSError, ValueError, TimeoutError) as err:
            raise ConfigError(f"--scheduler: cannot reach a Dask scheduler at {self.address} ({err})") from err
        try:
            self.check()
        except BaseException:
            self.client.close()
            raise
        return self

    def __exit__(self, *exc):
        self.client.close()
        return False

    @property
    def where(self):
        return self.address

    def check(self):
        """Stop with one line unless the scheduler and every worker can run the sweep's tasks."""
        client, address = self.client, self.address
        workers = list(_within(CHECK_TIMEOUT, "the scheduler", lambda: client.scheduler_info()["workers"]))
        if not workers:
            raise ConfigError(f"--scheduler: the cluster at {address} has no workers; start one with: "
                              f"dask worker {address}")
        try:
            version = _within(CHECK_TIMEOUT, "the scheduler", lambda: client.run_on_scheduler(eval, IMPORT_CHECK))
        except ConfigError:
            raise
        except Exception as err:  # whatever the scheduler raised while importing
            why = f"{type(err).__name__}: {err}"
            raise ConfigError(f"--scheduler: the scheduler at {address} cannot import transfer_learning ({why}), so "
                              f"it cannot read the sweep's tasks; {FIX_IMPORT}") from err
        answers = _within(CHECK_TIMEOUT, "the workers", lambda: client.run(eval, IMPORT_CHECK, on_error="return"))
        found = {"the scheduler": version, **answers}
        for who, answer in found.items():
            if isinstance(answer, BaseException):
                raise ConfigError(f"--scheduler: worker {who} cannot import transfer_learning "
                                  f"({type(answer).__name__}: {answer}); {FIX_IMPORT}")
            if answer != __version__:
                raise ConfigError(f"--scheduler: {who} has transfer_learning {answer}, this machine {__version__}; "
                                  "install the same version there")
        answers = _within(CHECK_TIMEOUT, "the workers' dataset check",
                          lambda: client.run(probe_worker, asdict(self.base), self.out_dir, on_error="return"))
        for worker, answer in answers.items():
            if isinstance(answer, BaseException):
                raise ConfigError(f"--scheduler: worker {worker} cannot run the sweep: {type(answer).__name__}: "
                                  f"{answer} (it needs the datasets at the same paths, and to write {self.out_dir})")
        self.log(f"[sweep] cluster {address}: {len(workers)} worker(s), transfer_learning {__version__} importable, "
                 "datasets readable")

    def run(self, tasks):
        from distributed import wait

        pending = {}
        for tag, function, args in tasks:
            future = self.client.submit(function, *args, retries=1, pure=False)
            pending[future] = tag
        since = time.monotonic()
        while pending:
            done, _ = wait(list(pending), timeout=HEARTBEAT, return_when="FIRST_COMPLETED")
            if not done:
                n_workers = len(self.client.scheduler_info()["workers"])
                self.log(f"[sweep] waiting for {len(pending)} run(s) on {self.address}, {n_workers} worker(s) "
                         f"connected, nothing finished for {time.monotonic() - since:.0f} s"
                         + ("; the cluster has no workers: start one, or Ctrl-C" if not n_workers else ""))
                continue
            since = time.monotonic()
            for future in done:
                tag = pending.pop(future)
                if future.status == "error":
                    error = future.exception()
                    self.failures.append((tag, error))
                    self.log(f"[sweep] run {tag} failed on the cluster (retried once): {type(error).__name__}: {error}")
                    continue
                yield tag, future.result()
