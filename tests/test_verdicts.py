"""verdicts.py: two analyses matched test by test, and only the tests whose verdict differs reported as moved."""

import json

import pytest

from transfer_learning import report, verdicts


def _test(family, a, b, budget, verdict, *, deeper=0, mean=0.1, half=0.2, p=0.5, p_tost=0.5):
    return {"family": family, "a": a, "b": b, "budget": budget, "reinit_deeper": deeper, "n": 20, "mean_pp": mean,
            "half_width_pp": half, "p": p, "p_tost": p_tost, "p_holm": p, "p_tost_holm": p_tost, "verdict": verdict}


def _analysis(tests, margin=0.25):
    return {"equivalence_margin_pp": margin, "tests": tests}


BEFORE = _analysis([  # the first test moves, yet is reported after primary (families in order)
    _test("references", "lp-ft", "l2-sp", None, "a better", deeper=None, mean=-0.9, p=0.008),
    _test("references", "finetune", "scratch", None, "a better", mean=-1.4, p=0.005),
    _test("primary", "mean-abs", "random", "pooled", "inconclusive", p=0.6),
    _test("secondary", "mean-abs", "random", ["keep fraction", 0.5], "b better", mean=0.4, p=0.04),
    _test("secondary", "mean-abs", "random", ["keep fraction", 0.5], "inconclusive", deeper=1),
    _test("layers", "apoz", "freeze-layers:1", ["keep fraction", 0.5], "a better", mean=-1.4, p=0.0003),
])
AFTER = _analysis([
    _test("primary", "mean-abs", "random", "pooled", "equivalent", mean=0.01, p=1.0, p_tost=0.035),
    _test("references", "finetune", "scratch", None, "a better", mean=-1.3, p=0.02),  # same verdict, other numbers
    _test("secondary", "mean-abs", "random", ["keep fraction", 0.5], "inconclusive"),
    _test("secondary", "mean-abs", "random", ["keep fraction", 0.5], "inconclusive", deeper=1),
    _test("rule-pairs-pooled", "utility", "taylor", "pooled", "inconclusive"),  # only in AFTER
    _test("references", "lp-ft", "l2-sp", None, "inconclusive", deeper=None, mean=-0.3, p=1.0),
])


def test_tests_are_matched_by_family_arms_budget_and_reinit_deeper_and_only_verdict_changes_count():
    result = verdicts.compare(BEFORE, AFTER)
    assert result["both"] == 5
    assert [(t["a"], t["b"]) for t in result["only_before"]] == [("apoz", "freeze-layers:1")]
    assert [(t["a"], t["b"]) for t in result["only_after"]] == [("utility", "taylor")]
    # moved, in the order of the families: primary before secondary; finetune/scratch kept its verdict
    assert [(b["family"], b["verdict"], a["verdict"]) for b, a in result["moved"]] == [
        ("primary", "inconclusive", "equivalent"), ("secondary", "b better", "inconclusive"),
        ("references", "a better", "inconclusive")]
    assert [b["reinit_deeper"] for b, _ in result["moved"]] == [0, 0, None]


def test_the_markdown_counts_the_moved_tests_and_the_p_values_of_the_claims_that_moved():
    text = report.verdicts_markdown(verdicts.compare(BEFORE, AFTER), BEFORE, AFTER, names=("unfused", "fused"))
    lines = text.splitlines()
    assert lines[0] == "5 tests in both; 2 with the same verdict, 3 moved."
    assert "Tests only in unfused: 1." in lines and "Tests only in fused: 1." in lines
    # the claims lost are secondary's (p 0.04) and lp-ft's (0.008); the one gained, primary's equivalence (TOST p 0.035)
    assert "Claims of unfused not made in fused: 2, their adjusted p from 0.008 to 0.04." in lines
    # firm claims (p < 0.01 in either): finetune's (held, 0.005 then 0.02) and lp-ft's (moved); apoz's is in one only
    assert "Claims with an adjusted p below 0.01 in either: 2, of which 1 moved." in lines
    assert "Claims of fused not made in unfused: 1, their adjusted p from 0.035 to 0.035." in lines
    rows = [line for line in lines if line.startswith("| primary") or line.startswith("| secondary")]
    assert rows[0] == (
        "| primary | mean-abs against random pooled over budgets: inconclusive, difference +0.10 ± 0.20 pp (paired t "
        "over 20 replicates, Holm-adjusted p = 0.600; TOST within ±0.25 pp, Holm-adjusted p = 0.500) | mean-abs and "
        "random are equivalent pooled over budgets within ±0.25 pp: difference +0.01 ± 0.20 pp (TOST over 20 "
        "replicates, Holm-adjusted p = 0.035) |")
    assert rows[1].startswith("| secondary | random beats mean-abs at keep fraction 0.5 by 0.40 ± 0.20 pp")


