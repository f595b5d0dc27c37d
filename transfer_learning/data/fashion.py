"""Fashion-MNIST from its IDX files (LeCun's MNIST format), split like the tutorial's MNIST pickle."""

import gzip
import zlib
from pathlib import Path

import numpy as np

from .cache import data_dir
from ..vocab import DataError
from .core import check_splits

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_DTYPES = {0x08: np.uint8}


def fashion_dirs() -> tuple[Path, ...]:
    """Where the IDX files are looked for: the data folder's fashion-mnist/, then Debian's package."""
    return data_dir() / "fashion-mnist", DEBIAN_DIR


def read_idx(path) -> np.ndarray:
    """An IDX file (gzipped or not) as an array, checked against its header."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error, ValueError) as err:
        raise DataError(f"{path}: not a readable IDX file ({str(err) or 'truncated'})") from err
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


def fashion_files(dataset_path=None) -> dict:
    """{"train": (images, labels), "test": (images, labels)}: the four IDX files a run reads."""
    directories = (Path(dataset_path),) if dataset_path else fashion_dirs()
    for directory in directories:
        files = {part: tuple(_idx_file(directory, stem) for stem in stems) for part, stems in FASHION_FILES.items()}
        if all(f is not None for pair in files.values() for f in pair):
            return files
    where = f"{dataset_path}" if dataset_path else " or ".join(f"{d}/" for d in directories)
    raise DataError(
        f"fashion-mnist: no IDX files (train-images-idx3-ubyte[.gz] and the other three) in {where}; "
        "install Debian's package (apt-get install dataset-fashion-mnist) or copy its four "
        f"*-idx*-ubyte.gz files into {directories[0]}/"
    )


def load_fashion_mnist(dataset_path=None, log=None):
    """Fashion-MNIST split like the MNIST pickle: the last 10,000 training images become the
    validation set; pixels scaled to [0, 1) as in the pickle (value / 256).

    Read from ``dataset_path`` (--source-path/--target-path) if given, else from the data folder's
    fashion-mnist/ or /usr/share/datasets/fashion-mnist/ (Debian's dataset-fashion-mnist).
    """
    files = fashion_files(dataset_path)
    arrays = []
    for images_path, labels_path in files.values():
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
    return check_splits(files["train"][0].parent, content)
