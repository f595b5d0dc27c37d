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
