"""Pools of the target's training images, set aside once per task before any subset is drawn (--valid-pool,
--test-pool, --pool-seed).

The target's training split is cut, by one seeded permutation, into three disjoint pools:

- the **draw pool**, which every training subset (and so every probe) is drawn from;
- the **validation pool**, on which the two-stage study chooses each arm's settings and the oracle rule measures
  the loss a node's removal causes;
- the **extra test pool**, which joins the official test split: an arm's test error is counted over both.

The cut depends on the pool seed and the pool sizes alone, so every replicate and every arm of a task sees the
same pools. Per-replicate validation (early stopping, the learning-rate choice within a run) still comes from the
official validation split, which is in none of the pools; the official test split is never cut.
"""

import hashlib
from dataclasses import replace

import numpy as np

from .data.core import Dataset, Split
from .vocab import ConfigError

#: Mixed into the pool seed, so that the pool cut never shares a stream with the data or weight draws.
_POOL_STREAM = 0x9001_5EED


def pool_indices(n_train: int, valid_pool: int, test_pool: int, pool_seed: int) -> dict:
    """{"draw", "valid", "test"}: disjoint positions in the training split, each in ascending order."""
    if valid_pool + test_pool >= n_train:
        raise ConfigError(f"--valid-pool + --test-pool: {valid_pool} + {test_pool} leave no training images of the "
                          f"{n_train} to draw subsets from")
    order = np.random.default_rng([pool_seed, _POOL_STREAM]).permutation(n_train)
    valid, test, draw = np.split(order, [valid_pool, valid_pool + test_pool])
    return {"draw": np.sort(draw), "valid": np.sort(valid), "test": np.sort(test)}


def digest(indices: dict) -> str:
    """A short fingerprint of the cut: equal digests, equal pools."""
    joined = b"/".join(indices[k].astype(np.int64).tobytes() for k in ("draw", "valid", "test"))
    return hashlib.sha256(joined).hexdigest()[:16]


def set_aside(task: Dataset, valid_pool: int, test_pool: int, pool_seed: int) -> tuple[Dataset, dict]:
    """``task`` with only the draw pool as its training split and the two other pools in ``task.pools``; and the
    cut's positions in the full training split (the draw pool's positions map a subset back to the full split)."""
    indices = pool_indices(task.train.y.shape[0], valid_pool, test_pool, pool_seed)
    train = task.train

    def part(name):
        return Split(train.x[indices[name]], train.y[indices[name]])

    pools = {"valid": part("valid"), "test": part("test"), "digest": digest(indices), "seed": pool_seed}
    return replace(task, train=part("draw"), pools=pools), indices


def record(task: Dataset) -> dict | None:
    """What results.json records of the pools (None without them)."""
    if task.pools is None:
        return None
    return {"valid": int(task.pools["valid"].y.size), "extra_test": int(task.pools["test"].y.size),
            "official_test": int(task.test.y.size), "seed": task.pools["seed"], "digest": task.pools["digest"]}


def pooled_test_error(official_error: float, n_official: int, extra_error: float, n_extra: int) -> float:
    """The error over the official test split and the extra test pool together, counted image by image."""
    wrong = round(official_error * n_official) + round(extra_error * n_extra)
    return wrong / (n_official + n_extra)
