"""Property-based: randomly damaged files given to every loader give the promised error, nothing else."""

import gzip
import io
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import make_splits
from transfer_learning.checkpoint import load_checkpoint, save_checkpoint
from transfer_learning.data import DataError, read_idx, read_mnist_pickle
from transfer_learning.rundir import RunDir
from transfer_learning.train import History
from transfer_learning.weights import load_weights

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def good_pickle_bytes():
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        pickle.dump(tuple(make_splits(sizes=(12, 6, 6))), f, protocol=2)
    return buf.getvalue()


def good_checkpoint_bytes():
    weights = {"output_W": np.ones((4, 2), np.float32), "output_b": np.zeros(2, np.float32)}
    with tempfile.TemporaryDirectory() as tmp:
        save_checkpoint(RunDir(tmp), History(phase="train", patience=5), weights, [np.random.default_rng(0)])
        return (Path(tmp) / "checkpoint_train.npz").read_bytes()


GOOD_PICKLE = good_pickle_bytes()
GOOD_CHECKPOINT = good_checkpoint_bytes()
SHAPES = {"output_W": (4, 2), "output_b": (2,)}


def damage(data: bytes, draw) -> bytes:
    """Truncate, flip bytes, or splice garbage into ``data``."""
    kind = draw(st.sampled_from(["truncate", "flip", "splice"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "flip":
        out = bytearray(data)
        for pos in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            out[pos] ^= draw(st.integers(1, 255))
        return bytes(out)
    at = draw(st.integers(0, len(data)))
    return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]


def load_or_data_error(loader, path, *args):
    """The loader's result, or None after checking that it raised the promised one-line DataError."""
    try:
        return loader(path, *args)
    except DataError as err:
        assert str(path) in str(err) and "\n" not in str(err)
        return None


def load_damaged(tmp_path, name, good: bytes, draw, loader, *args):
    """Damage ``good``, save it as ``name`` and load it: the result, or None after the promised error."""
    path = tmp_path / name
    path.write_bytes(damage(good, draw))
    return load_or_data_error(loader, path, *args)


@SETTINGS
@given(st.data())
def test_damaged_pickles_give_data_error_or_valid_splits(tmp_path, data):
    splits = load_damaged(tmp_path, "damaged.pkl.gz", GOOD_PICKLE, data.draw, read_mnist_pickle)
    if splits is None:
        return
    # damage that left a readable file must still give checked data
    for split in splits:
        assert split.x.dtype == np.float32 and np.isfinite(split.x).all()
        assert split.y.dtype == np.int32 and split.y.min() >= 0


@SETTINGS
@given(st.data())
def test_damaged_checkpoints_give_data_error_or_a_checked_checkpoint(tmp_path, data):
    saved = load_damaged(tmp_path, "checkpoint_train.npz", GOOD_CHECKPOINT, data.draw, load_checkpoint, SHAPES)
    if saved is None:
        return
    assert {k: v.shape for k, v in saved.weights.items()} == SHAPES
    assert all(np.isfinite(v).all() for v in saved.weights.values())


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_never_loaded_as_a_dataset(tmp_path, blob):
    path = tmp_path / "random.pkl.gz"
    path.write_bytes(blob)
    with pytest.raises(DataError):
        read_mnist_pickle(path)


def good_weights_bytes():
    buf = io.BytesIO()
    np.savez(buf, output_W=np.ones((4, 2), np.float32), output_b=np.zeros(2, np.float32))
    return buf.getvalue()


GOOD_WEIGHTS = good_weights_bytes()


@SETTINGS
@given(st.data())
def test_damaged_weight_files_give_data_error_or_checked_weights(tmp_path, data):
    weights = load_damaged(tmp_path, "weights_source.npz", GOOD_WEIGHTS, data.draw, load_weights, SHAPES)
    if weights is not None:
        assert {k: v.shape for k, v in weights.items()} == SHAPES
        assert all(np.isfinite(v).all() for v in weights.values())


GOOD_IDX = gzip.compress(bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (3, 4, 4)) + bytes(range(48)),
                         mtime=0)


@SETTINGS
@given(st.data())
def test_damaged_idx_files_give_data_error_or_an_array_matching_its_header(tmp_path, data):
    array = load_damaged(tmp_path, "train-images-idx3-ubyte.gz", GOOD_IDX, data.draw, read_idx)
    if array is not None:  # read by hand here: the header's shape, then every byte after it, in order
        raw = gzip.decompress((tmp_path / "train-images-idx3-ubyte.gz").read_bytes())
        ndim = raw[3]
        shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
        assert array.dtype == np.uint8 and array.shape == shape
        assert array.tobytes() == raw[4 + 4 * ndim:]


def good_image_bytes(fmt):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.arange(20 * 12, dtype=np.uint8).reshape(20, 12)).save(buf, format=fmt)
    return buf.getvalue()


@SETTINGS
@given(st.data(), st.sampled_from(["png", "jpeg", "gif", "bmp"]))
def test_damaged_images_give_data_error_naming_them_or_a_28x28_image(tmp_path, data, fmt):
    from transfer_learning.data.imagefolder import read_image

    image = load_damaged(tmp_path, f"letter.{fmt}", good_image_bytes(fmt.upper()), data.draw, read_image)
    if image is not None:
        assert image.shape == (28, 28) and image.dtype == np.float32 and 0 <= image.min() and image.max() < 1
