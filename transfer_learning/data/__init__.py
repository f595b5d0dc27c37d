"""Datasets as plain NumPy splits: the names usable as --source/--target, class subsets, shared variables.

One module per format: mnist.py (the tutorial's pickle, fetched and verified), fashion.py (IDX
files), imagefolder.py (your own images); core.py holds the types every loader returns, cache.py
where downloads live. This module turns a spec such as ``mnist:0-4`` into a Dataset.
"""

import re
import sys
import typing
from pathlib import Path

import numpy as np

from .cache import data_dir
from ..vocab import DataError
from .core import SPLIT_NAMES, Dataset, Split, check_splits
from .fashion import fashion_dirs, fashion_files, load_fashion_mnist, read_idx
from .imagefolder import RESIZE_MODES, load_image_folder
from .mnist import (MNIST_SHA256, MNIST_SIZE, MNIST_WHEEL, fetch_mnist, load_mnist, mnist_fingerprint,
                    read_mnist_pickle, sha256_of)

__all__ = ["DATASETS", "MNIST_SHA256", "MNIST_SIZE", "MNIST_WHEEL", "RESIZE_MODES", "DataError", "Dataset",
           "LoadOptions", "Split", "TaskSpec", "check_splits", "data_dir", "fashion_dirs", "fetch_mnist",
           "load_data", "load_fashion_mnist", "load_mnist", "load_task", "parse_spec", "read_idx",
           "read_mnist_pickle", "select_classes", "sha256_of", "spec_name", "to_shared"]


class LoadOptions(typing.NamedTuple):
    """How a dataset is read beyond its name and path; only image folders use them."""

    split_seed: int = 0
    invert: bool = False
    resize: str = "fit"
    labels_from_filename: bool = False


def _load_mnist(path, options, log):
    return load_mnist(path, log=log), None, mnist_fingerprint(path, log=log)


def _load_fashion(path, options, log):
    files = fashion_files(path)
    fingerprint = {"files": {str(f.resolve()): sha256_of(f) for pair in files.values() for f in pair}}
    return load_fashion_mnist(path, log=log), None, fingerprint


def _load_image_folder(path, options, log):
    return load_image_folder(path, invert=options.invert, split_seed=options.split_seed, log=log,
                             resize=options.resize, labels_from_filename=options.labels_from_filename)


#: Dataset names usable in --source/--target: each a loader (path, options, log) -> (splits, class names,
#: fingerprint of what was read).
DATASETS = {"mnist": _load_mnist, "fashion-mnist": _load_fashion, "imagefolder": _load_image_folder}

_SPEC = re.compile(r"^(?P<name>[a-z][a-z0-9-]*)(?::(?P<rest>.*))?$")
_CLASS_LIST = re.compile(r"^\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*$")


class TaskSpec(typing.NamedTuple):
    name: str  # a key of DATASETS
    classes: tuple[int, ...] | None  # None: every class
    path: str | None  # where the files are; None: the dataset's default place


def spec_name(spec: str) -> str:
    """The dataset name a spec starts with ('mnist:0-4' -> 'mnist'), without checking the rest."""
    match = _SPEC.match(spec.strip())
    return match["name"] if match else ""


def parse_spec(spec: str, path=None) -> TaskSpec:
    """'mnist' -> mnist, every class; 'mnist:0-4' -> classes 0..4; 'mnist:0,2,4' likewise.

    An image folder names its folder in the spec, ``imagefolder:DIR`` or ``imagefolder:DIR:0-4``,
    unless ``path`` (--source-path/--target-path) gives it, in which case the rest is the class list.
    """
    match = _SPEC.match(spec.strip())
    a_folder = Path(spec).expanduser().is_dir()
    if not match or match["name"] not in DATASETS and a_folder:
        folder = f"; for a folder of images, give imagefolder:{spec}" if a_folder else ""
        raise DataError(f"dataset {spec!r}: expected NAME or NAME:classes, e.g. mnist or mnist:0-4{folder}")
    name, rest = match["name"], match["rest"]
    if name not in DATASETS:
        raise DataError(f"dataset {spec!r}: unknown name {name!r}; known: {', '.join(sorted(DATASETS))}")
    path = None if path is None else str(path)
    if name == "imagefolder" and path is None:
        if not rest:
            raise DataError(f"dataset {spec!r}: name the folder, imagefolder:DIR or imagefolder:DIR:classes "
                            f"(or pass --source-path/--target-path DIR)")
        folder, _, tail = rest.rpartition(":")
        path, rest = (folder, tail) if folder and _CLASS_LIST.match(tail) else (rest, None)
    if rest is None:
        return TaskSpec(name, None, path)
    return TaskSpec(name, _parse_classes(spec, rest), path)


def _parse_classes(spec: str, text: str) -> tuple[int, ...]:
    chosen = set()
    for part in text.split(","):
        part = part.strip()
        bounds = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not bounds:
            raise DataError(
                f"dataset {spec!r}: class list {text!r} must be numbers and ranges like 0-4 or 0,2,4"
            )
        low, high = int(bounds[1]), int(bounds[2] or bounds[1])
        if high < low:
            raise DataError(f"dataset {spec!r}: range {part!r} is empty (high end below low end)")
        chosen.update(range(low, high + 1))
    return tuple(sorted(chosen))


