"""PyTensor set-up: float32, the C linker, and a real BLAS without any manual step.

PyTensor installed from pip finds no BLAS and falls back to slow NumPy-C-API loops. SciPy's
wheel already ships an optimized OpenBLAS (``scipy.libs/libscipy_openblas-*.so``) whose
Fortran symbols carry a ``scipy_`` prefix (``scipy_sgemm_``). We link PyTensor's C code to
that library and rename the handful of BLAS calls it makes with ``-D`` macros, so the
compiled ``Gemm``/``Dot22``/``Gemv``/``Ger`` ops run OpenBLAS kernels.

Everything here only fills in settings the user left unset: a ``PYTENSOR_FLAGS`` entry or a
``.pytensorrc`` value for ``floatX``, ``mode``, ``blas__ldflags`` or where compiled modules go
(compile_cache.py) wins, and so does an
``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) in the environment.

OpenBLAS runs on one thread unless the user says otherwise. Two reasons, both measured: the number of
threads changes how a product is summed, so the same run gave other weights (bit for bit) with one
thread than with two, and a sweep's worker processes (one thread each) then disagreed with the
single run they should reproduce; and the minibatch products here are small (20 rows), so a second
thread buys little on its own and costs a great deal when runs share the cores (two processes with
two spinning OpenBLAS threads each made an epoch 20-40 times slower on this 2-core machine).
"""

import configparser
import logging
import os
from pathlib import Path

from . import compile_cache

#: BLAS routines PyTensor's C ops call (see pytensor/tensor/blas_headers.py).
BLAS_ROUTINES = [
    f"{prefix}{name}_"
    for prefix in "sd"
    for name in ("gemm", "gemv", "ger", "dot", "axpy", "copy", "scal", "swap")
]

#: Compile mode chosen by measurement on a 2-core CPU: the C linker compiles each whole function into
#: one C routine. Per epoch it is within noise of the C VM linker and ahead of PyTensor 3's default
#: Numba linker (bench/epoch.py --modes); it compiles a new graph in half the C VM's time
#: (bench/startup.py, cold cache: 25 s against 53 s).
TRAIN_MODE = "C"
#: The process-wide default stays the C VM linker, which also runs ops that have no C code
#: (the C linker refuses them), for graphs other than the project's own.
DEFAULT_MODE = "CVM"
DEFAULT_FLOATX = "float32"
#: BLAS threads unless OPENBLAS_NUM_THREADS or OMP_NUM_THREADS says otherwise (see the module docstring).
DEFAULT_BLAS_THREADS = "1"
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def scipy_openblas() -> Path | None:
    """The LP64 OpenBLAS to link: the scipy-openblas32 wheel's, else the copy inside SciPy's wheel."""
    try:
        import scipy_openblas32

        library = Path(scipy_openblas32.get_lib_dir()) / "libscipy_openblas.so"
        if library.is_file():
            return library
    except ImportError:
        pass
    import scipy

    libdir = Path(scipy.__file__).resolve().parent.parent / "scipy.libs"
    found = sorted(libdir.glob("libscipy_openblas*.so"))
    return found[0] if found else None


def scipy_openblas_ldflags(library: Path) -> str:
    """``blas__ldflags`` that link PyTensor's C BLAS calls to SciPy's prefixed OpenBLAS."""
    renames = " ".join(f"-D{name}=scipy_{name}" for name in BLAS_ROUTINES)
    libdir = library.parent
    return f"-L{libdir} -l:{library.name} -Wl,-rpath,{libdir} {renames}"


def _user_settings() -> set[str]:
    """Names of the PyTensor settings the user chose (environment or .pytensorrc)."""
    chosen = set()
    for item in os.environ.get("PYTENSOR_FLAGS", "").split(","):
        if "=" in item:
            chosen.add(item.split("=", 1)[0].strip().replace(".", "__"))
    rc_files = os.environ.get("PYTENSORRC", str(Path.home() / ".pytensorrc"))
    parser = configparser.ConfigParser()
    parser.read([f for f in rc_files.split(os.pathsep) if f])
    for section in parser.sections():
        for key in parser[section]:
            chosen.add(key if section == "global" else f"{section}__{key}")
    return chosen


class _DropLibraryDirWarning(logging.Filter):
    """PyTensor warns that ``-l:file.so`` names no library in ``-L``: a false alarm for us."""

    def filter(self, record):
        return "did not find a dynamic library" not in record.getMessage()


def configure() -> dict:
    """Apply the project's PyTensor defaults where the user chose none; return what is used.

    The thread count goes into the environment before PyTensor (and so NumPy and the OpenBLAS its
    compiled code links) is first loaded in this process; worker processes inherit it.
    """
    if not any(os.environ.get(name) for name in THREAD_VARIABLES):
        os.environ["OPENBLAS_NUM_THREADS"] = DEFAULT_BLAS_THREADS
    import pytensor

    chosen = _user_settings()
    if "floatX" not in chosen:
        pytensor.config.floatX = DEFAULT_FLOATX
    if "mode" not in chosen:
        pytensor.config.mode = DEFAULT_MODE
    if "blas__ldflags" not in chosen:
        library = scipy_openblas()
        if library is not None:
            pytensor.config.blas__ldflags = scipy_openblas_ldflags(library)
            logging.getLogger("pytensor.tensor.blas").addFilter(_DropLibraryDirWarning())
    compile_cache.use_project_compiledir(chosen)
    return describe()


def compile_mode():
    """The mode for the project's compiled functions: TRAIN_MODE unless the user chose a mode."""
    import pytensor

    return TRAIN_MODE if "mode" not in _user_settings() else pytensor.config.mode


def describe() -> dict:
    """The settings that decide speed and numbers, for config.json."""
    import pytensor

    return {
        "floatX": pytensor.config.floatX,
        "mode": str(compile_mode()),
        "blas__ldflags": pytensor.config.blas__ldflags,
        "blas_threads": {name: os.environ.get(name) for name in THREAD_VARIABLES if os.environ.get(name)},
    }
