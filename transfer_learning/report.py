"""Every table and sentence the project writes as Markdown or text, beside plots.py's figures: a sweep's
conclusions.md (from its analysis.json alone) and summary.md, the transfer map's study.md, and the comparison of
two analyses. Each formatter takes what the computation returned and formats it; none computes a result."""

import math

import numpy as np

from . import blas
from .config import StudyConfig, SweepConfig, TransferConfig
from .stats import FIRM_P
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


#: What the columns of a run's arm table mean and which way is better (docs/arms-and-metrics.md has the definitions).
ARM_TABLE_LEGEND = (
    "test error: the weights of the best target validation error. jumpstart: validation error after epoch 1, "
    "minus scratch's (negative: a better start). AUC: validation error summed over the epochs (lower: faster and "
    "better). transfer ratio: (AUC of scratch - AUC of the arm) / AUC of scratch (positive: transfer helped). "
    "epochs to threshold: first epoch within --ttt-level x scratch's best; speed-up: scratch's epochs / the arm's. "
    "source error before -> after: the source task's test error through the arm's hidden layers and the source's "
    "output layer, before and after target training (how much of the source it kept). "
    "docs/arms-and-metrics.md has the definitions."
)


def arm_table_legend(ttt_level: float) -> str:
    """ARM_TABLE_LEGEND with the run's --ttt-level, as printed under the table and written in summary.md."""
    return ARM_TABLE_LEGEND.replace("--ttt-level", f"--ttt-level ({ttt_level:g})")


def pictures_written(folder) -> str:
    """The PNG files of a run directory, a numbered series (wMapTrained0.png ...) named once with its count."""
    import re
    from pathlib import Path

    series, single = {}, []
    for path in sorted(Path(folder).glob("*.png")):
        numbered = re.fullmatch(r"(.*?)(\d+)\.png", path.name)
        if numbered:
            series.setdefault(numbered[1], []).append(path.name)
        else:
            single.append(path.name)
    return ", ".join([*single, *(f"{prefix}*.png ({len(names)})" for prefix, names in sorted(series.items()))])


def value_label(value: float) -> str:
    return f"{value:g}"


def adjusted_half(half: float, level: float, replicates: int) -> float:
    """A paired t interval's 95 % half-width widened (or narrowed) to confidence 1 - ``level``, the level of the Holm
    step that decided the test (stats.holm_levels): the interval then excludes 0 exactly when the verdict is shown."""
    from scipy.special import stdtrit

    if math.isnan(half) or math.isnan(level) or replicates < 2:
        return half
    return half * stdtrit(replicates - 1, 1 - level / 2) / stdtrit(replicates - 1, 0.975)


