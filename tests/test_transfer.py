import numpy as np
import pytest
from numpy.testing import assert_array_equal

from tests.helpers import make_weights
from transfer_learning.transfer import (
    fresh_output_layer,
    hidden_activity,
    keep_masks,
    layer_report,
    reinitialize,
    transfer,
)
from transfer_learning.weights import glorot_bound


def loop_activity(weights, images):
    """The 2015 computation, node by node and image by image (bias included, trained weights)."""
    W1, b1, W2, b2 = (weights[k].astype(np.float64) for k in ("hidden0_W", "hidden0_b", "hidden1_W", "hidden1_b"))
    layer1 = np.zeros(W1.shape[1])
    layer2 = np.zeros(W2.shape[1])
    for image in images.astype(np.float64):
        h1 = np.array([np.tanh(image @ W1[:, i] + b1[i]) for i in range(W1.shape[1])])
        layer1 += np.abs(h1)
        layer2 += np.abs([np.tanh(h1 @ W2[:, i] + b2[i]) for i in range(W2.shape[1])])
    return [layer1 / len(images), layer2 / len(images)]


def test_scores_match_a_node_by_node_recomputation():
    rng = np.random.default_rng(0)
    weights = make_weights(rng)
    images = rng.uniform(size=(7, 16)).astype(np.float32)
    for got, want in zip(hidden_activity(weights, images), loop_activity(weights, images), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_kept_columns_and_biases_are_bitwise_unchanged_and_others_redrawn():
    rng = np.random.default_rng(1)
    weights = make_weights(rng)
    images = rng.uniform(size=(10, 16)).astype(np.float32)
    scores = hidden_activity(weights, images)
    threshold = float(np.median(scores[0]))
    new, report = transfer(weights, images, threshold, n_out=5, rng=np.random.default_rng(2))
    for layer, score in enumerate(scores):
        keep = score >= threshold
        assert report["layers"][layer]["kept"] == list(np.flatnonzero(keep))
        assert report["layers"][layer]["n_kept"] == keep.sum()
        W, b = weights[f"hidden{layer}_W"], weights[f"hidden{layer}_b"]
        assert_array_equal(new[f"hidden{layer}_W"][:, keep], W[:, keep])
        assert_array_equal(new[f"hidden{layer}_b"][keep], b[keep])
        assert_array_equal(new[f"hidden{layer}_b"][~keep], 0)
        redrawn = new[f"hidden{layer}_W"][:, ~keep]
        assert np.all(np.abs(redrawn) <= glorot_bound(*W.shape))
        assert not np.any(redrawn == W[:, ~keep]), "a reset column kept an old value"
    assert 0 < report["layers"][0]["n_kept"] < 8  # the median threshold splits the layer


def test_layer_two_is_scored_with_trained_layer_one_not_the_reinitialized_one():
    rng = np.random.default_rng(3)
    weights = make_weights(rng)
    images = rng.uniform(size=(5, 16)).astype(np.float32)
    _, report = transfer(weights, images, threshold=0.99, n_out=3, rng=np.random.default_rng(0))
    assert report["layers"][0]["n_kept"] < 8  # layer 1 was re-drawn in part, so the two readings differ
    x = images.astype(np.float64)
    trained = np.tanh(np.tanh(x @ weights["hidden0_W"] + weights["hidden0_b"]) @ weights["hidden1_W"]
                      + weights["hidden1_b"])
    np.testing.assert_allclose(report["layers"][1]["scores"], np.abs(trained).mean(axis=0), rtol=1e-5)
    moved = transfer(weights, images, threshold=0.99, n_out=3, rng=np.random.default_rng(0))[0]
    redrawn = np.tanh(np.tanh(x @ moved["hidden0_W"] + moved["hidden0_b"]) @ weights["hidden1_W"]
                      + weights["hidden1_b"])
    assert not np.allclose(report["layers"][1]["scores"], np.abs(redrawn).mean(axis=0), rtol=1e-3)


def test_threshold_zero_keeps_everything_and_above_one_keeps_nothing():
    rng = np.random.default_rng(4)
    weights = make_weights(rng)
    images = rng.uniform(size=(5, 16)).astype(np.float32)
    kept_all, report = transfer(weights, images, 0.0, n_out=3, rng=np.random.default_rng(0))
    assert [layer["n_kept"] for layer in report["layers"]] == [8, 6]
    for name in ("hidden0_W", "hidden0_b", "hidden1_W", "hidden1_b"):
        assert_array_equal(kept_all[name], weights[name])
    _, report = transfer(weights, images, 1.0001, n_out=3, rng=np.random.default_rng(0))
    assert [layer["n_kept"] for layer in report["layers"]] == [0, 0]


def test_reinitialization_is_seeded_and_leaves_the_input_alone():
    rng = np.random.default_rng(5)
    weights = make_weights(rng)
    original = {k: v.copy() for k, v in weights.items()}
    masks = [np.arange(8) % 2 == 0, np.zeros(6, bool)]
    a = reinitialize(weights, masks, np.random.default_rng(9))
    b = reinitialize(weights, masks, np.random.default_rng(9))
    for name in weights:
        assert_array_equal(a[name], b[name])
        assert_array_equal(weights[name], original[name])


def test_fresh_output_layer_is_zero_and_sized_for_the_target():
    weights = make_weights(np.random.default_rng(6))
    head = weights["output_W"].copy()
    new = fresh_output_layer(weights, 7)
    assert new["output_W"].shape == (6, 7) and not new["output_W"].any()
    assert new["output_b"].shape == (7,) and not new["output_b"].any()
    assert weights["output_W"].tobytes() == head.tobytes() and weights["output_b"].shape == (3,)  # input untouched


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_reinit_deeper_draws_in_order_with_each_layers_own_bound(activation):
    """Layer 1's reset columns, then the rows of layer 2's W that leave them, then layer 2's reset columns, each
    drawn uniform(-bound, bound) with the bound of the matrix it goes into (16x8, then 8x6)."""
    from transfer_learning.weights import init_bound

    weights = make_weights(np.random.default_rng(1))
    masks = [np.array([True, False, True, False, True, True, False, True]), np.array([False, True, True, True, True,
                                                                                       True])]
    moved = reinitialize(weights, masks, np.random.default_rng(9), True, activation)
    rng = np.random.default_rng(9)
    b1, b2 = init_bound(16, 8, activation), init_bound(8, 6, activation)
    cols1 = rng.uniform(-b1, b1, size=(16, 3)).astype(np.float32)
    rows2 = rng.uniform(-b2, b2, size=(3, 6)).astype(np.float32)
    cols2 = rng.uniform(-b2, b2, size=(8, 1)).astype(np.float32)
    np.testing.assert_allclose(moved["hidden0_W"][:, [1, 3, 6]], cols1, rtol=1e-6)
    np.testing.assert_allclose(moved["hidden1_W"][[1, 3, 6], 1:], rows2[:, 1:], rtol=1e-6)
    np.testing.assert_allclose(moved["hidden1_W"][:, [0]], cols2, rtol=1e-6)
    kept_rows = [0, 2, 4, 5, 7]
    assert moved["hidden1_W"][np.ix_(kept_rows, [1, 2, 3, 4, 5])].tobytes() == \
        weights["hidden1_W"][np.ix_(kept_rows, [1, 2, 3, 4, 5])].tobytes()


def test_the_layer_report_lists_scores_kept_nodes_and_counts():
    report = layer_report([np.array([0.5, 0.1, 0.9], np.float32), np.array([0.2, 0.3])],
                          [np.array([True, False, True]), np.array([False, False])])
    assert report == [{"layer": 0, "scores": [0.5, pytest.approx(0.1), pytest.approx(0.9)], "kept": [0, 2],
                       "n_kept": 2, "n_nodes": 3},
                      {"layer": 1, "scores": [0.2, 0.3], "kept": [], "n_kept": 0, "n_nodes": 2}]
    assert all(type(s) is float for s in report[0]["scores"]) and type(report[0]["kept"][0]) is int


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.6])
def test_keep_masks_use_at_or_above(threshold):
    scores = [np.array([0.0, 0.3, 0.6, 0.9])]
    assert_array_equal(keep_masks(scores, threshold)[0], scores[0] >= threshold)