def select_classes(splits, classes, spec: str):
    """Keep only the given classes, renumbered 0..k-1 in ascending order of the original label."""
    classes = tuple(sorted(classes))
    present = np.unique(splits[0].y)
    missing = [c for c in classes if c not in present]
    if missing:
        raise DataError(
            f"dataset {spec!r}: class subset is empty for classes {missing}; "
            f"the data has classes {present.min()}-{present.max()}"
        )
    lookup = np.full(max(int(present.max()), max(classes)) + 1, -1, dtype=np.int32)
    lookup[list(classes)] = np.arange(len(classes), dtype=np.int32)
    out = []
    for name, split in zip(SPLIT_NAMES, splits, strict=True):
        keep = np.isin(split.y, classes)
        if not keep.any():
            raise DataError(f"dataset {spec!r}: the {name} split has no example of classes {list(classes)}")
        out.append(Split(split.x[keep], lookup[split.y[keep]]))
    return tuple(out)


def load_task(spec: str, path=None, log=None, cache=None, split_seed: int = 0, invert: bool = False,
              resize: str = "fit", labels_from_filename: bool = False) -> Dataset:
    """Load a dataset spec such as 'mnist', 'mnist:5-9' or 'imagefolder:letters' as NumPy splits.

    ``path`` is where the dataset's files are (None: its default place). ``split_seed``, ``invert``,
    ``resize`` and ``labels_from_filename`` say how an image folder is read (see imagefolder.py).
    ``cache``, a dict the caller owns, lets several specs (and, in a sweep worker, several runs)
    share a single read.
    """
    name, classes, path = parse_spec(spec, path)
    path = None if path is None else str(Path(path).expanduser())
    cache = {} if cache is None else cache
    options = LoadOptions(split_seed, invert, resize, labels_from_filename) if name == "imagefolder" else LoadOptions()
    key = (name, path, options)
    stamp = _stamp(name, path)
    task_key = ("task", spec, key, classes)
    if task_key in cache and cache[task_key][0] == stamp:  # this very subset, already cut (a sweep worker)
        return cache[task_key][1]
    if key not in cache or cache[key][0] != stamp:  # files changed since the cached read: read them again
        cache[key] = (stamp, DATASETS[name](path, options, log))
    splits, class_names, fingerprint = cache[key][1]
    if classes is None:
        classes = tuple(int(c) for c in np.unique(splits[0].y))
        labels = np.concatenate([s.y for s in splits])
        if labels.max() >= len(classes) or len(classes) < 2:
            # labels must already be 0..k-1 for a softmax over k outputs
            splits = select_classes(splits, classes, spec)
    else:
        splits = select_classes(splits, classes, spec)
    if len(classes) < 2:
        raise DataError(f"dataset {spec!r}: a classification task needs at least 2 classes, got {list(classes)}")
    names = tuple(class_names[c] for c in classes) if class_names else None
    task = Dataset(spec, *splits, n_classes=len(classes), classes=tuple(classes), class_names=names,
                   fingerprint=fingerprint)
    cache[task_key] = (stamp, task)
    return task


def to_shared(split: Split, name: str = ""):
    """The tutorial's shared variables: x as floatX, labels as int32, kept on the device."""
    import pytensor

    x = pytensor.shared(np.asarray(split.x, dtype=pytensor.config.floatX), name=f"{name}_x", borrow=True)
    y = pytensor.shared(np.asarray(split.y, dtype="int32"), name=f"{name}_y", borrow=True)
    return x, y


def load_data(dataset="mnist.pkl.gz"):
    """Tutorial API: [(train_x, train_y), (valid_x, valid_y), (test_x, test_y)] shared variables.

    As in the tutorial, ``'mnist.pkl.gz'`` that is not in the working directory means the project's
    cached MNIST (fetched once if needed). Any other existing file is read as a tutorial-format
    pickle; otherwise ``dataset`` is a spec such as 'mnist' or 'mnist:0-4'.
    """
    print("... loading data")
    given = Path(str(dataset)).expanduser()
    if given.is_file():
        splits = read_mnist_pickle(given)
    elif given.name == "mnist.pkl.gz":
        splits = load_mnist()
    elif str(dataset).endswith((".pkl.gz", ".pkl")):
        raise DataError(f"{dataset}: no such file (expected the tutorial's mnist.pkl.gz)")
    else:
        task = load_task(str(dataset))
        splits = (task.train, task.valid, task.test)
    return [to_shared(s, n) for s, n in zip(splits, SPLIT_NAMES, strict=True)]


def main(argv=None) -> int:
    """``python -m transfer_learning.data fetch``: fetch and verify MNIST (used by make)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["fetch"]:
        print("usage: python -m transfer_learning.data fetch", file=sys.stderr)
        return 2
    try:
        print(fetch_mnist())
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _stamp(name: str, path) -> tuple:
    """Sizes and modification times of the files behind a dataset: a cheap check that a cached read is current."""
    import os

    if name == "mnist":
        files = [Path(path) / "mnist.pkl.gz" if path and Path(path).is_dir() else Path(path or data_dir() / "mnist.pkl.gz")]
    elif name == "fashion-mnist":
        try:
            files = [f for pair in fashion_files(path).values() for f in pair]
        except DataError:
            return ()
    else:
        files = sorted(Path(root) / f for root, _, names in os.walk(path) for f in names) if path else []
    stamp = []
    for f in files:
        try:
            info = f.stat()
            stamp.append((str(f), info.st_size, info.st_mtime_ns))
        except OSError:
            stamp.append((str(f), None, None))
    return tuple(stamp)
