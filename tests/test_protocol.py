"""The protocol that makes answers hold beyond one subset: stratified data replicates, the learning-rate grid
chosen by validation, the literature's reference arms, and the analysis that says only what it tests."""

import csv
import itertools
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import stats

from tests.helpers import holm_by_hand, make_splits, write_pickle
from transfer_learning import analysis, cli, experiment, report, sweep
from transfer_learning.checkpoint import checkpoint_name
from transfer_learning.config import TransferConfig
from transfer_learning.data import Dataset, Split
from transfer_learning.data.subsets import class_quotas, subset_indices
from transfer_learning.train import History

#: a 200-example tiny pickle, so that mnist:2-3 has 100 training and 30 validation examples
SIZES = (200, 60, 60)
TINY = ["--source", "mnist:0-1", "--target", "mnist:2-3", "--hidden-sizes", "6,5", "--batch-size", "10",
        "--n-epochs", "3", "--probe-size", "10", "--keep-fraction", "0.5"]


@pytest.fixture(scope="module")
def pickle_path(tmp_path_factory):
    return write_pickle(tmp_path_factory.mktemp("tiny") / "tiny.pkl.gz", tuple(make_splits(sizes=SIZES)))


#: A target without pools, all that _train_arm reads of the target when _train and _test_error are faked.
NO_POOLS = SimpleNamespace(pools=None)


def run(pickle_path, out, *argv):
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out), *argv]) == 0
    return json.loads((out / "results.json").read_text())


def arrays(path):
    with np.load(path) as saved:
        return {k: saved[k] for k in saved.files}


# ---- data replicates -------------------------------------------------------------------------------------

def test_a_stratified_subset_gives_each_class_its_share_within_one():
    labels = np.repeat(np.arange(5), [181, 203, 228, 177, 211])
    for n in (7, 100, 333, 1000):
        quotas = class_quotas(labels, n)
        share = n * np.bincount(labels) / labels.size
        assert quotas.sum() == n and np.all(np.abs(quotas - share) < 1)
        task = Dataset("t", Split(np.zeros((labels.size, 1), np.float32), labels), Split(np.zeros((50, 1)),
                       np.arange(50) % 5), Split(np.zeros((5, 1)), np.arange(5)), 5, tuple(range(5)))
        chosen = subset_indices(task, n, 10, "stratified", data_seed=3)
        assert_array_equal(np.bincount(labels[chosen["train"]], minlength=5), quotas)
        assert len(set(chosen["train"].tolist())) == n
        assert np.bincount(task.valid.y[chosen["valid"]]).tolist() == [2] * 5


def test_quotas_go_by_largest_remainder_ties_to_the_lower_class():
    from transfer_learning.data.subsets import stratified_indices

    labels = np.repeat(np.arange(5), [181, 203, 228, 177, 211])
    # shares of 7: 1.267, 1.421, 1.596, 1.239, 1.477: one each, and the two left to the largest remainders
    assert class_quotas(labels, 7).tolist() == [1, 1, 2, 1, 2]
    assert class_quotas(np.repeat(np.arange(3), 10), 2).tolist() == [1, 1, 0]  # equal remainders: lower first
    assert class_quotas(np.repeat(np.arange(3), [10, 30, 60]), 10).tolist() == [1, 3, 6]  # exact shares
    assert class_quotas(np.repeat(np.arange(2), [62, 38]), 5).tolist() == [3, 2]  # 3.1 and 1.9: the larger remainder
    empty = stratified_indices(labels, 0, np.random.default_rng(0))
    assert empty.shape == (0,) and empty.dtype == np.int64


def three_class_task():
    labels = np.repeat(np.arange(3), [40, 30, 30])
    return Dataset("t", Split(np.zeros((100, 1), np.float32), labels),
                   Split(np.zeros((30, 1), np.float32), np.arange(30) % 3), Split(np.zeros((3, 1), np.float32),
                                                                                 np.arange(3)), 3, (0, 1, 2))


def test_a_data_seed_draws_the_subset_its_definition_says_in_every_version():
    """Two generators spawned from SeedSequence([data seed, 0x5EED_DA7A]): the first draws each class's quota
    without replacement and then shuffles the training positions, the second draws the validation positions
    (ascending). Recorded once: the committed tables rest on these draws."""
    task = three_class_task()
    chosen = subset_indices(task, 10, 6, "stratified", data_seed=7)
    train_rng, valid_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([7, 0x5EED_DA7A]).spawn(2))
    labels = task.train.y
    picked = np.sort(np.concatenate([train_rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
                                     for c, k in enumerate([4, 3, 3])]))
    assert chosen["train"].tolist() == train_rng.permutation(picked).tolist() == [12, 24, 60, 8, 86, 98, 56, 11, 63, 95]
    valid = np.sort(np.concatenate([valid_rng.choice(np.flatnonzero(task.valid.y == c), size=2, replace=False)
                                    for c in range(3)]))
    assert chosen["valid"].tolist() == valid.tolist() == [0, 7, 11, 20, 24, 28]
    assert chosen["train"].dtype == chosen["valid"].dtype == np.int64


