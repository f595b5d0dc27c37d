"""Weights as a plain dict of NumPy arrays: names, initialization, the NumPy forward pass, saving and loading.

Names follow the run-directory contract: hidden0_W, hidden0_b, ..., output_W, output_b, with
W of shape [n_in, n_out] as in the tutorial.
"""

import numpy as np

#: Hidden-layer nonlinearities. tanh is the tutorial's and 2015's; relu is what ReDo and Continual
#: Backprop were designed for. Their compiled forms are in model.py.
ACTIVATIONS = ("tanh", "relu")


def hidden_names(i: int) -> tuple[str, str]:
    return f"hidden{i}_W", f"hidden{i}_b"


OUTPUT_NAMES = ("output_W", "output_b")


def n_hidden(weights: dict) -> int:
    """Number of hidden layers in a weights dict."""
    return sum(1 for name in weights if name.startswith("hidden") and name.endswith("_W"))


def glorot_bound(n_in: int, n_out: int) -> float:
    """Half-width of the tutorial's tanh init, U(-b, b) with b = sqrt(6 / (n_in + n_out))."""
    return float(np.sqrt(6.0 / (n_in + n_out)))


def init_bound(n_in: int, n_out: int, activation: str = "tanh") -> float:
    """Half-width of the uniform init: Glorot for tanh; He-uniform, sqrt(6 / n_in), for relu.

    He et al. (2015) keep a ReLU layer's activation variance constant with Var(W) = 2 / n_in; a
    uniform U(-b, b) has variance b^2 / 3, hence b = sqrt(6 / n_in).
    """
    if activation == "relu":
        return float(np.sqrt(6.0 / n_in))
    if activation == "tanh":
        return glorot_bound(n_in, n_out)
    raise ValueError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")


def glorot_uniform(rng: np.random.Generator, n_in: int, n_out: int, shape=None, dtype="float32",
                   activation: str = "tanh"):
    """Initial weights for an [n_in, n_out] layer (Glorot, or He for relu); ``shape`` draws only part of it."""
    bound = init_bound(n_in, n_out, activation)
    return rng.uniform(-bound, bound, size=shape or (n_in, n_out)).astype(dtype)


def initial_weights(rng: np.random.Generator, n_in: int, hidden_sizes, n_out: int, dtype="float32",
                    activation: str = "tanh") -> dict:
    """A fresh network as HiddenLayer/LogisticRegression build it: random columns, zero biases and output.

    Layers are drawn in order, each [n_in, n_out] matrix in one call, exactly as building the MLP
    with no weights given draws them.
    """
    weights, width = {}, n_in
    for i, size in enumerate(hidden_sizes):
        w_name, b_name = hidden_names(i)
        weights[w_name] = glorot_uniform(rng, width, size, dtype=dtype, activation=activation)
        weights[b_name] = np.zeros(size, dtype=dtype)
        width = size
    weights[OUTPUT_NAMES[0]] = np.zeros((width, n_out), dtype=dtype)
    weights[OUTPUT_NAMES[1]] = np.zeros(n_out, dtype=dtype)
    return weights


def legacy_initial_weights(seed, n_in, hidden_sizes, n_out, activation="tanh") -> dict:
    """The tutorial's draws: one numpy.random.RandomState(seed), each hidden W drawn whole, in layer
    order, as ``rng.uniform(low=-b, high=b, size=(n_in, n_out))`` cast to float32; biases and the
    output layer zeros (mlp.py's HiddenLayer and LogisticRegression)."""
    rng = np.random.RandomState(seed)
    weights, width = {}, n_in
    for i, size in enumerate(hidden_sizes):
        bound = init_bound(width, size, activation)
        w_name, b_name = hidden_names(i)
        weights[w_name] = np.asarray(rng.uniform(low=-bound, high=bound, size=(width, size)), dtype=np.float32)
        weights[b_name] = np.zeros(size, dtype=np.float32)
        width = size
    weights[OUTPUT_NAMES[0]] = np.zeros((width, n_out), dtype=np.float32)
    weights[OUTPUT_NAMES[1]] = np.zeros(n_out, dtype=np.float32)
    return weights


#: The NumPy form of each hidden-layer nonlinearity of ACTIVATIONS.
NUMPY_ACTIVATIONS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}


def apply_activation(z: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """The NumPy form of a hidden layer's nonlinearity; an unknown name is an error, never a silent tanh."""
    try:
        return NUMPY_ACTIVATIONS[activation](z)
    except KeyError:
        raise ValueError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}") from None


def hidden_layers(weights: dict, x: np.ndarray, activation: str = "tanh") -> list[np.ndarray]:
    """Every hidden layer's activations for inputs ``x``, one matrix product per layer."""
    out, h = [], x
    for layer in range(n_hidden(weights)):
        w_name, b_name = hidden_names(layer)
        h = apply_activation(h @ weights[w_name] + weights[b_name], activation)
        out.append(h)
    return out


def expected_shapes(n_in: int, hidden_sizes, n_out: int) -> dict:
    widths = [n_in, *hidden_sizes]
    shapes = {}
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        w_name, b_name = hidden_names(i)
        shapes[w_name], shapes[b_name] = (a, b), (b,)
    shapes[OUTPUT_NAMES[0]], shapes[OUTPUT_NAMES[1]] = (widths[-1], n_out), (n_out,)
    return shapes


def load_weights(path, shapes: dict) -> dict:
    """Weights saved by a run (an .npz of named arrays), checked against the network's shapes."""
    from .vocab import DataError

    try:
        with np.load(path, allow_pickle=False) as archive:
            weights = {name: archive[name] for name in archive.files}
    except FileNotFoundError as err:
        raise DataError(f"{path}: no such file (expected a weights .npz such as a run's weights_source.npz)") from err
    except Exception as err:
        raise DataError(f"{path}: not a readable weights .npz ({type(err).__name__}: {err})") from err
    check_weights(path, weights, shapes)
    return {name: value.astype(np.float32) for name, value in weights.items()}


def check_weights(path, weights: dict, shapes: dict, prefix: str = "") -> None:
    """DataError unless ``weights`` has exactly the names and shapes of ``shapes``, as finite floats.

    ``prefix`` is how the arrays are named inside the file (a checkpoint stores current/<name>).
    """
    from .vocab import DataError

    if set(weights) != set(shapes):
        raise DataError(f"{path}: holds arrays {sorted(prefix + k for k in weights)}, "
                        f"expected {sorted(prefix + k for k in shapes)}")
    for name, value in weights.items():
        if value.shape != shapes[name] or value.dtype.kind != "f":
            raise DataError(f"{path}: {prefix}{name} has shape {value.shape} dtype {value.dtype}, "
                            f"expected float {shapes[name]}")
        if not np.isfinite(value).all():
            raise DataError(f"{path}: {prefix}{name} holds NaN or infinite values")


def weights_digest(weights: dict) -> str:
    """sha256 over every array's name, dtype, shape and bytes, in name order: what a run started from."""
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(weights):
        value = np.ascontiguousarray(weights[name])
        digest.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()