def study_markdown(study: StudyConfig, tests: list) -> str:
    def claim(t):
        if t["result"] is None:
            return "-"
        mean, half, _ = t["result"]
        half = adjusted_half(half, t.get("level", math.nan), study.replicates)
        mark = "**" if t["better"] else "_" if t["worse"] else ""
        p = "-" if math.isnan(t["p_holm"]) else f"{t['p_holm']:.3f}"
        return f"{mark}{mean:+.2f} ± {half:.2f}{mark} (p {p})"

    n_cells = len(study.pairs) * len(study.widths) * len(study.sizes)
    lines = ["# The transfer map", "",
             f"{n_cells} cells: pairs {', '.join(f'{s}>{t}' for s, t in study.pairs)}; widths "
             f"{' and '.join(','.join(map(str, w)) for w in study.widths)}; target sizes "
             f"{', '.join(map(str, study.sizes))}; {study.replicates} replicates a cell. Each entry: arm minus the "
             "one it is tested against, test error in pp, mean ± the half-width of the interval at the confidence "
             "of the Holm step that decided the test (so it excludes 0 exactly where the entry is bold or italic), "
             "and the cell's paired t-test Holm-adjusted across the cells (per kind of claim); **bold** where it "
             "shows the arm better at family-wise level 0.05, _italic_ where it shows it worse. Anything else is "
             "inconclusive here.", "", *overview(tests, study.replicates), ""]
    for source, target in study.pairs:
        for widths in study.widths:
            mine = [t for t in tests if (t["cell"].source, t["cell"].target, tuple(t["cell"].widths))
                    == (source, target, tuple(widths))]
            if not mine:
                continue
            lines += [f"## {source} -> {target}, {','.join(map(str, widths))}", ""]
            references = list(dict.fromkeys(t["arm"] for t in mine if t["kind"] == "reference vs scratch"))
            layers = list(dict.fromkeys(t["arm"] for t in mine if t["kind"] == "layers vs scratch"))
            rules = list(dict.fromkeys(t["arm"] for t in mine if t["kind"] == "rule vs random"))
            whole = list(dict.fromkeys(t["against"] for t in mine if t["kind"] == "rule vs keep-layers"))
            for kind, against, arms, title in (
                    ("reference vs scratch", None, references, "each reference minus scratch"),
                    ("layers vs scratch", None, layers, "each layer arm minus scratch"),
                    ("rule vs random", None, rules, "each rule (pooled over budgets) minus random"),
                    ("rule vs best reference", None, rules, "each rule minus the cell's best reference"),
                    *(("rule vs keep-layers", layer, rules, f"each rule at the same share of the nodes minus {layer} "
                       "(nodes or layers)") for layer in whole)):
                if not arms:
                    continue
                lines += [f"{title}:", "", "| target size | " + " | ".join(arms) + " |",
                          "|---|" + "---|" * len(arms)]
                for size in study.sizes:
                    cell_tests = {t["arm"]: t for t in _members(mine, kind, against=against)
                                  if t["cell"].size == size}
                    if not cell_tests:
                        continue
                    extra = ""
                    if kind == "rule vs best reference":
                        extra = f" ({next(iter(cell_tests.values()))['against']})"
                    lines.append(f"| {size}{extra} | " + " | ".join(claim(cell_tests[a]) if a in cell_tests else "-"
                                                                   for a in arms) + " |")
                lines.append("")
            for kind, arms in (("reference vs scratch", references), ("layers vs scratch", layers)):
                for arm in arms:
                    lines += helping_sentences(arm, _members(mine, kind, arm=arm))
            lines += rule_sentences("random", _members(mine, "rule vs random"))
            lines += rule_sentences("the cell's best reference", _members(mine, "rule vs best reference"))
            for layer in whole:
                lines += rule_sentences(layer, _members(mine, "rule vs keep-layers", against=layer))
            lines.append("")
    return "\n".join(lines)


def _cell_label(cell) -> str:
    return f"{cell.source} -> {cell.target} at {cell.width} with {cell.size}"


def overview(tests, replicates) -> list:
    """The study in a few sentences: over all finished cells, where each kind of claim is shown either way."""
    found = list(dict.fromkeys(t["cell"] for t in tests))
    if not found:
        return []

    def where(members, flag):
        shown = list(dict.fromkeys(t["cell"] for t in members if t[flag]))
        return f"{len(shown)} of {len(found)} cells" + (f" ({'; '.join(map(_cell_label, shown))})" if shown else "")

    def sentence(subject, members):
        return f"- {subject} in {where(members, 'better')}, and worse in {where(members, 'worse')}."

    lines = ["## Over all cells", ""]
    for kind, what in (("rule vs random", "random"), ("rule vs best reference", "the cell's best reference")):
        if _members(tests, kind):
            lines.append(sentence(f"A rule is shown better than {what}", _members(tests, kind)))
    lines += _resolution(_members(tests, "rule vs random"), replicates)
    for layer in dict.fromkeys(t["against"] for t in _members(tests, "rule vs keep-layers")):
        lines.append(sentence(f"A rule is shown better than {layer} at the same share of the nodes",
                              _members(tests, "rule vs keep-layers", against=layer)))
    for kind in ("reference vs scratch", "layers vs scratch"):
        for arm in dict.fromkeys(t["arm"] for t in _members(tests, kind)):
            lines.append(sentence(f"{arm} is shown better than scratch", _members(tests, kind, arm=arm)))
    return lines


