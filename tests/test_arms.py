"""The author's plans and the control arms: per-node learning rates, deeper re-init, baselines, metrics."""

import json

import numpy as np
import pytensor.tensor as pt
import pytest
from numpy.testing import assert_array_equal

from tests.helpers import TINY_KEEPING_SOME as TINY
from tests.helpers import fake_history, make_splits, make_weights, numpy_mlp, write_pickle
from transfer_learning import cli
from transfer_learning.metrics import area_under_curve, arm_metrics, epoch_curve, time_to_threshold
from transfer_learning.model import MLP
from transfer_learning.train import Check, History, compile_functions
from transfer_learning.transfer import random_masks, reinitialize
from transfer_learning.weights import glorot_bound


def test_reinit_deeper_redraws_the_rows_leaving_reset_nodes():
    weights = make_weights(np.random.default_rng(0))
    masks = [np.array([1, 0, 1, 0, 1, 1, 0, 1], bool), np.ones(6, bool)]
    plain = reinitialize(weights, masks, np.random.default_rng(1))
    deeper = reinitialize(weights, masks, np.random.default_rng(1), reinit_deeper=True)
    reset = ~masks[0]
    assert_array_equal(plain["hidden1_W"], weights["hidden1_W"])  # without the flag, layer 2 is untouched
    assert_array_equal(deeper["hidden1_W"][~reset], weights["hidden1_W"][~reset])
    assert not np.any(deeper["hidden1_W"][reset] == weights["hidden1_W"][reset])
    assert np.abs(deeper["hidden1_W"][reset]).max() <= glorot_bound(8, 6)
    assert_array_equal(deeper["hidden0_W"], plain["hidden0_W"])  # layer-1 draws come first, unchanged


def test_random_masks_reset_as_many_nodes_elsewhere():
    masks = [np.arange(10) < 7, np.arange(6) < 1]
    chosen = random_masks(masks, np.random.default_rng(3))
    assert [int((~m).sum()) for m in chosen] == [3, 5]
    again = random_masks(masks, np.random.default_rng(3))
    for a, b in zip(chosen, again, strict=True):
        assert_array_equal(a, b)


