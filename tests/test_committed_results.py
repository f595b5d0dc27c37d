"""A committed table is what its command makes: rows of the tanh rule sweep (docs/results/) made again from scratch
under the BLAS kernel the committed results name (blas.COMMITTED, which the Makefile passes) and OpenBLAS's products
(--gemm openblas, which it passes too), byte for byte."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from transfer_learning import blas

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "results" / "sweep-replicated-rules-mnist04-59-n1000-tanh.csv"
#: The columns a (seed, rule, keep fraction) run and its seed's scratch arm make by themselves: the differences
#: from arms this smaller sweep does not train (random, finetune, ...) are left out.
OWN_COLUMNS = ["seed", "data_seed", "rule", "threshold", "keep_fraction", "reinit_deeper", "arm", "selection_digest",
               "fraction_kept", "kept_layers", "learning_rate", "best_epoch", "test_error_pct",
               "best_validation_error_pct", "first_epoch_validation_error_pct", "auc", "epochs_run",
               "source_retention_after_pct", "test_error_minus_scratch_pp", "jumpstart_pp", "transfer_ratio", "ran_on"]


def rows(path, seed, rule, keep_fraction):
    def wanted(r):
        selection = (r["rule"], r["keep_fraction"], r["reinit_deeper"])
        run = r["arm"] == "transfer" and selection == (rule, keep_fraction, "0")
        return r["seed"] == str(seed) and (r["arm"] == "scratch" or run)

    with open(path, newline="") as f:
        found = [r for r in csv.DictReader(f) if wanted(r)]
    return {r["arm"]: [r[c] for c in OWN_COLUMNS] for r in found}


@pytest.mark.slow
def test_a_committed_rule_sweep_row_is_made_again_bit_for_bit_under_its_kernel(tmp_path):
    """Seed 2's utility run at keep fraction 0.25 and its scratch arm, with the Makefile's RULES protocol (every
    learning rate of the grid, 1,000 stratified examples): about 15 s of training."""
    env = {k: v for k, v in os.environ.items() if k not in blas.ENVIRONMENT}
    env.update(blas.COMMITTED)
    out = tmp_path / "sweep"
    subprocess.run([sys.executable, "-m", "transfer_learning.sweep", "--source", "mnist:0-4", "--target", "mnist:5-9",
                    "--target-train-size", "1000", "--rules", "utility", "--keep-fractions", "0.25",
                    "--reinit-deeper", "no", "--baselines", "scratch", "--lr-grid", "0.01,0.03,0.1,0.3,1",
                    "--seeds", "2", "--jobs", "1", "--gemm", "openblas", "--out", str(out)],
                   cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    expected = rows(COMMITTED, 2, "utility", "0.25")
    assert set(expected) == {"transfer", "scratch"}
    assert rows(out / "results.csv", 2, "utility", "0.25") == expected


CONFIRM = ROOT / "docs" / "results" / "confirm"


def _pooled_by_hand(cells):
    """DerSimonian-Laird's tau^2 and Hartung-Knapp's standard error, from the formulas (Hartung and Knapp 2001):
    cells is a list of per-replicate differences, one list per cell."""
    import statistics

    ys = [statistics.fmean(d) for d in cells]
    vs = [statistics.variance(d) / len(d) for d in cells]
    k = len(cells)
    w = [1 / v for v in vs]
    fixed = sum(wi * yi for wi, yi in zip(w, ys, strict=True)) / sum(w)
    q = sum(wi * (yi - fixed) ** 2 for wi, yi in zip(w, ys, strict=True))
    tau2 = max(0.0, (q - (k - 1)) / (sum(w) - sum(wi * wi for wi in w) / sum(w)))
    ws = [1 / (v + tau2) for v in vs]
    mean = sum(wi * yi for wi, yi in zip(ws, ys, strict=True)) / sum(ws)
    se = (sum(wi * (yi - mean) ** 2 for wi, yi in zip(ws, ys, strict=True)) / ((k - 1) * sum(ws))) ** 0.5
    return mean, se, tau2


@pytest.mark.skipif(not (CONFIRM / "primary.json").is_file(), reason="the confirmation study is not committed")
def test_the_committed_primary_answer_is_recomputed_from_its_committed_rows():
    """primary.json's every primary member, worked out again from results.csv and hypotheses.json alone: each
    replicate's rule minus random averaged over the keep fractions, pooled over the member's cells by hand, the
    p-values from Student's t, Holm over the family, and the verdict."""
    import json
    import math

    from scipy import stats as scipy_stats

    declared = json.loads((CONFIRM / "hypotheses.json").read_text())
    answer = json.loads((CONFIRM / "primary.json").read_text())
    with open(CONFIRM / "results.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["arm"] == "transfer" and r["reinit_deeper"] in ("", "0")]
    errors = {}
    for r in rows:
        cell = (r["pair"], r["width"], int(r["target_size"]), r["activation"])
        errors[(cell, r["rule"], float(r["keep_fraction"]), int(r["seed"]))] = float(r["test_error_pct"])
    fractions = sorted({key[2] for key in errors})
    assert len({key[0] for key in errors}) == len(declared["cells"]) == 20  # every declared cell, none else
    margin = declared["equivalence_margin_pp"]
    assert len(answer["primary"]) == len(declared["family"]) == declared["tests"]
    p_values = []
    for member, entry in zip(declared["family"], answer["primary"], strict=True):
        assert (entry["rule"], entry["size"], entry["activation"], entry["test"]) == (
            member["rule"], member["size"], member["activation"], member["test"])
        cells = sorted({key[0] for key in errors if key[0][2] == member["size"] and key[0][3] == member["activation"]})
        per_cell = []
        for cell in cells:
            seeds = sorted({key[3] for key in errors if key[0] == cell})
            assert len(seeds) == len(declared["confirmation_seeds"]), cell
            per_cell.append([sum(errors[(cell, member["rule"], f, s)] - errors[(cell, "random", f, s)]
                                 for f in fractions) / len(fractions) for s in seeds])
        mean, se, tau2 = _pooled_by_hand(per_cell)
        assert entry["k"] == len(cells) >= 2
        assert math.isclose(entry["mean"], mean, abs_tol=1e-9) and math.isclose(entry["se"], se, rel_tol=1e-9)
        assert math.isclose(entry["tau2"], tau2, abs_tol=1e-9)
        t = scipy_stats.t(len(cells) - 1)
        p = (2 * t.sf(abs(mean) / se) if member["test"] == "superiority"
             else max(t.sf((mean + margin) / se), t.cdf((mean - margin) / se)))
        assert math.isclose(entry["p"], p, rel_tol=1e-6, abs_tol=1e-12)
        p_values.append(p)
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    running, adjusted = 0.0, {}
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p_values[i]))
        adjusted[i] = running
    for i, entry in enumerate(answer["primary"]):
        assert math.isclose(entry["p_holm"], adjusted[i], rel_tol=1e-6, abs_tol=1e-12)
        expected = ("inconclusive" if adjusted[i] >= 0.05 else "equivalent" if entry["test"] == "equivalence"
                    else "beats random" if entry["mean"] < 0 else "worse than random")
        assert entry["verdict"] == expected, entry
