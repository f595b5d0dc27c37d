"""The primary analysis: the contrast per replicate, the random-effects pooling across cells (by hand here), Holm
with intervals that never disagree with their verdicts, and the detectable differences under the adjustment used."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from transfer_learning import primary
from transfer_learning.cells import Cell
from transfer_learning.config import StudyConfig, SweepConfig
from transfer_learning.stats import detectable, holm, holm_levels, random_effects, t_interval, t_tests


def dersimonian_laird_hartung_knapp(y, v):
    """The textbook formulas, written out (Borenstein et al. 2009, ch. 12; Hartung and Knapp 2001)."""
    k = len(y)
    w = [1 / vi for vi in v]
    fixed = sum(wi * yi for wi, yi in zip(w, y, strict=True)) / sum(w)
    q = sum(wi * (yi - fixed) ** 2 for wi, yi in zip(w, y, strict=True))
    c = sum(w) - sum(wi * wi for wi in w) / sum(w)
    tau2 = max(0.0, (q - (k - 1)) / c)
    ws = [1 / (vi + tau2) for vi in v]
    mean = sum(wi * yi for wi, yi in zip(ws, y, strict=True)) / sum(ws)
    se = math.sqrt(sum(wi * (yi - mean) ** 2 for wi, yi in zip(ws, y, strict=True)) / ((k - 1) * sum(ws)))
    return mean, se, tau2


@pytest.mark.parametrize("seed", range(5))
def test_random_effects_equal_the_textbook_formulas(seed):
    rng = np.random.default_rng(seed)
    y, v = list(rng.normal(0, 1, 6)), list(rng.uniform(0.05, 0.5, 6))
    got = random_effects(y, v)
    mean, se, tau2 = dersimonian_laird_hartung_knapp(y, v)
    assert (got["mean"], got["se"], got["tau2"], got["dof"], got["k"]) == pytest.approx((mean, se, tau2, 5, 6))


def test_t_tests_equal_scipys_one_sample_tests_on_the_same_numbers():
    values = np.array([0.3, -0.1, 0.5, 0.2, 0.4, 0.1])
    se = values.std(ddof=1) / math.sqrt(values.size)
    got = t_tests(values.mean(), se, values.size - 1, margin=0.25)
    assert got["p"] == pytest.approx(scipy_stats.ttest_1samp(values, 0).pvalue)
    lower = scipy_stats.ttest_1samp(values, -0.25, alternative="greater").pvalue
    upper = scipy_stats.ttest_1samp(values, 0.25, alternative="less").pvalue
    assert got["p_tost"] == pytest.approx(max(lower, upper))


@pytest.mark.parametrize("seed", range(40))
def test_an_adjusted_interval_excludes_zero_exactly_when_holm_rejects(seed):
    """The audit found 81 intervals that excluded 0 beside an inconclusive verdict; at the Holm step's level they
    cannot."""
    rng = np.random.default_rng(seed)
    means, ses = rng.normal(0, 1, 12), rng.uniform(0.2, 0.6, 12)
    dofs = rng.integers(3, 20, 12)
    ps = [t_tests(m, s, d, 0.25)["p"] for m, s, d in zip(means, ses, dofs, strict=True)]
    for m, s, d, p_holm, level in zip(means, ses, dofs, holm(ps), holm_levels(ps, 0.05), strict=True):
        low, high = t_interval(m, s, d, level)
        assert (p_holm < 0.05) == (low > 0 or high < 0)


@pytest.mark.parametrize("seed", range(20))
def test_an_adjusted_tost_interval_lies_within_the_margin_exactly_when_holm_shows_equivalence(seed):
    rng = np.random.default_rng(100 + seed)
    means, ses = rng.normal(0, 0.2, 10), rng.uniform(0.02, 0.2, 10)
    ps = [t_tests(m, s, 8, 0.25)["p_tost"] for m, s in zip(means, ses, strict=True)]
    for m, s, p_holm, level in zip(means, ses, holm(ps), holm_levels(ps, 0.05), strict=True):
        low, high = t_interval(m, s, 8, 2 * level)
        assert (p_holm < 0.05) == (-0.25 < low and high < 0.25)


def test_what_a_test_can_see_is_computed_at_the_adjusted_level():
    """'What a cell can see' quoted unadjusted half-widths although a claim needed Holm over 96 tests."""
    unadjusted, adjusted = detectable(0.3, 9, 0.05), detectable(0.3, 9, 0.05 / 96)
    assert adjusted > 1.5 * unadjusted
    # the power is what it says: a true difference of `adjusted` is found 80 % of the time at alpha / 96
    t = scipy_stats.t(9)
    assert t.sf(t.ppf(1 - 0.05 / 96 / 2) - adjusted / 0.3) == pytest.approx(0.8, abs=0.01)


def rows(cell_effect, rng, seeds=range(2001, 2011), fractions=(0.25, 0.5), rule="utility"):
    out = []
    for seed in seeds:
        base = rng.normal(10, 1)
        for f in fractions:
            out.append({"arm": "transfer", "rule": "random", "keep_fraction": f, "reinit_deeper": 0, "seed": seed,
                        "test_error_pct": base + rng.normal(0, 0.05)})
            out.append({"arm": "transfer", "rule": rule, "keep_fraction": f, "reinit_deeper": 0, "seed": seed,
                        "test_error_pct": base + cell_effect + rng.normal(0, 0.05)})
    return out


def test_the_contrast_pairs_by_replicate_and_averages_the_keep_fractions():
    data = [{"arm": "transfer", "rule": r, "keep_fraction": f, "reinit_deeper": 0, "seed": s, "test_error_pct": e}
            for r, f, s, e in [("utility", 0.25, 1, 10.0), ("utility", 0.5, 1, 12.0), ("random", 0.25, 1, 11.0),
                               ("random", 0.5, 1, 10.0), ("utility", 0.25, 2, 9.0), ("random", 0.25, 2, 9.0)]]
    # seed 2 lacks its 0.5 runs, so it is left out rather than half-counted
    assert primary.contrast(data, "utility", (0.25, 0.5)) == {1: ((10 - 11) + (12 - 10)) / 2}


def small_design(tmp_path):
    study = StudyConfig(pairs=(("mnist:0-4", "mnist:5-9"), ("mnist", "fashion-mnist")), widths=((10,), (20,)),
                        sizes=(100, 1000), replicates=10, activations=("tanh",), stage="confirm",
                        primary_sizes=(1000,), primary_rules="utility", out=str(tmp_path))
    sweep = SweepConfig(rules="utility,random", keep_fractions=(0.25, 0.5))
    return study, sweep


def tuned_for(study, grid, effect):
    rng = np.random.default_rng(7)
    arms = {}
    for f in (0.25, 0.5):
        arms[f"transfer/random@{f:g}"] = {"chosen_per_replicate_pct": {str(s): 10.0 for s in (1001, 1002, 1003)}}
        arms[f"transfer/utility@{f:g}"] = {"chosen_per_replicate_pct": {
            str(s): 10.0 + effect + rng.normal(0, 0.1) for s in (1001, 1002, 1003)}}
    return {"cells": {c.name: {"arms": arms} for c in grid}}


@pytest.mark.parametrize("effect, expected", [(-1.0, "beats random"), (1.0, "worse than random"),
                                              (0.0, "equivalent")])
def test_the_primary_family_gives_the_verdict_its_interval_shows(tmp_path, effect, expected):
    from transfer_learning.cells import cells

    study, sweep = small_design(tmp_path)
    grid = cells(study)
    tuned = tuned_for(study, grid, effect)
    declared = primary.hypotheses(study, sweep, tuned, "0" * 64)
    assert declared["tests"] == 2 and [m["test"] for m in declared["family"]] == ["superiority", "equivalence"]
    rng = np.random.default_rng(1)
    cell_rows = {c: rows(effect + rng.normal(0, 0.02), rng) for c in grid}
    result = primary.analyze(study, sweep, tuned, declared, cell_rows)
    superiority, equivalence = result["primary"]
    assert superiority["k"] == 4  # the four cells of size 1000: 2 pairs x 2 widths
    verdicts = {superiority["verdict"], equivalence["verdict"]} - {"inconclusive"}
    assert verdicts == {expected}
    low, high = superiority["interval"]
    assert (low > 0 or high < 0) == (superiority["verdict"] != "inconclusive")
    low, high = equivalence["interval"]
    assert (-0.25 < low and high < 0.25) == (equivalence["verdict"] == "equivalent")
    assert all(e["firm"] for e in result["primary"] if e["verdict"] != "inconclusive")
    sizes = {d["size"] for d in result["descriptive"]["pooled"]}
    assert sizes == {100, 1000}  # the other size is pooled too, but only as a description


def test_a_claim_the_tuning_replicates_contradict_is_provisional(tmp_path):
    from transfer_learning.cells import cells

    study, sweep = small_design(tmp_path)
    grid = cells(study)
    tuned = tuned_for(study, grid, +1.0)  # the tuning replicates saw the rule worse
    declared = primary.hypotheses(study, sweep, tuned, "0" * 64)
    rng = np.random.default_rng(2)
    result = primary.analyze(study, sweep, tuned, declared, {c: rows(-1.0, rng) for c in grid})
    superiority = result["primary"][0]
    assert superiority["verdict"] == "beats random" and superiority["p_holm"] < 0.01 and not superiority["firm"]


def test_hypotheses_state_the_replicates_tost_needs(tmp_path):
    from transfer_learning.cells import cells

    study, sweep = small_design(tmp_path)
    declared = primary.hypotheses(study, sweep, tuned_for(study, cells(study), 0.0), "0" * 64)
    power = declared["power"][0]
    assert power["cells"] == 4 and power["replicates"] == 10
    n = power["replicates_for_tost_at_margin"]
    assert n is not None
    sds = power["tuning_sd_pp"]
    tau2 = power["tau2_pp2"]
    assert power["planning_sd_pp"] == pytest.approx(math.sqrt(sum(sd * sd for sd in sds) / len(sds)))
    sds = [power["planning_sd_pp"]] * len(sds)  # every cell planned with the cells' pooled SD

    def margin_at(n):
        se = math.sqrt(1 / sum(1 / (sd * sd / n + tau2) for sd in sds))
        t = scipy_stats.t(3)
        return (t.ppf(1 - 0.05 / 2) + t.ppf(0.9)) * se

    assert margin_at(n) <= 0.25 < (margin_at(n - 1) if n > 2 else math.inf)


def test_one_cell_is_its_own_paired_t_test():
    diffs = {1: 0.5, 2: 0.1, 3: 0.3, 4: 0.2}
    model = primary.pooled([diffs])
    values = np.array(list(diffs.values()))
    assert (model["k"], model["dof"], model["mean"]) == (1, 3, pytest.approx(values.mean()))
    assert model["se"] == pytest.approx(values.std(ddof=1) / 2)
    assert Cell("a", "b", (1,), 10).name == "a-b_1_n10"


def _member(rule, verdicts, firm=(True, True), mean=-0.1, tau2=0.04, k=6):
    sup, eq = verdicts
    base = {"activation": "relu", "size": 3000, "rule": rule, "mean": mean, "se": 0.05, "tau2": tau2, "k": k,
            "prediction_95": list(primary.prediction_interval(mean, 0.05, tau2, k))}
    return [{**base, "test": "superiority", "verdict": sup, "firm": firm[0], "interval": [mean - 0.2, mean + 0.2]},
            {**base, "test": "equivalence", "verdict": eq, "firm": firm[1], "interval": [mean - 0.1, mean + 0.1]}]


def test_the_answer_in_words_says_each_members_two_tests_as_one_verdict():
    from transfer_learning.report import answer_sentences

    result = {"hypotheses": {"equivalence_margin_pp": 0.25}, "primary": [
        *_member("mean-abs", ("beats random", "inconclusive")),
        *_member("utility", ("beats random", "equivalent"), firm=(True, False)),
        *_member("oracle", ("inconclusive", "equivalent")),
        *_member("taylor", ("inconclusive", "inconclusive"), k=2),
        *_member("centered", ("worse than random", "inconclusive"), firm=(False, False))]}
    sentences = answer_sentences(result)
    half = scipy_stats.t.ppf(0.975, 4) * math.sqrt(0.04 + 0.05 ** 2)
    assert sentences[0] == (
        "With relu at 3000 target examples, mean-abs minus random is -0.10 pp (Holm-adjusted intervals [-0.30, +0.10] "
        "against 0 and [-0.20, +0.00] against ±0.25 pp, over 6 cells): beats random (firm). A new cell's difference "
        f"would lie in [{-0.1 - half:+.2f}, {-0.1 + half:+.2f}] (95 % prediction interval, tau 0.20 pp; descriptive).")
    verdicts = [s.split("cells): ")[1].split(".")[0] for s in sentences]
    assert verdicts == ["beats random (firm)", "beats random, by less than ±0", "equivalent to random within ±0",
                        "inconclusive", "worse than random (provisional)"]
    assert "by less than ±0.25 pp (provisional)." in sentences[1]
    assert "prediction" not in sentences[3]  # two cells cannot say how a third would vary


def test_the_answer_table_has_a_row_per_member_with_the_sentences_numbers():
    from transfer_learning.report import answer_sentences, answer_table

    result = {"hypotheses": {"equivalence_margin_pp": 0.25}, "primary": [
        *_member("mean-abs", ("beats random", "inconclusive")),
        *_member("taylor", ("inconclusive", "inconclusive"), k=2)]}
    lines = answer_table(result)
    assert len(lines) == 2 + 2 and "TOST ±0.25 pp" in lines[0]
    half = scipy_stats.t.ppf(0.975, 4) * math.sqrt(0.04 + 0.05 ** 2)
    assert lines[2] == (f"| relu | 3000 | mean-abs | -0.10 | [-0.30, +0.10] | [-0.20, +0.00] | beats random (firm) | "
                        f"[{-0.1 - half:+.2f}, {-0.1 + half:+.2f}] | 6 |")
    assert lines[3].endswith("| inconclusive | [-, -] | 2 |")
    for line, sentence in zip(lines[2:], answer_sentences(result), strict=True):  # the same numbers as in words
        mean, interval = line.split(" | ")[3:5]
        assert f"is {mean} pp (Holm-adjusted intervals {interval} against 0" in sentence


def test_tuning_edges_count_each_arms_settings_at_a_grid_edge_over_the_cells():
    from transfer_learning.report import primary_markdown

    tuned = {"cells": {
        "a": {"arms": {"l2-sp": {"at_edge": ["l2_sp at the bottom (0.001)"]},
                       "transfer/utility@0.25": {"at_edge": ["learning_rate at the bottom (0.01)"]},
                       "transfer/random@0.5": {"at_edge": []}}},
        "b": {"arms": {"l2-sp": {"at_edge": ["l2_sp at the bottom (0.001)", "learning_rate at the top (1)"]},
                       "scratch": {}}}}}
    edges = primary.tuning_edges(tuned)
    assert sorted((e["arm"], e["edge"], e["times"], e["of"]) for e in edges) == [
        ("l2-sp", "l2_sp at the bottom (0.001)", 2, 2), ("l2-sp", "learning_rate at the top (1)", 1, 2),
        ("transfer", "learning_rate at the bottom (0.01)", 1, 2)]
    result = {"hypotheses": {"contrast": "c", "pooling": "p", "tests": 0, "equivalence_margin_pp": 0.25,
                             "adjustment": "a", "alpha": 0.05, "tuned_sha256": "0" * 64, "firm": "f"},
              "hypotheses_sha256": "0" * 64, "primary": [], "descriptive": {"pooled": []}, "tuning_edges": edges}
    assert "| l2-sp | l2_sp at the bottom (0.001) | 2 | 2 |" in primary_markdown(result, 0, 0)


def test_primary_md_names_every_diverged_arm_run_and_says_how_it_was_counted():
    from transfer_learning.report import primary_markdown

    result = {"hypotheses": {"contrast": "c", "pooling": "p", "tests": 0, "equivalence_margin_pp": 0.25,
                             "adjustment": "a", "alpha": 0.05, "tuned_sha256": "0" * 64, "firm": "f"},
              "hypotheses_sha256": "0" * 64, "primary": [], "descriptive": {"pooled": []},
              "diverged": [{"cell": "c1", "seed": 2003, "arm": "finetune", "rule": None, "keep_fraction": None,
                            "where": "epoch 20, minibatch 13, cost nan"},
                           {"cell": "c2", "seed": 2007, "arm": "transfer", "rule": "utility", "keep_fraction": "0.5",
                            "where": "epoch 3, minibatch 1, cost inf"}]}
    text = primary_markdown(result, 2, 2)
    assert ("Diverged (2 arm runs): the cost stopped being finite, and the arm is counted with its best-validation "
            "weights before it (--if-diverged keep-best, a rule added after the declaration; docs/sweeps.md): c1, "
            "seed 2003, finetune, at epoch 20, minibatch 13, cost nan; c2, seed 2007, transfer (utility, keep fraction "
            "0.5), at epoch 3, minibatch 1, cost inf.") in text
    assert "Diverged" not in primary_markdown({**result, "diverged": []}, 2, 2)


def test_without_diverged_leaves_out_only_the_replicates_whose_contrast_had_a_diverged_arm(tmp_path):
    """Seed 3's random arm diverged in one cell: utility's member is pooled again without seed 3 in that cell (and
    only there); a diverged finetune touches no rule's contrast, and a member with no divergence is not listed."""
    from transfer_learning.cells import cells

    study, sweep = small_design(tmp_path)
    grid = [c for c in cells(study) if c.size == 1000]
    rng = np.random.default_rng(3)
    cell_rows = {}
    for k, c in enumerate(grid):
        rows = []
        for seed in range(1, 7):
            for rule in ("utility", "random"):
                for f in (0.25, 0.5):
                    rows.append({"arm": "transfer", "rule": rule, "keep_fraction": f, "reinit_deeper": 0, "seed": seed,
                                 "test_error_pct": 10 + rng.normal(0, 0.3) + (seed == 3 and k == 0 and rule == "random")
                                 * 40})
            rows.append({"arm": "finetune", "seed": seed, "test_error_pct": 9.0, "diverged": "epoch 1" if seed == 5
                         else None})
        cell_rows[c] = rows
    diverged = next(r for r in cell_rows[grid[0]] if r["seed"] == 3 and r.get("rule") == "random")
    diverged["diverged"] = "epoch 4, minibatch 2, cost nan"
    listed = primary.without_diverged(study, sweep, grid, cell_rows)
    assert [(w["rule"], w["size"], w["left_out"], w["k"]) for w in listed] == [("utility", 1000, 1, len(grid))]
    by_hand = []
    for k, c in enumerate(grid):
        def error(seed, rule, f, rows=cell_rows[c]):
            return next(r["test_error_pct"] for r in rows
                        if r["arm"] == "transfer" and (r["seed"], r["rule"], r["keep_fraction"]) == (seed, rule, f))
        by_hand.append({s: ((error(s, "utility", 0.25) - error(s, "random", 0.25))
                            + (error(s, "utility", 0.5) - error(s, "random", 0.5))) / 2
                        for s in range(1, 7) if not (k == 0 and s == 3)})
    assert listed[0]["mean"] == pytest.approx(primary.pooled(by_hand)["mean"], abs=1e-12)
    low, high = listed[0]["interval_95"]
    assert low < listed[0]["mean"] < high
    for rows in cell_rows.values():
        for r in rows:
            r.pop("diverged", None)
    assert primary.without_diverged(study, sweep, grid, cell_rows) == []
