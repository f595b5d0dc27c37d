"""The study (transfer map): its grid of cells, each a sweep paired by replicate, the study-level claims
Holm-adjusted across cells, and continuing where it stopped."""

import json
import re
import shutil
import sys

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from tests.helpers import holm_by_hand, make_splits, write_pickle
from transfer_learning import report, study
from transfer_learning.analysis import read_csv
from transfer_learning.config import StudyConfig
from transfer_learning.vocab import ConfigError

ARGS = ["--pairs", "mnist:0-1>mnist:2-3", "--widths", "6,5", "--sizes", "20,40", "--replicates", "3",
        "--rules", "mean-abs,utility,random", "--keep-fractions", "0.5", "--baselines",
        "scratch,finetune,keep-layers:1", "--lr-grid", "0.1,0.3", "--n-epochs", "2", "--batch-size", "10",
        "--probe-size", "10", "--jobs", "1"]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    pickle_path = write_pickle(tmp / "tiny.pkl.gz", tuple(make_splits(sizes=(200, 60, 60))))
    out = tmp / "study"
    assert study.main([*ARGS, "--dataset", str(pickle_path), "--out", str(out)]) == 0
    return out, pickle_path


def test_the_grid_expands_to_every_cell_and_run():
    cfg = StudyConfig(pairs=(("mnist:0-4", "mnist:5-9"), ("mnist", "fashion-mnist")), widths=((100, 100), (500, 500)),
                      sizes=(100, 300, 1000), replicates=10)
    grid = study.cells(cfg)
    assert len(grid) == 2 * 2 * 3 and len({c.name for c in grid}) == 12
    assert (grid[0].source, grid[0].target, grid[0].widths, grid[0].size) == ("mnist:0-4", "mnist:5-9", (100, 100), 100)
    from transfer_learning.config import SweepConfig, TransferConfig

    sweep, base = study.cell_configs(replace_out(cfg), SweepConfig(), TransferConfig(), grid[-1])
    assert sweep.seeds == tuple(range(1, 11)) and sweep.data_seeds is None
    assert (base.source, base.target, base.hidden_sizes, base.target_train_size) == \
        ("mnist", "fashion-mnist", (500, 500), 1000)
    assert base.valid_size_used == 200  # a fifth, stratified


def replace_out(cfg):
    from dataclasses import replace

    return replace(cfg, out="somewhere")


def test_a_tiny_study_writes_every_file_and_pairs_within_a_cell(tiny_study):
    out, _ = tiny_study
    for name in ("results.csv", "study.md", "study.png"):
        assert (out / name).stat().st_size > 0
    cells = sorted(p.name for p in (out / "cells").iterdir())
    assert cells == ["mnist0-1-mnist2-3_6-5_n20", "mnist0-1-mnist2-3_6-5_n40"]
    for cell in cells:
        folder = out / "cells" / cell
        for name in ("results.csv", "analysis.json", "conclusions.md", "summary.md"):
            assert (folder / name).is_file()
        # 3 replicates x (1 source + 3 rules at 1 fraction)
        assert len(list((folder / "results").glob("*.json"))) == 3 * (1 + 3)
        for seed in (1, 2, 3):  # every run of a replicate trained on the same subset, from the same source
            runs = sorted(p for p in (folder / "runs").glob(f"seed{seed}-*") if p.is_dir())
            assert len(runs) == 3
            first = np.load(runs[0] / "target_indices.npz")
            for run in runs[1:]:
                again = np.load(run / "target_indices.npz")
                assert_array_equal(first["train"], again["train"])
                assert_array_equal(first["valid"], again["valid"])
                with np.load(runs[0] / "weights_source.npz") as a, np.load(run / "weights_source.npz") as b:
                    for k in a.files:
                        assert_array_equal(a[k], b[k])
        sizes = {int(cell.rpartition("n")[2])}
        assert {len(np.load(r / "target_indices.npz")["train"]) for r in (folder / "runs").glob("seed*")
                if r.is_dir()} == sizes
    # the second size's cell uses the first's source networks (a source does not depend on the target size)
    first, second = (out / "cells" / c for c in cells)
    assert (first / "sources" / "seed1").is_dir() and not (second / "sources" / "seed1").exists()
    for seed in (1, 2, 3):
        with np.load(first / "sources" / f"seed{seed}.npz") as a, np.load(second / "sources" / f"seed{seed}.npz") as b:
            for k in a.files:
                assert_array_equal(a[k], b[k])
    from transfer_learning import cli

    alone = out.parent / "source-alone"  # and they are what the second cell would have trained itself
    assert cli.main_transfer(["--source", "mnist:0-1", "--no-transfer", "--hidden-sizes", "6,5", "--n-epochs", "2",
                              "--batch-size", "10", "--seed", "1", "--dataset", str(tiny_study[1]),
                              "--out", str(alone)]) == 0
    with np.load(alone / "weights_source.npz") as a, np.load(second / "sources" / "seed1.npz") as b:
        for k in a.files:
            assert_array_equal(a[k], b[k])
    rows = read_csv(out / "results.csv")
    assert {(r["pair"], r["width"], r["target_size"]) for r in rows} == {("mnist:0-1>mnist:2-3", "6,5", 20.0),
                                                                        ("mnist:0-1>mnist:2-3", "6,5", 40.0)}


