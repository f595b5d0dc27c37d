"""What every dataset loader returns and how it fails: Split, Dataset, DataError, and the one check
of (x, y) arrays that every format goes through."""

from dataclasses import dataclass

import numpy as np

from ..vocab import DataError

#: The three splits every dataset has, in the tutorial's order.
SPLIT_NAMES = ("train", "valid", "test")


@dataclass(frozen=True)
class Split:
    x: np.ndarray  # [n, n_in] float32
    y: np.ndarray  # [n] int32, labels 0..n_classes-1


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    valid: Split
    test: Split
    n_classes: int
    classes: tuple  # original labels, in the order of the new labels 0..k-1
    class_names: tuple | None = None  # what each new label stands for, where the data names it
    fingerprint: dict | None = None  # what was read, for checking a resumed run's inputs (see inputs.py)
    indices: dict | None = None  # for a subset (subsets.py): its positions in the full train and valid splits
    pools: dict | None = None  # with --valid-pool (pools.py): the "valid" and "test" pools' Splits, set aside

    @property
    def n_in(self) -> int:
        return self.train.x.shape[1]


def check_splits(path, content) -> tuple[Split, Split, Split]:
    """((train_x, train_y), (valid_x, valid_y), (test_x, test_y)) checked and cast: x float32, y int32."""
    shape_msg = f"{path}: expected ((train_x, train_y), (valid_x, valid_y), (test_x, test_y))"
    if not isinstance(content, (tuple, list)) or len(content) != 3:
        raise DataError(f"{shape_msg}, got {type(content).__name__}")
    splits = []
    for name, part in zip(SPLIT_NAMES, content, strict=True):
        if not isinstance(part, (tuple, list)) or len(part) != 2:
            raise DataError(f"{shape_msg}; the {name} part is not an (x, y) pair")
        x, y = part
        if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[0] == 0:
            raise DataError(f"{path}: {name} x must be a non-empty 2-D array [n, pixels], "
                            f"got {getattr(x, 'shape', type(x).__name__)}")
        if not np.issubdtype(x.dtype, np.floating):
            raise DataError(f"{path}: {name} x must hold floats, got dtype {x.dtype}")
        if not isinstance(y, np.ndarray) or y.shape != (x.shape[0],):
            raise DataError(f"{path}: {name} y must be a 1-D array of {x.shape[0]} labels, "
                            f"got {getattr(y, 'shape', type(y).__name__)}")
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{path}: {name} y must hold integer labels, got dtype {y.dtype}")
        if y.min() < 0:
            raise DataError(f"{path}: {name} y has negative label {y.min()}")
        if not np.isfinite(x).all():
            raise DataError(f"{path}: {name} x holds NaN or infinite values")
        splits.append(Split(np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int32)))
    widths = {s.x.shape[1] for s in splits}
    if len(widths) != 1:
        raise DataError(f"{path}: train, valid and test images differ in size: {sorted(widths)}")
    return tuple(splits)
