"""Every table and sentence the project writes as Markdown or text, beside plots.py's figures: a sweep's
conclusions.md (from its analysis.json alone) and summary.md, the transfer map's study.md, and the comparison of
two analyses. Each formatter takes what the computation returned and formats it; none computes a result."""

import math

from .vocab import FAMILIES


def _p_text(p) -> str:
    return "-" if p is None or math.isnan(p) else ("< 0.001" if p < 0.001 else f"= {p:.3f}")


def _name(name, deeper) -> str:
    return name + (" (reinit-deeper)" if deeper == 1 and not name.endswith("(reinit-deeper)") else "")


def sentence(test, margin) -> str:
    """One test in the fixed pattern of conclusions.md."""
    a, b = _name(test["a"], test["reinit_deeper"]), _name(test["b"], None)
    where = "" if test["budget"] is None else " " + budget_text(
        "pooled" if test["budget"] == "pooled" else tuple(test["budget"]))
    mean, half, n = test["mean_pp"], test["half_width_pp"], test["n"]
    if test["verdict"] in ("a better", "b better"):
        winner, loser = (a, b) if test["verdict"] == "a better" else (b, a)
        return (f"{winner} beats {loser}{where} by {abs(mean):.2f} ± {half:.2f} pp (paired t over {n} replicates, "
                f"Holm-adjusted p {_p_text(test['p_holm'])})")
    if test["verdict"] == "equivalent":
        return (f"{a} and {b} are equivalent{where} within ±{margin:g} pp: difference {mean:+.2f} ± {half:.2f} pp "
                f"(TOST over {n} replicates, Holm-adjusted p {_p_text(test['p_tost_holm'])})")
    return (f"{a} against {b}{where}: inconclusive, difference {mean:+.2f} ± {half:.2f} pp (paired t over {n} "
            f"replicates, Holm-adjusted p {_p_text(test['p_holm'])}; TOST within ±{margin:g} pp, Holm-adjusted p "
            f"{_p_text(test['p_tost_holm'])})")


FAMILY_TITLES = {
    "primary": "Primary: each rule against random selection, pooled over budgets",
    "secondary": "Secondary: each rule against random selection at each budget",
    "rule-pairs-pooled": "Rule against rule, pooled over budgets",
    "rule-pairs-per-budget": "Rule against rule at each budget",
    "references": "Rules and reference arms against the reference arms",
    "layers": "Nodes or layers: rules against keeping whole layers at the same budget, and what splitting costs",
    "reinit-deeper": "Re-drawing the weights leaving reset nodes (--reinit-deeper)",
}


def by_family(analysis: dict):
    """(family, its tests) for every family that has tests, in the order of FAMILIES."""
    for family in FAMILIES:
        members = [t for t in analysis["tests"] if t["family"] == family]
        if members:
            yield family, members


def duplicate_text(group: dict) -> str:
    return f"{', '.join(group['rules'])}: {group['reason']}; tested once, as {group['rules'][0]}."


def budget_label(test: dict) -> str:
    """A test's budget as tables show it: -, pooled, or keep fraction 0.25."""
    budget = test["budget"]
    return "-" if budget is None else ("pooled" if budget == "pooled" else f"{budget[0]} {budget[1]:g}")


def conclusions_markdown(analysis: dict) -> str:
    """conclusions.md: one sentence per test of analysis.json, by family, and nothing else."""
    margin, title = analysis["equivalence_margin_pp"], analysis.get("title", "")
    lines = [f"# Conclusions{': ' + title if title else ''}", "",
             "Generated from analysis.json alone, which `python -m transfer_learning.analysis` computes from "
             f"results.csv. "
             f"{analysis['replicates']} replicates; differences are test error a - b in percentage points, mean ± "
             f"half-width of the 95 % t interval; a difference is claimed where the paired t-test rejects, and "
             f"equivalence where the two one-sided tests within ±{margin:g} pp reject, at family-wise level "
             f"{analysis['alpha']:g} (Holm within each family). Everything else is inconclusive.", ""]
    lines += [f"- {duplicate_text(group)}" for group in analysis["duplicates"]]
    if analysis["duplicates"]:
        lines.append("")
    for family, members in by_family(analysis):
        lines += [f"## {FAMILY_TITLES[family]}", "", f"{analysis['hypotheses'].get(family, '')}.", ""]
        lines += [f"- {sentence(t, margin)}." for t in members]
        lines.append("")
    return "\n".join(lines)


def budget_text(budget) -> str:
    return "pooled over budgets" if budget == "pooled" else f"at {budget[0]} {budget[1]:g}"
