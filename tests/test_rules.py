"""Selection rules: every score against a node-by-node loop written here, keep fractions, the random rule's
seeding, shrink-perturb's formula, ReLU, and the flags' errors."""

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tests.helpers import TINY, transfer_config
from transfer_learning import cli, rules
from transfer_learning.transfer import n_to_keep, shrink_perturb, top_fraction_masks
from transfer_learning.weights import glorot_uniform, init_bound

ACTIVATIONS = ("tanh", "relu")


def hand_weights():
    """A 3-4-3 network with a 2-class source head, float64, every value set by hand."""
    return {
        "hidden0_W": np.array([[0.5, -0.3, 0.8, 0.0], [-0.2, 0.7, 0.1, -0.9], [0.4, 0.2, -0.6, 0.3]]),
        "hidden0_b": np.array([0.1, -0.2, 0.0, 0.25]),
        "hidden1_W": np.array([[0.3, -0.5, 0.2], [0.9, 0.1, -0.4], [-0.7, 0.6, 0.5], [0.2, -0.3, 0.8]]),
        "hidden1_b": np.array([-0.1, 0.05, 0.2]),
        "output_W": np.array([[1.5, -0.5], [-0.2, 0.1], [0.7, -2.0]]),
        "output_b": np.array([0.0, 0.3]),
    }


IMAGES = np.array([[0.9, 0.1, 0.4], [0.2, 0.8, 0.6], [0.5, 0.5, 0.0], [0.0, 0.3, 0.95], [0.7, 0.0, 0.2]])
LABELS = np.array([0, 1, 2, 1, 0])


def act(z, activation):
    return np.tanh(z) if activation == "tanh" else max(z, 0.0)


def loop_layers(weights, images, activation):
    """H[layer][j][i]: node i's activation on image j, one node and one image at a time."""
    H = []
    inputs = [list(x) for x in images]
    for layer in range(2):
        W, b = weights[f"hidden{layer}_W"], weights[f"hidden{layer}_b"]
        out = [[act(sum(x[k] * W[k, i] for k in range(W.shape[0])) + b[i], activation) for i in range(W.shape[1])]
               for x in inputs]
        H.append(out)
        inputs = out
    return H


def mean(values):
    return sum(values) / len(values)


def loop_scores(rule, weights, images, activation, eps=0.01):
    H = loop_layers(weights, images, activation)
    n = len(images)
    scores = []
    for layer, h in enumerate(H):
        m = len(h[0])
        activity = [mean([abs(h[j][i]) for j in range(n)]) for i in range(m)]
        if rule == "mean-abs":
            scores.append(activity)
        elif rule == "centered":
            centre = [mean([h[j][i] for j in range(n)]) for i in range(m)]
            scores.append([mean([abs(h[j][i] - centre[i]) for j in range(n)]) for i in range(m)])
        elif rule == "redo":
            layer_mean = mean(activity)
            scores.append([a / layer_mean for a in activity])
        elif rule == "utility":
            out = weights["hidden1_W"] if layer == 0 else weights["output_W"]  # the last layer's: the source head
            scores.append([activity[i] * mean([abs(w) for w in out[i]]) for i in range(m)])
        elif rule == "apoz":
            scores.append([1 - sum(abs(h[j][i]) < eps for j in range(n)) / n for i in range(m)])
    return scores


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("rule", ["mean-abs", "centered", "redo", "utility", "apoz"])
def test_forward_rules_equal_a_node_by_node_loop(rule, activation):
    weights = hand_weights()
    probe = rules.probe_network(weights, IMAGES, LABELS, 3, activation)
    got = rules.score(rule, probe, rules.RuleSettings(apoz_eps=0.13)).layers
    want = loop_scores(rule, weights, IMAGES, activation, eps=0.13)
    for layer in range(2):
        assert_allclose(got[layer], want[layer], rtol=1e-12, atol=1e-15, err_msg=f"{rule} layer {layer}")
    if rule == "apoz":  # eps 0.13 splits the nodes: some images count as zero, not all
        assert any(0 < s < 1 for layer in got for s in layer)


