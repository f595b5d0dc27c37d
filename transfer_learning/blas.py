"""Which BLAS kernel does the arithmetic: the facts that decide a run's last bits, for config.json and sweep.json.

The OpenBLAS that PyTensor's compiled ops call (backend.py) is built for many processors (DYNAMIC_ARCH) and
picks a kernel when it loads: SkylakeX on an AVX-512 CPU, Haswell on AVX2 ones, or whatever
``OPENBLAS_CORETYPE`` names. Kernels block and sum a product in different orders, so one run made under two
kernels ends with weights that differ in their last bits (float64 in 2015 mode: up to about 1e-14 of the
weights' size; float32 runs much more, since an error count can flip and a learning rate be chosen otherwise).
So a bit-for-bit claim is a claim about one kernel: a run records it, a resume under another one says so, and
the Makefile's targets that remake committed results pin the kernel those were made with (``COMMITTED``).
"""

import ctypes
import functools
import os
from pathlib import Path

from . import backend

#: The environment variables with which OpenBLAS lets a user choose its kernel and blocking.
ENVIRONMENT = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: The kernel every committed result in docs/results/ was made with (the developers' machines set these); the
#: Makefile passes them to the targets that remake those results, so the tables reproduce bit for bit anywhere
#: this kernel runs (any x86-64 CPU with AVX2).
COMMITTED = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}


def _openblas(library: Path, suffix: str = "", threads: bool = True) -> dict:
    """Ask a loaded (or now loaded) OpenBLAS for its build, its kernel and (``threads``) its thread count."""
    lib = ctypes.CDLL(str(library))
    prefix = "scipy_openblas" if hasattr(lib, f"scipy_openblas_get_config{suffix}") else "openblas"

    def ask(name, restype):
        function = getattr(lib, f"{prefix}_{name}{suffix}")
        function.restype = restype
        return function()

    found = {"library": library.name, "build": ask("get_config", ctypes.c_char_p).decode(),
             "kernel": ask("get_corename", ctypes.c_char_p).decode()}
    if threads:
        found["threads"] = ask("get_num_threads", ctypes.c_int)
    return found


def _numpy_openblas() -> Path | None:
    """The OpenBLAS NumPy loaded (its wheel's ``numpy.libs``), which the rules' and metrics' NumPy products use."""
    import numpy as np

    found = sorted((Path(np.__file__).resolve().parent.parent / "numpy.libs").glob("libscipy_openblas64_*.so"))
    return found[0] if found else None


@functools.cache
def facts() -> dict:
    """The arithmetic this process runs: the linked OpenBLAS (kernel, build, threads), NumPy's, and the variables.

    Loaded once: OpenBLAS chooses its kernel and threads when it loads, so they cannot change within a process.
    NumPy's thread count is left out: it follows whoever imported NumPy first (two threads in the test process,
    one in the scripts), and its products here (probes, scores) gave the same bits either way, which the
    resume and sweep tests check across the two.
    """
    out = {"environment": {name: os.environ.get(name) for name in ENVIRONMENT}}
    linked = backend.scipy_openblas()
    out["pytensor_blas"] = _openblas(linked) if linked else None
    numpy_library = _numpy_openblas()
    try:
        out["numpy_blas"] = _openblas(numpy_library, "64_", threads=False) if numpy_library else None
    except (OSError, AttributeError):  # another NumPy build: its BLAS is still named in the versions
        out["numpy_blas"] = None
    from . import onednn

    out["onednn"] = {"version": onednn.version(), "unavailable": onednn.available(),
                     "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA")}
    return out


def kernel(record: dict | None) -> str | None:
    """The kernel of the compiled ops' BLAS in a ``facts()`` record (None for a record without one)."""
    return ((record or {}).get("pytensor_blas") or {}).get("kernel")


def signature(record: dict | None) -> tuple | None:
    """What must match for two processes to compute the same bits: each BLAS's build and kernel, and the thread
    count of the compiled ops' one."""
    if not record:
        return None
    linked, numpy_blas = record.get("pytensor_blas") or {}, record.get("numpy_blas") or {}
    return (linked.get("build"), linked.get("kernel"), linked.get("threads"), numpy_blas.get("build"),
            numpy_blas.get("kernel"))


def reproduce_with(record: dict | None) -> str:
    """The environment that picks a record's kernel again, e.g. ``OPENBLAS_CORETYPE=Haswell``."""
    pinned = {name: value for name, value in ((record or {}).get("environment") or {}).items() if value}
    pinned.setdefault("OPENBLAS_CORETYPE", kernel(record) or "?")
    return " ".join(f"{name}={pinned[name]}" for name in ENVIRONMENT if name in pinned)


def describe(record: dict | None) -> str:
    """One line for a summary: 'OpenBLAS 0.3.34.481.3, kernel Haswell, 1 thread'."""
    blas = (record or {}).get("pytensor_blas")
    if not blas:
        return "not recorded"
    version = blas["build"].split()[1] if blas["build"].startswith("OpenBLAS ") else blas["build"]
    threads = blas.get("threads")
    return f"OpenBLAS {version}, kernel {blas['kernel']}, {threads} thread{'s' if threads != 1 else ''}"


def differs(then: dict | None, now: dict | None = None) -> str | None:
    """A one-line reason when ``now`` (this process) computes other bits than ``then`` did, else None."""
    now = facts() if now is None else now
    if then is None or signature(then) == signature(now):
        return None
    return (f"it was made under {describe(then)} and this process runs {describe(now)}; "
            f"{reproduce_with(then)} reproduces its arithmetic")
