"""The oracle rule: a node's score is how much the target's loss rises when the node is removed.

Molchanov, Tyree, Karras, Aila and Kautz (ICLR 2017, "Pruning convolutional neural networks for resource efficient
inference") judge importance scores against this oracle: the change in loss when one unit is zeroed. Here the loss
is the target's, read out by a multinomial logistic regression fitted on the frozen source network's last hidden
layer (rules.fit_probe_head, L2 --taylor-l2) over the run's training subset, and measured on held-out target images:
the validation pool (--valid-pool) when there is one, else the run's validation examples. Never a test split.

For node i of hidden layer l the score is mean cross-entropy with H_l[:, i] set to 0 and the layers above recomputed
from there (the read-out not refitted), minus the mean cross-entropy of the intact network. Keeping the nodes whose
removal hurts most is the best a score of the source network could do on the target at a given budget, so a rule
that does not beat random where the oracle does not either has nothing to find.
"""

import numpy as np

from .heads import _log_softmax, fit_probe_head
from .weights import OUTPUT_NAMES, apply_activation, hidden_layers, hidden_names, n_hidden


def _mean_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(-_log_softmax(np.asarray(logits, dtype=np.float64))[np.arange(labels.size), labels].mean())


def _logits_from(weights, head, h, layer, activation):
    """The read-out's logits from hidden layer ``layer``'s activations ``h``, through the layers above it."""
    for above in range(layer + 1, n_hidden(weights)):
        w_name, b_name = hidden_names(above)
        h = apply_activation(h @ weights[w_name] + weights[b_name], activation)
    return h @ head[OUTPUT_NAMES[0]] + head[OUTPUT_NAMES[1]]


def node_scores(weights: dict, fit, evaluate, n_classes: int, activation: str, l2: float) -> tuple[list, dict]:
    """Per hidden layer, every node's rise in held-out loss when it is zeroed (float64); and the read-out.

    ``fit`` and ``evaluate`` are Splits (x, y): the read-out is fitted on ``fit``, the loss measured on
    ``evaluate``."""
    head = fit_probe_head(hidden_layers(weights, fit.x, activation)[-1], fit.y, n_classes, l2)
    head32 = {k: np.asarray(head[k], dtype=np.float32) for k in OUTPUT_NAMES}
    labels = np.asarray(evaluate.y)
    layers = hidden_layers(weights, evaluate.x, activation)
    intact = _mean_cross_entropy(_logits_from(weights, head32, layers[-1], len(layers) - 1, activation), labels)
    scores = []
    for layer, h in enumerate(layers):
        rise = np.empty(h.shape[1])
        for node in range(h.shape[1]):
            removed = h.copy()
            removed[:, node] = 0
            rise[node] = _mean_cross_entropy(_logits_from(weights, head32, removed, layer, activation), labels) - intact
        scores.append(rise)
    return scores, {"intact_loss": intact, "head_fit_loss": head["loss"], "head_fit_iterations": head["iterations"],
                    "fit_examples": int(fit.y.size), "loss_examples": int(labels.size)}


def spearman_by_layer(scores: list, oracle_scores: list) -> list[float]:
    """Spearman's rank correlation of each layer's scores with the oracle's (average ranks for ties); NaN where a
    layer's scores are all equal."""
    from scipy.stats import spearmanr

    out = []
    for a, b in zip(scores, oracle_scores, strict=True):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        out.append(float("nan") if np.ptp(a) == 0 or np.ptp(b) == 0 else float(spearmanr(a, b).statistic))
    return out