def loop_taylor(weights, head, images, labels, activation, H=None):
    """|mean_j H_ji dL_j/dH_ji|, the gradient of image j's cross-entropy under ``head`` taken node by node (from
    the activations ``H`` when given, else from a forward pass of its own)."""
    H = loop_layers(weights, images, activation) if H is None else H
    scores = [[0.0] * 4, [0.0] * 3]
    for j in range(len(images)):
        h1, h2 = H[0][j], H[1][j]
        logits = [sum(h2[i] * head["output_W"][i, k] for i in range(3)) + head["output_b"][k] for k in range(3)]
        top = max(logits)
        p = [np.exp(z - top) for z in logits]
        p = [v / sum(p) for v in p]
        d_logits = [p[k] - (k == labels[j]) for k in range(3)]
        d_h2 = [sum(d_logits[k] * head["output_W"][i, k] for k in range(3)) for i in range(3)]
        d_z2 = [d_h2[i] * ((1 - h2[i] ** 2) if activation == "tanh" else float(h2[i] > 0)) for i in range(3)]
        d_h1 = [sum(d_z2[i] * weights["hidden1_W"][k, i] for i in range(3)) for k in range(4)]
        for i in range(4):
            scores[0][i] += h1[i] * d_h1[i] / len(images)
        for i in range(3):
            scores[1][i] += h2[i] * d_h2[i] / len(images)
    return [[abs(s) for s in layer] for layer in scores]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_taylor_equals_a_node_by_node_backward_pass_under_its_fitted_head(activation):
    weights = hand_weights()
    probe = rules.probe_network(weights, IMAGES, LABELS, 3, activation)
    scored = rules.score("taylor", probe, rules.RuleSettings(taylor_l2=0.05))
    head = scored.extras["taylor_head"]
    want = loop_taylor(weights, head, IMAGES, LABELS, activation)
    for layer in range(2):
        assert_allclose(scored.layers[layer], want[layer], rtol=1e-9, atol=1e-15)
    assert max(max(layer) for layer in scored.layers) > 0


@pytest.mark.parametrize(("n", "m", "k", "l2"), [(40, 6, 3, 0.05), (100, 30, 5, 0.01)])
def test_the_taylor_head_is_the_penalized_optimum(n, m, k, l2):
    """Checked independently of the fit: the gradient of mean cross-entropy + l2/2 ||W||^2 vanishes there, and the
    recorded loss is that objective's value (the second problem needs some 60 L-BFGS iterations)."""
    rng = np.random.default_rng(3)
    H, y = rng.normal(size=(n, m)), rng.integers(0, k, n)
    head = rules.fit_probe_head(H, y, k, l2)
    W, b = head["output_W"], head["output_b"]
    z = H @ W + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta = (p - np.eye(k)[y]) / len(y)
    assert np.abs(H.T @ delta + l2 * W).max() < 1e-6 and np.abs(delta.sum(axis=0)).max() < 1e-6
    objective = -np.log(p[np.arange(n), y]).mean() + 0.5 * l2 * (W * W).sum()
    assert head["loss"] == pytest.approx(objective, rel=1e-12) and head["iterations"] > 1


def test_the_rules_edges_by_hand():
    """redo of a silent layer is 0 (not 0/0); apoz counts |h| < eps as zero and eps itself as active; the ReLU's
    derivative at 0 is 0; random needs its generator."""
    probe = rules.Probe(weights={}, images=None, activations=[np.zeros((3, 2)), np.array([[0.5, -0.01], [0.01, 0.0]])],
                        pre_activations=[np.zeros((3, 2)), np.zeros((2, 2))], labels=None, n_classes=0,
                        activation="relu")
    silent, active = rules.redo(probe, None).layers
    assert silent.tolist() == [0.0, 0.0]
    assert_allclose(active, [0.255 / 0.13, 0.005 / 0.13], rtol=1e-12)  # mean |h| 0.255 and 0.005, over their mean
    assert [s.tolist() for s in rules.apoz(probe, rules.RuleSettings(apoz_eps=0.01)).layers] == [[0.0, 0.0],
                                                                                                  [1.0, 0.5]]
    assert rules.activation_derivative(np.array([-1.0, 0.0, 2.0]), None, "relu").tolist() == [0.0, 0.0, 1.0]
    assert rules.activation_derivative(None, np.array([0.5, -1.0]), "tanh").tolist() == [0.75, 0.0]
    with pytest.raises(ValueError, match="^the random rule needs a seeded generator$"):
        rules.score("random", probe, rules.RuleSettings())
    post = np.array([0.1, -0.7], np.float32)  # the derivative is taken in float64, not in the activations' float32
    assert rules.activation_derivative(None, post, "tanh").tolist() == (1.0 - post.astype(np.float64) ** 2).tolist()


