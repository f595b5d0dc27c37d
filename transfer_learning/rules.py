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

Pure NumPy: no graph is built, so every rule is tested exactly against a node-by-node loop.
"""

from dataclasses import dataclass, field

import numpy as np

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


def _softmax(logits):
    """Each row's softmax, shifted by the row's maximum so that no exp overflows or every exp underflows."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    return p / p.sum(axis=1, keepdims=True)


def _log_softmax(logits):
    """Each row's log-softmax, shifted by the row's maximum as _softmax is."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def fit_probe_head(features: np.ndarray, labels: np.ndarray, n_classes: int, l2: float) -> dict:
    """A logistic head on the probe's last-hidden-layer activations, for the taylor rule's loss.

    Minimizes mean_j cross-entropy(softmax(H_j W + b), y_j) + (l2 / 2) ||W||^2 (bias not penalized)
    in float64 with SciPy's L-BFGS-B from zeros (deterministic; gtol 1e-9, ftol 1e-15, at most 2,000
    iterations).
    With ~100 probe images and ~100 features the classes are separable, so without the penalty the
    fit would drive every dL/dH to zero; the penalty keeps the head finite and the gradients informative.
    Returns output_W [m, k] and output_b [k] as float64, plus the fit's final loss and iterations.
    """
    from scipy.optimize import minimize

    H = np.asarray(features, dtype=np.float64)
    n, m = H.shape
    Y = np.eye(n_classes)[np.asarray(labels)]

    def loss_and_grad(theta):
        W, b = theta[: m * n_classes].reshape(m, n_classes), theta[m * n_classes:]
        log_p = _log_softmax(H @ W + b)
        loss = -(Y * log_p).sum() / n + 0.5 * l2 * (W * W).sum()
        delta = (np.exp(log_p) - Y) / n
        return loss, np.concatenate([(H.T @ delta + l2 * W).ravel(), delta.sum(axis=0)])

    result = minimize(loss_and_grad, np.zeros(m * n_classes + n_classes), jac=True, method="L-BFGS-B",
                      options={"maxiter": 2000, "gtol": 1e-9, "ftol": 1e-15})
    W, b = result.x[: m * n_classes].reshape(m, n_classes), result.x[m * n_classes:]
    return {OUTPUT_NAMES[0]: W, OUTPUT_NAMES[1]: b, "loss": float(result.fun), "iterations": int(result.nit)}


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


#: Rule name -> scoring function (probe, settings) -> Scores. The first is the default (2015).
RULES = {
    "mean-abs": mean_abs,
    "centered": centered,
    "redo": redo,
    "utility": utility,
    "apoz": apoz,
    "taylor": taylor,
    "random": random_scores,
}


def score(rule: str, probe: Probe, settings: RuleSettings) -> Scores:
    """Score every hidden node of the probed network with ``rule``."""
    return RULES[rule](probe, settings)
