"""PyTensor's compile cache, made cheap to open: the two fixed costs every process paid before its first step.

1. Its own compiledir. PyTensor keeps one cache of compiled modules per user and reads the key of every
   entry in it when a process first compiles. On a machine where other code (tests, other projects)
   has compiled a few hundred graphs, that read took 0.5 s per process. The project's runs compile a
   handful of graphs, so they get a folder of their own: PyTensor's compiledir name with
   ``-transfer-learning`` appended, under its ``base_compiledir``. A ``compiledir``,
   ``base_compiledir`` or ``compiledir_format`` the user chose wins.
2. The ``-march`` probe. To choose its CPU flags PyTensor runs ``g++ -march=native -E -v`` and then
   compiles and runs a test program with the flags found, in every process (0.24 s). The flags it
   settles on are stored beside the compiled modules, keyed by the probe's full output (compiler,
   version, CPU features); a later process whose probe prints the same reuses them and skips the
   test program. The flags, and so the compiled code and the cache keys, are exactly PyTensor's.
"""

import hashlib
import json
import subprocess
from pathlib import Path

from .atomic import write_bytes_atomically

COMPILEDIR_SUFFIX = "-transfer-learning"
COMPILEDIR_SETTINGS = {"compiledir", "base_compiledir", "compiledir_format"}
MARCH_FLAGS_FILE = "transfer-learning-march-flags.json"


def use_project_compiledir(chosen: set[str]) -> None:
    """Point PyTensor at the project's own compiledir unless the user chose where modules go."""
    if chosen & COMPILEDIR_SETTINGS:
        return
    import pytensor

    try:  # PyTensor's own name for the folder (a private helper: a release without it keeps the default)
        from pytensor.configdefaults import _default_compiledir
    except ImportError:
        return
    pytensor.config.compiledir = Path(f"{_default_compiledir()}{COMPILEDIR_SUFFIX}")


def _probe_key(cxx: str) -> str | None:
    """A digest of what ``cxx -march=native -E -v`` prints, or None if it cannot run."""
    try:
        probe = subprocess.run([cxx, "-march=native", "-E", "-v", "-"], input=b"", capture_output=True,
                               timeout=120, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if probe.returncode != 0:
        return None
    return hashlib.sha256(cxx.encode() + b"\0" + probe.stdout + b"\0" + probe.stderr).hexdigest()


def reuse_march_flags(folder=None) -> None:
    """Before compiling: set PyTensor's ``-march`` flags from the store, or let it probe and store them.

    The store is a JSON file in ``folder`` (default: PyTensor's compiledir). Does nothing when PyTensor
    would not probe (flags already known, a ``-march`` in the user's ``gcc__cxxflags``, or no C++ compiler).
    """
    import pytensor
    from pytensor.link.c.cmodule import GCC_compiler

    cxx = pytensor.config.cxx
    if GCC_compiler.march_flags is not None or not cxx or "march=" in pytensor.config.gcc__cxxflags:
        return
    key = _probe_key(cxx)
    if key is None:
        return
    store = Path(pytensor.config.compiledir if folder is None else folder) / MARCH_FLAGS_FILE
    try:
        saved = json.loads(store.read_text())
    except (OSError, ValueError):
        saved = {}
    if isinstance(saved, dict) and saved.get("probe") == key and isinstance(saved.get("march_flags"), list):
        GCC_compiler.march_flags = [str(flag) for flag in saved["march_flags"]]
        return
    GCC_compiler.compile_args()  # PyTensor's own probe and check; sets GCC_compiler.march_flags
    if GCC_compiler.march_flags:
        record = {"probe": key, "cxx": cxx, "march_flags": GCC_compiler.march_flags}
        try:
            write_bytes_atomically(store, json.dumps(record, indent=1).encode())
        except OSError:
            pass  # a read-only or full compiledir: the next process probes again, nothing else changes
