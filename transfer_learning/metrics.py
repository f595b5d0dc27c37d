"""Transfer metrics computed from saved learning curves, after Taylor & Stone (2009).

For every arm (transfer, and the baselines trained on the same target with the same seed,
architecture, optimizer and budget), from its validation error at the end of each epoch:

- final target test error: of the weights with the best target validation error;
- jumpstart: validation error after the first epoch, arm minus scratch (negative = better start);
- AUC: sum over the epoch budget of the validation error (in error x epochs; an arm that stopped
  early keeps its best validation error for the epochs it did not run);
- transfer ratio: (AUC_scratch - AUC_arm) / AUC_scratch (positive = learned faster overall);
- time to threshold: the first epoch whose validation error is <= ttt_level x scratch's best
  (fixed before the run by --ttt-level), and the speed-up TTT_scratch / TTT_arm;
- source retention: source test error of the arm's hidden layers under the saved source output
  layer, before and after target training.
"""

import numpy as np

from .weights import OUTPUT_NAMES, hidden_layers


def epoch_curve(history) -> list[float]:
    """The last validation error of each epoch."""
    by_epoch = {}
    for check in history.checks:
        by_epoch[check.epoch] = check.validation_error
    return [by_epoch[e] for e in sorted(by_epoch)]


def area_under_curve(curve, n_epochs, best) -> float:
    padded = list(curve[:n_epochs]) + [best] * max(0, n_epochs - len(curve))
    return float(np.sum(padded))


def time_to_threshold(curve, level):
    """First epoch (1-based) at or below ``level``, or None if never reached."""
    for epoch, error in enumerate(curve, start=1):
        if error <= level:
            return epoch
    return None


def error_rate(weights: dict, split, activation: str = "tanh") -> float:
    """Classification error of an MLP given as a weights dict (NumPy forward pass)."""
    hidden = hidden_layers(weights, split.x, activation)
    h = hidden[-1] if hidden else split.x
    logits = h @ weights[OUTPUT_NAMES[0]] + weights[OUTPUT_NAMES[1]]
    return float(np.mean(logits.argmax(axis=1) != split.y))


def with_output_of(weights: dict, head: dict) -> dict:
    """``weights``' hidden layers under another network's output layer."""
    return {**weights, OUTPUT_NAMES[0]: head[OUTPUT_NAMES[0]], OUTPUT_NAMES[1]: head[OUTPUT_NAMES[1]]}


def arm_metrics(arms: dict, n_epochs: int, ttt_level: float, source_weights: dict, source_test,
                activation: str = "tanh") -> dict:
    """Metrics of every arm; ``arms`` maps a name to (history, initial weights, final weights)."""
    curves = {name: epoch_curve(history) for name, (history, _, _) in arms.items()}
    scratch = arms.get("scratch")
    reference = None
    if scratch is not None and curves["scratch"]:
        reference = {
            "curve": curves["scratch"],
            "auc": area_under_curve(curves["scratch"], n_epochs, scratch[0].best_validation_error),
            "level": ttt_level * scratch[0].best_validation_error,
        }
        reference["ttt"] = time_to_threshold(curves["scratch"], reference["level"])
    out = {}
    for name, (history, initial, final) in arms.items():
        curve = curves[name]
        auc = area_under_curve(curve, n_epochs, history.best_validation_error)
        row = {
            "test_error": history.test_error,
            "best_validation_error": history.best_validation_error,
            "epochs_run": history.epochs_run,
            "best_epoch": history.best_epoch,
            "validation_curve": curve,
            "auc": auc,
            "source_retention_before": error_rate(with_output_of(initial, source_weights), source_test, activation),
            "source_retention_after": error_rate(with_output_of(final, source_weights), source_test, activation),
            "jumpstart": None,
            "transfer_ratio": None,
            "time_to_threshold": None,
            "speedup": None,
        }
        if reference is not None and curve:
            row["jumpstart"] = curve[0] - reference["curve"][0]
            row["transfer_ratio"] = (reference["auc"] - auc) / reference["auc"] if reference["auc"] else None
            row["threshold_level"] = reference["level"]
            row["time_to_threshold"] = time_to_threshold(curve, reference["level"])
            if row["time_to_threshold"] and reference["ttt"]:
                row["speedup"] = reference["ttt"] / row["time_to_threshold"]
        out[name] = row
    return out
