"""Writing a file so that a crash at any instant leaves the old file or the new one, never half.

A full disk is a fault of its own (DiskFull): the old file is kept, and the message names the file,
the bytes it needed and the bytes free, so the command line can stop cleanly and say how to resume.
"""

import errno
import io
import os
import shutil
import tempfile
from pathlib import Path

#: errno values that mean "no room": a full disk, or a quota reached.
NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
#: How a temporary file is opened for writing (a seam: tests put a full disk behind it).
open_for_writing = os.fdopen


class DiskFull(OSError):
    """A file could not be written for lack of space; nothing was changed on disk."""

    def __init__(self, path, needed: int, free: int | None):
        self.path, self.needed, self.free = str(path), int(needed), free
        where = "" if free is None else f", {_size(free)} free"
        super().__init__(errno.ENOSPC, f"{path}: cannot be written, the disk is full (it needs {_size(needed)}{where})")

    def __reduce__(self):  # crosses process boundaries (sweep workers) intact
        return DiskFull, (self.path, self.needed, self.free)

    def __str__(self):
        return self.strerror


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _free_bytes(folder) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def write_bytes_atomically(path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``.

    The temporary file is removed if anything fails, Ctrl-C included. The result is readable by
    all (0644), like an ordinary new file. No space left: DiskFull, the old file untouched.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as err:
        if err.errno in NO_SPACE:
            raise DiskFull(path, len(data), _free_bytes(path.parent)) from err
        raise
    try:
        with open_for_writing(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in NO_SPACE:
            raise DiskFull(path, len(data), _free_bytes(path.parent)) from err
        raise


def write_atomically(path, write) -> None:
    """Call ``write(file)`` on an in-memory buffer, then write its bytes atomically (see above)."""
    buffer = io.BytesIO()
    write(buffer)
    write_bytes_atomically(path, buffer.getvalue())
