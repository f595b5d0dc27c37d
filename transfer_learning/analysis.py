"""What a sweep's results support: paired tests declared before the results, Holm-adjusted per family,
with equivalence tests, written to analysis.json; conclusions.md is generated from that file alone.

Every comparison is paired by replicate (seed, data seed): the two arms shared their source network,
data subsets, probe and scratch initialization. For each, the difference a - b of the test errors (pp;
negative: a is better) gets its mean, the half-width of its 95 % t interval, the two-sided paired t-test
(a one-sample t-test of the differences against 0) and the two one-sided tests (TOST) of equivalence
within +-margin. Within a family, both p-values are Holm-adjusted. The verdict:

- "a beats b" (or "b beats a"): the paired t-test rejects at the family-wise level alpha;
- "equivalent": it does not, and TOST rejects: the difference lies within +-margin;
- "inconclusive": neither rejects. A non-significant difference is never read as a tie.

The families (declared in analysis.json under "hypotheses"):

- primary: each distinct rule against random selection, pooled over the sweep's budgets (per replicate,
  the mean of its paired differences over the keep fractions or thresholds), per reinit-deeper setting;
- secondary: the same at each budget;
- rule-pairs-pooled / rule-pairs-per-budget: every distinct non-random rule against every other;
- references: every reference arm (scratch, finetune, linear-probe, lp-ft, l2-sp, shrink-perturb) against
  every other, and each distinct rule (pooled) against each reference;
- layers: each layer arm (keep-layers:N, freeze-layers:N, self-layers:N) against each distinct rule at the keep
  fraction equal to its fraction of hidden nodes, against finetune and scratch, and against the other layer arms;
- reinit-deeper: each distinct rule (pooled) with the weights leaving reset nodes re-drawn, against without.

Rules whose kept nodes are identical in every run of the sweep (same selection digest) are duplicates:
tested once, under the first one's name, and reported together.
"""

import csv
import itertools
import math

import numpy as np

from .command import as_program, script_name
from .report import conclusions_markdown
from .stats import holm, holm_levels, mean_ci, paired_p, tost_p, variance_components
from .vocab import FAMILIES, REFERENCES, is_layer_arm

#: The default margin of the equivalence tests, in percentage points of test error.
EQUIVALENCE_MARGIN_PP = 0.25
ALPHA = 0.05


def read_csv(path) -> list[dict]:
    """A sweep's results.csv as rows of numbers (empty cells None), the form Sweep.rows() gives."""
    rows = []
    with open(path, newline="") as f:
        for raw in csv.DictReader(f):
            row = {}
            for key, text in raw.items():
                if text == "":
                    row[key] = None
                    continue
                try:
                    number = float(text)
                except ValueError:
                    row[key] = text
                    continue
                row[key] = int(number) if key in ("seed", "data_seed", "reinit_deeper", "best_epoch",
                                                   "epochs_run") else number
            rows.append(row)
    return rows


def _budget_of(row):
    if row.get("keep_fraction") is not None:
        return "keep fraction", float(row["keep_fraction"])
    if row.get("threshold") is not None:
        return "threshold", float(row["threshold"])
    return None


class _Table:
    """Test errors by (arm, rule, budget, reinit_deeper) and replicate, from the rows."""

    def __init__(self, rows):
        self.errors, self.digests, self.by_digest = {}, {}, True
        for r in rows:
            key = (r["arm"], r.get("rule"), _budget_of(r), r.get("reinit_deeper"))
            replicate = (int(r["seed"]), int(r.get("data_seed") if r.get("data_seed") is not None else r["seed"]))
            self.errors.setdefault(key, {})[replicate] = float(r["test_error_pct"])
            if r["arm"] == "transfer":
                # what identifies a selection: its digest; in sweeps older than digests, the run's test error
                self.by_digest = "selection_digest" in r
                self.digests.setdefault(r.get("rule"), {})[(replicate, _budget_of(r), r.get("reinit_deeper"))] = \
                    r["selection_digest"] if self.by_digest else float(r["test_error_pct"])
        transfer = [k for k in self.errors if k[0] == "transfer"]
        self.rules = list(dict.fromkeys(k[1] for k in transfer))
        self.budgets = sorted({k[2] for k in transfer}, key=lambda b: (b[0], b[1]))
        self.deeper = sorted({k[3] for k in transfer}, key=lambda d: -1 if d is None else d)
        self.references = [a for a in REFERENCES if (a, None, None, None) in self.errors]
        #: layer arms (keep-layers:N, ...) and the fraction of hidden nodes each keeps
        self.layers = {r["arm"]: float(r["fraction_kept"]) for r in rows if is_layer_arm(r["arm"])}

    def rule(self, rule, budget, deeper) -> dict:
        """{replicate: test error} of a rule's transfer arm; pooled: the mean over the budgets, for the
        replicates that have all of them."""
        if budget != "pooled":
            return self.errors.get(("transfer", rule, budget, deeper), {})
        per_budget = [self.rule(rule, b, deeper) for b in self.budgets]
        common = set.intersection(*(set(v) for v in per_budget)) if per_budget else set()
        return {rep: float(np.mean([v[rep] for v in per_budget])) for rep in common}

    def reference(self, arm) -> dict:
        return self.errors.get((arm, None, None, None), {})

    def duplicates(self) -> list[list[str]]:
        """Groups of rules whose kept nodes are the same in every run of the sweep (by selection digest)."""
        groups = []
        for rule in self.rules:
            digests = self.digests.get(rule, {})
            if not digests or any(d is None for d in digests.values()):
                groups.append([rule])
                continue
            for group in groups:
                if self.digests.get(group[0]) == digests:
                    group.append(rule)
                    break
            else:
                groups.append([rule])
        return [g for g in groups if len(g) > 1]

    @property
    def duplicate_reason(self) -> str:
        if self.by_digest:
            return "the same kept nodes (selection digest) in every run of the sweep"
        return ("the same test error in every run of the sweep (its results.csv predates selection digests, so "
                "identical results stand for identical selections)")


