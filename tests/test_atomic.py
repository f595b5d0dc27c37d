"""atomic.py on its own: a write leaves the old file or the new one, never half, and a full disk is DiskFull with the
old file kept (test_faults.py runs the same seam through whole runs and sweeps)."""

import errno
import os
import pickle
import stat

import pytest

from transfer_learning import atomic
from transfer_learning.atomic import DiskFull, write_atomically, write_bytes_atomically


def _leftovers(folder, name):
    return [p.name for p in folder.iterdir() if p.name.startswith(f".{name}.")]


def test_a_write_replaces_the_file_whole_readable_by_all(tmp_path):
    path = tmp_path / "results.json"
    path.write_bytes(b"old")
    write_bytes_atomically(path, b"new contents")
    assert path.read_bytes() == b"new contents"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert _leftovers(tmp_path, path.name) == []


def test_write_atomically_writes_what_the_callback_wrote(tmp_path):
    path = tmp_path / "a.bin"
    write_atomically(path, lambda f: (f.write(b"ab"), f.write(b"cd")))
    assert path.read_bytes() == b"abcd"


class _FailingFile:
    """A temporary file whose write raises ``error`` (a full disk, or Ctrl-C) after the file exists."""

    def __init__(self, fd, mode, error):
        self.file, self.error = os.fdopen(fd, mode), error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()
        return False

    def write(self, data):
        self.file.write(data[:3])  # half written when it fails
        raise self.error


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_no_space_is_disk_full_with_the_old_file_untouched(tmp_path, monkeypatch, code):
    path = tmp_path / "weights.npz"
    path.write_bytes(b"old weights")
    monkeypatch.setattr(atomic, "open_for_writing", lambda fd, mode: _FailingFile(fd, mode, OSError(code, "full")))
    with pytest.raises(DiskFull) as caught:
        write_bytes_atomically(path, b"x" * 3000)
    assert path.read_bytes() == b"old weights"
    assert _leftovers(tmp_path, path.name) == []
    assert caught.value.needed == 3000 and caught.value.errno == errno.ENOSPC
    assert str(caught.value).startswith(f"{path}: cannot be written, the disk is full (it needs 2.9 kB, ")
    assert str(caught.value).endswith(" free)")


def test_ctrl_c_during_a_write_removes_the_temporary_file_and_goes_on(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    path.write_bytes(b"old")
    monkeypatch.setattr(atomic, "open_for_writing", lambda fd, mode: _FailingFile(fd, mode, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_bytes_atomically(path, b"new")
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path, path.name) == []


def test_other_os_errors_are_not_called_a_full_disk(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    monkeypatch.setattr(atomic, "open_for_writing",
                        lambda fd, mode: _FailingFile(fd, mode, OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError) as caught:
        write_bytes_atomically(path, b"new")
    assert not isinstance(caught.value, DiskFull) and caught.value.errno == errno.EIO
    assert not path.exists()


def test_a_missing_folder_is_an_os_error_not_a_full_disk(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_bytes_atomically(tmp_path / "no-such-folder" / "a.json", b"x")


def test_disk_full_crosses_a_process_boundary_intact():
    full = DiskFull("/runs/a.npz", 5 << 20, 1024)
    again = pickle.loads(pickle.dumps(full))
    assert (again.path, again.needed, again.free, str(again)) == (full.path, full.needed, full.free, str(full))
    assert str(full) == "/runs/a.npz: cannot be written, the disk is full (it needs 5.0 MB, 1.0 kB free)"
    assert str(DiskFull("a", 10, None)) == "a: cannot be written, the disk is full (it needs 10 bytes)"