def _resolution(rule_tests, replicates) -> list:
    """How small a difference from random the cells can see: per target size, the median over the cells' rules of
    the difference a cell's paired t-test finds with 80 % power at the level the first step of Holm's adjustment
    across the tests uses (alpha / their number), from each test's 95 % half-width and ``replicates`` (a sentence,
    or none without results)."""
    from scipy.special import stdtrit

    from .stats import detectable

    dof = replicates - 1
    level = 0.05 / max(1, sum(1 for t in rule_tests if t["result"] is not None))
    detectable_by_size = {}
    for t in rule_tests:
        if t["result"] is not None and not math.isnan(t["result"][1]):
            se = t["result"][1] / stdtrit(dof, 0.975)
            detectable_by_size.setdefault(t["cell"].size, []).append(detectable(se, dof, level))
    if not detectable_by_size:
        return []
    sizes = [f"{float(np.median(detectable_by_size[size])):.2f} pp at {size}" for size in sorted(detectable_by_size)]
    return [f"- What a cell can see: the difference a cell's test of a rule minus random (pooled over budgets) finds "
            f"with 80 % power at the level Holm's first step uses across the cells' tests, the median over the "
            f"cells' rules, is {', '.join(sizes)} target examples; smaller differences are not seen."]


def _sizes(sizes):
    return ", ".join(map(str, sorted(sizes)))


def helping_sentences(arm, tests) -> list:
    """Where ``arm`` is shown to help against scratch (and from which size on it no longer is), and where it is
    shown to hurt."""
    helping = {t["cell"].size: t["better"] for t in tests}
    stop = stops_helping(helping)
    shown = [s for s, h in helping.items() if h]
    if not shown:
        lines = [f"- {arm} is not shown to help against scratch at any size."]
    elif stop is None:
        lines = [f"- {arm} helps against scratch at {_sizes(shown)} examples, the largest size included."]
    else:
        lines = [f"- {arm} helps against scratch at {_sizes(shown)} examples, and is not shown to from {stop} on."]
    worse = [t["cell"].size for t in tests if t["worse"]]
    if worse:
        lines.append(f"- {arm} is worse than scratch at {_sizes(worse)} examples.")
    return lines


def rule_sentences(what, tests) -> list:
    """Where a rule is shown better than ``what``, and where ``what`` is shown better than rules (which)."""
    winners = sorted({(t["cell"].size, t["arm"]) for t in tests if t["better"]})
    lines = [f"- A rule beats {what} at: " + (", ".join(f"{s} ({r})" for s, r in winners) if winners else "no size")
             + "."]
    losers = {}
    for t in tests:
        if t["worse"]:
            losers.setdefault((t["cell"].size, t["against"]), []).append(t["arm"])
    if losers:
        name = what[0].upper() + what[1:]
        lines.append(f"- {name} beats rules at: " + "; ".join(
            f"{size} ({against} over {', '.join(arms)})" if what != against else f"{size} ({', '.join(arms)})"
            for (size, against), arms in sorted(losers.items())) + ".")
    return lines


def stops_helping(sizes_helping: dict) -> int | None:
    """The smallest size from which on a reference no longer helps (None: it helps at the largest size, or never)."""
    sizes = sorted(sizes_helping)
    if not any(sizes_helping.values()) or sizes_helping[sizes[-1]]:
        return None
    last = max(s for s in sizes if sizes_helping[s])
    return min(s for s in sizes if s > last)


def _members(tests, kind, arm=None, against=None) -> list:
    """The tests of one kind of claim, of one arm and against one arm where those are given."""
    return [t for t in tests if t["kind"] == kind and arm in (None, t["arm"]) and against in (None, t["against"])]


