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


def glorot_uniform(rng: np.random.Generator, n_in: int, n_out: int, shape=None, dtype="float32"):
    """Glorot-uniform weights for an [n_in, n_out] layer; ``shape`` draws only part of it."""
    bound = glorot_bound(n_in, n_out)
    return rng.uniform(-bound, bound, size=shape or (n_in, n_out)).astype(dtype)


def initial_weights(rng: np.random.Generator, n_in: int, hidden_sizes, n_out: int, dtype="float32") -> dict:
    """A fresh network as HiddenLayer/LogisticRegression build it: Glorot columns, zero biases and output."""
    weights, width = {}, n_in
    for i, size in enumerate(hidden_sizes):
        w_name, b_name = hidden_names(i)
        weights[w_name] = glorot_uniform(rng, width, size, dtype=dtype)
        weights[b_name] = np.zeros(size, dtype=dtype)
        width = size
    weights[OUTPUT_NAMES[0]] = np.zeros((width, n_out), dtype=dtype)
    weights[OUTPUT_NAMES[1]] = np.zeros(n_out, dtype=dtype)
    return weights


def expected_shapes(n_in: int, hidden_sizes, n_out: int) -> dict:
    widths = [n_in, *hidden_sizes]
    shapes = {}
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        w_name, b_name = hidden_names(i)
        shapes[w_name], shapes[b_name] = (a, b), (b,)
    shapes[OUTPUT_NAMES[0]], shapes[OUTPUT_NAMES[1]] = (widths[-1], n_out), (n_out,)
    return shapes


def load_weights(path, shapes: dict) -> dict:
    """Weights saved by a run (an .npz of named arrays), checked against the network's shapes."""
    from .data import DataError

    try:
        with np.load(path, allow_pickle=False) as archive:
            weights = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (expected a weights .npz such as a run's weights_source.npz)")
    except Exception as err:
        raise DataError(f"{path}: not a readable weights .npz ({type(err).__name__}: {err})")
    check_weights(path, weights, shapes)
    return {name: value.astype(np.float32) for name, value in weights.items()}


def check_weights(path, weights: dict, shapes: dict, prefix: str = "") -> None:
    """DataError unless ``weights`` has exactly the names and shapes of ``shapes``, as finite floats.

    ``prefix`` is how the arrays are named inside the file (a checkpoint stores current/<name>).
    """
    from .data import DataError

    if set(weights) != set(shapes):
        raise DataError(f"{path}: holds arrays {sorted(prefix + k for k in weights)}, "
                        f"expected {sorted(prefix + k for k in shapes)}")
    for name, value in weights.items():
        if value.shape != shapes[name] or value.dtype.kind != "f":
            raise DataError(f"{path}: {prefix}{name} has shape {value.shape} dtype {value.dtype}, "
                            f"expected float {shapes[name]}")
        if not np.isfinite(value).all():
            raise DataError(f"{path}: {prefix}{name} holds NaN or infinite values")