def test_softmax_and_log_softmax_shift_each_row_by_its_own_maximum():
    """Logits of 1000 would overflow exp unshifted, and a row 2000 below another underflows to 0/0 if shifted by the
    whole matrix's maximum."""
    logits = np.array([[1000.0, 999.0], [-1000.0, -1001.0]])
    e = np.exp(-1.0)
    want = np.array([[1 / (1 + e), e / (1 + e)]] * 2)
    assert_allclose(rules._softmax(logits), want, rtol=1e-15)
    assert_allclose(rules._log_softmax(logits), np.log(want), rtol=1e-15)


def test_taylor_works_in_float64_on_float32_activations():
    """A float32 network's activations go into the backward pass as float64: the scores equal the node-by-node
    loop on those same activations in float64."""
    weights = {k: v.astype(np.float32) for k, v in hand_weights().items()}
    probe = rules.probe_network(weights, IMAGES, LABELS, 3, "tanh")
    assert probe.activations[0].dtype == np.float32
    scored = rules.score("taylor", probe, rules.RuleSettings(taylor_l2=0.05))
    want = loop_taylor(weights, scored.extras["taylor_head"], IMAGES, LABELS, "tanh",
                       H=[h.astype(np.float64) for h in probe.activations])
    for layer in range(2):
        assert_allclose(scored.layers[layer], want[layer], rtol=1e-12, atol=1e-16)


def test_utility_uses_the_source_head_for_the_last_hidden_layer():
    weights = hand_weights()
    probe = rules.probe_network(weights, IMAGES, LABELS, 3, "tanh")
    before = rules.utility(probe, None).layers
    doubled = {**weights, "output_W": weights["output_W"] * 2}
    after = rules.utility(rules.probe_network(doubled, IMAGES, LABELS, 3, "tanh"), None).layers
    assert_allclose(after[1], 2 * before[1], rtol=1e-12)  # the last layer's outgoing weights: output_W
    assert_array_equal(after[0], before[0])  # layer 1's outgoing weights are hidden1_W, unchanged


def test_redo_is_unchanged_when_a_layers_activations_are_scaled():
    weights = hand_weights()
    probe = rules.probe_network(weights, IMAGES, LABELS, 3, "relu")
    scaled = dict(weights, hidden1_W=weights["hidden1_W"] * 3.0, hidden1_b=weights["hidden1_b"] * 3.0)
    probe3 = rules.probe_network(scaled, IMAGES, LABELS, 3, "relu")  # relu: layer 2's activations x 3
    assert_allclose(probe3.activations[1], 3 * probe.activations[1], rtol=1e-12)
    assert_allclose(rules.redo(probe3, None).layers[1], rules.redo(probe, None).layers[1], rtol=1e-12)
    assert_allclose(rules.mean_abs(probe3, None).layers[1], 3 * rules.mean_abs(probe, None).layers[1], rtol=1e-12)


def test_centered_scores_a_saturated_unit_low():
    """A tanh unit stuck near +1 is active (mean-abs high) but carries nothing (centered near 0)."""
    weights = hand_weights()
    weights["hidden0_b"] = np.array([8.0, -0.2, 0.0, 0.25])  # node 0 saturates on every image
    probe = rules.probe_network(weights, IMAGES, LABELS, 3, "tanh")
    assert rules.mean_abs(probe, None).layers[0][0] > 0.99
    assert rules.centered(probe, None).layers[0][0] < 1e-6


def test_random_scores_come_from_the_given_generator():
    probe = rules.probe_network(hand_weights(), IMAGES, LABELS, 3, "tanh")
    a = rules.score("random", probe, rules.RuleSettings(rng=np.random.default_rng(5))).layers
    b = rules.score("random", probe, rules.RuleSettings(rng=np.random.default_rng(5))).layers
    c = rules.score("random", probe, rules.RuleSettings(rng=np.random.default_rng(6))).layers
    want = np.random.default_rng(5)
    for layer, size in enumerate((4, 3)):
        assert_array_equal(a[layer], b[layer])
        assert_array_equal(a[layer], want.uniform(size=size))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("fraction, m", [(0.1, 100), (0.25, 100), (0.5, 7), (0.75, 10), (0.25, 10), (0.0, 5),
                                         (1.0, 5), (0.3, 3)])
