"""The PyTensor graph against an independent NumPy forward and backward pass."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from tests.helpers import numpy_mlp
from transfer_learning.model import MLP, LogisticRegression, regularizers


@pytest.fixture(scope="module")
def mlp_fn():
    x, y = pt.matrix("x"), pt.ivector("y")
    rng = np.random.default_rng(0)
    model = MLP(rng, x, 4, (5, 3), 3)
    l1, l2 = 1e-3, 1e-2
    L1, L2_sqr = regularizers(model)
    cost = model.negative_log_likelihood(y) + l1 * L1 + l2 * L2_sqr
    grads = pt.grad(cost, model.params)
    return model, pytensor.function([x, y], [cost, *grads]), l1, l2


def test_forward_and_gradients_match_numpy(mlp_fn):
    model, fn, l1, l2 = mlp_fn
    rng = np.random.default_rng(1)
    weights = {k: rng.normal(0, 0.5, size=v.shape).astype(np.float32) for k, v in model.get_weights().items()}
    model.set_weights(weights)
    x = rng.uniform(size=(5, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 0], dtype=np.int32)
    cost, *grads = fn(x, y)
    as64 = {k: v.astype(np.float64) for k, v in weights.items()}
    want_cost, want_grads = numpy_mlp(as64, x.astype(np.float64), y, l1, l2)
    np.testing.assert_allclose(cost, want_cost, rtol=1e-5)
    for name, got in zip(model._names(), grads, strict=True):
        np.testing.assert_allclose(got, want_grads[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_relu_forward_and_gradients_match_numpy():
    x_sym, y_sym = pt.matrix("x"), pt.ivector("y")
    model = MLP(np.random.default_rng(0), x_sym, 4, (5, 3), 3, activation="relu")
    cost = model.negative_log_likelihood(y_sym) + 1e-2 * regularizers(model)[1]
    fn = pytensor.function([x_sym, y_sym], [cost, *pt.grad(cost, model.params)])
    rng = np.random.default_rng(1)
    weights = {k: rng.normal(0, 0.5, size=v.shape).astype(np.float32) for k, v in model.get_weights().items()}
    model.set_weights(weights)
    x = rng.uniform(-1, 1, size=(6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 0, 2], dtype=np.int32)
    cost, *grads = fn(x, y)
    as64 = {k: v.astype(np.float64) for k, v in weights.items()}
    want_cost, want_grads = numpy_mlp(as64, x.astype(np.float64), y, 0.0, 1e-2, activation="relu")
    np.testing.assert_allclose(cost, want_cost, rtol=1e-5)
    for name, got in zip(model._names(), grads, strict=True):
        np.testing.assert_allclose(got, want_grads[name], rtol=1e-4, atol=1e-6, err_msg=name)
    assert any((x @ weights["hidden0_W"] + weights["hidden0_b"] < 0).ravel())  # some units are off


def test_weights_round_trip_and_shape_check(mlp_fn):
    model = mlp_fn[0]
    weights = model.get_weights()
    assert list(weights) == ["hidden0_W", "hidden0_b", "hidden1_W", "hidden1_b", "output_W", "output_b"]
    assert weights["hidden0_W"].shape == (4, 5)
    assert all(v.dtype == np.float32 for v in weights.values())
    weights["hidden0_W"] = weights["hidden0_W"] + 1
    model.set_weights(weights)
    np.testing.assert_array_equal(model.get_weights()["hidden0_W"], weights["hidden0_W"])
    with pytest.raises(ValueError, match="hidden1_W: expected shape"):
        model.set_weights({**weights, "hidden1_W": np.zeros((2, 2))})


def test_glorot_init_is_seeded_and_bounded():
    x = pt.matrix("x")
    a = MLP(np.random.default_rng(7), x, 30, (20,), 2).get_weights()
    b = MLP(np.random.default_rng(7), x, 30, (20,), 2).get_weights()
    np.testing.assert_array_equal(a["hidden0_W"], b["hidden0_W"])
    W, bound = a["hidden0_W"], np.sqrt(6 / 50)
    assert np.abs(W).max() <= bound and W.min() < -0.9 * bound and W.max() > 0.9 * bound  # bounded and spread
    assert W.std() == pytest.approx(bound / np.sqrt(3), rel=0.1)  # uniform on [-b, b]: sd b / sqrt(3)
    assert len(np.unique(W)) == W.size  # no repeated (or zero) entries
    c = MLP(np.random.default_rng(8), x, 30, (20,), 2).get_weights()["hidden0_W"]
    assert not np.array_equal(W, c)  # another seed, another draw
    assert not a["hidden0_b"].any() and not a["output_W"].any()


def test_unknown_weight_name_is_refused():
    with pytest.raises(ValueError, match="unknown weight names"):
        MLP(np.random.default_rng(0), pt.matrix("x"), 4, (3,), 2, weights={"hidden9_W": np.zeros((4, 3))})


def test_logistic_regression_softmax_is_per_row():
    x = pt.matrix("x")
    clf = LogisticRegression(x, 3, 4, W=np.arange(12).reshape(3, 4) / 10)
    p = pytensor.function([x], clf.p_y_given_x)(np.eye(3, dtype=np.float32))
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)


def test_fast_tanh_is_tanh_and_has_its_gradient():
    from transfer_learning.model import fast_tanh

    z = pt.vector("z")
    f = pytensor.function([z], [fast_tanh(z), pt.grad(fast_tanh(z).sum(), z)])
    values = np.array([-100, -20, -3, -0.5, -1e-3, 0, 1e-3, 0.5, 3, 20, 100], dtype=np.float32)
    out, grad = f(values)
    np.testing.assert_allclose(out, np.tanh(values), atol=3e-7)
    np.testing.assert_allclose(grad, 1 - np.tanh(values.astype(np.float64)) ** 2, atol=1e-6)
    assert np.all(np.abs(out) <= 1) and np.isfinite(grad).all()


def test_blas_is_linked():
    from transfer_learning import backend

    flags = pytensor.config.blas__ldflags
    assert flags, "PyTensor runs without BLAS"
    assert backend.scipy_openblas() is not None


def test_init_rng_legacy_is_the_tutorials_randomstate_draws(tmp_path, tiny_pickle):
    """--init-rng legacy: one RandomState(seed), each W drawn whole in layer order (with a learning rate too
    small to move a float32 weight, the saved source weights are the initial ones)."""
    from transfer_learning import cli

    out = tmp_path / "legacy"
    assert cli.main_transfer(["--source", "mnist:0-3", "--hidden-sizes", "6,5", "--batch-size", "10", "--n-epochs",
                              "1", "--no-transfer", "--learning-rate", "1e-30", "--init-rng", "legacy", "--seed", "77",
                              "--dataset", str(tiny_pickle), "--out", str(out)]) == 0
    rng = np.random.RandomState(77)
    want0 = rng.uniform(low=-np.sqrt(6 / 22), high=np.sqrt(6 / 22), size=(16, 6)).astype(np.float32)
    want1 = rng.uniform(low=-np.sqrt(6 / 11), high=np.sqrt(6 / 11), size=(6, 5)).astype(np.float32)
    with np.load(out / "weights_source.npz") as saved:
        np.testing.assert_array_equal(saved["hidden0_W"], want0)
        np.testing.assert_array_equal(saved["hidden1_W"], want1)
