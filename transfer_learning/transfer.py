"""The transfer step, pure NumPy over a weights dict: score hidden nodes, keep or re-initialize.

No graph is built or compiled here, so every rule is tested exactly.
"""

import numpy as np

from .weights import OUTPUT_NAMES, glorot_uniform, hidden_names, n_hidden


def hidden_activity(weights: dict, images: np.ndarray) -> list[np.ndarray]:
    """Mean |activation| of every hidden node over ``images``, one array per hidden layer.

    Node i of layer l scores mean_j |tanh(h_j W_l[:, i] + b_l[i])|, where h_j is image j for the
    first layer and the previous layer's activation of image j (with the trained weights, before
    any re-initialization) for deeper ones. One matrix product per layer, no Python loop.
    """
    scores = []
    h = np.asarray(images, dtype=weights[hidden_names(0)[0]].dtype)
    for layer in range(n_hidden(weights)):
        w_name, b_name = hidden_names(layer)
        h = np.tanh(h @ weights[w_name] + weights[b_name])
        scores.append(np.abs(h).mean(axis=0))
    return scores


def keep_masks(scores: list[np.ndarray], threshold: float) -> list[np.ndarray]:
    """A node is kept when its score is at or above ``threshold``."""
    return [s >= threshold for s in scores]


def reinitialize(weights: dict, masks: list[np.ndarray], rng: np.random.Generator, reinit_deeper=False) -> dict:
    """Copy of ``weights`` where every non-kept node gets a fresh Glorot column and bias 0.

    Kept columns and biases are copied bit for bit. New columns are drawn from ``rng`` layer
    by layer, left to right, only for the nodes being reset. With ``reinit_deeper`` (the 2015
    author's third plan) the weights *leaving* a reset node, its row in the next hidden layer's
    W, are re-drawn as well, right after that layer's columns; the output layer is new anyway.
    """
    new = {name: value.copy() for name, value in weights.items()}
    for layer, keep in enumerate(masks):
        w_name, b_name = hidden_names(layer)
        W = new[w_name]
        reset = np.flatnonzero(~keep)
        if reset.size:
            W[:, reset] = glorot_uniform(rng, *W.shape, shape=(W.shape[0], reset.size), dtype=W.dtype)
            new[b_name][reset] = 0
            if reinit_deeper and layer + 1 < len(masks):
                W_next = new[hidden_names(layer + 1)[0]]
                W_next[reset, :] = glorot_uniform(rng, *W_next.shape, shape=(reset.size, W_next.shape[1]),
                                                  dtype=W_next.dtype)
    return new


def random_masks(masks: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Masks that reset as many nodes per layer as ``masks`` do, chosen uniformly at random.

    The control for the activation rule: if it matters, resetting random nodes should do worse.
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


def transfer(weights: dict, probe_images: np.ndarray, threshold: float, n_out: int, rng, reinit_deeper=False,
             masks=None):
    """The whole 2015 step: score on the probe, keep/re-init hidden nodes, new output layer.

    ``masks`` overrides the threshold rule (the random-reset control). Returns the transferred
    weights and a report: per layer the scores, kept indices and count.
    """
    scores = hidden_activity(weights, probe_images)
    if masks is None:
        masks = keep_masks(scores, threshold)
    transferred = fresh_output_layer(reinitialize(weights, masks, rng, reinit_deeper), n_out)
    layers = [
        {
            "layer": i,
            "scores": [float(s) for s in score],
            "kept": [int(k) for k in np.flatnonzero(mask)],
            "n_kept": int(mask.sum()),
            "n_nodes": int(mask.size),
        }
        for i, (score, mask) in enumerate(zip(scores, masks))
    ]
    return transferred, {"threshold": threshold, "probe_size": int(len(probe_images)), "layers": layers}