@pytest.mark.parametrize("scale", [0.0, 0.5])
def test_per_node_learning_rate_is_inside_the_compiled_update(tiny_data, scale):
    x, y = pt.matrix("x"), pt.ivector("y")
    model = MLP(np.random.default_rng(0), x, tiny_data.n_in, (8,), tiny_data.n_classes)
    factor = np.where(np.arange(8) < 3, scale, 1.0)
    compiled = compile_functions(model, x, y, tiny_data, batch_size=10, learning_rate=0.1,
                                 lr_scales={"hidden0_W": factor, "hidden0_b": factor})
    before = model.get_weights()
    _, grads = numpy_mlp({k: v.astype(np.float64) for k, v in before.items()},
                         tiny_data.train.x[:10].astype(np.float64), tiny_data.train.y[:10], 0.0, 0.0)
    compiled.train_model(0)
    after = model.get_weights()
    np.testing.assert_allclose(after["hidden0_W"], before["hidden0_W"] - 0.1 * factor * grads["hidden0_W"],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(after["output_W"], before["output_W"] - 0.1 * grads["output_W"], rtol=1e-5, atol=1e-6)
    if scale == 0:
        assert_array_equal(after["hidden0_W"][:, :3], before["hidden0_W"][:, :3])
        assert_array_equal(after["hidden0_b"][:3], before["hidden0_b"][:3])


def test_metrics_by_hand():
    assert epoch_curve(History(phase="x", checks=[Check(1, 2, 1, 0.5, 0), Check(1, 4, 3, 0.4, 0),
                                                   Check(2, 4, 7, 0.3, 0)])) == [0.4, 0.3]
    assert area_under_curve([0.4, 0.3], 4, 0.3) == pytest.approx(1.3)  # stopped early: best held
    assert time_to_threshold([0.5, 0.3, 0.2], 0.3) == 2 and time_to_threshold([0.5], 0.1) is None
    weights = make_weights(np.random.default_rng(0), sizes=(16, 8, 6), n_out=4)
    split = type("S", (), {"x": np.random.default_rng(1).uniform(size=(5, 16)).astype(np.float32),
                           "y": np.zeros(5, np.int32)})()
    arms = {"transfer": (fake_history([0.2, 0.1, 0.1]), weights, weights),
            "scratch": (fake_history([0.4, 0.2, 0.1]), weights, weights)}
    m = arm_metrics(arms, 3, 1.05, weights, split)
    assert m["transfer"]["jumpstart"] == pytest.approx(-0.2)
    assert m["transfer"]["transfer_ratio"] == pytest.approx((0.7 - 0.4) / 0.7)
    assert m["transfer"]["time_to_threshold"] == 2 and m["scratch"]["time_to_threshold"] == 3
    assert m["transfer"]["speedup"] == pytest.approx(1.5)
    assert m["scratch"]["jumpstart"] == 0 and m["scratch"]["transfer_ratio"] == 0


def test_the_metrics_edges_and_source_retention_by_hand():
    # the budget cuts a longer curve, and a curve of exactly the budget is not padded
    assert area_under_curve([0.4, 0.3, 0.2], 2, 0.2) == pytest.approx(0.7)
    assert area_under_curve([0.4, 0.3], 2, 0.1) == pytest.approx(0.7)
    assert time_to_threshold([], 0.5) is None
    rng = np.random.default_rng(3)
    initial = make_weights(rng, sizes=(16, 8, 6), n_out=4)
    final = make_weights(rng, sizes=(16, 8, 6), n_out=4)
    head = make_weights(rng, sizes=(16, 8, 6), n_out=4)
    x = rng.uniform(size=(40, 16)).astype(np.float32)
    y = rng.integers(0, 4, 40).astype(np.int32)
    split = type("S", (), {"x": x, "y": y})()

    def error_by_hand(hidden_from, activation):
        h = x.astype(np.float64)
        for i in range(2):
            z = h @ hidden_from[f"hidden{i}_W"] + hidden_from[f"hidden{i}_b"]
            h = np.tanh(z) if activation == "tanh" else np.maximum(z, 0)
        return np.mean((h @ head["output_W"] + head["output_b"]).argmax(axis=1) != y)

    for activation in ("tanh", "relu"):
        arms = {"transfer": (fake_history([0.3, 0.25]), initial, final),
                "scratch": (fake_history([0.5, 0.45, 0.5], best=0.45), initial, final)}
        m = arm_metrics(arms, 3, 1.0, head, split, activation=activation)
        row = m["transfer"]
        assert row["source_retention_before"] == pytest.approx(error_by_hand(initial, activation))
        assert row["source_retention_after"] == pytest.approx(error_by_hand(final, activation))
        assert row["source_retention_before"] != row["source_retention_after"]
        assert row["auc"] == pytest.approx(0.3 + 0.25 + 0.25)  # stopped after 2 of 3 epochs: its best held
        assert row["threshold_level"] == pytest.approx(0.45)
        assert row["time_to_threshold"] == 1 and row["speedup"] == pytest.approx(2.0)
        assert (row["validation_curve"], row["test_error"], row["best_validation_error"]) == ([0.3, 0.25], 0.1, 0.25)
        assert (row["epochs_run"], row["best_epoch"]) == (2, arms["transfer"][0].best_epoch)
    # an arm that never reaches scratch's best has no time to threshold and no speed-up; without scratch
    # (or with an empty curve) the comparisons are None
    arms = {"transfer": (fake_history([0.6, 0.55]), initial, final), "scratch": (fake_history([0.5]), initial, final)}
    m = arm_metrics(arms, 2, 1.0, head, split)
    assert m["transfer"]["time_to_threshold"] is None and m["transfer"]["speedup"] is None
    lone = arm_metrics({"transfer": (fake_history([0.6]), initial, final)}, 2, 1.0, head, split)["transfer"]
    assert (lone["jumpstart"], lone["transfer_ratio"], lone["time_to_threshold"], lone["speedup"]) == (None,) * 4
    assert "threshold_level" not in lone
    empty = History(phase="x")
    empty.best_validation_error = 0.5
    silent = arm_metrics({"transfer": (fake_history([0.6]), initial, final), "scratch": (empty, initial, final)},
                         2, 1.0, head, split)["transfer"]
    assert silent["jumpstart"] is None  # scratch recorded no epoch: nothing to compare with
    perfect = arm_metrics({"transfer": (fake_history([0.1]), initial, final),
                           "scratch": (fake_history([0.0, 0.0], best=0.0), initial, final)}, 2, 1.0, head, split)
    assert perfect["transfer"]["transfer_ratio"] is None  # scratch's AUC is 0: no ratio to take
    unstarted = arm_metrics({"transfer": (empty, initial, final), "scratch": (fake_history([0.5]), initial, final)},
                            2, 1.0, head, split)["transfer"]
    assert unstarted["jumpstart"] is None and unstarted["time_to_threshold"] is None  # the arm recorded no epoch
    assert unstarted["source_retention_after"] == pytest.approx(error_by_hand(final, "tanh"))  # tanh by default


def test_error_rate_of_a_network_without_hidden_layers():
    from transfer_learning.metrics import error_rate

    w = {"output_W": np.array([[1.0, 0.0], [0.0, 1.0]]), "output_b": np.array([0.0, 0.5])}
    split = type("S", (), {"x": np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), "y": np.array([0, 0, 1])})()
    assert error_rate(w, split) == pytest.approx(1 / 3)  # logits [2, .5], [0, 2.5], [1, 1.5]: one wrong


