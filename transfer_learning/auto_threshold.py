"""``--threshold auto``, the 2015 author's first plan: pick the threshold by how well learning transfers.

The rule: for every candidate threshold, build the transferred network exactly as the run would
(same probe, same re-initialization draws), retrain it on the target for a few epochs, and score
it by the area under its validation-error curve (the mean validation error over those epochs).
The candidate with the lowest score wins; ties go to the earlier candidate. Only target training
and validation data are used, never the test set. Candidates that keep the very same nodes are
trained once and share a score.

Cost: one short retrain per distinct set of kept nodes, so at most
len(candidates) x auto_epochs target epochs before the real retrain starts.
"""

import copy

import numpy as np

from .metrics import epoch_curve
from .transfer import hidden_activity, keep_masks, transferred_weights


def choose_threshold(weights, probe, n_out, candidates, reinit_rng, retrain, reinit_deeper=False, scores=None,
                     activation="tanh"):
    """Return (chosen threshold, one report dict per candidate).

    ``scores`` are the selection rule's scores of every node (default: the 2015 mean |activation|);
    the candidates are thresholds on that rule's scale. ``retrain(initial_weights, masks, label)``
    trains a copy of the network briefly and returns its History. ``reinit_rng`` is not advanced:
    each candidate draws from a copy of it, so the winner's initial weights are exactly those the
    real transfer will start from.
    """
    if scores is None:
        scores = hidden_activity(weights, probe, activation)
    tried = {}
    report = []
    for threshold in candidates:
        masks = keep_masks(scores, threshold)
        key = b"".join(np.packbits(m).tobytes() for m in masks)
        if key not in tried:
            initial = transferred_weights(weights, masks, copy.deepcopy(reinit_rng), n_out, reinit_deeper, activation)
            history = retrain(initial, masks, f"auto-{threshold:g}")
            curve = epoch_curve(history)
            tried[key] = {"validation_auc": float(np.mean(curve)), "validation_curve": curve,
                          "trained_as": threshold}
        report.append({
            "threshold": float(threshold),
            "nodes_kept": [int(m.sum()) for m in masks],
            **tried[key],
        })
    best = min(range(len(report)), key=lambda i: (report[i]["validation_auc"], i))
    return report[best]["threshold"], report