def numpy_scores(weights, images, activation):
    """mean |activation| per node and layer, written out for two hidden layers (tanh or relu)."""
    f = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0))
    h1 = f(images.astype(np.float64) @ weights["hidden0_W"] + weights["hidden0_b"])
    h2 = f(h1 @ weights["hidden1_W"] + weights["hidden1_b"])
    return [np.abs(h1).mean(axis=0), np.abs(h2).mean(axis=0)]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_transfer_scores_and_redraws_with_its_activation_and_reinit_deeper(activation):
    rng = np.random.default_rng(5)
    weights = make_weights(rng)
    images = rng.uniform(size=(7, 16)).astype(np.float32)
    expected = numpy_scores(weights, images, activation)
    for got, want in zip(hidden_activity(weights, images, activation), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5)
    threshold = float(np.median(expected[0]))
    moved, report = transfer(weights, images, threshold, 3, np.random.default_rng(2), reinit_deeper=True,
                             activation=activation)
    masks = [scores >= threshold for scores in expected]
    assert [layer["kept"] for layer in report["layers"]] == [np.flatnonzero(m).tolist() for m in masks]
    assert report["threshold"] == threshold and report["probe_size"] == 7
    want = reinitialize(weights, masks, np.random.default_rng(2), True, activation)
    for name in ("hidden0_W", "hidden1_W"):  # the same draws, in the same order, with the deeper rows re-drawn
        assert_array_equal(moved[name], want[name])
    assert not np.array_equal(moved["hidden1_W"], weights["hidden1_W"])