def test_whole_splits_and_the_first_examples():
    task = three_class_task()
    whole = subset_indices(task, None, None, "stratified", data_seed=1)
    assert whole["train"].tolist() == list(range(100)) and whole["valid"].tolist() == list(range(30))
    assert whole["train"].dtype == np.int64
    first = subset_indices(task, 12, None, "first", data_seed=1)
    assert first["train"].tolist() == list(range(12)) and first["valid"].tolist() == list(range(30))
    first = subset_indices(task, None, 5, "first", data_seed=1)
    assert first["train"].tolist() == list(range(100)) and first["valid"].tolist() == list(range(5))
    only_valid = subset_indices(task, None, 6, "stratified", data_seed=7)
    assert only_valid["valid"].tolist() == [0, 7, 11, 20, 24, 28]  # the validation draw does not depend on training's


def test_two_data_seeds_draw_different_subsets_of_the_asked_sizes(pickle_path, tmp_path):
    runs = {seed: run(pickle_path, tmp_path / f"d{seed}", "--target-train-size", "40", "--target-valid-size", "10",
                      "--data-seed", str(seed), "--baselines", "none") for seed in (1, 2)}
    chosen = {seed: arrays(tmp_path / f"d{seed}" / "target_indices.npz") for seed in runs}
    for seed, indices in chosen.items():
        assert indices["train"].size == 40 and indices["valid"].size == 10
        assert runs[seed]["target_examples"] == {"train": 40, "valid": 10, "subset": "stratified"}
        config = json.loads((tmp_path / f"d{seed}" / "config.json").read_text())
        assert config["config"]["data_seed"] == seed
    assert set(chosen[1]["train"].tolist()) != set(chosen[2]["train"].tolist())
    assert set(chosen[1]["valid"].tolist()) != set(chosen[2]["valid"].tolist())
    # the default data seed is --seed, and the default validation size a fifth of the training size
    run(pickle_path, tmp_path / "default", "--target-train-size", "40", "--seed", "1", "--baselines", "none")
    default = arrays(tmp_path / "default" / "target_indices.npz")
    assert_array_equal(default["train"], chosen[1]["train"]) and default["valid"].size == 8


