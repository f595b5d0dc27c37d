"""The transfer step, pure NumPy over a weights dict: score hidden nodes, keep or re-initialize.

No graph is built or compiled here, so every step is tested exactly. Scoring rules live in rules.py;
this module chooses nodes from scores (a threshold, or a fixed fraction per layer) and builds the
transferred network.
"""

import numpy as np

from .rules import mean_abs, probe_network
from .weights import OUTPUT_NAMES, glorot_uniform, hidden_names


def hidden_activity(weights: dict, images: np.ndarray, activation: str = "tanh") -> list[np.ndarray]:
    """The 2015 rule's scores: mean |activation| of every hidden node over ``images``, per hidden layer.

    Node i of layer l scores mean_j |tanh(h_j W_l[:, i] + b_l[i])|, where h_j is image j for the
    first layer and the previous layer's activation of image j (with the trained weights, before
    any re-initialization) for deeper ones. One matrix product per layer, no Python loop.
    """
    return mean_abs(probe_network(weights, images, activation=activation), None).layers


def keep_masks(scores: list[np.ndarray], threshold: float) -> list[np.ndarray]:
    """A node is kept when its score is at or above ``threshold``."""
    return [s >= threshold for s in scores]


def n_to_keep(fraction: float, n_nodes: int) -> int:
    """round(fraction x n_nodes), Python's round (halves to even), so 0.25 x 10 keeps 2."""
    return int(round(fraction * n_nodes))


def top_fraction_masks(scores: list[np.ndarray], fraction: float) -> list[np.ndarray]:
    """In every layer, keep the round(fraction x m) nodes with the highest scores; ties go to the lower index."""
    masks = []
    for s in scores:
        order = np.argsort(-np.asarray(s, dtype=np.float64), kind="stable")
        mask = np.zeros(len(s), dtype=bool)
        mask[order[:n_to_keep(fraction, len(s))]] = True
        masks.append(mask)
    return masks


def reinitialize(weights: dict, masks: list[np.ndarray], rng: np.random.Generator, reinit_deeper=False,
                 activation: str = "tanh") -> dict:
    """Copy of ``weights`` where every non-kept node gets a fresh column and bias 0.

    Kept columns and biases are copied bit for bit. New columns (Glorot-uniform, He-uniform for relu)
    are drawn from ``rng`` layer by layer, left to right, only for the nodes being reset. With
    ``reinit_deeper`` (the 2015 author's third plan) the weights *leaving* a reset node, its row in
    the next hidden layer's W, are re-drawn as well, right after that layer's columns; the output
    layer is new anyway.
    """
    new = {name: value.copy() for name, value in weights.items()}
    for layer, keep in enumerate(masks):
        w_name, b_name = hidden_names(layer)
        W = new[w_name]
        reset = np.flatnonzero(~keep)
        if reset.size:
            W[:, reset] = glorot_uniform(rng, *W.shape, shape=(W.shape[0], reset.size), dtype=W.dtype,
                                         activation=activation)
            new[b_name][reset] = 0
            if reinit_deeper and layer + 1 < len(masks):
                W_next = new[hidden_names(layer + 1)[0]]
                W_next[reset, :] = glorot_uniform(rng, *W_next.shape, shape=(reset.size, W_next.shape[1]),
                                                  dtype=W_next.dtype, activation=activation)
    return new


