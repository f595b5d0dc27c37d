"""The scale-matched control (--rule scale-matched): random's nodes, with source weights of the right scale only.

Raghu, Zhang, Kleinberg and Bengio (NeurIPS 2019, "Transfusion") recovered much of transfer's speed-up by initializing
each layer from a normal distribution with the pretrained layer's mean and variance, no pretrained weight kept. Here
the nodes the random rule would keep (scale-matched scores with the random rule's generator, so the same nodes) have
their incoming weights and bias re-drawn from the normal distribution of their source layer's weights (and biases):
what is left of a rule's gain over random once the kept weights' scale is given to random as well.

The shuffled control of Frankle et al. (ICLR 2021) needs no arm of its own: the random rule keeps each layer's count of
nodes at random, which is a rule's selection shuffled within each layer.
"""

import numpy as np

from .weights import hidden_names


def scale_matched(transferred: dict, source: dict, masks: list, rng: np.random.Generator) -> dict:
    """``transferred`` with every kept node's incoming weights and bias re-drawn at its source layer's scale."""
    out = dict(transferred)
    for layer, keep in enumerate(masks):
        kept = np.flatnonzero(keep)
        for name in hidden_names(layer):
            value, src = out[name].copy(), np.asarray(source[name], dtype=np.float64)
            draw_shape = (value.shape[0], kept.size) if value.ndim == 2 else (kept.size,)
            draw = rng.normal(src.mean(), src.std(), size=draw_shape).astype(value.dtype)
            if value.ndim == 2:
                value[:, kept] = draw
            else:
                value[kept] = draw
            out[name] = value
    return out


def generator(seed: int) -> np.random.Generator:
    """The control's own generator, the tenth child of --seed's SeedSequence: the run's nine others (experiment.py's
    spawn_rngs) keep their streams, and a resumed run draws the same."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(10)[9])
