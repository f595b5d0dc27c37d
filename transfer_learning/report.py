"""Every table and sentence the project writes as Markdown or text, beside plots.py's figures: a sweep's
conclusions.md (from its analysis.json alone) and summary.md, the transfer map's study.md, and the comparison of
two analyses. Each formatter takes what the computation returned and formats it; none computes a result."""

import math

from . import blas
from .config import SweepConfig, TransferConfig
from .vocab import ARM_COLORS, FAMILIES, table_rank


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


def _fmt(pair, digits=2):
    mean, half = (math.nan if v is None else v for v in pair)
    if math.isnan(mean):
        return "-"
    return f"{mean:.{digits}f}" + ("" if math.isnan(half) else f" ± {half:.{digits}f}")


def _p_cell(p):
    return "-" if p is None or math.isnan(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _protocol_text(sweep: SweepConfig, base: TransferConfig, rows) -> list:
    """What the sweep ran: data, budget, learning rates, and whether the arms had converged (from best_epoch)."""
    if base.target_train_size is None:
        data = "the whole target training split"
    elif base.subset == "first":
        data = f"the first {base.target_train_size} target training examples (--subset first)"
    else:
        data = f"{base.target_train_size} target training examples, a stratified random sample per data seed"
    valid = base.valid_size_used
    data += (", the whole validation split" if valid is None else
             f", {valid} validation examples" + (" (stratified)" if base.subset == "stratified" else " (the first)"))
    replicates = (f"seeds {','.join(map(str, sweep.seeds))}, each drawing its own data subsets"
                  if sweep.data_seeds is None else
                  f"seeds {','.join(map(str, sweep.seeds))} crossed with data seeds "
                  f"{','.join(map(str, sweep.data_seeds))}")
    rates = (f"the learning rate chosen per arm and replicate by validation error among "
             f"{','.join(f'{r:g}' for r in base.lr_grid)}" if base.lr_grid
             else f"learning rate {base.learning_rate:g} for every arm")
    budget_runs = [r for r in rows if r["best_epoch"] is not None]
    last = sum(r["best_epoch"] == r["epochs_run"] for r in budget_runs)
    stopped = sum(r["epochs_run"] < base.n_epochs for r in budget_runs)
    lines = [
        f"Data: {data}; the test split whole, read once per arm. Replicates: {replicates}. Budget: up to "
        f"{base.n_epochs} epochs per target phase (lp-ft: the linear probe's, then its own), patience "
        f"{base.patience} minibatches, {rates}.",
        "",
    ]
    if budget_runs:
        lines += [f"Convergence: in {last} of {len(budget_runs)} arm runs the best validation error came in the last "
                  f"epoch run (those might have improved with more epochs); patience ended {stopped} of them early.",
                  ""]
    return lines


def arithmetic_text(arithmetic) -> list:
    """The kernel line of a summary: which BLAS made these numbers, and how to make them again bit for bit."""
    if not arithmetic:
        return []
    return [f"Arithmetic: {blas.describe(arithmetic)} (reproduce bit for bit with `{blas.reproduce_with(arithmetic)}`; "
            "each run's config.json records its own).", ""]


def summary_markdown(summary, sweep: SweepConfig, base: TransferConfig, analysis=None, rows=(),
                     arithmetic=None) -> str:
    rules = sweep.rule_names
    several = len(rules) > 1 or len(sweep.reinit_deeper) > 1
    kinds = {kind for kind, _ in sweep.selections}
    lines = [
        f"# Sweep {base.source} -> {base.target}",
        "",
        f"Hidden layers {','.join(map(str, base.hidden_sizes))} ({base.activation}), probe {base.probe_size} images, "
        f"kept-lr-scale {base.kept_lr_scale}, reinit-deeper "
        f"{'/'.join('yes' if d else 'no' for d in sweep.reinit_deeper)}. "
        "Mean ± half-width of the 95 % t interval over replicates; differences are paired by replicate (same "
        "source network, data subsets, probe and scratch init).",
        "",
        *_protocol_text(sweep, base, rows),
        *arithmetic_text(arithmetic),
    ]
    if analysis is not None and analysis["hypotheses"]:
        lines += ["## Hypotheses and tests (declared before the results)", ""]
        lines += [f"- {family}: {text}." for family, text in analysis["hypotheses"].items()]
        lines += ["", f"Each test: the paired t-test (two-sided) and TOST equivalence within ±"
                      f"{analysis['equivalence_margin_pp']:g} pp, Holm-adjusted within its family; a claim needs "
                      f"adjusted p < {analysis['alpha']:g}, and anything else is inconclusive (see conclusions.md, "
                      "generated from analysis.json).", ""]
    lines += [
        f"| arm | {'rule | ' if several else ''}{' / '.join(sorted(kinds, reverse=True)).replace('_', ' ')} | "
        "nodes kept | test error % | minus scratch (pp) | jumpstart (pp) | transfer ratio "
        "| best epoch | learning rate |",
        "|---|" + ("---|" if several else "") + "---|---|---|---|---|---|---|---|",
    ]
    rule_order = {rule: i for i, rule in enumerate(rules)}

    def sort_key(item):
        (arm, rule, selection), _ = item
        base_rule, _, deeper = (rule or "").partition(" ")
        return (table_rank(arm), "" if arm in ARM_COLORS else arm, bool(deeper),
                (selection or ("", 0))[0], (selection or ("", 0))[1], rule_order.get(base_rule, -1))

    for (arm, rule, selection), s in sorted(summary.items(), key=sort_key):
        where = "-" if selection is None else value_label(selection[1])
        lines.append(
            f"| {arm} | {(rule or '-') + ' | ' if several else ''}{where} | {_fmt(s['fraction_kept'], 2)} | "
            f"{_fmt(s['test_error_pct'])} | {_fmt(s['test_error_minus_scratch_pp'])} | {_fmt(s['jumpstart_pp'])} | "
            f"{_fmt(s['transfer_ratio'], 3)} | {_fmt(s['best_epoch'], 1)} | {_fmt(s['learning_rate'], 3)} |"
        )
    lines += ["", "Nodes kept: fraction of all hidden nodes whose trained source weights are kept (scratch 0, "
              "the other selection-free arms 1). Transfer ratio: (AUC_scratch - AUC_arm) / AUC_scratch of the "
              "validation-error curve. Best epoch and learning rate: of the arm's chosen run, averaged.", ""]
    if analysis is not None:
        lines += _analysis_tables(analysis)
    return "\n".join(lines)


def _analysis_tables(analysis) -> list:
    from .report import FAMILY_TITLES, budget_label, by_family, duplicate_text

    lines = [f"Duplicates: {duplicate_text(group)}" for group in analysis["duplicates"]]
    if analysis["duplicates"]:
        lines.append("")
    for family, members in by_family(analysis):
        lines += [f"## {FAMILY_TITLES[family]}", "",
                  "| a | b | budget | reinit-deeper | replicates | a - b (pp) | p (Holm) | TOST p (Holm) | verdict |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for t in members:
            deeper = {None: "-", 0: "no", 1: "yes"}[t["reinit_deeper"]]
            lines.append(f"| {t['a']} | {t['b']} | {budget_label(t)} | {deeper} | {t['n']} | "
                         f"{_fmt((t['mean_pp'], t['half_width_pp']))} | {_p_cell(t['p_holm'])} | "
                         f"{_p_cell(t['p_tost_holm'])} | {t['verdict']} |")
        lines.append("")
        split = [t for t in members if "variance_components" in t]
        if split:
            lines += ["Variance of the paired differences by source (pp², crossed seeds x data seeds):", "",
                      "| a | b | budget | data subset | initialization | residual |", "|---|---|---|---|---|---|"]
            for t in split:
                v = t["variance_components"]
                lines.append(f"| {t['a']} | {t['b']} | {budget_label(t)} | {v['data']:.3f} | {v['init']:.3f} | "
                             f"{v['residual']:.3f} |")
            lines.append("")
    return lines


def value_label(value: float) -> str:
    return f"{value:g}"
