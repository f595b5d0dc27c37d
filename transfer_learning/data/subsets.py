"""Which target examples a run learns from: stratified random subsets drawn from --data-seed, or the
first N (the protocol of the results committed before data replicates).

A stratified subset of n examples gives each class its share of n in the full split, rounded by
largest remainder, so every class is within one example of n x (its count / the split's size). The
chosen training examples are shuffled, so the minibatch order changes with the data seed too; the
validation examples keep the split's order (their order changes nothing).
"""

import hashlib
from dataclasses import replace

import numpy as np

from .core import Dataset, Split

#: How the target's subset is chosen: "stratified" (random, per --data-seed) or "first" (the first N).
SUBSET_KINDS = ("stratified", "first")
#: Mixed into the data seed, so that the data draws never share a stream with the run's other generators.
_DATA_STREAM = 0x5EED_DA7A


def class_quotas(labels: np.ndarray, n: int) -> np.ndarray:
    """Examples per class for a stratified sample of ``n``: shares of the split, rounded by largest remainder.

    Ties between equal remainders go to the lower class label."""
    counts = np.bincount(labels)
    exact = n * counts / counts.sum()
    quotas = np.floor(exact).astype(int)
    remainders = exact - quotas
    order = sorted(range(len(counts)), key=lambda c: (-remainders[c], c))
    for c in order[: n - quotas.sum()]:
        quotas[c] += 1
    return quotas


def stratified_indices(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` positions of ``labels``, each class's quota drawn without replacement, in ascending order."""
    labels = np.asarray(labels)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
              for c, k in enumerate(class_quotas(labels, n)) if k]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def data_generators(data_seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The generators of the training and the validation draw, from the data seed alone."""
    train, valid = np.random.SeedSequence([data_seed, _DATA_STREAM]).spawn(2)
    return np.random.default_rng(train), np.random.default_rng(valid)


def subset_indices(task: Dataset, train_size, valid_size, kind: str, data_seed: int) -> dict:
    """{"train": positions in task.train, in training order; "valid": positions in task.valid}.

    ``train_size``/``valid_size`` None keep the whole split (in its order)."""
    train_rng, valid_rng = data_generators(data_seed)
    n_train, n_valid = task.train.y.shape[0], task.valid.y.shape[0]
    if kind == "first":
        train = np.arange(n_train if train_size is None else train_size)
        valid = np.arange(n_valid if valid_size is None else valid_size)
        return {"train": train, "valid": valid}
    if train_size is None:
        train = np.arange(n_train)
    else:
        train = train_rng.permutation(stratified_indices(task.train.y, train_size, train_rng))
    valid = np.arange(n_valid) if valid_size is None else stratified_indices(task.valid.y, valid_size, valid_rng)
    return {"train": train.astype(np.int64), "valid": valid.astype(np.int64)}


def take_subset(task: Dataset, indices: dict, description: dict) -> Dataset:
    """``task`` with only the indexed training and validation examples; the test split stays whole.

    ``description`` (the kind, sizes and data seed) and a digest of the indices join the dataset's
    fingerprint, so a resumed run refuses another subset like any other changed input."""
    digest = hashlib.sha256(indices["train"].tobytes() + b"/" + indices["valid"].tobytes()).hexdigest()
    fingerprint = {**(task.fingerprint or {}), "subset": {**description, "sha256_of_indices": digest}}
    return replace(task, train=Split(task.train.x[indices["train"]], task.train.y[indices["train"]]),
                   valid=Split(task.valid.x[indices["valid"]], task.valid.y[indices["valid"]]),
                   fingerprint=fingerprint, indices=indices)