def verdicts_markdown(comparison: dict, before: dict, after: dict, names=("before", "after")) -> str:
    """The comparison as Markdown: the counts, then each moved test's two sentences."""
    margin_before, margin_after = before["equivalence_margin_pp"], after["equivalence_margin_pp"]
    moved = comparison["moved"]
    lines = [f"{comparison['both']} tests in both; {comparison['both'] - len(moved)} with the same verdict, "
             f"{len(moved)} moved."]
    for name, tests in ((names[0], comparison["only_before"]), (names[1], comparison["only_after"])):
        if tests:
            lines.append(f"Tests only in {name}: {len(tests)}.")
    lost, gained = comparison["lost_p"], comparison["gained_p"]
    if lost:
        lines.append(f"Claims of {names[0]} not made in {names[1]}: {len(lost)}, their adjusted p from "
                     f"{min(lost):.3g} to {max(lost):.3g}.")
    if gained:
        lines.append(f"Claims of {names[1]} not made in {names[0]}: {len(gained)}, their adjusted p from "
                     f"{min(gained):.3g} to {max(gained):.3g}.")
    lines.append(f"Claims with an adjusted p below {FIRM_P:g} in either: {comparison['firm'][0]}, of which "
                 f"{comparison['firm'][1]} moved.")
    if moved:
        lines += ["", f"| family | {names[0]} | {names[1]} |", "|---|---|---|"]
        lines += [f"| {b['family']} | {sentence(b, margin_before)} | {sentence(a, margin_after)} |"
                  for b, a in moved]
    return "\n".join(lines) + "\n"


def runs_markdown(groups: dict, by: str) -> str:
    """A run comparison as a Markdown table, a row per group."""
    lines = [f"| {by.replace('_', ' ')} | runs | another learning rate chosen | test error differs | largest "
             "difference (pp) |", "|---|---|---|---|---|"]
    total = [sum(v[i] for v in groups.values()) for i in range(3)] + [max((v[3] for v in groups.values()), default=0.0)]
    for g, (n, other, differ, largest) in [*groups.items(), ("all", total)]:
        name = "-" if g is None else (f"{g:g}" if isinstance(g, float) else g)
        lines.append(f"| {name} | {n} | {other} | {differ} | {largest:.2f} |")
    return "\n".join(lines) + "\n"


def shown(test: dict) -> str:
    return "better" if test["better"] else "worse" if test["worse"] else "inconclusive"


def _study_claim(test: dict) -> str:
    mean, half, _ = test["result"]
    return f"{test['arm']} - {test['against']}: {mean:+.2f} ± {half:.2f} pp, p {test['p_holm']:.3f}, {shown(test)}"


def studies_markdown(comparison: dict, names=("before", "after")) -> str:
    """A study comparison as Markdown: the study-level claims per kind and those that moved, then per cell how
    many of its own tests moved."""
    moved = comparison["moved"]
    lines = []
    for name, cells in ((names[0], comparison["only_before"]), (names[1], comparison["only_after"])):
        if cells:
            lines.append(f"Cells only in {name} ({len(cells)}): {', '.join(cells)}.")
    lines += ["Study-level claims (each cell's test, Holm-adjusted across the cells in both):", "",
              f"| kind | claims | shown in {names[0]} | shown in {names[1]} | moved | claims with p < {FIRM_P:g} in "
              "either | of which moved |", "|---|---|---|---|---|---|---|"]
    kinds = comparison["kinds"]
    total = [sum(v[i] for v in kinds.values()) for i in range(6)]
    lines += [f"| {kind} | {' | '.join(map(str, v))} |" for kind, v in [*kinds.items(), ("all", total)]]
    if moved:
        lines += ["", f"| cell | kind | {names[0]} | {names[1]} |", "|---|---|---|---|"]
        lines += [f"| {b['cell']} | {b['kind']} | {_study_claim(b)} | {_study_claim(a)} |" for b, a in moved]
    cells = comparison["cells"]
    lines += ["", "Each cell's own tests (its analysis, Holm-adjusted within the cell):", "",
              f"| cell | tests in both | moved | claims with p < {FIRM_P:g} in either | of which moved |",
              "|---|---|---|---|---|"]
    rows = [(c, r["both"], len(r["moved"]), *r["firm"]) for c, r in cells.items()]
    rows.append(("all", *(sum(r[i] for r in rows) for i in range(1, 5))))
    lines += [f"| {' | '.join(map(str, r))} |" for r in rows]
    return "\n".join(lines) + "\n"