def test_identical_analyses_move_nothing_and_print_no_table():
    text = report.verdicts_markdown(verdicts.compare(BEFORE, BEFORE), BEFORE, BEFORE)
    assert text == ("6 tests in both; 6 with the same verdict, 0 moved.\n"
                    "Claims with an adjusted p below 0.01 in either: 3, of which 0 moved.\n")


def test_the_command_reads_files_or_sweep_directories(tmp_path, capsys):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "analysis.json").write_text(json.dumps(BEFORE))
    (tmp_path / "after.json").write_text(json.dumps(AFTER))
    assert verdicts.main([str(tmp_path / "sweep"), str(tmp_path / "after.json"), "--names", "a,b"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("5 tests in both; 2 with the same verdict, 3 moved.\n")
    assert "| family | a | b |" in out


@pytest.mark.parametrize("content, names, message", [
    (None, "a,b", "not a readable analysis.json (FileNotFoundError)"),
    ("{not json", "a,b", "not a readable analysis.json (JSONDecodeError)"),
    ('{"title": "x"}', "a,b", "not an analysis.json (no 'tests')"),
    (json.dumps(AFTER), "a", "--names: expected two names separated by a comma, got 'a'"),
])
def test_bad_input_gets_a_one_line_error(tmp_path, capsys, content, names, message):
    before = tmp_path / "before.json"
    before.write_text(json.dumps(BEFORE))
    after = tmp_path / "after.json"
    if content is not None:
        after.write_text(content)
    with pytest.raises(SystemExit) as stop:
        verdicts.main([str(before), str(after), "--names", names])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)


def _row(seed, arm, rate, error, rule=None, keep=None, deeper=None):
    """A results.csv row whose validation error is its test error (the best reference is chosen on validation)."""
    return {"seed": seed, "data_seed": seed, "arm": arm, "rule": rule, "threshold": None, "keep_fraction": keep,
            "reinit_deeper": deeper, "learning_rate": rate, "test_error_pct": error,
            "best_validation_error_pct": error}


RUNS_BEFORE = [_row(1, "scratch", 0.1, 8.0), _row(2, "scratch", 0.1, 7.5), _row(1, "finetune", 0.3, 6.0),
               _row(1, "transfer", 0.3, 6.5, "mean-abs", 0.5, 0), _row(1, "transfer", 0.3, 6.7, "mean-abs", 0.5, 1),
               _row(3, "scratch", 0.1, 9.0)]  # seed 3 only here: not matched
RUNS_AFTER = [_row(2, "scratch", 0.1, 7.5), _row(1, "scratch", 0.1, 8.25), _row(1, "finetune", 1.0, 5.0),
              _row(1, "transfer", 0.3, 6.5, "mean-abs", 0.5, 0), _row(1, "transfer", 0.3, 6.2, "mean-abs", 0.5, 1)]


def test_runs_are_matched_by_replicate_arm_rule_budget_and_reinit_deeper_and_grouped():
    by_arm = verdicts.compare_runs(RUNS_BEFORE, RUNS_AFTER, by="arm")
    # [runs, another learning rate, test error differs, largest |difference|], arms in sorted order
    assert by_arm == {"finetune": [1, 1, 1, 1.0], "scratch": [2, 0, 1, 0.25], "transfer": [2, 0, 1, 0.5]}
    by_rate = verdicts.compare_runs(RUNS_BEFORE, RUNS_AFTER)  # by the before run's learning rate
    assert by_rate == {0.1: [2, 0, 1, 0.25], 0.3: [3, 1, 2, 1.0]}


def test_the_run_table_has_a_row_per_group_and_the_total():
    text = report.runs_markdown(verdicts.compare_runs(RUNS_BEFORE, RUNS_AFTER), "learning_rate")
    assert text.splitlines() == [
        "| learning rate | runs | another learning rate chosen | test error differs | largest difference (pp) |",
        "|---|---|---|---|---|",
        "| 0.1 | 2 | 0 | 1 | 0.25 |",
        "| 0.3 | 3 | 1 | 2 | 1.00 |",
        "| all | 5 | 1 | 3 | 1.00 |"]


def test_the_command_adds_the_run_tables_where_both_csvs_are_beside_the_analyses(tmp_path, capsys):
    import csv

    for name, analysis, rows in (("a", BEFORE, RUNS_BEFORE), ("b", AFTER, RUNS_AFTER)):
        (tmp_path / f"{name}.analysis.json").write_text(json.dumps(analysis))
        with open(tmp_path / f"{name}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows([{k: "" if v is None else v for k, v in r.items()} for r in rows])
    verdicts.main([str(tmp_path / "a.analysis.json"), str(tmp_path / "b.analysis.json")])
    out = capsys.readouterr().out
    assert "| transfer | 2 | 0 | 1 | 0.50 |" in out and "| 0.3 | 3 | 1 | 2 | 1.00 |" in out
    (tmp_path / "b.csv").unlink()  # one side without runs: the verdicts alone
    verdicts.main([str(tmp_path / "a.analysis.json"), str(tmp_path / "b.analysis.json")])
    assert "| arm |" not in capsys.readouterr().out


def _cell(finetune_p, rule_p, best_p, *, lp_ft_error=7.0, scratch_error=8.0, lp_ft_tested=True):
    """A study cell: finetune and lp-ft against scratch, mean-abs against random and against the best reference
    (finetune at 6.5 % test error, lp-ft at ``lp_ft_error``), each at its own raw p, which is also its p within the
    cell; ``lp_ft_tested`` False leaves lp-ft's test against scratch out, as a cell whose analysis lacks it."""
    analysis = _analysis([
        _test("references", "finetune", "scratch", None, "a better", deeper=None, mean=-1.0, p=finetune_p),
        *([_test("references", "lp-ft", "scratch", None, "inconclusive", deeper=None, mean=-0.2, p=0.5)]
          if lp_ft_tested else []),
        _test("primary", "mean-abs", "random", "pooled", "a better" if rule_p < 0.05 else "inconclusive", mean=-0.5,
              p=rule_p),
        _test("references", "mean-abs", "finetune", "pooled", "b better" if best_p < 0.05 else "inconclusive",
              mean=0.3, p=best_p),
        _test("references", "mean-abs", "lp-ft", "pooled", "inconclusive", mean=0.4, p=best_p)])
    analysis.update(references=["scratch", "finetune", "lp-ft"], rules=["mean-abs", "random"], duplicates=[])
    rows = [_row(1, "scratch", 0.1, scratch_error), _row(1, "finetune", 0.1, 6.5), _row(1, "lp-ft", 0.1, lp_ft_error),
            _row(1, "transfer", 0.1, 7.0, "mean-abs", 0.5, 0), _row(1, "transfer", 0.1, 7.5, "random", 0.5, 0)]
    return rows, analysis


def test_study_claims_are_holm_adjusted_over_the_cells_in_both_and_matched_whatever_the_best_reference():
    before = {"c1": _cell(0.01, 0.5, 0.01), "c2": _cell(0.01, 0.5, 0.5)}
    # c3 is only in after. Holm runs over finetune's and lp-ft's tests in the cells in both: four before, three after
    # (c2's analysis lacks lp-ft's test, a claim not made): finetune's 0.01 become 0.04 and 0.03 and are shown; with
    # c3's two tests as well they would be 0.05 or more, and not
    after = {"c1": _cell(0.01, 0.5, 0.5, lp_ft_error=6.0), "c2": _cell(0.01, 0.001, 0.5, lp_ft_tested=False),
             "c3": _cell(0.01, 0.5, 0.5)}
    result = verdicts.compare_studies(before, after)
    assert result["only_before"] == [] and result["only_after"] == ["c3"]
    # per kind: [claims in both, shown before, shown after, moved, adjusted p < 0.01 in either, of which moved]:
    # c2's mean-abs against random is firm after only (0.002); c1's against finetune is not (0.02 before)
    assert result["kinds"] == {"reference vs scratch": [3, 2, 2, 0, 0, 0], "rule vs random": [2, 0, 1, 1, 1, 1],
                               "rule vs best reference": [2, 1, 0, 1, 0, 0]}
    moved = {(b["cell"], b["kind"]): (b["against"], report.shown(b), a["against"], report.shown(a))
             for b, a in result["moved"]}
    # c1's best reference is finetune before and lp-ft after (its error fell below finetune's): still one claim
    assert moved == {("c1", "rule vs best reference"): ("finetune", "worse", "lp-ft", "inconclusive"),
                     ("c2", "rule vs random"): ("random", "inconclusive", "random", "better")}
    # each cell's own analysis compared as for a sweep: one test moved in each
    assert {c: (r["both"], len(r["moved"])) for c, r in result["cells"].items()} == {"c1": (5, 1), "c2": (4, 1)}


def test_a_study_claim_without_a_p_value_on_one_side_is_firm_if_the_other_sides_p_is():
    # finetune's test in c1 has no p before (NaN after Holm) and 0.001 after (0.002 adjusted): firm, and moved
    result = verdicts.compare_studies({"c1": _cell(None, 0.5, 0.5)}, {"c1": _cell(0.001, 0.5, 0.5)})
    assert result["kinds"]["reference vs scratch"] == [2, 0, 1, 1, 1, 1]


def _write_study(folder, cells, layout):
    import csv

    for name, (rows, analysis) in cells.items():
        if layout == "out":  # the study's --out folder: cells/<cell>/analysis.json and results.csv
            (folder / "cells" / name).mkdir(parents=True)
            files = folder / "cells" / name / "analysis.json", folder / "cells" / name / "results.csv"
        else:  # the Makefile's copy in docs/results/study/
            folder.mkdir(exist_ok=True)
            files = folder / f"{name}.analysis.json", folder / f"{name}.csv"
        files[0].write_text(json.dumps(analysis))
        with open(files[1], "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows([{k: "" if v is None else v for k, v in r.items()} for r in rows])


def test_the_command_compares_a_study_folder_with_a_copy_of_one_and_its_runs_within_cells(tmp_path, capsys):
    # the runs are matched within cells: c1's scratch run differs (8.5 against 8.0), c2's (9.0) does not
    # c2's finetune against scratch (0.001 in both) is a firm claim that held
    before = {"c1": _cell(0.01, 0.5, 0.005), "c2": _cell(0.001, 0.5, 0.5, scratch_error=9.0),
              "c3": _cell(0.01, 0.5, 0.5)}
    after = {"c1": _cell(0.01, 0.5, 0.5, scratch_error=8.5), "c2": _cell(0.001, 0.5, 0.5, scratch_error=9.0)}
    _write_study(tmp_path / "old", before, "out")
    _write_study(tmp_path / "new", after, "copy")
    assert verdicts.main([str(tmp_path / "old"), str(tmp_path / "new"), "--names", "unfused,fused"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Cells only in unfused (1): c3."
    assert {"| reference vs scratch | 4 | 2 | 2 | 0 | 1 | 0 |", "| rule vs best reference | 2 | 1 | 0 | 1 | 0 | 0 |",
            "| all | 8 | 3 | 2 | 1 | 1 | 0 |"} <= set(lines)
    assert ("| c1 | rule vs best reference | mean-abs - finetune: +0.30 ± 0.20 pp, p 0.010, worse | mean-abs - "
            "finetune: +0.30 ± 0.20 pp, p 1.000, inconclusive |") in lines
    # c1's own test of mean-abs against finetune moved, a claim at p 0.005 (firm)
    assert {"| c1 | 5 | 1 | 1 | 1 |", "| c2 | 5 | 0 | 1 | 0 |", "| all | 10 | 1 | 2 | 1 |"} <= set(lines)
    assert "| scratch | 2 | 0 | 1 | 0.50 |" in lines and "| all | 10 | 0 | 1 | 0.50 |" in lines


def test_a_study_without_its_runs_gets_a_one_line_error(tmp_path, capsys):
    cells = {"c1": _cell(0.02, 0.5, 0.5)}
    _write_study(tmp_path / "old", cells, "copy")
    _write_study(tmp_path / "new", cells, "copy")
    (tmp_path / "new" / "c1.csv").unlink()
    with pytest.raises(SystemExit) as stop:
        verdicts.main([str(tmp_path / "old"), str(tmp_path / "new")])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "c1.analysis.json: its results.csv is missing (a study's claims need its runs)")


@pytest.mark.parametrize("study_first", [True, False])
def test_a_study_beside_a_sweep_gets_a_one_line_error_naming_which_is_the_study(tmp_path, capsys, study_first):
    _write_study(tmp_path / "study", {"c1": _cell(0.02, 0.5, 0.5)}, "copy")
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "analysis.json").write_text(json.dumps(_cell(0.02, 0.5, 0.5)[1]))
    given = [str(tmp_path / "study"), str(tmp_path / "sweep")]
    with pytest.raises(SystemExit) as stop:
        verdicts.main(given if study_first else given[::-1])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        f"{tmp_path / 'study'} is a study and {tmp_path / 'sweep'} is not: compare a study with a study, "
        "or a sweep with a sweep")