def test_keep_fraction_keeps_exactly_round_f_m_of_the_highest(fraction, m):
    rng = np.random.default_rng(int(fraction * 100) + m)
    scores = [rng.uniform(size=m), rng.integers(0, 3, size=m).astype(float)]  # the second layer has ties
    for s, mask in zip(scores, top_fraction_masks(scores, fraction), strict=True):
        k = round(fraction * m)
        assert mask.sum() == k == n_to_keep(fraction, m)
        # the kept are the k highest; among equal scores the lower index wins
        ranked = sorted(range(m), key=lambda i: (-s[i], i))
        assert sorted(np.flatnonzero(mask).tolist()) == sorted(ranked[:k])


@pytest.mark.parametrize("activation, bound", [("tanh", lambda a, b: np.sqrt(6 / (a + b))),
                                               ("relu", lambda a, b: np.sqrt(6 / a))])
def test_shrink_perturb_is_lambda_source_plus_p_fresh(activation, bound):
    """The fresh part, recovered as (new - 0.4 source) / 0.1, is a uniform draw within the activation's own
    bound (Glorot for tanh, He for relu), written here from the formulas, and reaches near it."""
    rng = np.random.default_rng(1)
    weights = {"hidden0_W": rng.normal(size=(300, 200)).astype(np.float32), "hidden0_b": rng.normal(size=200),
               "hidden1_W": rng.normal(size=(200, 100)).astype(np.float32), "hidden1_b": rng.normal(size=100),
               "output_W": np.ones((100, 3), np.float32), "output_b": np.ones(3, np.float32)}
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    new = shrink_perturb(weights, 5, np.random.default_rng(9), 0.4, 0.1, activation)
    draws = np.random.default_rng(9)  # the fresh draws, layer by layer, each uniform within its bound
    for layer, (a, b) in enumerate(((300, 200), (200, 100))):
        drawn = draws.uniform(-bound(a, b), bound(a, b), size=(a, b)).astype(np.float32)
        # float32 arithmetic throughout, as the weights are float32: the same bits
        np.testing.assert_array_equal(new[f"hidden{layer}_W"], 0.4 * weights[f"hidden{layer}_W"] + 0.1 * drawn)
        fresh = (new[f"hidden{layer}_W"].astype(np.float64) - 0.4 * weights[f"hidden{layer}_W"]) / 0.1
        assert np.abs(fresh).max() <= bound(a, b) * (1 + 1e-4)
        assert np.abs(fresh).max() > 0.99 * bound(a, b)
        assert_allclose(new[f"hidden{layer}_b"], 0.4 * weights[f"hidden{layer}_b"], rtol=1e-6)
        assert new[f"hidden{layer}_W"].dtype == new[f"hidden{layer}_b"].dtype == np.float32  # as the source's
    assert new["output_W"].shape == (100, 5) and not new["output_W"].any() and not new["output_b"].any()
    if activation == "tanh":  # tanh is the default
        default = shrink_perturb(weights, 5, np.random.default_rng(9), 0.4, 0.1)
        assert all(np.array_equal(default[k], new[k]) for k in new)


@pytest.mark.parametrize("activation, bound", [("tanh", lambda a, b: np.sqrt(6 / (a + b))),
                                               ("relu", lambda a, b: np.sqrt(6 / a))])
def test_initial_and_redrawn_weights_use_the_activations_bound(activation, bound):
    from transfer_learning.transfer import reinitialize
    from transfer_learning.weights import initial_weights

    weights = initial_weights(np.random.default_rng(2), 300, (200, 100), 4, activation=activation)
    for layer, (a, b) in enumerate(((300, 200), (200, 100))):
        W = weights[f"hidden{layer}_W"]
        assert 0.99 * bound(a, b) < np.abs(W).max() <= bound(a, b)
    masks = [np.arange(200) < 20, np.arange(100) < 10]
    again = reinitialize(weights, masks, np.random.default_rng(3), activation=activation)
    for layer, (a, b) in enumerate(((300, 200), (200, 100))):
        redrawn = again[f"hidden{layer}_W"][:, ~masks[layer]]
        assert 0.99 * bound(a, b) < np.abs(redrawn).max() <= bound(a, b)