def test_the_study_summary_equals_an_independent_computation(tiny_study):
    """finetune against scratch in each cell: its paired difference from the cell's CSV, its p from scipy, Holm
    across the cells by hand, and its interval at the level of Holm's step, against the numbers study.md prints."""
    from scipy import stats

    out, _ = tiny_study
    text = (out / "study.md").read_text()
    expected, raw = {}, {}
    for size in (20, 40):
        rows = read_csv(out / "cells" / f"mnist0-1-mnist2-3_6-5_n{size}" / "results.csv")
        finetune = {r["seed"]: r["test_error_pct"] for r in rows if r["arm"] == "finetune"}
        scratch = {r["seed"]: r["test_error_pct"] for r in rows if r["arm"] == "scratch"}
        d = np.array([finetune[s] - scratch[s] for s in sorted(finetune)])
        raw[size] = stats.ttest_1samp(d, 0).pvalue
        expected[size] = (d.mean(), d.std(ddof=1) / np.sqrt(len(d)), len(d) - 1)
    adjusted = dict(zip(raw, holm_by_hand(list(raw.values())), strict=True))
    # the interval at the level of the Holm step that decided the test: with two tests, the smaller p is decided at
    # .05 / 2; the larger at .05 if the smaller was shown, else at .05 / 2 as well (where Holm stopped)
    first, second = sorted(raw, key=raw.get)
    level = {first: 0.025, second: 0.05 if raw[first] < 0.025 else 0.025}
    for size, (mean, se, dof) in expected.items():
        expected[size] = (mean, stats.t.ppf(1 - level[size] / 2, dof) * se)
    table = text.split("each reference minus scratch:", 1)[1].split("\n\n", 2)[1]
    for size in (20, 40):
        line = next(row for row in table.splitlines() if row.startswith(f"| {size} |"))
        mean, half, p = re.search(r"\*{0,2}([+-][\d.]+) ± ([\d.]+)\*{0,2} \(p ([\d.]+)\)", line).groups()
        assert float(mean) == pytest.approx(expected[size][0], abs=0.005)
        assert float(half) == pytest.approx(expected[size][1], abs=0.005)
        assert float(p) == pytest.approx(adjusted[size], abs=0.0005)


def test_stops_helping():
    assert report.stops_helping({100: True, 300: True, 1000: False, 3000: False}) == 1000
    assert report.stops_helping({100: True, 300: False, 1000: True}) is None  # helps at the largest size
    assert report.stops_helping({100: False, 300: False}) is None  # never shown to help
    assert report.stops_helping({100: True, 300: False, 1000: True, 3000: False}) == 3000


