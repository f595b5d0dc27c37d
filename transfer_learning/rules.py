"""Which hidden nodes to keep: one scoring rule per function, looked up by name in RULES.

Every rule scores every hidden node of the trained source network from the same probe: images drawn
from the target's training set (and, for ``taylor``, their target labels), pushed through the trained
network, biases included, so layer l's input is layer l-1's trained activations. H is a layer's
activations on the probe (n images x m nodes); a rule returns one score per node and layer, and a
node is kept when its score is at or above the threshold (or among the top --keep-fraction).

- ``mean-abs`` (2015): mean_j |H_ji|.
- ``centered``: mean_j |H_ji - mean_j' H_j'i|; a tanh unit stuck at +-1 is active but carries nothing.
- ``redo``: ReDo's normalized score (Sokar et al., ICML 2023): mean_j |H_ji| / mean over the layer's nodes.
- ``utility``: Continual Backprop's contribution utility (Dohare et al., Nature 2024), computed once:
  mean_j |H_ji| x mean_k |W_out[i, k]|, W_out the node's outgoing weights (the next hidden layer's W,
  or the source output layer's W for the last hidden layer).
- ``apoz``: 1 - the fraction of probe images with |H_ji| < eps (Hu et al. 2016).
- ``taylor``: first-order Taylor importance (Molchanov et al., ICLR 2017), |mean_j H_ji dL_j/dH_ji|,
  L_j the cross-entropy of image j's target label under a logistic head fitted on the probe's last
  hidden layer (see fit_probe_head), backpropagated through the trained hidden layers.
- ``random``: uniform scores from the run's own seeded generator (random selection as a rule).
- ``scale-matched``: random's scores, so random's nodes; the kept nodes' weights are then re-drawn at the source
  layer's scale (controls.py): what keeping nodes gives beyond the scale of the weights (Raghu et al. 2019).
- ``oracle``: the rise in the target's held-out loss when the node is removed (oracle.py; Molchanov et al. 2017):
  the ceiling of any score of the source network. It reads target data beyond the probe.

Pure NumPy: no graph is built, so every rule is tested exactly against a node-by-node loop.
"""

from dataclasses import dataclass, field

import numpy as np

from .heads import _log_softmax, _softmax, fit_probe_head  # noqa: F401  (rules._softmax: the tests' name)
from .weights import OUTPUT_NAMES, apply_activation, hidden_names, n_hidden


@dataclass(frozen=True)
class Probe:
    """The trained source network seen through the probe images."""

    weights: dict  # trained source weights, the source output layer included
    images: np.ndarray  # [n, n_in]
    labels: np.ndarray  # [n] target labels (used by taylor only)
    n_classes: int  # target classes
    activation: str
    pre_activations: list  # Z_l = H_{l-1} W_l + b_l, [n, m_l] per hidden layer
    activations: list  # H_l = activation(Z_l)


def probe_network(weights: dict, images, labels=None, n_classes: int = 0, activation: str = "tanh") -> Probe:
    """Push the probe images through the trained hidden layers, one matrix product per layer, in the
    weights' precision (float32), as the 2015 rule did with its trained W."""
    h = np.asarray(images, dtype=weights[hidden_names(0)[0]].dtype)
    pre, post = [], []
    for layer in range(n_hidden(weights)):
        w_name, b_name = hidden_names(layer)
        z = h @ weights[w_name] + weights[b_name]
        h = apply_activation(z, activation)
        pre.append(z)
        post.append(h)
    labels = np.zeros(len(images), dtype=np.int64) if labels is None else np.asarray(labels)
    return Probe(weights, np.asarray(images), labels, n_classes, activation, pre, post)


@dataclass(frozen=True)
class RuleSettings:
    """The rules' own settings (from --apoz-eps, --taylor-l2) and the generator of ``random``."""

    apoz_eps: float = 0.01
    taylor_l2: float = 0.01
    rng: np.random.Generator | None = field(default=None, compare=False)
    #: the oracle's target data: (the Split its read-out is fitted on, the Split its loss is measured on)
    oracle_data: tuple | None = field(default=None, compare=False)


@dataclass
class Scores:
    """One score array per hidden layer, and what a rule computed on the way (the taylor head)."""

    layers: list
    extras: dict = field(default_factory=dict)


