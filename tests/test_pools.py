"""Pools set aside before any subset is drawn: disjoint, the same for every replicate, never read by a training
subset, probe or validation set, and the test error counted over the official split and the extra pool."""

import json

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from tests.helpers import TINY, make_splits, transfer_config, write_pickle
from transfer_learning import cli, pools
from transfer_learning.data import Dataset, Split
from transfer_learning.experiment import target_subset
from transfer_learning.vocab import ConfigError


def dataset(n_train=300):
    (tx, ty), (vx, vy), (sx, sy) = make_splits(sizes=(n_train, 60, 60))
    return Dataset("toy", Split(tx, ty), Split(vx, vy), Split(sx, sy), 4, (0, 1, 2, 3))


def test_the_three_pools_are_disjoint_cover_the_split_and_depend_on_the_pool_seed_alone():
    cut = pools.pool_indices(300, 40, 70, pool_seed=5)
    together = np.concatenate([cut["draw"], cut["valid"], cut["test"]])
    assert sorted(together) == list(range(300))  # every image in exactly one pool
    assert (cut["valid"].size, cut["test"].size, cut["draw"].size) == (40, 70, 190)
    again = pools.pool_indices(300, 40, 70, pool_seed=5)
    assert all(np.array_equal(cut[k], again[k]) for k in cut)
    other = pools.pool_indices(300, 40, 70, pool_seed=6)
    assert not np.array_equal(cut["test"], other["test"])


def test_pools_that_leave_nothing_to_draw_are_refused():
    with pytest.raises(ConfigError, match=r"--valid-pool \+ --test-pool: 200 \+ 100 leave no training images"):
        pools.pool_indices(300, 200, 100, 0)


@pytest.mark.parametrize("data_seed", [1, 2, 3])
def test_every_replicate_draws_its_subset_from_the_draw_pool_and_sees_the_same_pools(data_seed):
    full = dataset()
    cfg = transfer_config(["--target-train-size", "50", "--valid-pool", "40", "--test-pool", "70",
                           "--pool-seed", "5", "--data-seed", str(data_seed)])
    target = target_subset(cfg, full)
    cut = pools.pool_indices(300, 40, 70, 5)
    train_positions = target.indices["train"]
    assert train_positions.size == 50
    assert not set(train_positions) & (set(cut["valid"]) | set(cut["test"]))
    assert_array_equal(target.train.x, full.train.x[train_positions])  # the positions recorded are the images used
    assert_array_equal(target.pools["valid"].x, full.train.x[cut["valid"]])
    assert_array_equal(target.pools["test"].x, full.train.x[cut["test"]])
    assert_array_equal(target.valid.x, full.valid.x[target.indices["valid"]])  # the official validation split
    assert_array_equal(target.test.x, full.test.x)  # the official test split, whole
    assert target.fingerprint["subset"]["pools"] == pools.digest(cut)


def test_a_subset_larger_than_the_draw_pool_names_the_draw_pool():
    cfg = transfer_config(["--target-train-size", "250", "--valid-pool", "40", "--test-pool", "70"])
    with pytest.raises(ConfigError, match="--target-train-size: 250 is more than the 190 draw pool's training"):
        target_subset(cfg, dataset())


def test_the_pooled_test_error_counts_image_by_image():
    assert pools.pooled_test_error(0.25, 8, 0.5, 4) == 4 / 12
    assert pools.pooled_test_error(0.1, 10, 0.0, 0) == 0.1


def test_test_pool_needs_a_validation_pool():
    with pytest.raises(ConfigError, match="--test-pool: needs --valid-pool"):
        transfer_config(["--test-pool", "10"])


def numpy_errors(weights, split):
    h = split.x
    layer = 0
    while f"hidden{layer}_W" in weights:
        h = np.tanh(h @ weights[f"hidden{layer}_W"] + weights[f"hidden{layer}_b"])
        layer += 1
    return (h @ weights["output_W"] + weights["output_b"]).argmax(axis=1) != split.y


def test_a_run_with_pools_never_trains_or_probes_on_them_and_tests_on_both(tmp_path):
    splits = make_splits(sizes=(300, 60, 60))
    pickle_path = write_pickle(tmp_path / "toy.pkl.gz", tuple(splits))
    out = tmp_path / "run"
    argv = [*TINY, "--keep-fraction", "0.5", "--target-train-size", "40", "--valid-pool", "30", "--test-pool", "50",
            "--baselines", "scratch", "--dataset", str(pickle_path), "--out", str(out)]
    assert cli.main_transfer(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["pools"]["valid"] == 30 and results["pools"]["extra_test"] == 50
    # the target task: classes 2 and 3 of the training split, in their order
    (tx, ty), _, (sx, sy) = splits
    target_rows = np.flatnonzero(np.isin(ty, (2, 3)))
    cut = pools.pool_indices(target_rows.size, 30, 50, 0)
    with np.load(out / "target_indices.npz") as saved:
        trained_on = set(saved["train"])
    probe = set(json.loads((out / "transfer.json").read_text())["probe_indices"])
    assert not trained_on & (set(cut["valid"]) | set(cut["test"]))
    assert len(probe) == 10 and max(probe) < 40  # positions in the training subset, which is in the draw pool
    pool = Split(tx[target_rows][cut["valid"]], (ty[target_rows][cut["valid"]] == 3).astype(np.int64))
    test_rows = np.isin(sy, (2, 3))
    official = Split(sx[test_rows], (sy[test_rows] == 3).astype(np.int64))
    extra = Split(tx[target_rows][cut["test"]], (ty[target_rows][cut["test"]] == 3).astype(np.int64))
    for arm, suffix in (("transfer", ""), ("scratch", "_scratch")):
        with np.load(out / f"weights_final{suffix}.npz") as w:
            weights = {k: w[k] for k in w.files}
        wrong = numpy_errors(weights, official).sum() + numpy_errors(weights, extra).sum()
        metrics = results["arms"][arm]
        assert metrics["test_size"] == official.y.size + extra.y.size
        assert metrics["test_error"] == pytest.approx(wrong / metrics["test_size"], abs=1e-12)
        assert metrics["test_error_official"] == pytest.approx(numpy_errors(weights, official).mean(), abs=1e-12)
        assert metrics["valid_pool_error"] == pytest.approx(numpy_errors(weights, pool).mean(), abs=1e-12)
