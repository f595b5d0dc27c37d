"""Activation-gated transfer between MLP tasks: a PyTensor port of the 2015 Theano scripts.

PyTensor's settings are process-wide, so they are applied once, here, before any module
builds a graph: float32, the C linker and SciPy's OpenBLAS, each only where the user chose
nothing (see backend.py).
"""

__version__ = "0.9.0"

from . import backend  # noqa: E402  (the version is read by pyproject.toml without importing PyTensor)

backend.configure()