def test_relu_init_is_he_uniform_bounded_and_spread():
    rng = np.random.default_rng(0)
    W = glorot_uniform(rng, 400, 300, activation="relu")
    bound = init_bound(400, 300, "relu")
    assert bound == pytest.approx(np.sqrt(6 / 400))
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound
    assert W.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)  # uniform on [-b, b], not all zeros


@pytest.mark.e2e
def test_random_rule_runs_are_reproducible_by_seed(pickle_path, tmp_path):
    base = [*TINY, "--dataset", str(pickle_path), "--rule", "random", "--keep-fraction", "0.5", "--n-epochs", "1",
            "--baselines", "none"]
    reports = {}
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        assert cli.main_transfer([*base, "--seed", seed, "--out", str(tmp_path / name)]) == 0
        reports[name] = json.loads((tmp_path / name / "transfer.json").read_text())["layers"]
    assert reports["a"] == reports["b"]
    assert [layer["scores"] for layer in reports["a"]] != [layer["scores"] for layer in reports["c"]]
    assert [layer["n_kept"] for layer in reports["a"]] == [3, 2]  # round(0.5 x 6), round(0.5 x 5) (half to even)


@pytest.mark.e2e
@pytest.mark.parametrize("rule", list(rules.RULES))
def test_a_run_with_each_rule_resumes_bit_for_bit(rule, pickle_path, tmp_path):
    from tests.helpers import assert_same_results, stop_after
    from transfer_learning.experiment import run_transfer
    from transfer_learning.train import Interrupted

    args = [*TINY, "--dataset", str(pickle_path), "--rule", rule, "--keep-fraction", "0.5",
            "--baselines", "scratch,shrink-perturb", "--activation", "relu" if rule in ("redo", "taylor") else "tanh"]
    assert cli.main_transfer([*args, "--out", str(tmp_path / "whole")]) == 0
    cfg = transfer_config([*args, "--out", str(tmp_path / "cut")])
    with pytest.raises(Interrupted):  # 3 minibatches an epoch: 9 for the source, then inside the transfer arm
        run_transfer(cfg, stop_requested=stop_after(9 + 4))
    assert cli.main_transfer(["--resume", str(tmp_path / "cut")]) == 0
    assert_same_results(tmp_path / "whole", tmp_path / "cut")
    report = json.loads((tmp_path / "cut" / "transfer.json").read_text())
    assert report["rule"] == rule and report["selection"] == "keep_fraction"
    if rule == "taylor":  # the scores can be recomputed from the files: the saved head and probe
        with np.load(tmp_path / "cut" / "taylor_head.npz") as head, \
                np.load(tmp_path / "cut" / "weights_source.npz") as source:
            weights = {k: source[k] for k in source.files}
            images = np.load(tmp_path / "cut" / "probe_images.npy")
            from transfer_learning.data import load_task

            labels = load_task("mnist:2-3", str(pickle_path)).train.y[report["probe_indices"]]
            probe = rules.probe_network(weights, images, labels, 2, "relu")
            want = loop_taylor_any(weights, {k: head[k] for k in head.files}, probe)
        for layer, scores in zip(report["layers"], want, strict=True):
            assert_allclose(layer["scores"], scores, rtol=1e-6)


def loop_taylor_any(weights, head, probe):
    """taylor's scores from a saved head, by the vectorized formula (the loop above checks that formula)."""
    p = rules._softmax(probe.activations[-1] @ head["output_W"] + head["output_b"])
    grad = (p - np.eye(head["output_W"].shape[1])[probe.labels]) @ head["output_W"].T
    scores = [np.abs((probe.activations[1] * grad).mean(axis=0))]
    grad = (grad * (probe.pre_activations[1] > 0)) @ weights["hidden1_W"].T
    return [np.abs((probe.activations[0] * grad).mean(axis=0)), *scores]


@pytest.mark.parametrize("argv, message", [
    (["--rule", "magic"], "--rule: expected one of mean-abs, centered, redo, utility, apoz, taylor, random, "
                          "scale-matched, oracle, got 'magic'"),
    (["--activation", "sigmoid"], "--activation: expected one of tanh, relu, got 'sigmoid'"),
    (["--keep-fraction", "1.5"], "--keep-fraction: expected a number in [0, 1], got '1.5'"),
    (["--keep-fraction", "-0.1"], "--keep-fraction: expected a number in [0, 1], got '-0.1'"),
    (["--apoz-eps", "-0.01"], "--apoz-eps: expected a value >= 0, got -0.01"),
    (["--threshold", "0.5", "--keep-fraction", "0.5"], "--threshold and --keep-fraction both given"),
    (["--threshold", "auto", "--keep-fraction", "0.5"], "--threshold and --keep-fraction both given"),
    (["--shrink", "-1"], "--shrink: expected a value >= 0, got -1.0"),
])
def test_bad_rule_flags_are_one_line_and_write_nothing(argv, message, pickle_path, tmp_path, capsys):
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x").exists()