@pytest.mark.parametrize("sizes", [(16, 8), (16, 8, 6, 5)])
def test_error_rate_uses_the_last_hidden_layer_and_tanh_by_default(sizes):
    from transfer_learning.metrics import error_rate

    rng = np.random.default_rng(2)
    w = make_weights(rng, sizes=sizes, n_out=3)
    x = rng.uniform(size=(50, 16))
    y = rng.integers(0, 3, 50)
    h = x
    for i in range(len(sizes) - 1):
        h = np.tanh(h @ w[f"hidden{i}_W"] + w[f"hidden{i}_b"])
    want = np.mean((h @ w["output_W"] + w["output_b"]).argmax(axis=1) != y)
    assert error_rate(w, type("S", (), {"x": x, "y": y})()) == pytest.approx(want)
    assert 0 < want < 1


def test_the_metrics_table_exactly():
    from transfer_learning.report import metrics_table

    rows = {"transfer": {"test_error": 0.0123, "jumpstart": -0.0456, "auc": 1.234, "transfer_ratio": 0.12345,
                         "time_to_threshold": 3, "speedup": 1.5, "source_retention_before": 0.1,
                         "source_retention_after": 0.2},
            "scratch": {"test_error": 0.02, "jumpstart": None, "auc": 2.0, "transfer_ratio": None,
                        "time_to_threshold": None, "speedup": None, "source_retention_before": 0.5,
                        "source_retention_after": 0.25}}
    assert metrics_table(rows).splitlines()[2:] == [
        "| transfer | 1.23 | -4.56 | 123.4 | 0.123 | 3 | 1.50 | 10.00 -> 20.00 |",
        "| scratch | 2.00 | - | 200.0 | - | - | - | 50.00 -> 25.00 |"]
    assert metrics_table(rows).splitlines()[:2] == [
        "| arm | test error % | jumpstart (pp) | AUC (% x epochs) | transfer ratio | epochs to threshold | speed-up | "
        "source error % before -> after |", "|---|---|---|---|---|---|---|---|"]


@pytest.fixture(scope="module")
def all_arms(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("arms")
    pickle_path = write_pickle(tmp / "tiny.pkl.gz", tuple(make_splits()))
    out = tmp / "run"
    code = cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out), "--kept-lr-scale", "0",
                              "--baselines", "scratch,finetune,freeze,random-reset", "--reinit-deeper"])
    assert code == 0
    return out, pickle_path