def random_masks(masks: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Masks that reset as many nodes per layer as ``masks`` do, chosen uniformly at random.

    The control for a selection rule: if it matters, resetting random nodes should do worse.
    """
    out = []
    for keep in masks:
        reset = rng.choice(keep.size, size=int((~keep).sum()), replace=False)
        mask = np.ones(keep.size, dtype=bool)
        mask[reset] = False
        out.append(mask)
    return out


def fresh_output_layer(weights: dict, n_out: int) -> dict:
    """Copy of ``weights`` with a zero logistic output layer sized for ``n_out`` classes."""
    new = dict(weights)
    n_in = weights[OUTPUT_NAMES[0]].shape[0]
    dtype = weights[OUTPUT_NAMES[0]].dtype
    new[OUTPUT_NAMES[0]] = np.zeros((n_in, n_out), dtype=dtype)
    new[OUTPUT_NAMES[1]] = np.zeros(n_out, dtype=dtype)
    return new


def shrink_perturb(weights: dict, n_out: int, rng: np.random.Generator, shrink: float, perturb: float,
                   activation: str = "tanh") -> dict:
    """Ash & Adams (NeurIPS 2020): every hidden W becomes shrink x W + perturb x a fresh draw, every
    hidden bias shrink x b, and the output layer is new. Fresh draws come from ``rng``, layer by layer."""
    return shrunk_and_perturbed(weights, fresh_hidden_draws(weights, rng, activation), n_out, shrink, perturb)


def fresh_hidden_draws(weights: dict, rng: np.random.Generator, activation: str = "tanh") -> dict:
    """A fresh initial draw of every hidden W of ``weights``' shapes, layer by layer from ``rng``."""
    fresh, layer = {}, 0
    while hidden_names(layer)[0] in weights:
        W = weights[hidden_names(layer)[0]]
        fresh[hidden_names(layer)[0]] = glorot_uniform(rng, *W.shape, dtype=W.dtype, activation=activation)
        layer += 1
    return fresh


def shrunk_and_perturbed(weights: dict, fresh: dict, n_out: int, shrink: float, perturb: float) -> dict:
    """shrink x the hidden weights + perturb x ``fresh``, biases shrunk, under a new output layer: so that every
    shrink tried starts from the same fresh draw."""
    new = {}
    for layer in range(len(fresh)):
        w_name, b_name = hidden_names(layer)
        W = weights[w_name]
        new[w_name] = (shrink * W + perturb * fresh[w_name]).astype(W.dtype)
        new[b_name] = (shrink * weights[b_name]).astype(weights[b_name].dtype)
    return fresh_output_layer({**new, OUTPUT_NAMES[0]: weights[OUTPUT_NAMES[0]],
                               OUTPUT_NAMES[1]: weights[OUTPUT_NAMES[1]]}, n_out)


def layer_report(scores: list[np.ndarray], masks: list[np.ndarray]) -> list[dict]:
    """Per hidden layer: every node's score, the kept node indices and how many."""
    return [
        {
            "layer": i,
            "scores": [float(s) for s in score],
            "kept": [int(k) for k in np.flatnonzero(mask)],
            "n_kept": int(mask.sum()),
            "n_nodes": int(mask.size),
        }
        for i, (score, mask) in enumerate(zip(scores, masks, strict=True))
    ]


def transferred_weights(weights: dict, masks, rng, n_out: int, reinit_deeper: bool, activation: str) -> dict:
    """The network a target phase starts from: kept nodes as trained, the others re-drawn from ``rng``, under a
    fresh output layer for ``n_out`` classes. The run and ``--threshold auto``'s candidates both start here."""
    return fresh_output_layer(reinitialize(weights, masks, rng, reinit_deeper, activation), n_out)


def transfer(weights: dict, probe_images: np.ndarray, threshold: float, n_out: int, rng, reinit_deeper=False,
             masks=None, scores=None, activation: str = "tanh"):
    """The whole step: score on the probe, keep/re-init hidden nodes, new output layer.

    ``scores`` are the nodes' scores (default: the 2015 rule, mean |activation|); ``masks`` overrides
    the threshold (a keep fraction, or the random-reset control). Returns the transferred weights and a
    report: per layer the scores, kept indices and count.
    """
    if scores is None:
        scores = hidden_activity(weights, probe_images, activation)
    if masks is None:
        masks = keep_masks(scores, threshold)
    transferred = transferred_weights(weights, masks, rng, n_out, reinit_deeper, activation)
    return transferred, {"threshold": threshold, "probe_size": int(len(probe_images)),
                         "layers": layer_report(scores, masks)}