def numpy_sgd(weights, batches, lr, l2):
    """SGD on the mean NLL + l2 x sum of squared weight matrices, written from the tutorial's equations."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    n_hidden = sum(k.endswith("_W") for k in w) - 1
    for x, y in batches:
        acts = [x.astype(np.float64)]
        for i in range(n_hidden):
            acts.append(np.tanh(acts[-1] @ w[f"hidden{i}_W"] + w[f"hidden{i}_b"]))
        logits = acts[-1] @ w["output_W"] + w["output_b"]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        delta = (p - np.eye(p.shape[1])[y]) / len(y)
        grads = {"output_W": acts[-1].T @ delta + 2 * l2 * w["output_W"], "output_b": delta.sum(axis=0)}
        back = delta @ w["output_W"].T
        for i in reversed(range(n_hidden)):
            back = back * (1 - acts[i + 1] ** 2)
            grads[f"hidden{i}_W"] = acts[i].T @ back + 2 * l2 * w[f"hidden{i}_W"]
            grads[f"hidden{i}_b"] = back.sum(axis=0)
            back = back @ w[f"hidden{i}_W"].T
        w = {k: w[k] - lr * grads[k] for k in w}
    return w


def test_the_recorded_indices_are_the_examples_trained_on_in_their_order(pickle_path, tmp_path):
    out = tmp_path / "one"
    run(pickle_path, out, "--target-train-size", "20", "--target-valid-size", "10", "--n-epochs", "1",
        "--baselines", "none")
    from transfer_learning.data import load_task

    target = load_task("mnist:2-3", str(pickle_path))
    train = arrays(out / "target_indices.npz")["train"]
    start, final = arrays(out / "weights_transferred.npz"), arrays(out / "weights_final.npz")
    batches = [(target.train.x[train[i:i + 10]], target.train.y[train[i:i + 10]]) for i in (0, 10)]
    expected = numpy_sgd(start, batches, 0.1, 1e-4)
    swapped = numpy_sgd(start, batches[::-1], 0.1, 1e-4)
    other = numpy_sgd(start, [(target.train.x[i:i + 10], target.train.y[i:i + 10]) for i in (0, 10)], 0.1, 1e-4)
    for name in final:
        assert np.allclose(final[name], expected[name], atol=2e-6), name
    assert any(not np.allclose(final[k], swapped[k], atol=2e-6) for k in final)  # the order is the recorded one
    assert any(not np.allclose(final[k], other[k], atol=2e-6) for k in final)  # and not the first 20 examples


def test_subset_first_is_the_earlier_protocol(pickle_path, tmp_path):
    run(pickle_path, tmp_path / "first", "--target-train-size", "20", "--subset", "first", "--baselines", "none")
    indices = arrays(tmp_path / "first" / "target_indices.npz")
    assert_array_equal(indices["train"], np.arange(20))
    assert_array_equal(indices["valid"], np.arange(30))  # the whole validation split


def test_resume_refuses_another_data_seed(pickle_path, tmp_path):
    out = tmp_path / "r"
    run(pickle_path, out, "--target-train-size", "20", "--data-seed", "4", "--baselines", "none")
    (out / "results.json").unlink()  # as if stopped before the end: a finished run has nothing to resume
    config = json.loads((out / "config.json").read_text())
    config["config"]["data_seed"] = 5
    (out / "config.json").write_text(json.dumps(config))
    assert cli.main_transfer(["--resume", str(out)]) == 2


# ---- the learning-rate grid --------------------------------------------------------------------------------

def test_the_grid_chooses_by_validation_and_reads_the_test_split_once(monkeypatch):
    """Constructed: rate 0.3 has the best validation error, rate 0.01 would have the best test error."""
    validation = {0.01: 0.20, 0.1: 0.15, 0.3: 0.10}
    test_of = {0.01: 0.05, 0.1: 0.30, 0.3: 0.40}
    tested = []

    def fake_train(ctx, net, weights, dataset, cfg, phase, log, lr_scales=None, anchors=None, score_test=True):
        assert not score_test  # a candidate never reads the test split
        history = History(phase=phase, best_validation_error=validation[cfg.learning_rate], best_epoch=2)
        return history, {"rate": cfg.learning_rate}, None

    def fake_test(ctx, net, weights, dataset, cfg, start):
        tested.append(weights["rate"])
        return test_of[weights["rate"]]

    monkeypatch.setattr(experiment, "_train", fake_train)
    monkeypatch.setattr(experiment, "_test_error", fake_test)
    cfg = TransferConfig(lr_grid=(0.01, 0.1, 0.3))
    ctx = type("Ctx", (), {"out": open("/dev/null", "w")})()
    history, final, chosen = experiment._train_arm(ctx, cfg, None, "transfer", experiment.arm_builders.ArmStart({}),
                                                   NO_POOLS)
    assert chosen["learning_rate"] == 0.3 and final == {"rate": 0.3} and tested == [0.3]
    assert history.test_error == 0.40
    assert [c["best_validation_error"] for c in chosen["lr_search"]] == [0.20, 0.15, 0.10]


def test_a_grid_run_records_every_rate_and_its_choice(pickle_path, tmp_path):
    results = run(pickle_path, tmp_path / "g", "--target-train-size", "40", "--lr-grid", "0.03,0.3",
                  "--baselines", "scratch")
    for arm in ("transfer", "scratch"):
        m = results["arms"][arm]
        search = {c["learning_rate"]: c["best_validation_error"] for c in m["lr_search"]}
        assert set(search) == {0.03, 0.3}
        assert m["learning_rate"] == min(search, key=lambda r: (search[r], [0.03, 0.3].index(r)))
        assert m["best_validation_error"] == search[m["learning_rate"]]


# ---- the reference arms -----------------------------------------------------------------------------------

def test_linear_probe_leaves_every_hidden_weight_bit_identical(pickle_path, tmp_path):
    run(pickle_path, tmp_path / "lp", "--target-train-size", "40", "--baselines", "linear-probe")
    source = arrays(tmp_path / "lp" / "weights_source.npz")
    final = arrays(tmp_path / "lp" / "weights_final_linear-probe.npz")
    for name in ("hidden0_W", "hidden0_b", "hidden1_W", "hidden1_b"):
        assert_array_equal(final[name], source[name])
    assert np.abs(final["output_W"]).sum() > 0  # the new output layer (zeros at the start) did train


def test_l2_sp_at_strength_zero_is_finetune_bit_for_bit(pickle_path, tmp_path):
    run(pickle_path, tmp_path / "z", "--target-train-size", "40", "--baselines", "finetune,l2-sp", "--l2-sp", "0")
    finetune = arrays(tmp_path / "z" / "weights_final_finetune.npz")
    l2_sp = arrays(tmp_path / "z" / "weights_final_l2-sp.npz")
    for name in finetune:
        assert_array_equal(l2_sp[name], finetune[name])
    run(pickle_path, tmp_path / "s", "--target-train-size", "40", "--baselines", "finetune,l2-sp", "--l2-sp", "5",
        "--n-epochs", "3")
    source = arrays(tmp_path / "s" / "weights_source.npz")
    pulled = arrays(tmp_path / "s" / "weights_final_l2-sp.npz")
    free = arrays(tmp_path / "s" / "weights_final_finetune.npz")
    for name in ("hidden0_W", "hidden1_W"):  # the penalty keeps the weights nearer their source values
        assert np.abs(pulled[name] - source[name]).sum() < np.abs(free[name] - source[name]).sum()


def test_lp_ft_starts_from_the_linear_probes_best_weights(pickle_path, tmp_path, monkeypatch):
    starts = {}
    real = experiment._train

    def recording(ctx, net, weights, dataset, cfg, phase, *args, **kwargs):
        starts[phase] = {k: v.copy() for k, v in weights.items()}
        return real(ctx, net, weights, dataset, cfg, phase, *args, **kwargs)

    monkeypatch.setattr(experiment, "_train", recording)
    results = run(pickle_path, tmp_path / "lpft", "--target-train-size", "40", "--baselines", "lp-ft")
    assert set(results["arms"]) == {"transfer", "linear-probe", "lp-ft"}  # lp-ft brings its first phase
    probe = arrays(tmp_path / "lpft" / "weights_final_linear-probe.npz")
    for name, value in probe.items():
        assert_array_equal(starts["target-lp-ft"][name], value)
    assert not np.array_equal(starts["target-lp-ft"]["output_W"], starts["target-linear-probe"]["output_W"])


# ---- resume -----------------------------------------------------------------------------------------------

PROTOCOL = ["--target-train-size", "40", "--lr-grid", "0.03,0.3", "--reinit-deeper",
            "--baselines", "scratch,lp-ft,l2-sp,freeze-layers:1,self-layers:1"]


@pytest.fixture(scope="module", params=["tanh", "relu"])
def protocol_reference(pickle_path, tmp_path_factory, request):
    out = tmp_path_factory.mktemp("protocol") / "uninterrupted"
    run(pickle_path, out, *PROTOCOL, "--activation", request.param)
    return out, request.param


# 40 target examples / batch 10 = 4 minibatches an epoch, 3 epochs: 12 per candidate rate; the source phase has
# 100 / 10 x 3 = 30. Phases: source (to 30), then transfer, scratch, linear-probe, lp-ft, l2-sp and freeze-layers:1
# at two rates each (to 174), self-layers' own source (to 186) and self-layers:1 at two rates (to 210).
@pytest.mark.parametrize("stop_at", [35, pytest.param(60, marks=pytest.mark.slow), 100, 180,
                                     pytest.param(200, marks=pytest.mark.slow)])
def test_a_protocol_run_resumes_bit_for_bit(pickle_path, protocol_reference, tmp_path, stop_at):
    from tests.helpers import assert_same_results, stop_after
    from transfer_learning.train import Interrupted

    expected, activation = protocol_reference
    out = tmp_path / "run"
    argv = [*TINY, *PROTOCOL, "--activation", activation, "--dataset", str(pickle_path), "--out", str(out)]
    from tests.helpers import transfer_config

    with pytest.raises(Interrupted):
        experiment.run_transfer(transfer_config(argv), stop_requested=stop_after(stop_at))
    assert cli.main_transfer(["--resume", str(out)]) == 0
    assert_same_results(expected, out)


# ---- bad values ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--data-seed", "x"], "--data-seed: invalid int value: 'x'"),
    (["--data-seed", "-1"], "--data-seed: expected an integer >= 0, got -1"),
    (["--target-train-size", "40", "--target-valid-size", "31"],
     "--target-valid-size: 31 is more than the 30 validation examples of mnist:2-3"),
    (["--target-valid-size", "0"], "--target-valid-size: expected a positive integer or all, got '0'"),
    (["--lr-grid", ""], "--lr-grid: expected distinct learning rates > 0"),
    (["--lr-grid", "0.1,0"], "--lr-grid: expected distinct learning rates > 0"),
    (["--lr-grid", "0.1,-0.3"], "--lr-grid: expected distinct learning rates > 0"),
    (["--l2-sp", "-0.1"], "--l2-sp: expected a value >= 0, got -0.1"),
    (["--subset", "last"], "--subset: expected one of stratified, first, got 'last'"),
])
def test_bad_protocol_values_are_one_line_exit_2_and_write_nothing(pickle_path, tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    code = cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["--equivalence-margin", "-0.25"], "--equivalence-margin: expected a value > 0, got -0.25"),
    (["--data-seeds", "1,1"], "--data-seeds: expected distinct seeds"),
    (["--reinit-deeper", "maybe"], "--reinit-deeper: expected no, yes or no,yes"),
])
def test_bad_sweep_protocol_values(pickle_path, tmp_path, capsys, argv, message):
    args = [*TINY[:-2], "--dataset", str(pickle_path), "--keep-fractions", "0.5", "--seeds", "1,2", "--jobs", "1"]
    assert sweep.main([*args, "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


# ---- the analysis -------------------------------------------------------------------------------------------

def constructed_rows(n=8, data_seeds=None):
    """A results.csv's rows: rules a, b (b keeps a's nodes: a duplicate), c and random at two budgets, and
    scratch and finetune; effects built in, noise from a seeded generator."""
    rng = np.random.default_rng(7)
    rows = []
    replicates = [(s, s) for s in range(1, n + 1)] if data_seeds is None else [
        (s, d) for s in range(1, n + 1) for d in data_seeds]
    for seed, data_seed in replicates:
        base = 5 + rng.normal(0, 0.5)
        for arm, effect in (("scratch", 2.0), ("finetune", -1.0)):
            rows.append({"seed": seed, "data_seed": data_seed, "rule": None, "keep_fraction": None, "threshold": None,
                         "reinit_deeper": None, "arm": arm, "selection_digest": None,
                         "test_error_pct": round(base + effect + rng.normal(0, 0.3), 4)})
        for fraction in (0.25, 0.5):
            a = round(base - 0.8 + rng.normal(0, 0.2), 4)
            for rule, value, digest in (("a", a, f"x{seed}{fraction}"), ("b", a, f"x{seed}{fraction}"),
                                        ("c", round(base + rng.normal(0, 0.05), 4), f"c{seed}{fraction}"),
                                        ("random", round(base + rng.normal(0, 0.05), 4), f"r{seed}{fraction}")):
                rows.append({"seed": seed, "data_seed": data_seed, "rule": rule, "keep_fraction": fraction,
                             "threshold": None, "reinit_deeper": 0, "arm": "transfer", "selection_digest": digest,
                             "test_error_pct": value})
    return rows


def write_rows(rows, path, extra=()):
    columns = ["seed", "data_seed", "rule", "threshold", "keep_fraction", "reinit_deeper", "arm", "selection_digest",
               "test_error_pct", *extra]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for r in rows:
            writer.writerow(["" if r.get(c) is None else r[c] for c in columns])
    return path


def test_the_analysis_equals_an_independent_computation(tmp_path):
    result = analysis.analyze(analysis.read_csv(write_rows(constructed_rows(), tmp_path / "results.csv")))
    assert [d["rules"] for d in result["duplicates"]] == [["a", "b"]]
    assert {t["a"] for t in result["tests"]} >= {"a", "c"} and "b" not in {t["a"] for t in result["tests"]}
    rows = constructed_rows()

    def errors(arm, rule=None, fraction=None):
        return np.array([r["test_error_pct"] for r in rows if r["arm"] == arm and r["rule"] == rule
                         and r["keep_fraction"] == fraction])

    def pooled(rule):
        return (errors("transfer", rule, 0.25) + errors("transfer", rule, 0.5)) / 2

    margin = 0.25
    primary = {rule: pooled(rule) - pooled("random") for rule in ("a", "c")}
    expected_p = {rule: stats.ttest_1samp(d, 0).pvalue for rule, d in primary.items()}
    expected_tost = {rule: max(stats.ttest_1samp(d, -margin, alternative="greater").pvalue,
                               stats.ttest_1samp(d, margin, alternative="less").pvalue)
                     for rule, d in primary.items()}
    holm_p = dict(zip(expected_p, holm_by_hand(list(expected_p.values())), strict=True))
    holm_tost = dict(zip(expected_tost, holm_by_hand(list(expected_tost.values())), strict=True))
    tests = {t["a"]: t for t in result["tests"] if t["family"] == "primary"}
    assert set(tests) == {"a", "c"}
    for rule, d in primary.items():
        t = tests[rule]
        assert t["n"] == 8 and t["mean_pp"] == pytest.approx(d.mean(), abs=1e-12)
        half = stats.t.ppf(0.975, 7) * d.std(ddof=1) / math.sqrt(8)
        assert t["half_width_pp"] == pytest.approx(half, rel=1e-9)
        assert t["p"] == pytest.approx(expected_p[rule], rel=1e-9)
        assert t["p_holm"] == pytest.approx(holm_p[rule], rel=1e-9)
        assert t["p_tost"] == pytest.approx(expected_tost[rule], rel=1e-9)
        assert t["p_tost_holm"] == pytest.approx(holm_tost[rule], rel=1e-9)
    assert tests["a"]["verdict"] == "a better"  # a is built 0.8 pp better than random
    assert tests["c"]["verdict"] == "equivalent"  # c is built equal to random, with little noise
    # the reference family: every pair of references and each rule against each; Holm over all of them
    family = [t for t in result["tests"] if t["family"] == "references"]
    pairs = {(t["a"], t["b"]) for t in family}
    assert pairs == {("a", "scratch"), ("a", "finetune"), ("c", "scratch"), ("c", "finetune"),
                     ("random", "scratch"), ("random", "finetune"), ("scratch", "finetune")}
    d = errors("scratch") - errors("finetune")
    ref = next(t for t in family if (t["a"], t["b"]) == ("scratch", "finetune"))
    assert ref["p"] == pytest.approx(stats.ttest_1samp(d, 0).pvalue, rel=1e-9)
    assert [t["p_holm"] for t in family] == pytest.approx(list(holm_by_hand([t["p"] for t in family])), rel=1e-12)
    # rule against rule: the one distinct non-random pair, pooled and at each budget
    pair_tests = [t for t in result["tests"] if t["family"].startswith("rule-pairs")]
    assert {(t["a"], t["b"], str(t["budget"])) for t in pair_tests} == {
        ("a", "c", "pooled"), ("a", "c", "['keep fraction', 0.25]"), ("a", "c", "['keep fraction', 0.5]")}


def test_variance_components_of_a_crossed_design(tmp_path):
    rows = constructed_rows(n=4, data_seeds=(11, 12, 13))
    result = analysis.analyze(rows)
    test = next(t for t in result["tests"] if t["family"] == "primary" and t["a"] == "a")
    table = {}
    for seed, data_seed in itertools.product(range(1, 5), (11, 12, 13)):
        def value(rule, seed=seed, data_seed=data_seed):
            return np.mean([r["test_error_pct"] for r in rows if r["rule"] == rule and r["seed"] == seed
                            and r["data_seed"] == data_seed])
        table[seed, data_seed] = value("a") - value("random")
    x = np.array([[table[s, d] for d in (11, 12, 13)] for s in range(1, 5)])
    # the same decomposition from the sums of squares, written out
    ss_rows = 3 * ((x.mean(1) - x.mean()) ** 2).sum()
    ss_cols = 4 * ((x.mean(0) - x.mean()) ** 2).sum()
    ss_res = ((x - x.mean()) ** 2).sum() - ss_rows - ss_cols
    ms_res = ss_res / 6
    assert test["variance_components"]["residual"] == pytest.approx(ms_res, rel=1e-9)
    assert test["variance_components"]["init"] == pytest.approx(max(0, (ss_rows / 3 - ms_res) / 3), rel=1e-9, abs=1e-12)
    assert test["variance_components"]["data"] == pytest.approx(max(0, (ss_cols / 2 - ms_res) / 4), rel=1e-9, abs=1e-12)


def test_a_non_significant_difference_is_inconclusive_not_a_tie():
    rng = np.random.default_rng(1)
    rows = constructed_rows(n=3)
    for r in rows:  # noise far wider than the margin: neither a difference nor equivalence can be shown
        if r["rule"] == "c":
            r["test_error_pct"] += rng.normal(0, 3)
    result = analysis.analyze(rows)
    test = next(t for t in result["tests"] if t["family"] == "primary" and t["a"] == "c")
    assert test["verdict"] == "inconclusive"
    text = report.sentence(test, 0.25)
    assert "inconclusive" in text and "equivalent" not in text and "tie" not in text


def test_conclusions_follow_the_fixed_pattern():
    test = {"a": "utility", "b": "mean-abs", "budget": ["keep fraction", 0.25], "reinit_deeper": 0, "n": 20,
            "mean_pp": -0.25, "half_width_pp": 0.14, "p_holm": 0.033, "p_tost_holm": 0.6, "verdict": "a better"}
    assert report.sentence(test, 0.25) == ("utility beats mean-abs at keep fraction 0.25 by 0.25 ± 0.14 pp "
                                             "(paired t over 20 replicates, Holm-adjusted p = 0.033)")


def committed_analyses():
    from pathlib import Path

    return sorted((Path(__file__).parent.parent / "docs" / "results").rglob("*.analysis.json"))


def _committed_rows(path, tmp_path):
    """The committed rows an analysis.json was made from: its own <cell>.csv beside it, or (the confirmation study,
    whose cells' rows are all in one results.csv, each prefixed by its cell) that cell's rows of the folder's
    results.csv, written out as the cell's own table."""
    own = path.with_name(path.name.replace(".analysis.json", ".csv"))
    if own.is_file():
        return analysis.read_csv(own)
    from transfer_learning.cells import Cell

    cell_name = path.name.replace(".analysis.json", "")
    with open(path.parent / "results.csv", newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames[4:]
        assert reader.fieldnames[:4] == ["pair", "width", "target_size", "activation"]
        mine = [r for r in reader if Cell(*r["pair"].split(">"), tuple(int(w) for w in r["width"].split(",")),
                                          int(r["target_size"]), r["activation"] or None).name == cell_name]
    assert len(mine) > 0, cell_name
    table = tmp_path / f"{cell_name}.csv"
    with open(table, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows([r[c] for c in columns] for r in mine)
    return analysis.read_csv(table)


@pytest.mark.parametrize("path", committed_analyses(), ids=lambda p: p.name)
def test_committed_conclusions_are_generated_from_their_analysis(path, tmp_path):
    """The text cannot drift from the data: conclusions.md is what analysis.json generates, and analysis.json is
    what the committed results.csv gives."""
    saved = json.loads(path.read_text())
    conclusions = path.with_name(path.name.replace(".analysis.json", ".conclusions.md"))
    assert report.conclusions_markdown(saved) == conclusions.read_text()
    again = json.loads(json.dumps({"title": saved["title"], **analysis.analyze(
        _committed_rows(path, tmp_path), saved["equivalence_margin_pp"])}))
    assert again == saved


# ---- the sweep ----------------------------------------------------------------------------------------------

def test_a_sweep_crosses_data_seeds_and_reinit_deeper_and_equals_the_cli_runs(pickle_path, tmp_path):
    out = tmp_path / "sweep"
    args = [*TINY[:-2], "--dataset", str(pickle_path), "--target-train-size", "40", "--lr-grid", "0.03,0.3",
            "--baselines", "scratch,lp-ft,keep-layers:1", "--rules", "mean-abs,random", "--keep-fractions", "0.5",
            "--seeds", "1,2", "--data-seeds", "7,8", "--reinit-deeper", "no,yes", "--jobs", "1", "--out", str(out)]
    assert sweep.main(args) == 0
    records = sorted(p.name for p in (out / "results").iterdir())
    assert len(records) == 2 + 2 * 2 * 2 * 2  # sources, then seeds x data seeds x rules x reinit-deeper
    assert "seed2-data8-random-f0.5-deeper.json" in records
    rows = analysis.read_csv(out / "results.csv")
    assert {(r["seed"], r["data_seed"]) for r in rows} == {(1, 7), (1, 8), (2, 7), (2, 8)}
    assert {r["reinit_deeper"] for r in rows if r["arm"] == "transfer"} == {0, 1}
    # one run of the grid is the CLI run with the same settings, bit for bit
    cli_out = tmp_path / "cli"
    cli_results = run(pickle_path, cli_out, "--target-train-size", "40", "--lr-grid", "0.03,0.3", "--seed", "2",
                      "--data-seed", "8", "--rule", "random", "--reinit-deeper", "--baselines", "none")
    swept = json.loads((out / "results" / "seed2-data8-random-f0.5-deeper.json").read_text())["results"]
    assert swept["arms"]["transfer"] == cli_results["arms"]["transfer"]
    assert_array_equal(arrays(out / "runs" / "seed2-data8-random-f0.5-deeper" / "target_indices.npz")["train"],
                       arrays(cli_out / "target_indices.npz")["train"])
    # analysis.json is what results.csv gives, conclusions.md what analysis.json gives
    saved = json.loads((out / "analysis.json").read_text())
    assert json.loads(json.dumps({"title": saved["title"], **analysis.analyze(rows)})) == saved
    assert (out / "conclusions.md").read_text() == report.conclusions_markdown(saved)
    summary = (out / "summary.md").read_text()
    assert "## Hypotheses and tests (declared before the results)" in summary
    assert "crossed with data seeds 7,8" in summary and "Variance of the paired differences by source" in summary
    assert {t["family"] for t in saved["tests"]} >= {"primary", "secondary", "references", "reinit-deeper"}
    assert "| keep-layers:1 |" in summary
    assert [r["fraction_kept"] for r in rows if r["arm"] == "keep-layers:1"] == [pytest.approx(6 / 11, abs=1e-5)] * 4
    assert {r["kept_layers"] for r in rows if r["arm"] == "keep-layers:1"} == {1}  # which layers: the first


# ---- layer arms (Yosinski et al.'s AnB+, AnB and BnB) ----------------------------------------------------

def test_keep_layers_keeps_the_first_layer_and_redraws_the_second_as_a_full_reset(pickle_path, tmp_path, monkeypatch):
    import copy

    from transfer_learning.transfer import fresh_output_layer, reinitialize

    starts, generators = {}, {}
    real_train, real_generators = experiment._train, experiment.generators

    def recording(ctx, net, weights, dataset, cfg, phase, *args, **kwargs):
        starts[phase] = {k: v.copy() for k, v in weights.items()}
        return real_train(ctx, net, weights, dataset, cfg, phase, *args, **kwargs)

    def keep_a_copy(seed):
        made = real_generators(seed)
        generators["layers"] = copy.deepcopy(made.layers)
        return made

    monkeypatch.setattr(experiment, "_train", recording)
    monkeypatch.setattr(experiment, "generators", keep_a_copy)
    out = tmp_path / "layers"
    results = run(pickle_path, out, "--target-train-size", "40", "--baselines", "keep-layers:1,freeze-layers:1")
    source = arrays(out / "weights_source.npz")
    expected = fresh_output_layer(reinitialize(source, [np.ones(6, bool), np.zeros(5, bool)], generators["layers"]),
                                  2)
    for phase in ("target-keep-layers:1", "target-freeze-layers:1"):
        for name in ("hidden0_W", "hidden0_b"):
            assert_array_equal(starts[phase][name], source[name])
        for name in expected:
            assert_array_equal(starts[phase][name], expected[name])
        assert not np.array_equal(starts[phase]["hidden1_W"], source["hidden1_W"])
    frozen = arrays(out / "weights_final_freeze-layers-1.npz")
    kept = arrays(out / "weights_final_keep-layers-1.npz")
    for name in ("hidden0_W", "hidden0_b"):  # AnB leaves the kept layer bit-identical to the end; AnB+ trains it
        assert_array_equal(frozen[name], source[name])
    assert not np.array_equal(kept["hidden0_W"], source["hidden0_W"])
    assert not np.array_equal(frozen["hidden1_W"], expected["hidden1_W"])
    for arm in ("keep-layers:1", "freeze-layers:1"):
        assert results["arms"][arm]["kept_layers"] == [1]
        assert results["arms"][arm]["fraction_kept"] == pytest.approx(6 / 11)


def test_self_layers_trains_its_own_source_on_the_recorded_target_subset_only(pickle_path, tmp_path, monkeypatch):
    seen = []
    real_train = experiment._train

    def recording(ctx, net, weights, dataset, cfg, phase, *args, **kwargs):
        seen.append((phase, dataset))
        return real_train(ctx, net, weights, dataset, cfg, phase, *args, **kwargs)

    monkeypatch.setattr(experiment, "_train", recording)
    out = tmp_path / "self"
    run(pickle_path, out, "--target-train-size", "40", "--baselines", "self-layers:1")
    from transfer_learning.data import load_task

    target = load_task("mnist:2-3", str(pickle_path))
    indices = arrays(out / "target_indices.npz")
    own = next(dataset for phase, dataset in seen if phase == "self-source")
    assert_array_equal(own.train.x, target.train.x[indices["train"]])
    assert_array_equal(own.valid.y, target.valid.y[indices["valid"]])
    assert [phase for phase, _ in seen].index("self-source") < [phase for phase, _ in seen].index(
        "target-self-layers:1")
    assert own.name == "mnist:2-3" and all(d.name != "mnist:0-1" for p, d in seen if p != "source")
    mine = arrays(out / "weights_self_source.npz")
    final = arrays(out / "weights_final_self-layers-1.npz")
    for name in ("hidden0_W", "hidden0_b"):  # BnB: the kept layer of its own network, frozen
        assert_array_equal(final[name], mine[name])


@pytest.mark.parametrize("arm", ["keep-layers:0", "freeze-layers:2", "self-layers:x", "keep-layers"])
def test_a_bad_layer_count_is_one_line(pickle_path, tmp_path, capsys, arm):
    out = tmp_path / "never"
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out), "--baselines", arm]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "from 1 to the number of hidden layers minus one (1 here" in err
    assert not out.exists()


def test_layer_arms_are_compared_with_the_rules_at_their_fraction(tmp_path):
    rows = constructed_rows()
    rng = np.random.default_rng(3)
    for seed in range(1, 9):
        rows.append({"seed": seed, "data_seed": seed, "rule": None, "keep_fraction": None, "threshold": None,
                     "reinit_deeper": None, "arm": "keep-layers:1", "selection_digest": None, "fraction_kept": 0.5,
                     "test_error_pct": round(5 + rng.normal(0, 0.5), 4)})
    result = analysis.analyze(analysis.read_csv(write_rows(rows, tmp_path / "results.csv", extra=["fraction_kept"])))
    family = [t for t in result["tests"] if t["family"] == "layers"]
    assert {(t["a"], t["b"], str(t["budget"])) for t in family} == {
        ("a", "keep-layers:1", "['keep fraction', 0.5]"), ("c", "keep-layers:1", "['keep fraction', 0.5]"),
        ("random", "keep-layers:1", "['keep fraction', 0.5]"), ("keep-layers:1", "finetune", "None"),
        ("keep-layers:1", "scratch", "None")}
    layer = {r["seed"]: r["test_error_pct"] for r in rows if r["arm"] == "keep-layers:1"}
    rule_a = {r["seed"]: r["test_error_pct"] for r in rows if r["rule"] == "a" and r["keep_fraction"] == 0.5}
    d = np.array([rule_a[s] - layer[s] for s in range(1, 9)])
    test = next(t for t in family if t["a"] == "a")
    assert test["p"] == pytest.approx(stats.ttest_1samp(d, 0).pvalue, rel=1e-9)
    assert [t["p_holm"] for t in family] == pytest.approx(list(holm_by_hand([t["p"] for t in family])), rel=1e-12)


def test_layer_arm_files_have_no_colon_in_their_names(pickle_path, tmp_path):
    out = tmp_path / "names"
    run(pickle_path, out, "--target-train-size", "40", "--baselines", "keep-layers:1", "--lr-grid", "0.1")
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if ":" in n]
    assert {"weights_final_keep-layers-1.npz", "out_keep-layers-1@lr0.1.txt"} <= set(names)
    # its checkpoint, dropped once the run finished, has the same safe name
    assert checkpoint_name("target-keep-layers:1@lr0.1") == "checkpoint_target-keep-layers-1@lr0.1.npz"