def mean_abs(probe: Probe, settings: RuleSettings) -> Scores:
    return Scores([np.abs(h).mean(axis=0) for h in probe.activations])


def centered(probe: Probe, settings: RuleSettings) -> Scores:
    return Scores([np.abs(h - h.mean(axis=0)).mean(axis=0) for h in probe.activations])


def redo(probe: Probe, settings: RuleSettings) -> Scores:
    out = []
    for h in probe.activations:
        activity = np.abs(h).mean(axis=0)
        mean = activity.mean()
        out.append(activity / mean if mean > 0 else np.zeros_like(activity))
    return Scores(out)


def outgoing_weights(weights: dict, layer: int) -> np.ndarray:
    """Hidden layer ``layer``'s outgoing weights [m, next]: the next hidden W, or the output layer's W."""
    following = hidden_names(layer + 1)[0]
    return weights[following] if following in weights else weights[OUTPUT_NAMES[0]]


def utility(probe: Probe, settings: RuleSettings) -> Scores:
    return Scores([np.abs(h).mean(axis=0) * np.abs(outgoing_weights(probe.weights, layer)).mean(axis=1)
                   for layer, h in enumerate(probe.activations)])


def apoz(probe: Probe, settings: RuleSettings) -> Scores:
    return Scores([1.0 - (np.abs(h) < settings.apoz_eps).mean(axis=0) for h in probe.activations])


def random_scores(probe: Probe, settings: RuleSettings) -> Scores:
    if settings.rng is None:
        raise ValueError("the random rule needs a seeded generator")
    return Scores([settings.rng.uniform(size=h.shape[1]) for h in probe.activations])


def activation_derivative(pre: np.ndarray, post: np.ndarray, activation: str) -> np.ndarray:
    """d activation / d z at each unit: 1 - tanh^2, or the ReLU's step."""
    if activation == "relu":
        return (pre > 0).astype(np.float64)
    return 1.0 - np.asarray(post, dtype=np.float64) ** 2


def taylor(probe: Probe, settings: RuleSettings) -> Scores:
    head = fit_probe_head(probe.activations[-1], probe.labels, probe.n_classes, settings.taylor_l2)
    H = [np.asarray(h, dtype=np.float64) for h in probe.activations]
    Y = np.eye(probe.n_classes)[probe.labels]
    p = _softmax(H[-1] @ head[OUTPUT_NAMES[0]] + head[OUTPUT_NAMES[1]])
    grad = (p - Y) @ head[OUTPUT_NAMES[0]].T  # dL_j/dH_last for each image j (not averaged)
    scores = [None] * len(H)
    for layer in range(len(H) - 1, -1, -1):
        scores[layer] = np.abs((H[layer] * grad).mean(axis=0))
        if layer:
            through = grad * activation_derivative(probe.pre_activations[layer], probe.activations[layer],
                                                   probe.activation)
            grad = through @ np.asarray(probe.weights[hidden_names(layer)[0]], dtype=np.float64).T
    return Scores(scores, {"taylor_head": head})


def oracle(probe: Probe, settings: RuleSettings) -> Scores:
    from .oracle import node_scores

    if settings.oracle_data is None:
        raise ValueError("the oracle rule needs target data to measure the loss on")
    fit, evaluate = settings.oracle_data
    scores, extras = node_scores(probe.weights, fit, evaluate, probe.n_classes, probe.activation, settings.taylor_l2)
    return Scores(scores, {"oracle": extras})


#: Rule name -> scoring function (probe, settings) -> Scores. The first is the default (2015).
RULES = {
    "mean-abs": mean_abs,
    "centered": centered,
    "redo": redo,
    "utility": utility,
    "apoz": apoz,
    "taylor": taylor,
    "random": random_scores,
    "scale-matched": random_scores,
    "oracle": oracle,
}
#: The rules that are controls or ceilings rather than rules a user would choose nodes by ("all" leaves them out).
CONTROL_RULES = ("scale-matched", "oracle")


def score(rule: str, probe: Probe, settings: RuleSettings) -> Scores:
    """Score every hidden node of the probed network with ``rule``."""
    return RULES[rule](probe, settings)
