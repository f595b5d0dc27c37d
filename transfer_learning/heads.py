"""Logistic read-outs on hidden features, fitted to convergence in float64: the head the taylor rule differentiates
through and the read-out the oracle rule measures the target's loss with."""

import numpy as np

from .weights import OUTPUT_NAMES


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