def test_a_subset_keeps_the_indexed_examples_and_joins_its_fingerprint():
    """take_subset: the indexed training and validation rows in the indices' order, the test split whole, and the
    description with a sha256 of the indices added to the dataset's fingerprint (so a resume with another subset is
    refused)."""
    import hashlib

    from transfer_learning.data import Dataset, Split
    from transfer_learning.data.subsets import take_subset

    rng = np.random.default_rng(0)
    splits = [Split(rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, n).astype(np.int32))
              for n in (30, 12, 9)]
    task = Dataset("t", *splits, n_classes=3, classes=(0, 1, 2), fingerprint={"file": "x"})
    indices = {"train": np.array([7, 2, 29, 11]), "valid": np.array([5, 0])}
    description = {"kind": "stratified", "train": 4, "valid": 2, "data_seed": 3}
    subset = take_subset(task, indices, description)
    for got, full, index in ((subset.train, splits[0], indices["train"]), (subset.valid, splits[1], indices["valid"])):
        assert got.x.tobytes() == full.x[index].tobytes() and got.y.tolist() == full.y[index].tolist()
    assert subset.test is splits[2] and subset.indices is indices and (subset.n_classes, subset.name) == (3, "t")
    digest = hashlib.sha256(indices["train"].tobytes() + b"/" + indices["valid"].tobytes()).hexdigest()
    assert subset.fingerprint == {"file": "x", "subset": {**description, "sha256_of_indices": digest}}
    assert task.fingerprint == {"file": "x"}  # the full task is left as it was
    other = take_subset(task, {"train": indices["train"], "valid": np.array([0, 5])}, description)
    assert other.fingerprint["subset"]["sha256_of_indices"] != digest
