"""The two-stage study on tiny data: tune on the tuning replicates, confirm on fresh ones at the tuned settings, the
hypotheses declared before the first confirmation run, and a confirmation refused for another design."""

import json
import math

import numpy as np
import pytest

from tests.helpers import make_splits, write_pickle
from transfer_learning import study
from transfer_learning.analysis import read_csv

ARGS = ["--pairs", "mnist:0-1>mnist:2-3", "--widths", "6,5/7,5", "--sizes", "20,40", "--primary-sizes", "40",
        "--tune-replicates", "2", "--replicates", "3", "--keep-fractions", "0.25,0.5",
        "--baselines", "scratch,linear-probe,lp-ft,l2-sp", "--lr-grid", "0.1,0.3", "--n-epochs", "2",
        "--batch-size", "10", "--probe-size", "10", "--valid-pool", "20", "--test-pool", "30", "--jobs", "1"]


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stages")
    pickle_path = write_pickle(tmp / "tiny.pkl.gz", tuple(make_splits(sizes=(240, 60, 60))))
    out = tmp / "study"
    args = [*ARGS, "--dataset", str(pickle_path), "--out", str(out)]
    assert study.main(["--stage", "tune", *args]) == 0
    tuned_before_confirm = (out / "tuned.json").read_bytes()
    assert study.main(["--stage", "confirm", *args]) == 0
    return out, args, tuned_before_confirm


def records(folder):
    return {p.name: json.loads(p.read_text())["results"] for p in (folder / "results").glob("seed*.json")}


def test_tuned_json_holds_the_lowest_mean_validation_pool_error_of_every_arm(staged):
    out, _, _ = staged
    tuned = json.loads((out / "tuned.json").read_text())
    cell = "mnist0-1-mnist2-3_6-5_n40_tanh"
    runs = records(out / "tune" / "cells" / cell)
    assert {name.split("-")[0] for name in runs} == {"seed1001", "seed1002"}  # the tuning seeds, nothing else
    by_setting = {}
    for results in runs.values():
        for tried in results["arms"]["l2-sp"]["lr_search"] if "l2-sp" in results["arms"] else []:
            key = (tried["learning_rate"], tried["l2_sp"])
            by_setting.setdefault(key, []).append(tried["valid_pool_error"] * 100)
    assert len(by_setting) == 2 * 3 and all(len(v) == 2 for v in by_setting.values())
    means = {k: sum(v) / 2 for k, v in by_setting.items()}
    best = min(means.values())
    first_best = next(k for k in [(r, s) for r in (0.1, 0.3) for s in (0.001, 0.01, 0.1)] if means[k] == best)
    entry = tuned["cells"][cell]["arms"]["l2-sp"]
    assert (entry["chosen"]["learning_rate"], entry["chosen"]["l2_sp"]) == first_best
    assert len(tuned["cells"][cell]["arms"]["linear-probe"]["candidates"]) == 2 * 3 * 2
    assert set(tuned["cells"][cell]["arms"]) >= {"scratch", "transfer/oracle@0.25", "transfer/scale-matched@0.5"}


def test_confirm_declares_its_hypotheses_first_and_trains_each_arm_once_at_its_tuned_setting(staged):
    out, _, tuned_bytes = staged
    assert (out / "tuned.json").read_bytes() == tuned_bytes  # confirm does not touch what it was tuned with
    tuned = json.loads(tuned_bytes)
    hypotheses_time = (out / "hypotheses.json").stat().st_mtime
    cell = "mnist0-1-mnist2-3_7-5_n40_tanh"
    folder = out / "confirm" / "cells" / cell
    configs = list((folder / "runs").glob("*/config.json"))
    assert configs and min(p.stat().st_mtime for p in configs) >= hypotheses_time
    import hashlib

    digest = hashlib.sha256((out / "hypotheses.json").read_bytes()).hexdigest()
    for path in configs:
        assert digest in json.loads(path.read_text())["config"]["protocol"]
    runs = records(folder)
    assert {name.split("-")[0] for name in runs} == {"seed2001", "seed2002", "seed2003"}
    first = runs["seed2001-f0.25.json"]["arms"]  # the grid's first run (mean-abs, the default rule, is unnamed)
    assert "lr_search" not in first["scratch"]  # trained once
    assert first["scratch"]["learning_rate"] == tuned["cells"][cell]["arms"]["scratch"]["chosen"]["learning_rate"]
    chosen_probe = tuned["cells"][cell]["arms"]["linear-probe"]["chosen"]
    assert {k: first["linear-probe"][k] for k in chosen_probe} == chosen_probe
    utility = runs["seed2002-utility-f0.5.json"]["arms"]["transfer"]
    assert utility["learning_rate"] == tuned["cells"][cell]["arms"]["transfer/utility@0.5"]["chosen"]["learning_rate"]


