"""The statistics every analysis here uses, with nothing of the project in them: the 95 % t interval, the paired
t-test and TOST equivalence p-values of a list of paired differences, Holm's adjustment, and the split of a
difference's variance between data subsets and initializations. The sweep's analysis (analysis.py), the transfer
map (study.py) and the comparison of two analyses (verdicts.py) build on these."""

import math

import numpy as np


def mean_ci(values):
    """Mean and half-width of the 95 % t interval (nan with fewer than two values)."""
    from scipy.special import stdtrit  # Student's t quantiles; scipy.stats would cost half a second to import

    values = np.asarray([v for v in values if v is not None], dtype=float)
    if values.size == 0:
        return math.nan, math.nan
    if values.size < 2:
        return float(values.mean()), math.nan
    half = stdtrit(values.size - 1, 0.975) * values.std(ddof=1) / math.sqrt(values.size)
    return float(values.mean()), float(half)


def holm(p_values):
    """Holm's step-down adjustment: the family-wise error of many tests kept at the nominal level (nan
    p-values are left out of the family and stay nan)."""
    finite = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    order = sorted(finite, key=lambda i: p_values[i])
    adjusted, running = [math.nan] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _t_statistic(values, against):
    values = np.asarray(values, dtype=float)
    if values.size < 2 or not values.std(ddof=1) > 0:
        return None, values.size - 1
    return (values.mean() - against) / (values.std(ddof=1) / math.sqrt(values.size)), values.size - 1


def paired_p(differences) -> float:
    """Two-sided p of a paired t-test (a one-sample t-test of the paired differences against 0), as
    scipy.stats.ttest_1samp gives it."""
    from scipy.special import stdtr

    t, dof = _t_statistic([d for d in differences if d is not None], 0.0)
    return math.nan if t is None else float(2 * stdtr(dof, -abs(t)))


def tost_p(differences, margin) -> float:
    """p of the two one-sided tests of equivalence (|mean| < margin): the larger of the one-sided p-values of
    mean > -margin and mean < margin, as scipy.stats.ttest_1samp(alternative=...) gives them."""
    from scipy.special import stdtr

    values = [d for d in differences if d is not None]
    lower, dof = _t_statistic(values, -margin)
    upper, _ = _t_statistic(values, margin)
    if lower is None:
        return math.nan
    return float(max(stdtr(dof, -lower), stdtr(dof, upper)))


def variance_components(differences: dict) -> dict | None:
    """How much of the spread of paired differences comes from the data subset, the initialization and their
    interaction, from a crossed design {(seed, data seed): difference}: the two-way random-effects ANOVA
    without replication (expected mean squares; negative estimates are set to 0). None unless every seed
    was run with every data seed, at least two of each."""
    seeds = sorted({s for s, _ in differences})
    data_seeds = sorted({d for _, d in differences})
    if len(seeds) < 2 or len(data_seeds) < 2 or len(differences) != len(seeds) * len(data_seeds):
        return None
    table = np.array([[differences[(s, d)] for d in data_seeds] for s in seeds], dtype=float)
    n_init, n_data = table.shape
    grand = table.mean()
    ms_init = n_data * ((table.mean(axis=1) - grand) ** 2).sum() / (n_init - 1)
    ms_data = n_init * ((table.mean(axis=0) - grand) ** 2).sum() / (n_data - 1)
    residual = table - table.mean(axis=1, keepdims=True) - table.mean(axis=0, keepdims=True) + grand
    ms_residual = (residual ** 2).sum() / ((n_init - 1) * (n_data - 1))
    return {"data": max(0.0, (ms_data - ms_residual) / n_init), "init": max(0.0, (ms_init - ms_residual) / n_data),
            "residual": float(ms_residual)}


#: A claim this firm (adjusted p below it) in either analysis is counted apart: does it hold in both?
FIRM_P = 0.01