def _pp(value, digits=2) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.{digits}f}"


def _activation_label(activation) -> str:
    return activation or "-"


def _answer_verdict(superiority: dict, equivalence: dict, margin: float) -> str:
    """One member's two tests as one verdict: beats / is worse than random (by less than the margin, where TOST
    says so too), equivalent within the margin, or inconclusive; firm or provisional where decided."""
    beats, within = superiority["verdict"] != "inconclusive", equivalence["verdict"] == "equivalent"
    if beats:
        said = superiority["verdict"] + (f", by less than ±{margin:g} pp" if within else "")
    elif within:
        said = f"equivalent to random within ±{margin:g} pp"
    else:
        return "inconclusive"
    decided = [e for e in (superiority, equivalence) if e["verdict"] != "inconclusive"]
    return f"{said} ({'firm' if all(e['firm'] for e in decided) else 'provisional'})"


def _family_members(result: dict) -> dict:
    """{(activation, size, rule): {test: entry}}: the primary family's members, each with its two tests."""
    members = {}
    for e in result["primary"]:
        members.setdefault((e["activation"], e["size"], e["rule"]), {})[e["test"]] = e
    return members


def answer_sentences(result: dict) -> list[str]:
    """The primary answer in words, a sentence per member (rule x size x activation): its pooled difference from
    random, both Holm-adjusted intervals and the verdict, then where a new cell's difference would lie."""
    margin = result["hypotheses"]["equivalence_margin_pp"]
    sentences = []
    for (activation, size, rule), tests in _family_members(result).items():
        sup, eq = tests["superiority"], tests["equivalence"]
        where = f"With {activation} at" if activation else "At"
        text = (f"{where} {size} target examples, {rule} minus random is {_pp(sup['mean'])} pp (Holm-adjusted "
                f"intervals [{_pp(sup['interval'][0])}, {_pp(sup['interval'][1])}] against 0 and "
                f"[{_pp(eq['interval'][0])}, {_pp(eq['interval'][1])}] against ±{margin:g} pp, over {sup['k']} "
                f"cells): {_answer_verdict(sup, eq, margin)}.")
        low, high = sup.get("prediction_95") or (math.nan, math.nan)
        if not (math.isnan(low) or math.isnan(high)):
            text += (f" A new cell's difference would lie in [{_pp(low)}, {_pp(high)}] (95 % prediction interval, "
                     f"tau {math.sqrt(sup['tau2']):.2f} pp; descriptive).")
        sentences.append(text)
    return sentences


def answer_table(result: dict) -> list[str]:
    """The answer as a table, a row per member: what the README quotes (tests/test_docs.py checks its rows)."""
    margin = result["hypotheses"]["equivalence_margin_pp"]
    lines = [f"| activation | size | rule | minus random (pp) | adjusted interval | adjusted interval, TOST "
             f"±{margin:g} pp | verdict | a new cell (95 % PI) | cells |", "|---|---|---|---|---|---|---|---|---|"]
    for (activation, size, rule), tests in _family_members(result).items():
        sup, eq = tests["superiority"], tests["equivalence"]
        low, high = sup.get("prediction_95") or (math.nan, math.nan)
        lines.append(f"| {_activation_label(activation)} | {size} | {rule} | {_pp(sup['mean'])} | "
                     f"[{_pp(sup['interval'][0])}, {_pp(sup['interval'][1])}] | "
                     f"[{_pp(eq['interval'][0])}, {_pp(eq['interval'][1])}] | {_answer_verdict(sup, eq, margin)} | "
                     f"[{_pp(low)}, {_pp(high)}] | {sup['k']} |")
    return lines