def _compare(family, a, b, budget, deeper, a_values, b_values, margin) -> dict | None:
    common = sorted(set(a_values) & set(b_values))
    if len(common) < 2:
        return None
    differences = [a_values[r] - b_values[r] for r in common]
    mean, half = mean_ci(differences)
    test = {"family": family, "a": a, "b": b, "budget": budget if budget in ("pooled", None) else list(budget),
            "reinit_deeper": deeper, "n": len(common), "mean_pp": mean, "half_width_pp": half,
            "p": paired_p(differences), "p_tost": tost_p(differences, margin)}
    components = variance_components(dict(zip(common, differences, strict=True)))
    if components is not None:
        test["variance_components"] = components
    return test


def analyze(rows, margin_pp: float = EQUIVALENCE_MARGIN_PP, alpha: float = ALPHA) -> dict:
    """analysis.json's content from a sweep's rows (Sweep.rows() or read_csv)."""
    table = _Table(rows)
    duplicates = table.duplicates()
    hidden = {rule for group in duplicates for rule in group[1:]}
    distinct = [r for r in table.rules if r not in hidden]
    selective = [r for r in distinct if r != "random"]
    budgets = ["pooled", *table.budgets] if table.budgets else []
    tests = []

    def add(*args):
        test = _compare(*args, margin_pp)
        if test is not None:
            tests.append(test)

    for deeper in table.deeper:
        if "random" in distinct:
            for rule in selective:
                for budget in budgets:
                    add("primary" if budget == "pooled" else "secondary", rule, "random", budget, deeper,
                        table.rule(rule, budget, deeper), table.rule("random", budget, deeper))
        for a, b in itertools.combinations(selective, 2):
            for budget in budgets:
                add("rule-pairs-pooled" if budget == "pooled" else "rule-pairs-per-budget", a, b, budget, deeper,
                    table.rule(a, budget, deeper), table.rule(b, budget, deeper))
        for rule in distinct:
            for arm in table.references:
                add("references", rule, arm, "pooled", deeper, table.rule(rule, "pooled", deeper),
                    table.reference(arm))
    for a, b in itertools.combinations(table.references, 2):
        add("references", a, b, None, None, table.reference(a), table.reference(b))
    layer_arms = list(table.layers)
    for i, (arm, fraction) in enumerate(table.layers.items()):  # nodes or layers, at the same budget
        budget = ("keep fraction", fraction)
        if budget in table.budgets:
            for deeper in table.deeper:
                for rule in distinct:
                    add("layers", rule, arm, budget, deeper, table.rule(rule, budget, deeper), table.reference(arm))
        for other in [*(a for a in ("finetune", "scratch") if a in table.references), *layer_arms[i + 1:]]:
            add("layers", arm, other, None, None, table.reference(arm), table.reference(other))
    if len(table.deeper) == 2 and None not in table.deeper:
        for rule in distinct:
            add("reinit-deeper", f"{rule} (reinit-deeper)", rule, "pooled", None, table.rule(rule, "pooled", 1),
                table.rule(rule, "pooled", 0))
    for family in FAMILIES:
        members = [t for t in tests if t["family"] == family]
        for key in ("p", "p_tost"):
            for t, adjusted in zip(members, holm([t[key] for t in members]), strict=True):
                t[key + "_holm"] = adjusted
    for t in tests:
        t["verdict"] = _verdict(t, alpha)
    tests = [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in t.items()} for t in tests]
    replicates = {(int(r["seed"]), int(r["data_seed"] if r.get("data_seed") is not None else r["seed"]))
                  for r in rows}
    return {
        "alpha": alpha,
        "equivalence_margin_pp": margin_pp,
        "replicates": len(replicates),
        "budgets": [list(b) for b in table.budgets],
        "reinit_deeper": table.deeper,
        "rules": table.rules,
        "references": table.references,
        "duplicates": [{"rules": g, "reason": table.duplicate_reason} for g in duplicates],
        "hypotheses": _hypotheses(selective, distinct, table),
        "tests": tests,
    }


