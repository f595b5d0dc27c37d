"""weights.py on its own: the initial draws as the tutorial makes them, the NumPy forward pass, the checks on a
loaded file, and the digest that says what a run started from."""

import numpy as np
import pytest

from transfer_learning.vocab import DataError
from transfer_learning.weights import (
    apply_activation,
    check_weights,
    expected_shapes,
    hidden_layers,
    init_bound,
    initial_weights,
    legacy_initial_weights,
    load_weights,
    weights_digest,
)


def test_the_bounds_are_glorot_for_tanh_and_he_for_relu():
    assert init_bound(784, 500) == pytest.approx((6 / (784 + 500)) ** 0.5)
    assert init_bound(784, 500, "relu") == pytest.approx((6 / 784) ** 0.5)
    with pytest.raises(ValueError, match="unknown activation 'sigmoid'; expected one of tanh, relu"):
        init_bound(3, 4, "sigmoid")


def test_the_tutorials_draws_layer_by_layer_from_one_random_state():
    got = legacy_initial_weights(1234, 6, (5, 4), 3)
    rng = np.random.RandomState(1234)
    b0, b1 = (6 / 11) ** 0.5, (6 / 9) ** 0.5
    want0 = rng.uniform(low=-b0, high=b0, size=(6, 5)).astype(np.float32)
    want1 = rng.uniform(low=-b1, high=b1, size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(got["hidden0_W"], want0)
    np.testing.assert_array_equal(got["hidden1_W"], want1)
    for name in ("hidden0_b", "hidden1_b", "output_W", "output_b"):
        assert not got[name].any()
    assert {k: v.shape for k, v in got.items()} == expected_shapes(6, (5, 4), 3)


def test_a_generators_draws_are_one_call_per_layer_in_order():
    got = initial_weights(np.random.default_rng(7), 6, (5, 4), 3, activation="relu")
    rng = np.random.default_rng(7)
    np.testing.assert_array_equal(got["hidden0_W"], rng.uniform(-(1.0 ** 0.5), 1.0, size=(6, 5)).astype("float32"))
    bound = (6 / 5) ** 0.5
    np.testing.assert_array_equal(got["hidden1_W"], rng.uniform(-bound, bound, size=(5, 4)).astype("float32"))
    assert got["output_W"].shape == (4, 3) and not got["output_W"].any()


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_the_forward_pass_equals_a_node_by_node_loop(activation):
    rng = np.random.default_rng(0)
    weights = initial_weights(rng, 4, (3, 2), 2, dtype="float64", activation=activation)
    weights["hidden0_b"] = rng.normal(size=3)
    x = rng.normal(size=(5, 4))
    layers = hidden_layers(weights, x, activation)
    f = np.tanh if activation == "tanh" else (lambda z: max(z, 0.0))
    previous = x
    for layer, (w, b) in enumerate([("hidden0_W", "hidden0_b"), ("hidden1_W", "hidden1_b")]):
        for row in range(5):
            for node in range(weights[w].shape[1]):
                z = sum(previous[row, i] * weights[w][i, node] for i in range(weights[w].shape[0])) + weights[b][node]
                assert layers[layer][row, node] == pytest.approx(f(z), abs=1e-12)
        previous = layers[layer]


def test_an_unknown_activation_is_an_error_not_tanh():
    with pytest.raises(ValueError, match="unknown activation 'elu'"):
        apply_activation(np.zeros(2), "elu")


def test_a_loaded_file_must_have_the_networks_names_shapes_and_finite_floats(tmp_path):
    shapes = expected_shapes(4, (3,), 2)
    good = {name: np.zeros(shape, np.float32) for name, shape in shapes.items()}
    check_weights("w.npz", good, shapes)
    with pytest.raises(DataError, match=r"^w.npz: holds arrays \['hidden0_W', 'hidden0_b', 'output_W'\], expected"):
        check_weights("w.npz", {k: v for k, v in good.items() if k != "output_b"}, shapes)
    with pytest.raises(DataError, match=r"^w.npz: current/hidden0_W has shape \(3, 4\) dtype float32, expected float "
                                        r"\(4, 3\)"):
        check_weights("w.npz", {**good, "hidden0_W": np.zeros((3, 4), np.float32)}, shapes, prefix="current/")
    with pytest.raises(DataError, match="output_b has shape"):
        check_weights("w.npz", {**good, "output_b": np.zeros(2, np.int32)}, shapes)
    with pytest.raises(DataError, match="^w.npz: output_b holds NaN or infinite values$"):
        check_weights("w.npz", {**good, "output_b": np.array([0.0, np.inf], np.float32)}, shapes)
    path = tmp_path / "w.npz"
    np.savez(path, **{k: v.astype(np.float64) for k, v in good.items()})
    assert {k: v.dtype for k, v in load_weights(path, shapes).items()} == {k: np.float32 for k in shapes}
    with pytest.raises(DataError, match="no such file"):
        load_weights(tmp_path / "missing.npz", shapes)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable weights .npz"):
        load_weights(tmp_path / "bad.npz", shapes)


def test_the_digest_changes_with_any_bit_name_dtype_or_shape_and_not_with_order():
    a = {"hidden0_W": np.arange(6, dtype=np.float32).reshape(2, 3), "output_b": np.zeros(2, np.float32)}
    digest = weights_digest(a)
    assert weights_digest(dict(reversed(list(a.items())))) == digest
    flipped = a["hidden0_W"].copy()
    flipped.view(np.uint32)[0, 0] ^= 1
    assert weights_digest({**a, "hidden0_W": flipped}) != digest
    assert weights_digest({**a, "hidden0_W": a["hidden0_W"].reshape(3, 2)}) != digest
    assert weights_digest({**a, "hidden0_W": a["hidden0_W"].astype(np.float64)}) != digest
    assert weights_digest({"hidden1_W": a["hidden0_W"], "output_b": a["output_b"]}) != digest
    assert weights_digest({**a, "hidden0_W": np.asfortranarray(a["hidden0_W"])}) == digest