def _score_signal_section(signal: list) -> list[str]:
    """primary.md's score signal: each rule's rank correlation with the oracle, per activation, size and layer."""
    if not signal:
        return []
    lines = ["", "## Does a rule's score see what the oracle sees?", "",
             "Spearman's rho of each rule's node scores with the oracle's, in the same replicate, per hidden "
             "layer: the mean over the cells of each cell's mean over replicates, with the cells' range. Near 0: "
             "the score ranks nodes unlike the loss their removal causes; random's row is what chance gives.",
             "",
             "| activation | size | rule | layer | mean rho | cells' range |", "|---|---|---|---|---|---|"]
    groups = {}
    for s in signal:
        groups.setdefault((s["activation"], s["size"], s["rule"], s["layer"]), []).append(s["rho_mean"])
    for (activation, size, rule, layer), values in groups.items():
        finite = [v for v in values if not math.isnan(v)]
        if finite:
            lines.append(f"| {_activation_label(activation)} | {size} | {rule} | {layer} | "
                         f"{sum(finite) / len(finite):+.2f} | [{min(finite):+.2f}, {max(finite):+.2f}] |")
    return lines


def tuning_edges_section(edges: list) -> list[str]:
    """primary.md's count of tuned settings at an edge of their grid (primary.tuning_edges)."""
    if not edges:
        return []
    return ["", "## Tuned settings at an edge of their grid", "",
            "How often an arm's setting chosen in the tune stage was the lowest or highest value tried (per cell; a "
            "per-selection arm once per rule and keep fraction). There the grid did not bracket the best value, so "
            "that arm may be stronger than tuned here.", "",
            "| arm | setting at an edge | times | of |", "|---|---|---|---|",
            *(f"| {e['arm']} | {e['edge']} | {e['times']} | {e['of']} |" for e in edges)]


def _cut_cells_paragraph(h: dict) -> list[str]:
    """The tuned cells the confirmation left out, named (none: nothing)."""
    cut = h.get("cells_not_confirmed") or []
    if not cut:
        return []
    return [f"Tuned but not confirmed ({len(cut)} cells, cut before the first confirmation run to fit the budget; "
            f"not in any test): {', '.join(cut)}.", ""]


def _diverged_paragraph(runs: list, without: list) -> list[str]:
    """The arm runs whose cost stopped being finite, each named; counted in the analysis with their best-validation
    weights before it (--if-diverged keep-best), and the primary members they touch recomputed without those
    replicates (none: nothing)."""
    if not runs:
        return []
    table = ["", "The primary members with a diverged arm in their contrast, those replicates left out instead "
             "(descriptive, unadjusted 95 % intervals):", "",
             "| activation | size | rule | minus random (pp) | 95 % interval | replicates left out | cells |",
             "|---|---|---|---|---|---|---|",
             *(f"| {_activation_label(w['activation'])} | {w['size']} | {w['rule']} | {_pp(w['mean'])} | "
               f"[{_pp(w['interval_95'][0])}, {_pp(w['interval_95'][1])}] | {w['left_out']} | {w['k']} |"
               for w in without)] if without else []
    named = "; ".join(f"{d['cell']}, seed {d['seed']}, {d['arm']}"
                      + (f" ({d['rule']}, keep fraction {d['keep_fraction']})" if d.get("rule") else "")
                      + f", at {d['where']}" for d in runs)
    return [f"Diverged ({len(runs)} arm run{'s' if len(runs) > 1 else ''}): the cost stopped being finite, and the "
            "arm is counted with its best-validation weights before it (--if-diverged keep-best, a rule added after "
            f"the declaration; docs/sweeps.md): {named}.", *table, ""]


