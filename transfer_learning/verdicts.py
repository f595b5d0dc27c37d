"""Which verdicts two analyses of the same sweep design disagree on.

A check of how firmly a sweep's conclusions hold when something that should not matter changes: the last
bits of the arithmetic (``--kernels``), the machine, another draw of replicates. Two analysis.json files are
matched test by test (family, arms, budget, reinit-deeper); a test "moved" where its verdict differs. Where
both sweeps' results.csv are at hand, their runs are matched too, to show where the runs themselves differ.
Two studies (``python -m transfer_learning.study``) are matched cell by cell, and their study-level claims (each
cell's test Holm-adjusted across the cells, as study.md states them) claim by claim.
``python -m transfer_learning.verdicts BEFORE AFTER`` prints the comparison as Markdown.
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

from .analysis import KINDS, read_csv, study_tests
from .command import as_program, script_name
from .report import runs_markdown, shown, studies_markdown, verdicts_markdown
from .stats import FIRM_P
from .vocab import FAMILIES


def _key(test: dict) -> tuple:
    budget = test["budget"] if test["budget"] in (None, "pooled") else tuple(test["budget"])
    return test["family"], test["a"], test["b"], budget, test["reinit_deeper"]




def _claimed_p(test: dict) -> float | None:
    """The adjusted p-value behind a claim (the t-test's for 'beats', TOST's for 'equivalent'); None if none."""
    if test["verdict"] in ("a better", "b better"):
        return test["p_holm"]
    return test["p_tost_holm"] if test["verdict"] == "equivalent" else None


def compare(before: dict, after: dict) -> dict:
    """The tests of two analyses matched by key: those in both, those in one only, those whose verdict moved as
    (before's test, after's test) pairs in the order of FAMILIES then of ``before``, the adjusted p-values of the
    claims lost and gained among those, and the firm claims (adjusted p below FIRM_P in either) as [how many, how
    many moved]."""
    old = {_key(t): t for t in before["tests"]}
    new = {_key(t): t for t in after["tests"]}
    both = [k for k in old if k in new]
    moved = [(old[k], new[k]) for k in both if old[k]["verdict"] != new[k]["verdict"]]
    moved.sort(key=lambda pair: FAMILIES.index(pair[0]["family"]))
    firm = [k for k in both if any(p is not None and p < FIRM_P for p in (_claimed_p(old[k]), _claimed_p(new[k])))]
    return {"both": len(both), "only_before": [old[k] for k in old if k not in new],
            "only_after": [new[k] for k in new if k not in old], "moved": moved,
            "lost_p": [p for p in (_claimed_p(b) for b, _ in moved) if p is not None],
            "gained_p": [p for p in (_claimed_p(a) for _, a in moved) if p is not None],
            "firm": [len(firm), sum(old[k]["verdict"] != new[k]["verdict"] for k in firm)]}


def _run_key(row: dict) -> tuple:
    return tuple(row.get(k) for k in ("cell", "seed", "data_seed", "arm", "rule", "threshold", "keep_fraction",
                                      "reinit_deeper"))


def compare_runs(before_rows: list[dict], after_rows: list[dict], by: str = "learning_rate") -> dict:
    """The runs (rows of results.csv) of two sweeps matched by replicate, arm, rule, budget and reinit-deeper,
    grouped by the before run's column ``by``. Per group: [runs, runs that chose another learning rate, runs
    whose test error differs, the largest |difference| in pp] (differing runs counted whatever their rates)."""
    old = {_run_key(r): r for r in before_rows}
    groups = defaultdict(lambda: [0, 0, 0, 0.0])
    for after in after_rows:
        before = old.get(_run_key(after))
        if before is None:
            continue
        entry = groups[before.get(by)]
        entry[0] += 1
        entry[1] += before.get("learning_rate") != after.get("learning_rate")
        if before["test_error_pct"] != after["test_error_pct"]:
            entry[2] += 1
            entry[3] = max(entry[3], abs(after["test_error_pct"] - before["test_error_pct"]))
    return {g: groups[g] for g in sorted(groups, key=lambda g: (g is None, g))}


def _claim_key(test: dict) -> tuple:
    # a rule is tested against its cell's best reference, whichever that is in each study
    against = None if test["kind"] == "rule vs best reference" else test["against"]
    return test["cell"], test["kind"], test["arm"], against


def compare_studies(before: dict, after: dict) -> dict:
    """Two studies' cells ({cell: (its rows, its analysis)}) matched by name. The cells in both are compared one by
    one ({cell: compare() of their analyses}), and the study-level claims are recomputed over those cells alone
    (Holm across the same cells on both sides) and matched by (cell, kind, arm, against): per kind [claims, shown
    in before, shown in after, moved, claims with an adjusted p below FIRM_P in either, of which moved], and the
    moved ones as (before's, after's) pairs."""
    common = [c for c in before if c in after]
    claims = []
    for side in (before, after):
        tests = study_tests([(cell, *side[cell]) for cell in common])
        claims.append({_claim_key(t): t for t in tests if t["result"] is not None})
    old, new = claims
    both = [k for k in old if k in new]
    moved_keys = [k for k in both if shown(old[k]) != shown(new[k])]
    # any(), not min(): a claim without a p-value (NaN) on one side is firm if the other side's p is
    firm = [k for k in both if any(t[k]["p_holm"] < FIRM_P for t in (old, new))]
    kinds = {kind: [sum(k[1] == kind for k in both),
                    sum(k[1] == kind and shown(old[k]) != "inconclusive" for k in both),
                    sum(k[1] == kind and shown(new[k]) != "inconclusive" for k in both),
                    sum(k[1] == kind for k in moved_keys),
                    sum(k[1] == kind for k in firm),
                    sum(k[1] == kind and k in moved_keys for k in firm)] for kind in KINDS}
    moved = [(old[k], new[k]) for k in moved_keys]
    return {"cells": {c: compare(before[c][1], after[c][1]) for c in common},
            "only_before": [c for c in before if c not in after], "only_after": [c for c in after if c not in before],
            "kinds": {k: v for k, v in kinds.items() if v[0]}, "moved": moved}


def _study_cells(given: str) -> dict:
    """{cell: its analysis file or folder} of a study: its --out folder (cells/<cell>/) or the copy the Makefile
    keeps in docs/results/study/ (<cell>.analysis.json beside <cell>.csv); empty if ``given`` is no study (a file,
    or a sweep's folder with its analysis.json)."""
    folder = Path(given)
    if not folder.is_dir() or (folder / "analysis.json").is_file():
        return {}
    if (folder / "cells").is_dir():
        return {p.parent.name: p.parent for p in sorted((folder / "cells").glob("*/analysis.json"))}
    return {p.name.removesuffix(".analysis.json"): p for p in sorted(folder.glob("*.analysis.json"))}


def _files(given: str, parser):
    """(analysis.json, results.csv or None) from a sweep directory or an analysis file; docs/results/ keeps
    NAME.analysis.json beside NAME.csv."""
    path = Path(given)
    if path.is_dir():
        analysis, results = path / "analysis.json", path / "results.csv"
    else:
        analysis, results = path, path.with_name(path.name.removesuffix(".analysis.json") + ".csv")
    try:
        loaded = json.loads(analysis.read_text())
    except (OSError, ValueError) as error:
        parser.error(f"{analysis}: not a readable analysis.json ({error.__class__.__name__})")
    if not isinstance(loaded, dict) or "tests" not in loaded:
        parser.error(f"{analysis}: not an analysis.json (no 'tests')")
    return loaded, (results if results.is_file() else None)


def _read_studies(before_cells: dict, after_cells: dict, names, parser) -> str:
    """Both studies' cells read, compared (claims, then each cell's tests), and their runs matched within cells."""
    studies = []
    for cells in (before_cells, after_cells):
        study = {}
        for cell, path in cells.items():
            analysis, results = _files(str(path), parser)
            if results is None:
                parser.error(f"{path}: its results.csv is missing (a study's claims need its runs)")
            study[cell] = ([{**row, "cell": cell} for row in read_csv(results)], analysis)
        studies.append(study)
    rows = [[row for cell in study.values() for row in cell[0]] for study in studies]  # matched by cell and run
    return studies_markdown(compare_studies(*studies), names) + _runs_tables(*rows)


def _runs_tables(before_rows: list, after_rows: list) -> str:
    """The runs of two sweeps or studies matched, as two tables: by arm, then by learning rate."""
    return "".join("\n" + runs_markdown(compare_runs(before_rows, after_rows, by=by), by)
                   for by in ("arm", "learning_rate"))


def main(argv=None) -> int:
    """``python -m transfer_learning.verdicts BEFORE AFTER``: the tests whose verdict differs between two
    analysis.json files of the same sweep design (for example the same sweep run with ``--kernels unfused`` and
    with the default), as Markdown on standard output."""
    import argparse

    parser = argparse.ArgumentParser(prog=script_name("transfer-verdicts", "python -m transfer_learning.verdicts"),
                                     description=main.__doc__)
    parser.add_argument("before", help="a sweep directory, or an analysis.json (NAME.analysis.json: its runs are "
                        "read from NAME.csv beside it, if there), or a study: its --out folder or a folder of its "
                        "cells' NAME.analysis.json and NAME.csv (docs/results/study/)")
    parser.add_argument("after", help="the other sweep directory, analysis.json or study")
    parser.add_argument("--names", default="before,after", metavar="A,B",
                        help="what to call the two in the output (default: before,after)")
    args = parser.parse_args(argv)
    names = tuple(args.names.split(","))
    if len(names) != 2 or not all(names):
        parser.error(f"--names: expected two names separated by a comma, got {args.names!r}")
    studies = [_study_cells(args.before), _study_cells(args.after)]
    if any(studies) and not all(studies):
        study, other = (args.before, args.after) if studies[0] else (args.after, args.before)
        parser.error(f"{study} is a study and {other} is not: compare a study with a study, or a sweep with a sweep")
    if all(studies):
        text = _read_studies(*studies, names, parser)
    else:
        (before, before_csv), (after, after_csv) = _files(args.before, parser), _files(args.after, parser)
        text = verdicts_markdown(compare(before, after), before, after, names=names)
        if before_csv and after_csv:
            text += _runs_tables(read_csv(before_csv), read_csv(after_csv))
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader (head, a pager) stopped early: not an error of ours
        sys.stdout = None
    return 0


#: The console script ``transfer-verdicts`` and ``python -m transfer_learning.verdicts``.
program = as_program(main)

if __name__ == "__main__":
    raise SystemExit(program())
