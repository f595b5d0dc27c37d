"""The tutorial's symbolic graph: LogisticRegression, HiddenLayer and the MLP stacked from them.

Weights go in as arrays (``W=``, ``b=``, or ``weights=`` for the MLP) and come out with
``get_weights()``, so the transfer step never touches graph objects. ``kernels`` chooses how the loss and
tanh are computed: "fused" builds fused.py's kernels into the graph (the default), "unfused" the tutorial's
ops as written (the same functions, other last bits).
"""

import numpy as np
import pytensor
import pytensor.tensor as pt

from .fused import rational_tanh, softmax_nll
from .onednn import product
from .vocab import DEFAULT_KERNELS, KERNELS
from .weights import OUTPUT_NAMES, glorot_uniform, hidden_names


def _checked(kernels):
    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {KERNELS}, got {kernels!r}")
    return kernels


def _shared(value, name):
    """A parameter as a shared variable: an array is copied into a new one, a shared variable used as is
    (the tutorial's ``LogisticRegression(input, n_in, n_out, W=shared_W)``)."""
    if isinstance(value, pytensor.compile.SharedVariable):
        return value
    return pytensor.shared(np.array(value, dtype=pytensor.config.floatX), name=name, borrow=True)


class _WeightsIO:
    """get_weights()/set_weights() over ``params`` named by ``_names()``."""

    def get_weights(self) -> dict:
        """Copies of every parameter, by name."""
        return {name: p.get_value(borrow=False) for name, p in zip(self._names(), self.params, strict=True)}

    def set_weights(self, weights: dict) -> None:
        """Overwrite every parameter; shapes must match exactly."""
        for name, p in zip(self._names(), self.params, strict=True):
            value = np.asarray(weights[name], dtype=p.dtype)
            if value.shape != p.get_value(borrow=True).shape:
                raise ValueError(f"{name}: expected shape {p.get_value(borrow=True).shape}, got {value.shape}")
            p.set_value(value.copy(), borrow=True)


class LogisticRegression(_WeightsIO):
    """Multi-class logistic regression: softmax(x W + b), the MLP's output layer too."""

    def __init__(self, input, n_in, n_out, W=None, b=None, kernels=DEFAULT_KERNELS, gemm="openblas"):
        self.n_in, self.n_out = n_in, n_out
        self.kernels, self.gemm = _checked(kernels), gemm
        self.W = _shared(np.zeros((n_in, n_out)) if W is None else W, "W")
        self.b = _shared(np.zeros(n_out) if b is None else b, "b")
        self.input = input
        self.logits = product(input, self.W, gemm) + self.b
        shifted = self.logits - pt.max(self.logits, axis=1, keepdims=True)
        #: log-softmax from elementwise ops and reductions, all of which compile to C (PyTensor's
        #: Softmax ops run in Python and cannot join a function built by the C linker)
        self.log_p_y_given_x = shifted - pt.log(pt.sum(pt.exp(shifted), axis=1, keepdims=True))
        self.p_y_given_x = pt.exp(self.log_p_y_given_x)
        self.y_pred = pt.argmax(self.logits, axis=1)
        self.params = [self.W, self.b]
        self.weight_matrices = [self.W]

    def _names(self):
        return list(OUTPUT_NAMES)

    def negative_log_likelihood(self, y):
        """Mean negative log-probability of the correct labels.

        Fused: SoftmaxNLL, one pass over the logits for the loss and its gradient. Unfused: a one-hot mask
        instead of fancy indexing, so that all of it and its gradient compile to C (PyTensor's Softmax and
        AdvancedSubtensor ops run in Python: a fifth of a training step).
        """
        if self.kernels == "fused":
            return softmax_nll(self.logits, y)[0]
        log_p = self.log_p_y_given_x
        one_hot = pt.eq(y.dimshuffle(0, "x"), pt.arange(self.n_out).dimshuffle("x", 0))
        n = pt.cast(y.shape[0], self.logits.dtype)  # an int64 divisor would upcast to float64
        return -pt.sum(pt.switch(one_hot, log_p, 0)) / n

    def errors(self, y):
        """Fraction of the minibatch that is misclassified."""
        return pt.mean(pt.neq(self.y_pred, y))


def fast_tanh(z):
    """tanh(z) computed as 2 sigmoid(2z) - 1: the same function, and 3-4x faster compiled.

    PyTensor's C code calls the scalar libm tanhf (about 30 ns an element here); its sigmoid
    is built on expf and runs at NumPy speed. Agrees with tanh to within 2e-7, saturates
    cleanly at +-1, and its gradient 4 s (1 - s) is the stable 1 - tanh(z)^2.
    """
    return 2 * pt.sigmoid(2 * z) - 1