def primary_markdown(result: dict, finished: int, total: int) -> str:
    """primary.md: the declared family's answer first, in words and then as a table, then what is descriptive."""
    h = result["hypotheses"]
    primary = result["primary"]
    lines = ["# The primary answer", "",
             f"{finished} of {total} cells finished. The contrast: {h['contrast']}. Pooled {h['pooling']}. "
             f"{h['tests']} tests (each member a superiority test and a TOST within ±{h['equivalence_margin_pp']:g} "
             f"pp), {h['adjustment']}; alpha {h['alpha']:g}. Declared in hypotheses.json (sha256 "
             f"{result['hypotheses_sha256'][:16]}...) before the first confirmation run; settings from tuned.json "
             f"(sha256 {h['tuned_sha256'][:16]}...).", "",
             *_cut_cells_paragraph(h),
             *_diverged_paragraph(result.get("diverged") or [], result.get("without_diverged") or []),
             "Negative differences favour the rule. An interval is at the confidence of the Holm step that decided "
             "its test, so it excludes 0 (superiority) or lies within the margin (equivalence) exactly when the "
             "verdict says so. **Firm**: " + h["firm"] + "; otherwise provisional. *Detectable*: the difference "
             "(superiority) or the margin (equivalence) this test finds with 80 % power at its level.", "",
             *(f"- {sentence}" for sentence in answer_sentences(result)), "",
             "The same as a table (PI: prediction interval, descriptive):", "", *answer_table(result), "",
             "Each test on its own:", "",
             "| activation | size | rule | test | difference (pp) | adjusted interval | verdict | adjusted p | firm | "
             "detectable (pp) | cells |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in primary:
        low, high = e["interval"]
        lines.append(f"| {_activation_label(e['activation'])} | {e['size']} | {e['rule']} | {e['test']} | "
                     f"{_pp(e['mean'])} | [{_pp(low)}, {_pp(high)}] | {e['verdict']} | "
                     f"{'-' if math.isnan(e['p_holm']) else format(e['p_holm'], '.3g')} | "
                     f"{'firm' if e['firm'] else 'provisional' if e['verdict'] != 'inconclusive' else '-'} | "
                     f"{'-' if math.isnan(e['detectable_pp']) else format(e['detectable_pp'], '.2f')} | {e['k']} |")
    lines += _score_signal_section(result.get("score_signal") or [])
    lines += tuning_edges_section(result.get("tuning_edges") or [])
    lines += ["", "## Descriptive (no verdicts)", "",
              "Pooled across the cells of a size and activation as the primary family is, with unadjusted 95 % "
              "intervals: a guide to where to look next, not a claim.", "",
              "| activation | size | comparison | difference (pp) | 95 % interval | tau (pp) | cells |",
              "|---|---|---|---|---|---|---|"]
    for d in result["descriptive"]["pooled"]:
        low, high = d["interval_95"]
        tau = math.sqrt(d["tau2"]) if d["tau2"] == d["tau2"] else math.nan
        lines.append(f"| {_activation_label(d['activation'])} | {d['size']} | {d['comparison']} | {_pp(d['mean'])} | "
                     f"[{_pp(low)}, {_pp(high)}] | {'-' if math.isnan(tau) else format(tau, '.2f')} | {d['k']} |")
    lines += ["", "Each cell's own contrast (descriptive, 95 % intervals over its replicates):", "",
              "| rule | size | cell | difference (pp) | ± 95 % | replicates |", "|---|---|---|---|---|---|"]
    seen = set()
    for e in primary:
        if e["test"] != "superiority":
            continue
        for c in e["cells_descriptive"]:
            if (e["rule"], c["cell"]) in seen:
                continue
            seen.add((e["rule"], c["cell"]))
            lines.append(f"| {e['rule']} | {e['size']} | {c['cell']} | {_pp(c['mean'])} | "
                         f"{'-' if math.isnan(c['half_95']) else format(c['half_95'], '.2f')} | {c['n']} |")
    return "\n".join(lines) + "\n"


def power_markdown(hypotheses: dict) -> str:
    """`--stage plan`'s table: per primary member, what the confirmation's --replicates would let it detect, and the
    replicates TOST at the margin would need, from the tuning replicates' paired SDs."""
    margin = hypotheses["equivalence_margin_pp"]
    lines = [f"Power of the primary family ({hypotheses['tests']} tests, Holm; {hypotheses['power_note']}).", "",
             f"| activation | size | rule | cells | tuning SDs (pp) | planned SD (pp) | tau (pp) | replicates | "
             f"detectable difference (pp) | detectable margin (pp) | replicates for TOST at ±{margin:g} pp |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    def pp(value):
        return "-" if value is None or math.isnan(value) else f"{value:.2f}"

    for p in hypotheses["power"]:
        sds = ", ".join(f"{sd:.2f}" for sd in p["tuning_sd_pp"]) or "-"
        tau = "-" if p["tau2_pp2"] is None else pp(math.sqrt(p["tau2_pp2"]))
        needed = p["replicates_for_tost_at_margin"]
        lines.append(f"| {_activation_label(p['activation'])} | {p['size']} | {p['rule']} | {p['cells']} | {sds} | "
                     f"{pp(p.get('planning_sd_pp'))} | {tau} | {p['replicates']} | "
                     f"{pp(p['detectable_difference_pp'])} | "
                     f"{pp(p['detectable_equivalence_margin_pp'])} | {needed if needed else 'over 2,000'} |")
    return "\n".join(lines) + "\n"


def _metric(value, pct=False, digits=2):
    if value is None:
        return "-"
    return f"{value * 100:.{digits}f}" if pct else f"{value:.{digits}f}"


def metrics_table(metrics: dict) -> str:
    """A Markdown table, one row per arm."""
    lines = [
        "| arm | test error % | jumpstart (pp) | AUC (% x epochs) | transfer ratio | epochs to threshold | speed-up | "
        "source error % before -> after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in metrics.items():
        lines.append(
            f"| {name} | {_metric(m['test_error'], True)} | {_metric(m['jumpstart'], True)} | "
            f"{_metric(m['auc'], True, 1)} | {_metric(m['transfer_ratio'], digits=3)} | "
            f"{m['time_to_threshold'] or '-'} | {_metric(m['speedup'])} | "
            f"{_metric(m['source_retention_before'], True)} -> {_metric(m['source_retention_after'], True)} |"
        )
    return "\n".join(lines)


def selection_text(cfg, results) -> str:
    """How a run chose its nodes, as its summary says it: "keep fraction 0.25", "threshold auto -> 0.4"."""
    if results.get("selection") == "keep_fraction":
        return f"keep fraction {results['keep_fraction']:g}"
    chosen = f"{results['threshold']:g}"
    return "threshold " + (f"auto -> {chosen}" if cfg.threshold == "auto" else chosen)


def run_summary_markdown(cfg, results) -> str:
    """A run's summary.md: what it ran, the arms' table and its legend."""
    kept = ", ".join(f"{k}/{n}" for k, n in zip(results["nodes_kept"], cfg.hidden_sizes, strict=True))
    return (
        f"# {cfg.source} -> {cfg.target}\n\n"
        f"rule {cfg.rule}, {selection_text(cfg, results)}, probe {cfg.probe_size} images, nodes kept per layer "
        f"{kept}, {cfg.activation}, kept-lr-scale {cfg.kept_lr_scale}, reinit-deeper {cfg.reinit_deeper}, "
        f"seed {cfg.seed}, {cfg.n_epochs} epochs per arm"
        + (f", first {cfg.target_train_size} target training examples" if cfg.target_train_size else "")
        + f"\n\n{metrics_table(results['arms'])}\n\n"
        f"{arm_table_legend(cfg.ttt_level)}\n"
    )