@pytest.mark.e2e
def test_every_arm_is_trained_and_measured(all_arms):
    out, _ = all_arms
    results = json.loads((out / "results.json").read_text())
    assert list(results["arms"]) == ["transfer", "scratch", "finetune", "freeze", "random-reset"]
    for name in ["scratch", "finetune", "freeze", "random-reset"]:
        assert (out / f"weights_final_{name}.npz").is_file() and (out / f"out_{name}.txt").is_file()
    for m in results["arms"].values():
        assert len(m["validation_curve"]) == 3 and m["auc"] == pytest.approx(sum(m["validation_curve"]))
    assert "| random-reset |" in (out / "summary.md").read_text()
    phases = {row.split(",")[0] for row in (out / "history.csv").read_text().splitlines()[1:]}
    assert phases == {"source", "target", "target-scratch", "target-finetune", "target-freeze",
                      "target-random-reset"}


def test_kept_lr_scale_zero_and_freeze_keep_kept_columns_bitwise(all_arms):
    out, _ = all_arms
    report = json.loads((out / "transfer.json").read_text())
    moved = np.load(out / "weights_transferred.npz")
    for final_name in ("weights_final.npz", "weights_final_freeze.npz"):
        final = np.load(out / final_name)
        for layer in report["layers"]:
            kept, i = layer["kept"], layer["layer"]
            assert_array_equal(final[f"hidden{i}_W"][:, kept], moved[f"hidden{i}_W"][:, kept])
            assert_array_equal(final[f"hidden{i}_b"][kept], moved[f"hidden{i}_b"][kept])
            reset = [j for j in range(layer["n_nodes"]) if j not in kept]
            assert kept and reset, layer  # both kinds of node, so the test can tell them apart
            assert not np.array_equal(final[f"hidden{i}_W"][:, reset], moved[f"hidden{i}_W"][:, reset])


@pytest.mark.e2e
def test_source_weights_skip_source_training(all_arms, tmp_path, capsys):
    out, pickle_path = all_arms
    again = tmp_path / "again"
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(again), "--kept-lr-scale", "0",
                              "--baselines", "scratch,finetune,freeze,random-reset", "--reinit-deeper",
                              "--source-weights", str(out / "weights_source.npz")]) == 0
    assert "no source training" in capsys.readouterr().out
    for name in ("weights_transferred.npz", "weights_final.npz", "weights_final_random-reset.npz"):
        a, b = np.load(out / name), np.load(again / name)
        for key in a.files:
            assert_array_equal(a[key], b[key])
    bad = tmp_path / "bad.npz"
    np.savez(bad, hidden0_W=np.zeros((3, 3)))
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(tmp_path / "x"),
                              "--source-weights", str(bad)]) == 2
    assert "bad.npz: holds arrays ['hidden0_W'], expected" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_target_train_size_limits_the_target_data(all_arms, tmp_path, capsys):
    _, pickle_path = all_arms
    out = tmp_path / "small"
    assert cli.main_transfer([*TINY[:-4], "--probe-size", "5", "--threshold", "0.5", "--dataset", str(pickle_path),
                              "--out", str(out), "--target-train-size", "20"]) == 0
    # 20 examples / batch 10 = 2 minibatches an epoch in the target phase
    rows = [r.split(",") for r in (out / "history.csv").read_text().splitlines()[1:]]
    assert {r[2] for r in rows if r[0] == "target"} == {"2"}
    capsys.readouterr()
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(tmp_path / "y"),
                              "--target-train-size", "5", "--batch-size", "5"]) == 2
    assert "--probe-size: 10 is more than the 5 training images" in capsys.readouterr().err
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(tmp_path / "y"),
                              "--target-train-size", "5"]) == 2
    assert "--batch-size: 10 is larger than the 5 training examples of mnist:2-3" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


@pytest.mark.parametrize("argv, message", [
    (["--baselines", "scratch,magic"], "--baselines: unknown arm magic"),
    (["--kept-lr-scale", "-1"], "--kept-lr-scale: expected a value >= 0"),
    (["--target-train-size", "0"], "--target-train-size: expected a positive number"),
])
def test_bad_arm_flags(all_arms, tmp_path, capsys, argv, message):
    _, pickle_path = all_arms
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(tmp_path / "z"), *argv]) == 2
    assert message in capsys.readouterr().err