def test_the_default_activation_is_tanh():
    rng = np.random.default_rng(6)
    weights = make_weights(rng)
    images = rng.uniform(size=(5, 16)).astype(np.float32)
    for got, want in zip(hidden_activity(weights, images), numpy_scores(weights, images, "tanh"), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5)
    plain, _ = transfer(weights, images, 0.5, 3, np.random.default_rng(1))
    explicit, _ = transfer(weights, images, 0.5, 3, np.random.default_rng(1), activation="tanh")
    for name in plain:
        assert_array_equal(plain[name], explicit[name])


def test_an_unknown_activation_is_an_error_not_a_silent_tanh():
    from transfer_learning.weights import apply_activation

    with pytest.raises(ValueError, match="unknown activation 'TANH'; expected one of tanh, relu"):
        apply_activation(np.zeros(3), "TANH")
    weights = make_weights(np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown activation"):
        hidden_activity(weights, np.zeros((2, 16), np.float32), "sigmoid")
    from transfer_learning.weights import init_bound

    with pytest.raises(ValueError, match="unknown activation 'TANH'"):
        init_bound(3, 4, "TANH")


def test_redraws_are_made_in_the_weights_precision():
    """float64 weights (a run with floatX=float64) get float64 draws, not float32 draws cast back up: reinitialize's
    columns and the deeper rows it re-draws, and shrink_perturb's fresh term."""
    from transfer_learning.transfer import shrink_perturb
    from transfer_learning.weights import init_bound

    weights = {k: v.astype(np.float64) for k, v in make_weights(np.random.default_rng(1)).items()}
    masks = [np.arange(8) % 3 != 0, np.arange(6) != 2]
    moved = reinitialize(weights, masks, np.random.default_rng(9), True, "relu")
    rng = np.random.default_rng(9)
    b1, b2 = init_bound(16, 8, "relu"), init_bound(8, 6, "relu")
    cols1 = rng.uniform(-b1, b1, size=(16, 3))
    rows2 = rng.uniform(-b2, b2, size=(3, 6))
    cols2 = rng.uniform(-b2, b2, size=(8, 1))
    assert moved["hidden0_W"].dtype == moved["hidden1_W"].dtype == np.float64
    assert_array_equal(moved["hidden0_W"][:, [0, 3, 6]], cols1)
    assert_array_equal(moved["hidden1_W"][np.ix_([0, 3, 6], [0, 1, 3, 4, 5])], rows2[:, [0, 1, 3, 4, 5]])
    assert_array_equal(moved["hidden1_W"][:, [2]], cols2)

    new = shrink_perturb(weights, 3, np.random.default_rng(5), 0.4, 0.1)
    rng = np.random.default_rng(5)
    for layer, (n_in, n_out) in enumerate(((16, 8), (8, 6))):
        bound = init_bound(n_in, n_out)
        fresh = rng.uniform(-bound, bound, size=(n_in, n_out))
        assert_array_equal(new[f"hidden{layer}_W"], 0.4 * weights[f"hidden{layer}_W"] + 0.1 * fresh)


def test_masks_are_boolean_and_the_report_refuses_unpaired_layers():
    from transfer_learning.transfer import top_fraction_masks

    masks = top_fraction_masks([np.array([0.3, 0.9, 0.1], np.float32), np.array([0.5, 0.2])], 0.5)
    assert [m.dtype for m in masks] == [np.dtype(bool)] * 2
    assert [m.tolist() for m in masks] == [[True, True, False], [True, False]]  # round(1.5) keeps 2, round(1) 1
    with pytest.raises(ValueError):
        layer_report([np.array([0.5])], masks)
