"""The two-stage study's primary analysis, declared before the data (hypotheses.json) and computed after
(primary.json, primary.md, primary.png).

The contrast: a rule's test error minus the random rule's, in percentage points, per confirmation replicate the mean
over the study's keep fractions (the two runs of a replicate share its source network, data and probe). Per target
size and activation, the cells (task pairs x widths) are pooled by a random-effects model (stats.random_effects:
DerSimonian-Laird tau^2, Hartung-Knapp standard error on k - 1 degrees of freedom), since cells have effects of
their own. Each member of the primary family (each of --primary-rules, each of --primary-sizes, each activation)
has a superiority test (two-sided, against 0) and an equivalence test (TOST within +-the margin); the family's
2 x members tests are Holm-adjusted together, and each interval is at the level of the Holm step that decided it
(stats.holm_levels), so an interval and its verdict never disagree. Beside each pooled difference, a 95 % prediction
interval (stats.prediction_interval) says where a new cell's difference would lie, the cells' own spread included:
the pooled interval bounds the average over cells, not each cell.

Everything else (each cell on its own, the other sizes, the scale-matched control, the references, the score signal)
is descriptive: 95 % intervals, no verdicts.
"""

import json
import math
from pathlib import Path

import numpy as np

from .analysis import read_csv
from .stats import (
    FIRM_P,
    detectable,
    holm,
    holm_levels,
    mean_ci,
    prediction_interval,
    random_effects,
    t_interval,
    t_tests,
)
from .vocab import SELECTION_FREE

ALPHA = 0.05
TESTS = ("superiority", "equivalence")


def _cells_of(size, activation, cells):
    """The cells of one target size and activation: what a primary member pools."""
    return [c for c in cells if c.size == size and (c.activation or None) == activation]


def contrast(rows, rule, fractions, against="random") -> dict:
    """{seed: mean over ``fractions`` of (rule - against) test error, pp} for the replicates that have them all."""
    errors = {}
    for r in rows:
        if r["arm"] == "transfer" and r.get("keep_fraction") in fractions and r.get("reinit_deeper") in (None, 0):
            errors.setdefault((r["rule"], r["keep_fraction"]), {})[r["seed"]] = float(r["test_error_pct"])
    a = [errors.get((rule, f), {}) for f in fractions]
    b = [errors.get((against, f), {}) for f in fractions]
    seeds = set.intersection(*(set(x) for x in a + b)) if a else set()
    return {s: float(np.mean([x[s] - y[s] for x, y in zip(a, b, strict=True)])) for s in sorted(seeds)}


def reference_contrast(rows, arm, against_rule=None, fractions=(), against="scratch") -> dict:
    """{seed: a reference's test error minus scratch's (or minus a rule's, averaged over fractions)}, pp."""
    own = {r["seed"]: float(r["test_error_pct"]) for r in rows if r["arm"] == arm}
    if against_rule is None:
        other = {r["seed"]: float(r["test_error_pct"]) for r in rows if r["arm"] == against}
    else:
        per_fraction = [{r["seed"]: float(r["test_error_pct"]) for r in rows if r["arm"] == "transfer"
                         and r.get("rule") == against_rule and r.get("keep_fraction") == f
                         and r.get("reinit_deeper") in (None, 0)} for f in fractions]
        seeds = set.intersection(*(set(p) for p in per_fraction)) if per_fraction else set()
        other = {s: float(np.mean([p[s] for p in per_fraction])) for s in seeds}
    return {s: own[s] - other[s] for s in sorted(set(own) & set(other))}


def pooled(per_cell: list) -> dict:
    """The random-effects mean of per-cell {seed: difference} dicts (cells with fewer than 2 replicates left out);
    with a single cell, that cell's paired t-test (its replicates' mean, standard error and n - 1 degrees of
    freedom), since one cell cannot show how cells vary."""
    usable = [d for d in per_cell if len(d) >= 2]
    y = [float(np.mean(list(d.values()))) for d in usable]
    v = [max(float(np.var(list(d.values()), ddof=1)) / len(d), 1e-12) for d in usable]
    if len(usable) == 1:
        return {"mean": y[0], "se": math.sqrt(v[0]), "dof": len(usable[0]) - 1, "tau2": math.nan, "k": 1,
                "model": "one cell: its paired t-test"}
    return {**random_effects(y, v), "model": "random effects, Hartung-Knapp"}