def relu(z):
    """max(z, 0), compiled to C like every op of the training graph."""
    return pt.maximum(z, 0)


#: The compiled form of each hidden nonlinearity named in weights.ACTIVATIONS, by kernels.
ACTIVATION_OPS = {"unfused": {"tanh": fast_tanh, "relu": relu}, "fused": {"tanh": rational_tanh, "relu": relu}}


class HiddenLayer:
    """activation(x W + b), W drawn from ``rng`` unless given (Glorot-uniform for tanh, He-uniform
    for relu), b zeros unless given. ``activation`` is a name of ACTIVATION_OPS or a function."""

    def __init__(self, rng, input, n_in, n_out, W=None, b=None, activation="tanh", kernels=DEFAULT_KERNELS,
                 gemm="openblas"):
        self.n_in, self.n_out = n_in, n_out
        name = activation if isinstance(activation, str) else "tanh"
        activation = ACTIVATION_OPS[_checked(kernels)][activation] if isinstance(activation, str) else activation
        self.W = _shared(glorot_uniform(rng, n_in, n_out, activation=name) if W is None else W, "W")
        self.b = _shared(np.zeros(n_out) if b is None else b, "b")
        self.input = input
        self.output = activation(product(input, self.W, gemm) + self.b)
        self.params = [self.W, self.b]


class MLP(_WeightsIO):
    """Hidden tanh (or relu) layers then a LogisticRegression output layer, all parameters trainable.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the initial hidden weights not given in ``weights``.
    hidden_sizes : sequence of int
        Width of each hidden layer, e.g. (100, 100).
    weights : dict, optional
        Initial arrays by name (hidden0_W, ..., output_b); missing ones are freshly initialized.
    activation : {"tanh", "relu"}, default="tanh"
        The hidden layers' nonlinearity.
    kernels : {"fused", "unfused"}, default="fused"
        How the loss and tanh are computed (fused.py's kernels, or the tutorial's ops).
    gemm : {"openblas", "onednn"}, default="openblas"
        Which library computes the larger matrix products (onednn.py: oneDNN where it is the faster).
    """

    def __init__(self, rng, input, n_in, hidden_sizes, n_out, weights=None, activation="tanh",
                 kernels=DEFAULT_KERNELS, gemm="openblas"):
        weights = weights or {}
        self.kernels, self.gemm = _checked(kernels), gemm
        self.input = input
        self.hidden_layers = []
        layer_input, width_in = input, n_in
        for i, width in enumerate(hidden_sizes):
            w_name, b_name = hidden_names(i)
            layer = HiddenLayer(rng, layer_input, width_in, width,
                                W=weights.get(w_name), b=weights.get(b_name), activation=activation, kernels=kernels,
                                gemm=gemm)
            self.hidden_layers.append(layer)
            layer_input, width_in = layer.output, width
        self.logRegressionLayer = LogisticRegression(
            layer_input, width_in, n_out, W=weights.get(OUTPUT_NAMES[0]), b=weights.get(OUTPUT_NAMES[1]),
            kernels=kernels, gemm=gemm)
        self.layers = [*self.hidden_layers, self.logRegressionLayer]
        self.params = [p for layer in self.layers for p in layer.params]
        self.weight_matrices = [layer.W for layer in self.layers]
        self.negative_log_likelihood = self.logRegressionLayer.negative_log_likelihood
        self.errors = self.logRegressionLayer.errors
        self.y_pred = self.logRegressionLayer.y_pred
        self.p_y_given_x = self.logRegressionLayer.p_y_given_x
        # a typo in a weight name must not silently re-draw that layer
        unknown = set(weights) - set(self._names())
        if unknown:
            raise ValueError(f"unknown weight names {sorted(unknown)}; expected {self._names()}")

    def _names(self):
        names = [n for i in range(len(self.hidden_layers)) for n in hidden_names(i)]
        return [*names, *OUTPUT_NAMES]


def regularizers(classifier):
    """The tutorial's L1 norm and squared L2 norm over all weight matrices (biases excluded)."""
    L1 = sum(pt.abs(W).sum() for W in classifier.weight_matrices)
    L2_sqr = sum((W ** 2).sum() for W in classifier.weight_matrices)
    return L1, L2_sqr