def test_scale_matched_keeps_random_s_nodes_and_the_test_counts_the_extra_pool(staged):
    out, _, _ = staged
    rows = read_csv(out / "results.csv")
    transfer = {(r["seed"], r["rule"], r["keep_fraction"], r["width"]): r for r in rows if r["arm"] == "transfer"}
    pairs = [(k, v) for k, v in transfer.items() if k[1] == "scale-matched"]
    assert pairs
    for (seed, _, fraction, width), row in pairs:
        assert row["selection_digest"] == transfer[(seed, "random", fraction, width)]["selection_digest"]
    assert {r["test_size"] for r in rows} == {30 + 30}  # classes 2 and 3 of the official test split, and the pool
    assert all(r["test_error_official_pct"] is not None and r["valid_pool_error_pct"] is not None for r in rows)


def test_primary_files_answer_the_declared_family(staged):
    out, _, _ = staged
    declared = json.loads((out / "hypotheses.json").read_text())
    result = json.loads((out / "primary.json").read_text())
    assert declared["family"] == [{"rule": r, "size": 40, "activation": "tanh", "test": t}
                                  for r in ("mean-abs", "utility", "oracle") for t in ("superiority", "equivalence")]
    assert [(e["rule"], e["test"]) for e in result["primary"]] == [(m["rule"], m["test"]) for m in declared["family"]]
    for e in result["primary"]:
        assert e["k"] == 2  # two widths of size 40
        if e["interval"][0] is not None and e["test"] == "superiority":
            excludes = e["interval"][0] > 0 or e["interval"][1] < 0
            assert excludes == (e["verdict"] in ("beats random", "worse than random"))
    text = (out / "primary.md").read_text()
    assert text.startswith("# The primary answer") and "| tanh | 40 | utility | superiority |" in text
    assert "\n- With tanh at 40 target examples, utility minus random is " in text  # the answer in words
    signal = result["score_signal"]
    assert {s["rule"] for s in signal} == {"mean-abs", "utility", "random", "scale-matched"}
    assert all(-1 <= s["rho_mean"] <= 1 for s in signal if s["rho_mean"] is not None)
    assert (out / "primary.png").stat().st_size > 0 and "confirm: done" in (out / "study.log").read_text()


