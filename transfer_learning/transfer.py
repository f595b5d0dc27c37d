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


def reinitialize(weights: dict, masks: list[np.ndarray], rng: np.random.Generator) -> dict:
    """Copy of ``weights`` where every non-kept node gets a fresh Glorot column and bias 0.

    Kept columns and biases are copied bit for bit. New columns are drawn from ``rng`` layer
    by layer, left to right, only for the nodes being reset.
    """
    new = {name: value.copy() for name, value in weights.items()}
    for layer, keep in enumerate(masks):
        w_name, b_name = hidden_names(layer)
        W = new[w_name]
        reset = np.flatnonzero(~keep)
        if reset.size:
            W[:, reset] = glorot_uniform(rng, *W.shape, n_columns=reset.size, dtype=W.dtype)
            new[b_name][reset] = 0
    return new


def fresh_output_layer(weights: dict, n_out: int) -> dict:
    """Copy of ``weights`` with a zero logistic output layer sized for ``n_out`` classes."""
    new = dict(weights)
    n_in = weights[OUTPUT_NAMES[0]].shape[0]
    dtype = weights[OUTPUT_NAMES[0]].dtype
    new[OUTPUT_NAMES[0]] = np.zeros((n_in, n_out), dtype=dtype)
    new[OUTPUT_NAMES[1]] = np.zeros(n_out, dtype=dtype)
    return new


def transfer(weights: dict, probe_images: np.ndarray, threshold: float, n_out: int, rng):
    """The whole 2015 step: score on the probe, keep/re-init hidden nodes, new output layer.

    Returns the transferred weights and a report: per layer the scores, kept indices and count.
    """
    scores = hidden_activity(weights, probe_images)
    masks = keep_masks(scores, threshold)
    transferred = fresh_output_layer(reinitialize(weights, masks, rng), n_out)
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
