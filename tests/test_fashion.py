"""Fashion-MNIST from IDX files: the parser on files made in the test, and the real files if installed."""


import numpy as np
import pytest

from tests.helpers import idx_bytes, write_fashion
from transfer_learning import data
from transfer_learning.data import DataError, load_task, read_idx

REAL = next((d for d in data.fashion_dirs() if (d / "train-images-idx3-ubyte.gz").is_file()), None)
needs_real = pytest.mark.skipif(REAL is None, reason="Fashion-MNIST is not installed "
                                "(apt-get install dataset-fashion-mnist; CI installs it)")


def test_idx_round_trip(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), array)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b"", "bad magic number empty"),
    (lambda b: b"\x00\x00\x0d\x03" + b[4:], "not an IDX file of unsigned bytes"),
    (lambda b: b[:-1], "IDX header promises shape (2, 3, 4), the file holds 23 values"),
    (lambda b: b[:9], "IDX header is truncated"),
])
def test_damaged_idx_files_are_named(tmp_path, damage, message):
    good = idx_bytes(np.zeros((2, 3, 4), np.uint8))
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(damage(good))
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_idx(path)


def test_split_and_scaling_follow_the_mnist_pickle(tmp_path, monkeypatch):
    write_fashion(tmp_path / "fm")
    monkeypatch.setattr(data.fashion, "fashion_dirs", lambda: (tmp_path / "fm",))
    task = load_task("fashion-mnist:0-4")
    # labels cycle 0-9: 7 of the first 12 training images and 5 of the 6 test images are in 0-4
    assert task.train.x.shape == (7, 16) and task.valid.x.shape == (5_000, 16) and task.test.x.shape == (5, 16)
    assert task.train.x.dtype == np.float32 and task.train.x.max() < 1 and task.n_classes == 5


def test_missing_files_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(data.fashion, "fashion_dirs", lambda: (tmp_path / "nothing",))
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_task("fashion-mnist")


@needs_real
def test_the_real_fashion_mnist():
    task = load_task("fashion-mnist")
    assert task.train.x.shape == (50_000, 784) and task.valid.x.shape == (10_000, 784)
    assert task.test.x.shape == (10_000, 784) and task.n_classes == 10
    assert np.bincount(task.test.y).tolist() == [1000] * 10


@needs_real
@pytest.mark.slow
def test_mnist_to_fashion_mnist_run(tmp_path):
    from transfer_learning import cli

    out = tmp_path / "run"
    assert cli.main_transfer(["--source", "mnist", "--target", "fashion-mnist", "--n-epochs", "1",
                              "--target-train-size", "2000", "--out", str(out)]) == 0
    assert (out / "weights_final.npz").is_file()


def test_target_path_names_the_idx_folder(tmp_path, monkeypatch):
    write_fashion(tmp_path / "elsewhere")
    monkeypatch.setattr(data.fashion, "fashion_dirs", lambda: (tmp_path / "nothing",))
    task = load_task("fashion-mnist:5-9", path=tmp_path / "elsewhere")
    assert task.train.x.shape == (5, 16) and task.n_classes == 5