def finite(value):
    """``value`` with every NaN as None, so that the JSON files are strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def family(study, activations) -> list[dict]:
    """The primary family, in a fixed order: rule x size x activation x (superiority, equivalence)."""
    return [{"rule": rule, "size": size, "activation": activation, "test": test}
            for activation in activations for size in study.primary_sizes for rule in study.primary_rule_names
            for test in TESTS]


def _activations(study):
    """The activations the cells have (None: one, the study's --activation, unnamed in the cells)."""
    return list(study.activations) if study.activations else [None]


def _tuning_contrast(tuned_cell: dict, rule: str, fractions) -> dict:
    """{seed: mean over fractions of rule - random} of the tuning replicates' validation-pool errors at the tuned
    settings, pp."""
    arms = tuned_cell["arms"]
    keys = [(f"transfer/{rule}@{f:g}", f"transfer/random@{f:g}") for f in fractions]
    if not all(a in arms and b in arms for a, b in keys):
        return {}
    seeds = sorted(set.intersection(*(set(arms[k]["chosen_per_replicate_pct"]) for pair in keys for k in pair)))
    return {s: float(np.mean([arms[a]["chosen_per_replicate_pct"][s] - arms[b]["chosen_per_replicate_pct"][s]
                              for a, b in keys])) for s in seeds}


def _expected_se(sds, tau2, n) -> float:
    """The pooled estimate's standard error expected with n replicates a cell, cells' SDs ``sds``, tau^2 ``tau2``."""
    tau2 = 0.0 if math.isnan(tau2) else tau2
    return math.sqrt(1.0 / sum(1.0 / max(sd * sd / n + tau2, 1e-12) for sd in sds)) if sds else math.nan


def _dof(k, n) -> int:
    """The pooled test's degrees of freedom: k - 1 across cells, n - 1 within a single cell."""
    return k - 1 if k > 1 else n - 1


def hypotheses(study, sweep, tuned: dict, tuned_digest: str) -> dict:
    """hypotheses.json: the primary family, its adjustment and margin, and the power of the confirmation from the
    tuning replicates' paired SDs (validation pool, tuned settings): written before the first confirmation run."""
    from .cells import cells

    members = family(study, _activations(study))
    grid = cells(study)
    confirmed = [c.name for c in grid]
    m = len(members)
    level = ALPHA / m  # the first Holm step's level: a lower bound on the power of every later step
    fractions = tuple(sweep.keep_fractions)
    power = []
    for activation in _activations(study):
        for size in study.primary_sizes:
            for rule in study.primary_rule_names:
                per_cell = [_tuning_contrast(tuned["cells"][c.name], rule, fractions)
                            for c in _cells_of(size, activation, grid) if c.name in tuned["cells"]]
                per_cell = [d for d in per_cell if len(d) >= 2]
                sds = [float(np.std(list(d.values()), ddof=1)) for d in per_cell]
                tau2 = pooled(per_cell)["tau2"] if per_cell else math.nan
                k = len(per_cell)
                # an SD from three replicates can come out near 0 by chance, and would then pass for a cell measured
                # exactly: every cell is planned with the cells' pooled SD (the root mean square of theirs)
                planned = [math.sqrt(float(np.mean(np.square(sds))))] * k if sds else []
                se = _expected_se(planned, tau2, study.replicates)
                needed = next((n for n in range(2, 2001) if detectable(_expected_se(planned, tau2, n), _dof(k, n),
                                                                       level, tost=True) <= sweep.equivalence_margin),
                              None)
                power.append({"rule": rule, "size": size, "activation": activation, "cells": k,
                              "tuning_sd_pp": sds, "planning_sd_pp": planned[0] if planned else math.nan,
                              "tau2_pp2": tau2, "replicates": study.replicates,
                              "expected_se_pp": se,
                              "detectable_difference_pp": detectable(se, _dof(k, study.replicates), level),
                              "detectable_equivalence_margin_pp": detectable(se, _dof(k, study.replicates), level,
                                                                             tost=True),
                              "replicates_for_tost_at_margin": needed})
    return finite({
        "tuned_sha256": tuned_digest,
        "contrast": "test error of the rule minus that of the random rule, pp, per replicate the mean over keep "
                    f"fractions {', '.join(f'{f:g}' for f in fractions)}; test error over the official test split "
                    "and the extra test pool",
        "pooling": "per target size and activation, across the cells (task pairs x widths), by a random-effects "
                   "model: DerSimonian-Laird tau^2, Hartung-Knapp standard error, k - 1 degrees of freedom",
        "family": members, "tests": m, "alpha": ALPHA,
        "adjustment": "Holm over the primary family only; each interval at the level of the Holm step that decided "
                      "it (1 - level two-sided for superiority, 1 - 2 level for TOST)",
        "equivalence_margin_pp": sweep.equivalence_margin,
        "confirmation_seeds": list(study.confirm_seeds),
        "cells": confirmed,
        "cells_not_confirmed": [name for name in tuned["cells"] if name not in confirmed],
        "cells_note": "cells_not_confirmed were tuned but left out of the confirmation before its first run "
                      "(--cut-cells: cut to fit a budget)",
        "power": power,
        "power_note": f"at level alpha / {m} (the first Holm step), 80 % power; SDs of the tuning replicates' "
                      "validation-pool differences at the tuned settings (a smaller test set than the confirmation's, "
                      "so conservative), every cell planned with their pooled SD (the root mean square: an SD from "
                      "three replicates alone can be near 0 by chance); tau^2 their DerSimonian-Laird estimate; "
                      "replicates_for_tost_at_margin: the fewest a cell that give TOST 80 % power at the margin when "
                      "the true difference is 0 (null: not within 2,000, the between-cell variation alone is too "
                      "large)",
        "firm": "Holm-adjusted p < 0.01, and the tuning replicates give the same sign (superiority) or a pooled "
                "difference within the margin (equivalence)",
        "descriptive": "each cell on its own; each member's 95 % prediction interval of a new cell's difference; the "
                       "sizes not in the primary family; the scale-matched control; the references; the score signal; "
                       "the tuned settings at a grid edge: 95 % intervals, no verdicts",
    })


def tuning_edges(tuned: dict) -> list[dict]:
    """How often each arm's tuned setting sat at an edge of its grid, over the cells: where it did, the grid did not
    bracket the best value and the arm may be stronger than it was tuned to be. Per-selection arms are counted per
    arm (all rules and fractions together)."""
    counts, cells = {}, {}
    for cell in tuned["cells"].values():
        for key, entry in cell["arms"].items():
            arm = key.split("/")[0]
            cells[arm] = cells.get(arm, 0) + 1
            for edge in entry.get("at_edge", []):
                counts[(arm, edge)] = counts.get((arm, edge), 0) + 1
    return [{"arm": arm, "edge": edge, "times": n, "of": cells[arm]} for (arm, edge), n in sorted(counts.items())]


def verdict(test: str, mean: float, p_holm: float) -> str:
    if math.isnan(p_holm) or p_holm >= ALPHA:
        return "inconclusive"
    if test == "equivalence":
        return "equivalent"
    return "beats random" if mean < 0 else "worse than random"


def analyze(study, sweep, tuned: dict, hypotheses_record: dict, cell_rows: dict) -> dict:
    """primary.json's content from the confirmation rows ({cell: rows}) and the declared family."""
    from .cells import cells

    fractions = tuple(sweep.keep_fractions)
    margin = hypotheses_record["equivalence_margin_pp"]
    grid = [c for c in cells(study) if c in cell_rows]
    entries = []
    for member in hypotheses_record["family"]:
        mine = _cells_of(member["size"], member["activation"], grid)
        per_cell = [contrast(cell_rows[c], member["rule"], fractions) for c in mine]
        model = pooled(per_cell)
        tuning = pooled([_tuning_contrast(tuned["cells"][c.name], member["rule"], fractions) for c in mine])
        p = t_tests(model["mean"], model["se"], model["dof"], margin)
        entries.append({**member, **model, "p": p["p"] if member["test"] == "superiority" else p["p_tost"],
                        "tuning_mean": tuning["mean"],
                        "cells_descriptive": [{"cell": c.name, "pair": c.pair, "width": c.width,
                                               "mean": mean_ci(d.values())[0],
                                               "half_95": mean_ci(d.values())[1], "n": len(d)}
                                              for c, d in zip(mine, per_cell, strict=True)]})
    p_holm = holm([e["p"] for e in entries])
    levels = holm_levels([e["p"] for e in entries], ALPHA)
    for e, adjusted, level in zip(entries, p_holm, levels, strict=True):
        e["p_holm"], e["level"] = adjusted, level
        width = level if e["test"] == "superiority" else 2 * level
        e["interval"] = t_interval(e["mean"], e["se"], e["dof"], width)
        e["verdict"] = verdict(e["test"], e["mean"], adjusted)
        e["detectable_pp"] = detectable(e["se"], e["dof"], level, tost=e["test"] == "equivalence")
        e["prediction_95"] = list(prediction_interval(e["mean"], e["se"], e["tau2"], e["k"]))  # descriptive
        e["firm"] = e["verdict"] != "inconclusive" and adjusted < FIRM_P and (
            abs(e["tuning_mean"]) < margin if e["test"] == "equivalence"
            else np.sign(e["tuning_mean"]) == np.sign(e["mean"]))
        e["firm"] = bool(e["firm"])
    return {"hypotheses": hypotheses_record, "cells": [c.name for c in grid], "primary": entries,
            "descriptive": descriptive(study, sweep, grid, cell_rows)}


def descriptive(study, sweep, grid, cell_rows) -> dict:
    """Pooled 95 % intervals (Hartung-Knapp, unadjusted) of every contrast outside the primary family."""
    fractions = tuple(sweep.keep_fractions)
    rules = [r for r in sweep.rule_names if r != "random"]
    references = [a for a in SELECTION_FREE if any(r["arm"] == a for rows in cell_rows.values() for r in rows)]
    layers = sorted({r["arm"] for rows in cell_rows.values() for r in rows if ":" in str(r["arm"])})
    out = []
    for activation in _activations(study):
        for size in study.sizes:
            mine = _cells_of(size, activation, grid)
            if not mine:
                continue
            comparisons = [(f"{rule} minus random", lambda rows, rule=rule: contrast(rows, rule, fractions))
                           for rule in rules]
            comparisons += [(f"{arm} minus scratch", lambda rows, arm=arm: reference_contrast(rows, arm))
                            for arm in [*references, *layers] if arm != "scratch"]
            comparisons += [(f"lp-ft minus {rule}", lambda rows, rule=rule: reference_contrast(
                rows, "lp-ft", rule, fractions)) for rule in study.primary_rule_names if "lp-ft" in references]
            for name, compute in comparisons:
                model = pooled([compute(cell_rows[c]) for c in mine])
                low, high = t_interval(model["mean"], model["se"], model["dof"], ALPHA)
                out.append({"comparison": name, "size": size, "activation": activation, **model,
                            "interval_95": [low, high]})
    return {"pooled": out}


def without_diverged(study, sweep, grid, cell_rows) -> list:
    """Each primary rule's pooled difference from random with the replicates left out where an arm of its contrast
    (the rule's or random's transfer arm) diverged, for the members that had any: how far the divergence rule
    (keeping the best weights before it) moves the answer. Descriptive: 95 % intervals, no verdicts."""
    fractions = tuple(sweep.keep_fractions)
    out = []
    for activation in _activations(study):
        for size in study.primary_sizes:
            for rule in study.primary_rule_names:
                dropped, per_cell = 0, []
                for c in _cells_of(size, activation, grid):
                    gone = {r["seed"] for r in cell_rows[c] if r.get("diverged") and r["arm"] == "transfer"
                            and r.get("rule") in (rule, "random")}
                    differences = contrast(cell_rows[c], rule, fractions)
                    dropped += len(gone & set(differences))
                    per_cell.append({s: v for s, v in differences.items() if s not in gone})
                if dropped:
                    model = pooled(per_cell)
                    low, high = t_interval(model["mean"], model["se"], model["dof"], ALPHA)
                    out.append({"rule": rule, "size": size, "activation": activation, "left_out": dropped, **model,
                                "interval_95": [low, high]})
    return out


def score_signal(study, sweep, folders) -> list:
    """Per cell, rule and hidden layer: Spearman's rho of the rule's scores with the oracle's in the same replicate
    (from the runs' transfer.json), its mean over replicates and 95 % interval."""
    from .oracle import spearman_by_layer

    if "oracle" not in sweep.rule_names:
        return []
    fraction = sweep.keep_fractions[0]
    out = []
    for cell, folder in folders:
        for rule in [r for r in sweep.rule_names if r not in ("oracle",)]:
            rhos = []
            for seed in study.confirm_seeds:
                mine, oracle = _scores(folder, seed, rule, fraction), _scores(folder, seed, "oracle", fraction)
                if mine is not None and oracle is not None:
                    rhos.append(spearman_by_layer(mine, oracle))
            for layer in range(len(rhos[0]) if rhos else 0):
                mean, half = mean_ci([r[layer] for r in rhos if not math.isnan(r[layer])])
                out.append({"cell": cell.name, "size": cell.size, "activation": cell.activation, "rule": rule,
                            "layer": layer + 1, "rho_mean": mean, "rho_half_95": half, "replicates": len(rhos)})
    return out


def _scores(folder: Path, seed: int, rule: str, fraction: float) -> list | None:
    """A run's node scores per hidden layer, from its transfer.json (None if the run is not there)."""
    from .sweep import run_name

    path = folder / "runs" / run_name((seed, seed), rule, "keep_fraction", fraction) / "transfer.json"
    return [layer["scores"] for layer in json.loads(path.read_text())["layers"]] if path.is_file() else None


def write_outputs(study, sweep, tuned, hypotheses_record, folders, out=None) -> dict:
    """results.csv, primary.json, primary.md and primary.png of a confirm stage, from its finished cells."""
    import sys

    from . import plots
    from .report import primary_markdown
    from .rundir import RunDir, file_digest
    from .sweep import csv_cells, csv_columns

    cell_rows = {cell: read_csv(folder / "results.csv") for cell, folder in folders
                 if (folder / "analysis.json").is_file()}
    files = RunDir(Path(study.out))
    all_rows = [r for rows in cell_rows.values() for r in rows]
    columns = csv_columns(all_rows)
    files.write_csv("results.csv", ["pair", "width", "target_size", "activation", *columns],
                    [[c.pair, c.width, c.size, c.activation or "", *csv_cells(r, columns)]
                     for c, rows in cell_rows.items() for r in rows])
    result = analyze(study, sweep, tuned, hypotheses_record, cell_rows)
    result["score_signal"] = score_signal(study, sweep, [(c, f) for c, f in folders if c in cell_rows])
    result["hypotheses_sha256"] = file_digest(Path(study.out) / "hypotheses.json")
    result["tuning_edges"] = tuning_edges(tuned)
    result["diverged"] = [{"cell": c.name, "seed": int(r["seed"]), "arm": r["arm"], "rule": r.get("rule") or None,
                           "keep_fraction": r.get("keep_fraction") or None, "where": r["diverged"]}
                          for c, rows in cell_rows.items() for r in rows if r.get("diverged")]
    result["without_diverged"] = without_diverged(study, sweep, list(cell_rows), cell_rows)
    files.write_json("primary.json", finite(result))
    text = primary_markdown(result, len(cell_rows), len(folders))
    files.write_text("primary.md", text)
    plots.primary_plot(result, Path(study.out) / "primary.png")
    print(text, file=out or sys.stdout)
    return result

