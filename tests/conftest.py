"""Shared fixtures (tiny rng-made data, written once or per test), the --runslow switch for real-MNIST runs, and
the BLAS kernel in pytest's header. The helpers tests import are in tests/helpers.py."""

import os
from pathlib import Path

#: The tests compile many small graphs of their own. They keep them in a cache of their own (set before
#: PyTensor is first imported, and inherited by the scripts tests launch), so that the project's
#: compiledir stays small and quick to open for real runs (transfer_learning/compile_cache.py).
if not any(name in os.environ.get("PYTENSOR_FLAGS", "") for name in ("compiledir", "base_compiledir")):
    TEST_COMPILEDIR = Path.home() / ".pytensor" / "transfer-learning-tests"
    os.environ["PYTENSOR_FLAGS"] = ",".join(filter(None, [os.environ.get("PYTENSOR_FLAGS"),
                                                          f"base_compiledir={TEST_COMPILEDIR}"]))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import transfer_learning  # noqa: E402,F401  (applies the PyTensor set-up before any graph is built)
from tests.helpers import make_splits, write_pickle
from transfer_learning.data import Dataset, Split  # noqa: E402


def pytest_report_header(config):
    """The BLAS kernel the in-process runs compute with (tests/test_golden.py's bits depend on it)."""
    from transfer_learning import blas

    facts = blas.facts()
    return f"BLAS: {blas.describe(facts)} (reproduce with {blas.reproduce_with(facts)})"


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run slow real-data tests")


#: Test modules that run whole runs, sweeps or studies (on tiny data): the e2e tier, which make test-quick leaves
#: out. Tests of the same kind in other modules carry @pytest.mark.e2e themselves.
E2E_MODULES = {"test_compat2015", "test_protocol", "test_faults", "test_sweep", "test_resume", "test_study",
               "test_compile_cache", "test_scripts", "test_packaging", "test_golden", "test_committed_results",
               "test_stages"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rpartition(".")[2] in E2E_MODULES:
            item.add_marker(pytest.mark.e2e)
    if os.environ.get("MUTANT_UNDER_TEST"):
        _quickest_first(items)
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: needs --runslow (make test passes it)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def _quickest_first(items):
    """Under mutmut (make mutate, make mutate-fast), which stops a mutant's tests at the first failure: run them
    in the order of the times its first pass over the suite recorded, so that a caught mutant is caught by its
    quickest test, not after a ten-second one. Elsewhere the order stays the files'."""
    import json

    stats = Path("mutmut-stats.json")  # in the mutants/ folder mutmut runs pytest from
    if not stats.is_file():
        return
    seconds = json.loads(stats.read_text()).get("duration_by_test", {})
    items.sort(key=lambda item: seconds.get(item.nodeid, 0.0))


@pytest.fixture
def tiny_data():
    splits = make_splits(n_classes=3)
    train, valid, test = (Split(x, y.astype(np.int32)) for x, y in splits)
    return Dataset("tiny", train, valid, test, n_classes=3, classes=(0, 1, 2))


@pytest.fixture
def tiny_pickle(tmp_path):
    """A tutorial-format mnist.pkl.gz with 4x4 images and classes 0-3."""
    return write_pickle(tmp_path / "tiny.pkl.gz", tuple(make_splits()))


@pytest.fixture(scope="module")
def pickle_path(tmp_path_factory):
    """tiny_pickle, written once for a whole test module."""
    return write_pickle(tmp_path_factory.mktemp("tiny") / "tiny.pkl.gz", tuple(make_splits()))