def test_a_confirmation_of_another_design_or_other_hypotheses_is_refused(staged, capsys):
    out, args, _ = staged
    assert study.main(["--stage", "confirm", *args, "--n-epochs", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was tuned for another design (base.n_epochs differ)" in err[0]
    assert study.main(["--stage", "confirm", *args, "--equivalence-margin", "0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "declares other hypotheses than these settings would" in err[0]


def test_confirm_before_tune_says_what_to_run(tmp_path, capsys):
    assert study.main(["--stage", "confirm", *ARGS, "--out", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert "tuned.json not found; run --stage tune with the same settings and --out first" in err
    assert err.count("\n") == 1


def test_the_seeds_of_the_stages_are_disjoint_from_each_other_and_the_committed_ones():
    from transfer_learning.config import StudyConfig

    cfg = StudyConfig(replicates=1000, tune_replicates=1000)
    assert not set(cfg.tune_seeds) & set(cfg.confirm_seeds)
    assert min(cfg.tune_seeds) > 20 and not math.isnan(float(min(cfg.confirm_seeds)))
    assert np.all(np.diff(cfg.confirm_seeds) == 1)


def test_plan_prints_what_the_replicates_would_detect_and_writes_nothing(staged, capsys):
    out, args, _ = staged
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert study.main(["--stage", "plan", *args, "--replicates", "40"]) == 0
    text = capsys.readouterr().out
    assert "| tanh | 40 | utility | 2 |" in text and "| 40 |" in text
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    declared = json.loads((out / "hypotheses.json").read_text())
    assert all(p["replicates"] == 3 for p in declared["power"])  # the confirmation's, untouched


def test_plan_while_the_tune_stage_runs_reads_the_cells_it_has_finished(staged, tmp_path, capsys):
    import shutil

    out, args, _ = staged
    partial = tmp_path / "study"
    shutil.copytree(out / "tune", partial / "tune")  # the tune stage's cells, and no tuned.json yet
    (partial / "tune" / "cells" / "mnist0-1-mnist2-3_7-5_n40_tanh" / "analysis.json").unlink()  # still running
    moved = [a if a != str(out) else str(partial) for a in args]
    assert study.main(["--stage", "plan", *moved, "--replicates", "40"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Planned from the 3 of 4 cells tuned so far (no tuned.json yet")
    assert "| tanh | 40 | utility | 1 |" in text  # one of the two cells of size 40 is tuned
    assert "## Tuned settings at an edge of their grid" in text  # two learning rates: every choice is an edge
    assert not (partial / "tuned.json").exists() and not (partial / "hypotheses.json").exists()
    for folder in (partial / "tune" / "cells").iterdir():
        (folder / "analysis.json").unlink(missing_ok=True)
    assert study.main(["--stage", "plan", *moved]) == 2
    assert "no cell of" in capsys.readouterr().err


def test_a_confirmation_may_cut_tuned_cells_and_names_them(staged, tmp_path, capsys):
    import shutil

    out, args, _ = staged
    cut = tmp_path / "study"
    shutil.copytree(out / "tune", cut / "tune")
    shutil.copyfile(out / "tuned.json", cut / "tuned.json")
    moved = [a if a != str(out) else str(cut) for a in args]
    sizes = moved.index("--sizes") + 1
    assert study.main(["--stage", "confirm", *moved[:sizes], "40", *moved[sizes + 1:]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was tuned for another design (study.sizes differ)" in err[0]  # a grid is not a cut
    assert study.main(["--stage", "confirm", *moved, "--cut-cells", "*_n9_*"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--cut-cells: *_n9_* matches no cell of the grid" in err[0]  # a typo cuts nothing
    assert study.main(["--stage", "confirm", *moved, "--cut-cells", "*_n20_*,mnist0-1-mnist2-3_6-5_*"]) == 0
    declared = json.loads((cut / "hypotheses.json").read_text())
    assert declared["cells"] == ["mnist0-1-mnist2-3_7-5_n40_tanh"]
    assert declared["cells_not_confirmed"] == ["mnist0-1-mnist2-3_6-5_n20_tanh", "mnist0-1-mnist2-3_6-5_n40_tanh",
                                               "mnist0-1-mnist2-3_7-5_n20_tanh"]
    assert [p.name for p in (cut / "confirm" / "cells").iterdir()] == ["mnist0-1-mnist2-3_7-5_n40_tanh"]
    result = json.loads((cut / "primary.json").read_text())
    assert {e["k"] for e in result["primary"]} == {1}
    text = (cut / "primary.md").read_text()
    assert "Tuned but not confirmed (3 cells, cut before the first confirmation run" in text
    assert "mnist0-1-mnist2-3_6-5_n40_tanh" in text.split("Negative differences")[0]


def test_bench_confirm_cell_times_a_cell_as_the_confirmation_would_on_spare_seeds(staged, tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    out, args, _ = staged
    path = Path(__file__).resolve().parent.parent / "bench" / "confirm_cell.py"
    spec = importlib.util.spec_from_file_location("confirm_cell", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    cell = "mnist0-1-mnist2-3_7-5_n40_tanh"
    assert bench.main(["--cells", cell, "--replicates", "2", "--keep", str(tmp_path / "spare"), "--",
                       "--stage", "confirm", *args]) == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before  # the study is untouched
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(cell) and " 2 replicates " in printed[0] and printed[-1].startswith("1 cells, ")
    spare, confirmed = records(tmp_path / "spare" / "cells" / cell), records(out / "confirm" / "cells" / cell)
    assert {name.split("-")[0] for name in spare} == {"seed9001", "seed9002"}
    for name, results in spare.items():  # every arm at the setting the confirmation used for it
        twin = confirmed[name.replace("seed9001", "seed2001").replace("seed9002", "seed2002")]["arms"]
        assert {a: m["learning_rate"] for a, m in results["arms"].items()} == {
            a: m["learning_rate"] for a, m in twin.items()}
    with pytest.raises(SystemExit):
        bench.main(["--cells", "no-such-cell", "--", "--stage", "confirm", *args])
    assert "no-such-cell not among the study's cells" in capsys.readouterr().err