def arm_inputs(activation="tanh", kept_lr_scale=1.0):
    """ArmInputs on a 16-8-6 source network, 3 target classes, each generator its own seed."""
    from transfer_learning.arms import ArmInputs, Generators
    from transfer_learning.config import TransferConfig

    trained = make_weights(np.random.default_rng(0), sizes=(16, 8, 6), n_out=4)
    masks = [np.arange(8) % 2 == 0, np.arange(6) < 2]
    transferred = {k: v + 1 for k, v in trained.items()}  # stands for the rule's result: any other weights
    cfg = TransferConfig(hidden_sizes=(8, 6), activation=activation, kept_lr_scale=kept_lr_scale)
    rngs = Generators(*(np.random.default_rng(100 + i) for i in range(9)))
    return ArmInputs(cfg, trained, transferred, masks, 16, 3, rngs)


def test_every_arm_starts_where_its_definition_says():
    from transfer_learning.arms import build_arms
    from transfer_learning.weights import glorot_bound

    a = arm_inputs(kept_lr_scale=0.25)
    names = ("scratch", "finetune", "freeze", "random-reset", "shrink-perturb", "linear-probe", "lp-ft", "l2-sp",
             "keep-layers:1", "freeze-layers:1", "self-layers:1")
    arms = build_arms(a, names)
    assert list(arms) == ["transfer", *names]
    hidden = [k for k in a.trained if k.startswith("hidden")]
    fresh_head = {"output_W": np.zeros((6, 3), np.float32), "output_b": np.zeros(3, np.float32)}

    def same(got, want):
        assert sorted(got) == sorted(want)
        for k in want:
            assert got[k].dtype == want[k].dtype and got[k].tobytes() == want[k].tobytes(), k

    # transfer: the rule's weights as they are, the kept nodes at 0.25 of the rate
    assert arms["transfer"].weights is a.transferred
    for layer, keep in enumerate(a.masks):
        for name in (f"hidden{layer}_W", f"hidden{layer}_b"):
            assert arms["transfer"].lr_scales[name].tolist() == np.where(keep, 0.25, 1.0).tolist()
    # scratch: a fresh network from its own generator, everything at the rate
    rng = np.random.default_rng(103)
    b0, b1 = glorot_bound(16, 8), glorot_bound(8, 6)
    want = {"hidden0_W": rng.uniform(-b0, b0, (16, 8)).astype(np.float32), "hidden0_b": np.zeros(8, np.float32),
            "hidden1_W": rng.uniform(-b1, b1, (8, 6)).astype(np.float32), "hidden1_b": np.zeros(6, np.float32),
            **fresh_head}
    assert sorted(arms["scratch"].weights) == sorted(want)
    for k, v in want.items():
        np.testing.assert_allclose(arms["scratch"].weights[k], v, rtol=1e-6, err_msg=k)
    assert arms["scratch"].lr_scales is None and not arms["scratch"].anchors
    # finetune, linear-probe and l2-sp: every source hidden weight under a zero head
    for name in ("finetune", "linear-probe", "l2-sp"):
        same(arms[name].weights, {**{k: a.trained[k] for k in hidden}, **fresh_head})
        assert arms[name].weights["hidden0_W"] is not a.trained["hidden0_W"]  # a copy: training it leaves the source
    assert arms["finetune"].lr_scales is None and not arms["finetune"].anchors
    assert {k: v.tolist() for k, v in arms["linear-probe"].lr_scales.items()} == {
        k: [0.0] * a.trained[k.replace("_W", "_b")].size for k in hidden}
    assert sorted(arms["l2-sp"].anchors) == ["hidden0_W", "hidden1_W"] and arms["l2-sp"].lr_scales is None
    assert arms["l2-sp"].anchors["hidden1_W"].tobytes() == a.trained["hidden1_W"].tobytes()
    # freeze: transfer's weights, the kept nodes frozen
    assert arms["freeze"].weights is a.transferred
    assert arms["freeze"].lr_scales["hidden1_b"].tolist() == np.where(a.masks[1], 0.0, 1.0).tolist()
    # random-reset: as many nodes a layer as transfer keeps, at the transfer's rate factor
    kept = [arms["random-reset"].lr_scales[f"hidden{i}_W"] == 0.25 for i in range(2)]
    assert [k.sum() for k in kept] == [m.sum() for m in a.masks] and not all(
        (k == m).all() for k, m in zip(kept, a.masks, strict=True))
    for layer, keep in enumerate(kept):
        W = arms["random-reset"].weights[f"hidden{layer}_W"]
        assert W[:, keep].tobytes() == a.trained[f"hidden{layer}_W"][:, keep].tobytes()
        assert not np.isin(W[:, ~keep], a.trained[f"hidden{layer}_W"]).any()
    same({k: arms["random-reset"].weights[k] for k in fresh_head}, fresh_head)
    # lp-ft: after the linear probe, from its result
    assert arms["lp-ft"].weights is None and arms["lp-ft"].after == "linear-probe"
    # the layer arms: layer 1 kept whole, layer 2 re-drawn alike in both, frozen in freeze-layers only
    keep, frozen = arms["keep-layers:1"], arms["freeze-layers:1"]
    assert keep.kept_layers == frozen.kept_layers == arms["self-layers:1"].kept_layers == 1
    for name in ("hidden0_W", "hidden0_b"):
        assert keep.weights[name].tobytes() == frozen.weights[name].tobytes() == a.trained[name].tobytes()
    assert keep.weights["hidden1_W"].tobytes() == frozen.weights["hidden1_W"].tobytes()
    assert not np.isin(keep.weights["hidden1_W"], a.trained["hidden1_W"]).any()
    assert keep.weights["hidden1_b"].tolist() == [0.0] * 6
    assert keep.lr_scales is None
    assert {k: v.tolist() for k, v in frozen.lr_scales.items()} == {
        "hidden0_W": [0.0] * 8, "hidden0_b": [0.0] * 8, "hidden1_W": [1.0] * 6, "hidden1_b": [1.0] * 6}
    self_layers = arms["self-layers:1"]
    assert self_layers.weights is None and self_layers.after == "self-source"
    assert {k: v.tolist() for k, v in self_layers.lr_scales.items()} == {k: v.tolist() for k, v in
                                                                          frozen.lr_scales.items()}
    own = make_weights(np.random.default_rng(9), sizes=(16, 8, 6), n_out=3)
    start = self_layers.resolve(own)
    assert start.after is None and start.from_result is None  # resolved once: nothing left to wait for or apply
    resolved = start.weights
    assert resolved["hidden0_W"].tobytes() == own["hidden0_W"].tobytes()
    assert resolved["hidden1_W"].tobytes() == keep.weights["hidden1_W"].tobytes()  # the same re-draw as keep-layers


