"""cluster.py's local runner on its own: every task's result comes back with its own tag, in this process or in
worker processes, and the resource tracker is quieted without losing the user's warning filters (test_faults.py
runs the Dask runner)."""

import os

import pytest

from transfer_learning.cluster import TRACKER_WARNING, LocalRunner, _within, quiet_resource_tracker
from transfer_learning.vocab import ConfigError


def _square(x):
    return x * x, os.getpid()


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_result_comes_back_with_its_own_tag(jobs, monkeypatch):
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)  # restored after: the runner sets it for its workers
    tasks = [(f"run{i}", _square, (i,)) for i in range(6)]
    with LocalRunner(jobs) as runner:
        got = {tag: result for tag, result in runner.run(tasks)}
    assert {tag: value for tag, (value, _) in got.items()} == {f"run{i}": i * i for i in range(6)}
    in_this_process = {pid for _, pid in got.values()} == {os.getpid()}
    assert in_this_process == (jobs == 1)


def test_the_tracker_filter_is_added_once_after_the_users_own(monkeypatch):
    monkeypatch.setenv("PYTHONWARNINGS", "error::DeprecationWarning")
    quiet_resource_tracker()
    quiet_resource_tracker()
    assert os.environ["PYTHONWARNINGS"] == f"error::DeprecationWarning,{TRACKER_WARNING}"
    monkeypatch.delenv("PYTHONWARNINGS")
    quiet_resource_tracker()
    assert os.environ["PYTHONWARNINGS"] == TRACKER_WARNING


def test_a_cluster_step_that_does_not_answer_is_one_line():
    import threading

    never = threading.Event()
    with pytest.raises(ConfigError, match="^--scheduler: the scheduler did not answer within 0.1 s; check"):
        _within(0.1, "the scheduler", never.wait)
    never.set()
    assert _within(5, "the scheduler", lambda: 42) == 42