def random_effects(estimates, variances) -> dict:
    """The mean effect over cells with effects of their own: DerSimonian and Laird's between-cell variance tau^2,
    inverse-variance weights 1 / (v_c + tau^2), and the Hartung-Knapp standard error (Hartung and Knapp 2001; the
    weighted residual variance of the cells around the mean, on k - 1 degrees of freedom), which keeps its level
    with few cells where the normal-theory one does not (IntHout, Ioannidis and Borm 2014).

    Returns {"mean", "se", "dof", "tau2", "k"}; se is nan with fewer than two cells."""
    y, v = np.asarray(estimates, dtype=float), np.asarray(variances, dtype=float)
    k = y.size
    if k == 0:
        return {"mean": math.nan, "se": math.nan, "dof": 0, "tau2": math.nan, "k": 0}
    w = 1.0 / v
    fixed = (w * y).sum() / w.sum()
    q = (w * (y - fixed) ** 2).sum()
    tau2 = max(0.0, (q - (k - 1)) / (w.sum() - (w ** 2).sum() / w.sum())) if k > 1 else 0.0
    w_star = 1.0 / (v + tau2)
    mean = float((w_star * y).sum() / w_star.sum())
    if k < 2:
        return {"mean": mean, "se": math.nan, "dof": 0, "tau2": tau2, "k": k}
    se = math.sqrt((w_star * (y - mean) ** 2).sum() / ((k - 1) * w_star.sum()))
    return {"mean": mean, "se": se, "dof": k - 1, "tau2": float(tau2), "k": k}


def t_tests(mean, se, dof, margin) -> dict:
    """From an estimate with a t-distributed error: the two-sided p against 0 and the TOST p of |effect| < margin
    (nan where se is 0 or nan)."""
    from scipy.special import stdtr

    if not se > 0 or dof < 1:
        return {"p": math.nan, "p_tost": math.nan}
    return {"p": float(2 * stdtr(dof, -abs(mean) / se)),
            "p_tost": float(max(stdtr(dof, -(mean + margin) / se), stdtr(dof, (mean - margin) / se)))}


def holm_levels(p_values, alpha) -> list:
    """The level each test of a Holm family is decided at: alpha / (m - j) at step j of the step-down for the
    tests it rejects, and for every other test the level of the step where it stopped. An interval at confidence
    1 - level (1 - 2 level for TOST) then excludes 0 (lies within the margin) exactly when Holm rejects: interval
    and verdict cannot disagree. nan p-values get nan."""
    finite = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    order = sorted(finite, key=lambda i: p_values[i])
    m = len(order)
    levels = [math.nan] * len(p_values)
    stopped = None
    for rank, i in enumerate(order):
        level = alpha / (m - rank)
        if stopped is None and p_values[i] >= level:
            stopped = level
        levels[i] = level if stopped is None else stopped
    return levels


def t_interval(mean, se, dof, level) -> tuple:
    """The two-sided 1 - level interval of a t-distributed estimate."""
    from scipy.special import stdtrit

    if not se > 0 or dof < 1 or math.isnan(level):
        return math.nan, math.nan
    half = stdtrit(dof, 1 - level / 2) * se
    return mean - half, mean + half


def prediction_interval(mean, se, tau2, k, level=0.05) -> tuple:
    """Where a new cell's true effect would lie (Higgins, Thompson and Spiegelhalter 2009): the pooled mean plus or
    minus t(k - 2) times sqrt(tau^2 + se^2). The pooled mean's interval bounds the average over cells; this one
    bounds a cell, the cells' own spread included. It needs at least three cells (nan otherwise)."""
    from scipy.special import stdtrit

    if k < 3 or not se > 0 or math.isnan(tau2):
        return math.nan, math.nan
    half = stdtrit(k - 2, 1 - level / 2) * math.sqrt(tau2 + se * se)
    return mean - half, mean + half


def detectable(se, dof, level, power=0.8, tost=False) -> float:
    """The smallest true difference a t-test at ``level`` (two-sided) finds with ``power``; with ``tost``, the
    smallest equivalence margin that TOST at ``level`` (one-sided each) shows with ``power`` when the true
    difference is 0 (each one-sided test then needs power (1 + power) / 2)."""
    from scipy.special import stdtrit

    if not se > 0 or dof < 1:
        return math.nan
    if tost:
        return float((stdtrit(dof, 1 - level) + stdtrit(dof, (1 + power) / 2)) * se)
    return float((stdtrit(dof, 1 - level / 2) + stdtrit(dof, power)) * se)