def test_a_kept_rate_of_one_means_no_factors_and_relu_redraws_with_he_bounds():
    from transfer_learning.arms import build_arms
    from transfer_learning.weights import glorot_bound

    arms = build_arms(arm_inputs(activation="relu"), ("random-reset", "keep-layers:1", "scratch"))
    assert arms["transfer"].lr_scales is None and arms["random-reset"].lr_scales is None
    he = np.sqrt(6 / 8)  # He-uniform for the 8 -> 6 layer: sqrt(6 / fan_in)
    redrawn = arms["keep-layers:1"].weights["hidden1_W"]
    assert np.abs(redrawn).max() > glorot_bound(8, 6) and np.abs(redrawn).max() <= he
    assert np.abs(arms["scratch"].weights["hidden0_W"]).max() > glorot_bound(16, 8)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_shrink_perturb_and_random_reset_follow_the_runs_settings(activation):
    """shrink-perturb is shrink x source + perturb x a fresh draw from its own generator with the activation's
    bound; random-reset re-draws with the activation's bound and, under --reinit-deeper, the rows leaving its
    reset nodes too. Both under a zero head for the target's 3 classes."""
    from dataclasses import replace

    from transfer_learning.arms import build_arms
    from transfer_learning.weights import init_bound

    a = arm_inputs(activation=activation)
    a.cfg = replace(a.cfg, shrink=0.3, perturb=0.2, reinit_deeper=True)
    arms = build_arms(a, ("shrink-perturb", "random-reset"))
    rng = np.random.default_rng(105)
    for layer, (n_in, n_out) in enumerate(((16, 8), (8, 6))):
        bound = init_bound(n_in, n_out, activation)
        fresh = rng.uniform(-bound, bound, size=(n_in, n_out)).astype(np.float32)
        W = a.trained[f"hidden{layer}_W"]
        np.testing.assert_allclose(arms["shrink-perturb"].weights[f"hidden{layer}_W"], 0.3 * W + 0.2 * fresh,
                                   rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(arms["shrink-perturb"].weights[f"hidden{layer}_b"],
                                   0.3 * a.trained[f"hidden{layer}_b"], rtol=1e-6)
    for name in ("shrink-perturb", "random-reset"):
        assert arms[name].weights["output_W"].tolist() == [[0.0] * 3] * 6
    rng = np.random.default_rng(104)
    chosen = random_masks(a.masks, rng)
    want = reinitialize(a.trained, chosen, rng, True, activation)
    for name in ("hidden0_W", "hidden1_W"):
        assert arms["random-reset"].weights[name].tobytes() == want[name].tobytes(), name
    # the rows of layer 2 leaving layer 1's reset nodes were re-drawn, not kept
    assert not np.isin(arms["random-reset"].weights["hidden1_W"][~chosen[0]], a.trained["hidden1_W"]).any()


def test_lp_ft_resolves_to_a_copy_of_the_probes_result():
    from transfer_learning.arms import build_arms

    start = build_arms(arm_inputs(), ("linear-probe", "lp-ft"))["lp-ft"]
    result = make_weights(np.random.default_rng(4), sizes=(16, 8, 6), n_out=3)
    resolved = start.resolve(result)
    assert resolved.after is None and resolved.from_result is None and resolved.lr_scales is None
    assert sorted(resolved.weights) == sorted(result)
    for k, v in result.items():
        assert resolved.weights[k] is not v and resolved.weights[k].tobytes() == v.tobytes(), k


@pytest.mark.parametrize("name", ["keep-layers:x", "keep-layers", "keep-layers:1:2", "freeze-layers:"])
def test_a_layer_arm_without_a_whole_count_is_refused_by_name(name):
    from transfer_learning.arms import layer_arm

    kind = name.partition(":")[0]
    with pytest.raises(ValueError) as error:
        layer_arm(name)
    assert str(error.value) == f"{name!r}: expected {kind}:N with N a whole number of hidden layers"


def test_keep_first_layers_redraws_the_deeper_layers_in_order_and_nothing_more():
    """Of three hidden layers, keep-layers:1 keeps layer 1 bit for bit and draws layer 2's columns, then layer 3's,
    from the generator: no rows leaving the reset nodes are drawn in between."""
    from transfer_learning.arms import keep_first_layers
    from transfer_learning.weights import init_bound

    weights = make_weights(np.random.default_rng(2), sizes=(16, 8, 6, 5), n_out=4)
    kept = keep_first_layers(weights, 1, np.random.default_rng(7), 3, "tanh")
    rng = np.random.default_rng(7)
    assert kept["hidden0_W"].tobytes() == weights["hidden0_W"].tobytes()
    for layer, (n_in, n_out) in ((1, (8, 6)), (2, (6, 5))):
        bound = init_bound(n_in, n_out)
        np.testing.assert_array_equal(kept[f"hidden{layer}_W"],
                                      rng.uniform(-bound, bound, size=(n_in, n_out)).astype(np.float32))
        assert kept[f"hidden{layer}_b"].tolist() == [0.0] * n_out
    assert kept["output_W"].shape == (5, 3) and not kept["output_W"].any()
