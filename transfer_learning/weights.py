"""Weights as a plain dict of NumPy arrays: names, Glorot init, saving and loading.

Names follow the run-directory contract: hidden0_W, hidden0_b, ..., output_W, output_b, with
W of shape [n_in, n_out] as in the tutorial.
"""

import numpy as np


def hidden_names(i: int) -> tuple[str, str]:
    return f"hidden{i}_W", f"hidden{i}_b"


OUTPUT_NAMES = ("output_W", "output_b")


def n_hidden(weights: dict) -> int:
    """Number of hidden layers in a weights dict."""
    return sum(1 for name in weights if name.startswith("hidden") and name.endswith("_W"))


def glorot_bound(n_in: int, n_out: int) -> float:
    """Half-width of the tutorial's tanh init, U(-b, b) with b = sqrt(6 / (n_in + n_out))."""
    return float(np.sqrt(6.0 / (n_in + n_out)))


def glorot_uniform(rng: np.random.Generator, n_in: int, n_out: int, n_columns=None, dtype="float32"):
    """Glorot-uniform weights for an [n_in, n_out] layer; ``n_columns`` draws only that many."""
    bound = glorot_bound(n_in, n_out)
    shape = (n_in, n_out if n_columns is None else n_columns)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def load_weights(path) -> dict:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}
