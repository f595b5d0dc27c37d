"""Writing a file so that a crash at any instant leaves the old file or the new one, never half."""

import os
import tempfile
from pathlib import Path


def write_atomically(path, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``.

    The temporary file is removed if anything fails, Ctrl-C included. The result is readable by
    all (0644), like an ordinary new file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomically(path, data: bytes) -> None:
    write_atomically(path, lambda f: f.write(data))
