"""The run directory: every file a run writes, each written atomically (temp file, then rename)."""

import csv
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np

from .atomic import write_bytes_atomically
from .vocab import ConfigError


def file_label(name: str) -> str:
    """An arm or phase name as a file name part: keep-layers:1 -> keep-layers-1 (a colon is no file name
    character on every system a run directory may be copied to)."""
    return name.replace(":", "-")


def make_folder(path: Path) -> None:
    """Create ``--out`` (and its parents), or say in one line why it cannot be: it is a file, a file stands on its
    way (a/file/run), or the user may not write there."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out: {path} is a file, not a folder; choose a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        why = err.strerror.lower() if err.strerror else str(err)
        raise ConfigError(f"--out: cannot create {path} ({why}); choose a folder you can write to") from err


class RunDir:
    """A directory of results. Created only once the inputs have been checked."""

    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def open_existing(cls, path):
        """A run directory to resume: it must hold the config.json of an earlier run."""
        path = Path(path)
        if not (path / "config.json").is_file():
            raise ConfigError(f"--resume: {path} holds no config.json, so it is not a run directory")
        return cls(path)

    @classmethod
    def create(cls, out, default_suffix="", overwrite=False):
        """Make ``out`` (or runs/<timestamp><suffix>); refuse one that already holds files.

        With ``overwrite``, an earlier run directory (one with a config.json) is emptied first;
        any other non-empty directory is still refused.
        """
        if out is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = Path("runs") / f"{stamp}{default_suffix}"
            n = 1
            while path.exists():
                n += 1
                path = Path("runs") / f"{stamp}{default_suffix}-{n}"
        else:
            path = Path(out)
        if path.exists() and path.is_dir() and any(path.iterdir()):
            if not (overwrite and (path / "config.json").is_file()):
                hint = "it is not a run directory" if overwrite else "choose another, --resume it or --overwrite it"
                raise ConfigError(f"--out: {path} already exists and is not empty; {hint}")
            shutil.rmtree(path)
        make_folder(path)
        return cls(path)

    def __truediv__(self, name):
        return self.path / name

    def write_text(self, name, text: str) -> None:
        write_bytes_atomically(self / name, text.encode())

    def write_json(self, name, obj) -> None:
        self.write_text(name, json.dumps(obj, indent=2) + "\n")

    def write_csv(self, name, header, rows) -> None:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        self.write_text(name, buf.getvalue())

    def write_weights(self, name, weights: dict) -> None:
        """All parameters as named arrays (np.load(...)["hidden0_W"]), never a pickled graph."""
        buf = io.BytesIO()
        np.savez(buf, **weights)
        write_bytes_atomically(self / name, buf.getvalue())

    def write_array(self, name, array) -> None:
        buf = io.BytesIO()
        np.save(buf, array)
        write_bytes_atomically(self / name, buf.getvalue())


def file_digest(path) -> str:
    """A file's sha256, as the two-stage study records tuned.json's and hypotheses.json's in every run."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