def test_threshold_auto_chooses_among_the_rules_own_scores(pickle_path, tmp_path):
    out = tmp_path / "auto"
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--rule", "apoz", "--threshold", "auto",
                              "--auto-thresholds", "0,0.5,0.9,1.01", "--auto-epochs", "1", "--baselines", "none",
                              "--out", str(out)]) == 0
    report = json.loads((out / "transfer.json").read_text())
    assert report["rule"] == "apoz" and report["auto"]["chosen"] == report["threshold"]
    for candidate in report["auto"]["candidates"]:  # each candidate's kept nodes follow the apoz scores
        want = [sum(s >= candidate["threshold"] for s in layer["scores"]) for layer in report["layers"]]
        assert candidate["nodes_kept"] == want
    assert report["auto"]["candidates"][-1]["nodes_kept"] == [0, 0]  # apoz <= 1 < 1.01 keeps none


def test_a_relu_run_redraws_with_he_bounds(pickle_path, tmp_path):
    """The run passes its activation to the re-draw: a relu run's re-drawn columns reach past Glorot's bound,
    within He's (16 inputs, 6 nodes: Glorot sqrt(6/22) = 0.52, He sqrt(6/16) = 0.61)."""
    out = tmp_path / "relu"
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--activation", "relu", "--keep-fraction",
                              "0.25", "--n-epochs", "1", "--baselines", "random-reset,shrink-perturb",
                              "--out", str(out)]) == 0
    report = json.loads((out / "transfer.json").read_text())
    with np.load(out / "weights_transferred.npz") as moved:
        reset = [j for j in range(6) if j not in report["layers"][0]["kept"]]
        redrawn = np.abs(moved["hidden0_W"][:, reset])
    assert np.sqrt(6 / 22) < redrawn.max() <= np.sqrt(6 / 16)


def test_probe_network_by_default_and_in_the_weights_precision():
    """tanh, no labels (zeros, int64), no classes by default; the images kept as given and pushed through in the
    weights' own dtype (float32 here, from float64 images), layer by layer."""
    from tests.helpers import make_weights

    weights = make_weights(np.random.default_rng(0), sizes=(16, 8, 6))  # float32
    images = np.random.default_rng(1).uniform(size=(5, 16))  # float64
    probe = rules.probe_network(weights, images)
    assert (probe.activation, probe.n_classes) == ("tanh", 0)
    assert probe.labels.tolist() == [0] * 5 and probe.labels.dtype == np.int64
    assert probe.images.tobytes() == images.tobytes()
    h = images.astype(np.float32)
    for layer in range(2):
        z = h @ weights[f"hidden{layer}_W"] + weights[f"hidden{layer}_b"]
        h = np.tanh(z)
        assert probe.pre_activations[layer].dtype == np.float32
        assert probe.pre_activations[layer].tobytes() == z.tobytes()
        assert_allclose(probe.activations[layer], h, atol=1e-6)


def test_taylor_on_a_single_hidden_layer_by_hand():
    """One hidden layer: the head is fitted on it, and each node's score is |mean_j h_j dL_j/dh_j| under that head
    (the head's optimality is checked above); the deeper-layer loop is never entered."""
    weights = {k: v for k, v in hand_weights().items() if not k.startswith("hidden1")}
    weights["output_W"] = np.random.default_rng(0).normal(size=(4, 3))
    probe = rules.probe_network(weights, IMAGES, LABELS, 3, "tanh")
    scored = rules.score("taylor", probe, rules.RuleSettings(taylor_l2=0.05))
    head = scored.extras["taylor_head"]
    h = np.tanh(IMAGES @ weights["hidden0_W"] + weights["hidden0_b"])
    z = h @ head["output_W"] + head["output_b"]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    grad = (p - np.eye(3)[LABELS]) @ head["output_W"].T
    assert len(scored.layers) == 1
    assert_allclose(scored.layers[0], np.abs((h * grad).mean(axis=0)), rtol=1e-6)