def _verdict(test, alpha) -> str:
    p, p_tost = test["p_holm"], test["p_tost_holm"]
    if not math.isnan(p) and p < alpha:
        return "a better" if test["mean_pp"] < 0 else "b better"
    if not math.isnan(p_tost) and p_tost < alpha:
        return "equivalent"
    return "inconclusive"


def _hypotheses(selective, distinct, table) -> dict:
    budgets = ", ".join(f"{b[0]} {b[1]:g}" for b in table.budgets)
    out = {}
    if "random" in distinct and selective:
        out["primary"] = (f"each of {', '.join(selective)} against random selection, pooled over {budgets} (per "
                          "replicate, the mean of the paired differences); Holm over these tests")
        out["secondary"] = f"the same at each of {budgets}; Holm over these tests"
    if len(selective) > 1:
        out["rule-pairs-pooled"] = "every distinct rule against every other, pooled; Holm over the pairs"
        out["rule-pairs-per-budget"] = "every distinct rule against every other at each budget; Holm over these"
    if table.references:
        out["references"] = (f"every reference arm ({', '.join(table.references)}) against every other, and each "
                             "distinct rule (pooled) against each; Holm over these tests")
    if table.layers:
        out["layers"] = (f"each layer arm ({', '.join(table.layers)}) against each distinct rule at the keep fraction "
                         "equal to its fraction of hidden nodes, against finetune and scratch, and against the other "
                         "layer arms; Holm over these tests")
    if len(table.deeper) == 2:
        out["reinit-deeper"] = "each distinct rule (pooled) with --reinit-deeper against without; Holm over the rules"
    return out


def main(argv=None) -> int:
    """``python -m transfer_learning.analysis PATH``: the tests of a sweep's results, again. PATH is a sweep
    directory (writes its analysis.json and conclusions.md) or a results CSV, NAME.csv (writes
    NAME.analysis.json and NAME.conclusions.md beside it, as docs/results/ keeps them)."""
    import argparse
    import json
    from pathlib import Path

    from .rundir import RunDir

    parser = argparse.ArgumentParser(prog=script_name("transfer-analysis", "python -m transfer_learning.analysis"),
                                     description=main.__doc__)
    parser.add_argument("path", help="a sweep directory (holding results.csv), or a results CSV file")
    parser.add_argument("--equivalence-margin", type=float, default=EQUIVALENCE_MARGIN_PP, metavar="PP",
                        help=f"margin of the equivalence tests, pp (default: {EQUIVALENCE_MARGIN_PP})")
    parser.add_argument("--title", default=None, help="the title of conclusions.md (default: the one the existing "
                        "analysis file holds, if any)")
    args = parser.parse_args(argv)
    path = Path(args.path)
    if path.is_dir():
        csv_path, folder, names = path / "results.csv", path, ("analysis.json", "conclusions.md")
    else:
        stem = path.name.removesuffix(".csv")
        csv_path, folder, names = path, path.parent, (f"{stem}.analysis.json", f"{stem}.conclusions.md")
    if not csv_path.is_file():
        parser.error(f"{csv_path}: no such results file")
    if not args.equivalence_margin > 0:
        parser.error(f"--equivalence-margin: expected a value > 0, got {args.equivalence_margin}")
    before = folder / names[0]
    title = args.title
    if title is None:
        title = json.loads(before.read_text()).get("title", "") if before.is_file() else ""
    analysis = {"title": title, **analyze(read_csv(csv_path), args.equivalence_margin)}
    files = RunDir(folder)
    files.write_json(names[0], analysis)
    files.write_text(names[1], conclusions_markdown(analysis))
    print(f"{folder / names[0]} and {folder / names[1]} written")
    return 0



# --- the transfer map: each cell's tests, Holm-adjusted across the cells --------------------------------