def test_a_study_stopped_part_way_continues_to_the_same_results(tiny_study, tmp_path):
    out, pickle_path = tiny_study
    again = tmp_path / "again"
    shutil.copytree(out, again)
    cell = again / "cells" / "mnist0-1-mnist2-3_6-5_n40"
    for record in list((cell / "results").glob("seed3-*")) + [cell / "results" / "source-seed3.json"]:
        record.unlink()  # as if stopped before seed 3's runs of the second cell were recorded ...
    for run in [*(cell / "runs").glob("seed3-*"), *(cell / "sources").glob("seed3*")]:
        shutil.rmtree(run) if run.is_dir() else run.unlink()  # ... or started: they are trained again
    for name in ("results.csv", "analysis.json", "summary.md", "conclusions.md"):
        (cell / name).unlink()
    (again / "results.csv").unlink()
    sweep_json = json.loads((cell / "sweep.json").read_text())
    sweep_json["argv"] = [a.replace(str(out), str(again)) for a in sweep_json["argv"]]
    (cell / "sweep.json").write_text(json.dumps(sweep_json))
    assert study.main([*ARGS, "--dataset", str(pickle_path), "--out", str(again)]) == 0
    assert (again / "results.csv").read_text() == (out / "results.csv").read_text()
    assert (again / "study.md").read_text() == (out / "study.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--pairs", "mnist"], "--pairs: expected SOURCE>TARGET pairs"),
    (["--widths", "100,x"], "--widths: expected hidden sizes like 100,100/500,500"),
    (["--replicates", "1"], "--replicates: expected at least 2"),
    (["--sizes", "100,100"], "--sizes: expected distinct positive sizes"),
])
def test_bad_study_flags_are_one_line(argv, message, tmp_path, capsys):
    assert study.main([*argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("error, status, says", [(KeyboardInterrupt, 130, "stopped by SIGINT; finished runs are kept. "
                                                  f"Continue with: {sys.executable} -m transfer_learning.study"),
                                                 (ConfigError("--out: in use"), 2, "error: --out: in use")])
def test_a_stopped_study_says_how_to_continue(monkeypatch, tmp_path, capsys, error, status, says):
    def stop(*args):
        raise error

    monkeypatch.setattr(study, "run_study", stop)
    assert study.main(["--out", str(tmp_path / "s")]) == status
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
    if status == 130:
        assert err.strip().endswith(f"--out {tmp_path / 's'}")


def test_the_summary_sentences_say_what_is_shown_either_way():
    from types import SimpleNamespace

    def t(size, arm, mean, p, against="random"):
        return {"cell": SimpleNamespace(size=size), "arm": arm, "against": against, "result": (mean, 0.1, p),
                "better": p < 0.05 and mean < 0, "worse": p < 0.05 and mean > 0}

    helping = report.helping_sentences("finetune", [t(100, "finetune", -2.0, 0.01), t(300, "finetune", -1.0, 0.2),
                                                    t(1000, "finetune", 0.5, 0.01)])
    assert helping == ["- finetune helps against scratch at 100 examples, and is not shown to from 300 on.",
                       "- finetune is worse than scratch at 1000 examples."]
    rules = report.rule_sentences("the cell's best reference", [
        t(100, "utility", -0.5, 0.01, "lp-ft"), t(3000, "mean-abs", 0.7, 0.001, "lp-ft"),
        t(3000, "utility", 0.6, 0.01, "lp-ft"), t(3000, "taylor", 0.6, 0.2, "lp-ft"),
        t(1000, "centered", 0.7, 0.04, "finetune")])
    assert rules == ["- A rule beats the cell's best reference at: 100 (utility).",
                     "- The cell's best reference beats rules at: 1000 (finetune over centered); "
                     "3000 (lp-ft over mean-abs, utility)."]
    assert report.rule_sentences("random", [t(300, "utility", 0.4, 0.03)]) == [
        "- A rule beats random at: no size.", "- Random beats rules at: 300 (utility)."]


def test_the_overview_counts_the_cells_where_each_claim_is_shown():
    cells = [study.Cell("mnist:0-4", "mnist:5-9", (6, 5), size) for size in (20, 40, 80)]

    def t(cell, kind, arm, better=False, worse=False, against="random", half=None):
        return {"cell": cell, "kind": kind, "arm": arm, "against": against, "better": better, "worse": worse,
                "result": None if half is None else (0.1, half, 0.5)}

    tests = [t(cells[1], "rule vs random", "utility", half=0.5),
             t(cells[0], "rule vs random", "utility", better=True, half=3.0),
             t(cells[0], "rule vs random", "taylor", worse=True, half=2.0),
             t(cells[0], "rule vs random", "centered", half=0.4),
             t(cells[2], "rule vs random", "utility", worse=True),
             t(cells[0], "reference vs scratch", "finetune", half=9.0), t(cells[1], "reference vs scratch", "finetune"),
             t(cells[2], "reference vs scratch", "finetune", better=True)]
    from scipy import stats as scipy_stats

    t9 = scipy_stats.t(9)  # 10 replicates; four rule-vs-random tests with results, so Holm's first step is at .05/4

    def seen(half):
        return (t9.ppf(1 - 0.05 / 4 / 2) + t9.ppf(0.8)) * half / t9.ppf(0.975)

    assert report.overview(tests, 10) == [
        "## Over all cells", "",
        "- A rule is shown better than random in 1 of 3 cells (mnist:0-4 -> mnist:5-9 at 6,5 with 20), and worse in "
        "2 of 3 cells (mnist:0-4 -> mnist:5-9 at 6,5 with 20; mnist:0-4 -> mnist:5-9 at 6,5 with 80).",
        "- What a cell can see: the difference a cell's test of a rule minus random (pooled over budgets) finds with "
        "80 % power at the level Holm's first step uses across the cells' tests, the median over the cells' rules, "
        f"is {seen(2.0):.2f} pp at 20, {seen(0.5):.2f} pp at 40 target examples; smaller differences are not seen.",
        "- finetune is shown better than scratch in 1 of 3 cells (mnist:0-4 -> mnist:5-9 at 6,5 with 80), and worse "
        "in 0 of 3 cells."]


def test_the_same_study_on_a_dask_cluster_gives_the_same_rows(tiny_study, tmp_path):
    distributed = pytest.importorskip("distributed")
    out, pickle_path = tiny_study
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert study.main([*ARGS, "--dataset", str(pickle_path), "--scheduler", cluster.scheduler_address,
                           "--out", str(tmp_path / "dask")]) == 0
        workers = set(cluster.scheduler_info["workers"])
    on_cluster, local = read_csv(tmp_path / "dask" / "results.csv"), read_csv(out / "results.csv")
    assert {r.pop("ran_on") for r in on_cluster} <= workers and {r.pop("ran_on") for r in local} == {"local"}
    assert on_cluster == local
    assert (tmp_path / "dask" / "study.md").read_text() == (out / "study.md").read_text()


def test_the_study_wall_time_sums_each_cells_last_elapsed_over_its_logs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    first = tmp_path / "first.log"
    first.write_text("[sweep] /s/cells/a_n100: 10 seeds\n"
                     "[sweep] 1/2 runs done (x); elapsed 0:00:10, about 0:00:10 left\n"
                     "[sweep] 2/2 runs done (y); elapsed 0:00:25, about 0:00:00 left\n"
                     "[sweep] /s/cells/b_n300: 10 seeds\n"
                     "[sweep] 1/4 runs done (x); elapsed 0:01:00, about 0:03:00 left\n")
    second = tmp_path / "second.log"
    second.write_text("[sweep] /s/cells/a_n100: continuing\n[sweep] /s/cells/b_n300: continuing, 1 already done\n"
                      "[sweep] 4/4 runs done (y); elapsed 1:00:05, about 0:00:00 left\n")
    script = Path(__file__).resolve().parent.parent / "bench" / "study_wall_time.py"
    out = subprocess.run([sys.executable, str(script), str(first), str(second)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0].split() == ["a_n100", "0:00:25"] and out[1].split() == ["b_n300", "1:01:05"]
    assert out[2] == "2 cells, sum 1:01:30"
    missing = subprocess.run([sys.executable, str(script), str(first), str(tmp_path / "none.log")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr == f"study_wall_time.py: cannot read {tmp_path / 'none.log'}: No such file or directory\n"


def test_the_best_reference_and_a_rules_keep_fraction_are_chosen_on_validation_not_on_test():
    """The audit: choosing the comparator on the test error it is then tested on favours it (about 1 pp at 100
    examples). Here lp-ft has the lower test error but finetune the lower validation error."""
    from transfer_learning.analysis import best_reference

    def row(arm, test, valid, seed, rule=None, fraction=None):
        return {"arm": arm, "rule": rule, "keep_fraction": fraction, "reinit_deeper": None if rule is None else 0,
                "seed": seed, "data_seed": seed, "test_error_pct": test, "best_validation_error_pct": valid}

    rows = [row("lp-ft", 5.0, 9.0, s) for s in (1, 2)] + [row("finetune", 6.0, 8.0, s) for s in (1, 2)]
    assert best_reference(rows, ["lp-ft", "finetune"]) == "finetune"
    rows += [row("transfer", 4.0, 12.0, s, "utility", 0.25) for s in (1, 2)]
    rows += [row("transfer", 7.0, 10.0, s, "utility", 0.5) for s in (1, 2)]
    rows += [row("transfer", 6.0, 11.0, s, "random", f) for s in (1, 2) for f in (0.25, 0.5)]
    rows += [row("scratch", 8.0, 8.5, s) for s in (1, 2)]
    cell = study.Cell("mnist:0-4", "mnist:5-9", (6, 5), 20)
    analysis = {"references": ["scratch", "finetune", "lp-ft"], "rules": ["utility", "random"]}
    series = study.map_series(StudyConfig(), [(cell, rows, analysis)])[(cell.pair, cell.width)]
    assert series["lines"]["utility"][0][1] == 7.0  # keep fraction 0.5: the lower validation error
    best_minus_scratch = series["advantage"]["best reference minus scratch"][0][1]
    assert best_minus_scratch == 6.0 - 8.0  # finetune, not lp-ft


@pytest.mark.parametrize("seed", range(20))
def test_a_maps_interval_at_its_holm_step_excludes_zero_exactly_when_holm_shows_the_claim(seed):
    from scipy import stats as scipy_stats

    from transfer_learning.stats import holm_levels

    rng = np.random.default_rng(seed)
    t9 = scipy_stats.t(9)
    means, ses = rng.normal(0, 1, 24), rng.uniform(0.2, 0.6, 24)
    halves = t9.ppf(0.975) * ses
    raw = [2 * t9.sf(abs(m) / s) for m, s in zip(means, ses, strict=True)]
    for m, half, adjusted, level in zip(means, halves, holm_by_hand(raw), holm_levels(raw, 0.05), strict=True):
        assert (abs(m) > report.adjusted_half(half, level, 10)) == (adjusted < 0.05)


def test_every_entry_of_the_committed_map_is_marked_exactly_when_its_interval_excludes_zero():
    """The audit found 81 map entries whose 95 % interval excluded 0 beside an inconclusive verdict: the intervals
    were unadjusted, the verdicts Holm-adjusted. Now each is at its Holm step's level."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "results" / "study" / "study.md").read_text()
    entries = re.findall(r"(\*\*|_)?([+-]\d+\.\d+) ± (\d+\.\d+)(?:\*\*|_)? \(p ([\d.]+)\)", text)
    assert len(entries) > 400
    for mark, mean, half, p in entries:
        if abs(abs(float(mean)) - float(half)) < 0.01:
            continue  # printed to two decimals: too close to tell
        assert bool(mark) == (abs(float(mean)) > float(half)) == (float(p) < 0.05), (mark, mean, half, p)


def test_the_stages_wall_time_is_each_cells_time_to_the_next_line_over_invocations(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    log = tmp_path / "study.log"
    log.write_text("[study] 2026-12-06 20:00:00 tune: start, 2 cells\n"
                   "[study] 2026-12-06 20:00:00 tune: cell 1/2 a_n300_tanh (elapsed 0 s)\n"
                   "[study] 2026-12-06 20:01:40 tune: cell 2/2 b_n1000_tanh (elapsed 100 s)\n"
                   "[study] 2026-12-06 21:00:00 tune: start, 2 cells\n"  # the first invocation stopped in b
                   "[study] 2026-12-06 21:00:00 tune: cell 1/2 a_n300_tanh (elapsed 0 s)\n"
                   "[study] 2026-12-06 21:00:02 tune: cell 2/2 b_n1000_tanh (elapsed 2 s)\n"
                   "[study] 2026-12-06 21:10:02 tune: done, wall time 602 s\n"
                   "[study] 2026-12-06 21:10:03 tune: wrote /x/tuned.json\n"
                   "[study] 2026-12-06 21:10:04 confirm: start, 2 cells\n"
                   "[study] 2026-12-06 21:10:04 confirm: cell 1/2 a_n300_tanh (elapsed 0 s)\n")
    script = Path(__file__).resolve().parent.parent / "bench" / "study_wall_time.py"
    done = subprocess.run([sys.executable, str(script), str(log)], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["tune/a_n300_tanh" + " " * 44 + " 0:01:42",
                                        "tune/b_n1000_tanh" + " " * 43 + " 0:10:00", "tune: 2 cells, sum 0:11:42",
                                        "2 cells, sum 0:11:42"]
    assert done.stderr.splitlines() == [
        f"{log}: tune/b_n1000_tanh was stopped before it ended; not counted (no file of its folder written then)",
        f"{log}: confirm/a_n300_tanh had not ended when the log ends; not counted (no file of its folder written then)"]
    # a session's end killed the first invocation in b without a line: its runs up to then count, to the last file
    # its folder got before the second invocation began (a file of the second does not count twice)
    import datetime
    import os

    runs = tmp_path / "tune" / "cells" / "b_n1000_tanh" / "results"
    runs.mkdir(parents=True)
    for name, clock_time in (("seed1.json", "20:20:00"), ("seed2.json", "20:31:40"), ("seed3.json", "21:05:00")):
        (runs / name).write_text("{}")
        when = datetime.datetime.strptime(f"2026-12-06 {clock_time}", "%Y-%m-%d %H:%M:%S").timestamp()
        os.utime(runs / name, (when, when))
    done = subprocess.run([sys.executable, str(script), str(log)], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[1:] == ["tune/b_n1000_tanh" + " " * 43 + " 0:40:00", "tune: 2 cells, sum 0:41:42",
                                            "2 cells, sum 0:41:42"]
    # with a confirm cell finished too, each stage's sum before the study's
    log.write_text(log.read_text() + "[study] 2026-12-06 21:12:04 confirm: done, wall time 120 s\n")
    done = subprocess.run([sys.executable, str(script), str(log)], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-3:] == ["tune: 2 cells, sum 0:41:42", "confirm: 1 cells, sum 0:02:00",
                                             "3 cells, sum 0:43:42"]
    assert done.stderr.splitlines()[0] == (f"{log}: tune/b_n1000_tanh was stopped before it ended; counted 0:30:00 to "
                                           "the last file written in its folder then")