#: The study-level claims, each a family Holm-adjusted across the cells.
KINDS = ("reference vs scratch", "layers vs scratch", "rule vs random", "rule vs best reference",
         "rule vs keep-layers")


def _signed(test, arm, other) -> tuple | None:
    """(mean of arm - other, half-width, raw p) of a test between the two, whichever way round it was written."""
    if test is None:
        return None
    sign = 1 if (test["a"], test["b"]) == (arm, other) else -1
    return sign * test["mean_pp"], test["half_width_pp"], test["p"]


def _find(analysis, family, a, b, budget):
    """The test of ``a`` against ``b`` in ``family`` at ``budget`` ("any": at whichever budget it was made)."""
    for t in analysis["tests"]:
        if t["family"] == family and {t["a"], t["b"]} == {a, b} and budget in (t["budget"], "any") and \
                t["reinit_deeper"] in (None, 0):
            return t
    return None


def mean_error(rows, arm, rule=None, fraction=None, column="test_error_pct"):
    """An arm's mean error over the replicates (``column``: the test error, or the validation error that a choice
    between arms must be made on)."""
    values = [r[column] for r in rows if r["arm"] == arm and r.get("rule") == rule
              and r.get("keep_fraction") == fraction and r.get("reinit_deeper") in (None, 0)]
    return float(np.mean(values)) if values else math.nan


#: What the map chooses its comparators on (the best reference, a rule's keep fraction): the validation error, never
#: the test error it then reports (the audit's split-half estimate of that optimism: 1.0 / 0.4 / 0.15 / 0.10 pp at
#: 100 / 300 / 1,000 / 3,000 examples).
CHOICE_COLUMN = "best_validation_error_pct"


def best_reference(rows, references):
    """The cell's best reference: the lowest mean validation error (the first of equal ones)."""
    return min(references, key=lambda a: mean_error(rows, a, column=CHOICE_COLUMN)) if references else None


def study_tests(found) -> list:
    """The study-level claims, one dict per (cell, kind, arm): each reference against scratch, each rule (pooled)
    against random, and each rule (pooled) against the cell's best reference (the lowest mean validation error), with
    the cell's raw p-value, Holm-adjusted across the cells within each kind."""
    tests = []
    for cell, rows, analysis in found:
        references = [a for a in REFERENCES if a != "scratch" and a in analysis["references"]]
        best = best_reference(rows, references)
        rules = [r for r in analysis["rules"] if r != "random" and not any(
            r in g["rules"][1:] for g in analysis["duplicates"])]
        for arm in references:
            tests.append({"cell": cell, "kind": "reference vs scratch", "arm": arm, "against": "scratch",
                          "result": _signed(_find(analysis, "references", arm, "scratch", None), arm, "scratch")})
        for arm in sorted({r["arm"] for r in rows if is_layer_arm(r["arm"])}):
            tests.append({"cell": cell, "kind": "layers vs scratch", "arm": arm, "against": "scratch",
                          "result": _signed(_find(analysis, "layers", arm, "scratch", None), arm, "scratch")})
        for rule in rules:
            tests.append({"cell": cell, "kind": "rule vs random", "arm": rule, "against": "random",
                          "result": _signed(_find(analysis, "primary", rule, "random", "pooled"), rule, "random")})
            if best is not None:
                tests.append({"cell": cell, "kind": "rule vs best reference", "arm": rule, "against": best,
                              "result": _signed(_find(analysis, "references", rule, best, "pooled"), rule, best)})
            for layer in sorted({r["arm"] for r in rows if r["arm"].startswith("keep-layers:")}):
                # at the keep fraction equal to the layer arm's share of the hidden nodes (the analysis pairs them)
                tests.append({"cell": cell, "kind": "rule vs keep-layers", "arm": rule, "against": layer,
                              "result": _signed(_find(analysis, "layers", rule, layer, "any"), rule, layer)})
    for kind in KINDS:
        members = [t for t in tests if t["kind"] == kind]
        raw = [t["result"][2] if t["result"] and t["result"][2] is not None else math.nan for t in members]
        for t, adjusted, level in zip(members, holm(raw), holm_levels(raw, ALPHA), strict=True):
            t["p_holm"], t["level"] = adjusted, level
            shown = t["result"] is not None and not math.isnan(adjusted) and adjusted < ALPHA
            t["better"] = shown and t["result"][0] < 0
            t["worse"] = shown and t["result"][0] > 0
    return tests


#: The console script ``transfer-analysis`` and ``python -m transfer_learning.analysis``.
program = as_program(main)

if __name__ == "__main__":
    raise SystemExit(program())
