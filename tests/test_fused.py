"""The fused kernels (fused.py): each against an independent NumPy computation, the rewrite that puts them in the
tutorial's graph, and the fused training step against the unfused one over hundreds of steps."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from tests.helpers import noisy_dataset, numpy_mlp, train_steps
from transfer_learning import backend, fused
from transfer_learning.config import TransferConfig
from transfer_learning.model import MLP, LogisticRegression
from transfer_learning.train import compile_functions
from transfer_learning.vocab import ConfigError


def softmax_nll_by_hand(z, y):
    """Mean NLL and (softmax - one-hot) / n in float64, row by row."""
    z = np.asarray(z, dtype=np.float64)
    loss, grad = 0.0, np.zeros_like(z)
    for i, row in enumerate(z):
        e = np.exp(row - row.max())
        p = e / e.sum()
        loss -= np.log(p[y[i]])
        grad[i] = p
        grad[i, y[i]] -= 1
    return loss / len(y), grad / len(y)


def compiled_softmax_nll(dtype="float32"):
    z, y = pt.matrix("z", dtype=dtype), pt.ivector("y")
    loss, error = fused.softmax_nll(z, y)
    return pytensor.function([z, y], [loss, error, pt.grad(loss, z)], mode=backend.compile_mode())


def test_softmax_nll_and_its_gradient_equal_a_row_by_row_computation():
    rng = np.random.default_rng(0)
    z = (rng.normal(size=(37, 10)) * 5).astype(np.float32)
    z[3] += 80  # a row far from 0: the max is taken out before exp
    y = rng.integers(0, 10, 37).astype(np.int32)
    loss, error, grad = compiled_softmax_nll()(z, y)
    want_loss, want_grad = softmax_nll_by_hand(z, y)
    assert loss.dtype == np.float32 and error.dtype == np.float32
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
    np.testing.assert_allclose(error, want_grad, atol=1e-8)
    np.testing.assert_allclose(grad, want_grad, atol=1e-8)  # the gradient is the second output, not a new pass


def test_the_c_kernel_and_the_python_fallback_agree_also_on_strided_input():
    rng = np.random.default_rng(1)
    wide = rng.normal(size=(20, 30)).astype(np.float32)
    z = wide[:, ::3]  # every third column: not contiguous
    y = rng.integers(0, 10, 20).astype(np.int32)
    c_loss, c_error, _ = compiled_softmax_nll()(z, y)
    node = fused.softmax_nll(pt.matrix("z"), pt.ivector("y"))[0].owner
    out = [[None], [None]]
    fused.softmax_nll.perform(node, [z, y], out)
    np.testing.assert_allclose(c_loss, out[0][0], rtol=1e-6)
    np.testing.assert_allclose(c_error, out[1][0], atol=1e-8)


def test_a_label_outside_the_classes_is_an_error():
    f = compiled_softmax_nll()
    assert "SoftmaxNLL" in str(f.maker.fgraph.toposort()) and f.maker.linker.__class__.__name__ != "NumbaLinker"
    z = np.zeros((4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="outside 0..2"):
        f(z, np.array([0, 1, 3, 0], dtype=np.int32))
    with pytest.raises(ValueError, match="outside 0..2"):
        f(z, np.array([0, -1, 2, 0], dtype=np.int32))


def test_rational_tanh_is_tanh_within_float32_rounding_and_passes_nan():
    x = pt.matrix("x")
    f = pytensor.function([x], fused.rational_tanh(x), mode=backend.compile_mode())
    z = np.concatenate([np.linspace(-20, 20, 400_001), [0.0, 1e-5, -3e-4, 5e-4, np.inf, -np.inf]]).astype(np.float32)
    t = f(z[None, :])[0]
    assert t.dtype == np.float32
    np.testing.assert_allclose(t, np.tanh(z.astype(np.float64)), atol=4e-7, rtol=0)
    assert np.all(np.abs(t) <= 1)
    np.testing.assert_array_equal(t[np.abs(z) < 4e-4], z[np.abs(z) < 4e-4])  # tanh(x) = x below 4e-4, as Eigen
    assert np.isnan(f(np.array([[np.nan]], dtype=np.float32))[0, 0])  # divergence stays visible
    np.testing.assert_allclose(fused._rational_tanh_f32(z), np.tanh(z.astype(np.float64)), atol=5e-7, rtol=0)


def test_rational_tanhs_gradient_is_one_minus_its_square():
    x = pt.vector("x")
    t = fused.rational_tanh(x)
    g = pytensor.function([x], pt.grad(t.sum(), x), mode=backend.compile_mode())
    z = np.linspace(-6, 6, 1001).astype(np.float32)
    np.testing.assert_allclose(g(z), 1 - np.tanh(z.astype(np.float64)) ** 2, atol=1e-6)


def _ops(function):
    return [type(node.op).__name__ + ":" + str(getattr(node.op, "scalar_op", "")) for node in
            function.maker.fgraph.apply_nodes]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_the_kernels_a_model_is_built_with_are_in_the_step_and_the_error_counter(tiny_data, activation):
    x, y = pt.matrix("x"), pt.ivector("y")
    model = MLP(np.random.default_rng(0), x, tiny_data.n_in, (8, 6), tiny_data.n_classes, activation=activation,
                kernels="fused")
    compiled = compile_functions(model, x, y, tiny_data, batch_size=10, learning_rate=0.1, L2_reg=1e-3)
    step = " ".join(_ops(compiled.train_model))
    assert "SoftmaxNLL" in step and "Exp" not in step.replace("Composite", "")
    assert ("rational_tanh" in step) == (activation == "tanh") and "sigmoid" not in step
    # the error counter must score the network the step trains: its tanh is the kernel too
    counter = str(pytensor.function([x], model.y_pred).maker.fgraph.toposort())
    assert "sigmoid" not in counter and ("rational_tanh" in counter) == (activation == "tanh")
    plain_model = MLP(np.random.default_rng(0), x, tiny_data.n_in, (8, 6), tiny_data.n_classes, activation=activation,
                      kernels="unfused")
    plain = compile_functions(plain_model, x, y, tiny_data, batch_size=10, learning_rate=0.1, L2_reg=1e-3)
    assert not any("SoftmaxNLL" in op or "rational_tanh" in op for op in _ops(plain.train_model))
    plain_counter = str(pytensor.function([x], plain_model.y_pred).maker.fgraph.toposort())
    assert ("sigmoid" in plain_counter) == (activation == "tanh")


def test_the_loss_is_the_kernel_exactly_when_asked_and_an_unknown_kernel_is_an_error(tiny_data):
    x, y = pt.matrix("x"), pt.ivector("y")
    fused_model = LogisticRegression(x, tiny_data.n_in, tiny_data.n_classes)  # the default: fused
    assert isinstance(fused_model.negative_log_likelihood(y).owner.op, fused.SoftmaxNLL)
    plain = LogisticRegression(x, tiny_data.n_in, tiny_data.n_classes, kernels="unfused")
    assert not isinstance(plain.negative_log_likelihood(y).owner.op, fused.SoftmaxNLL)
    for build in (lambda: LogisticRegression(x, 3, 2, kernels="fast"),
                  lambda: MLP(np.random.default_rng(0), x, 3, (2,), 2, kernels="fast")):
        with pytest.raises(ValueError, match="kernels must be one of"):
            build()


@pytest.mark.e2e
@pytest.mark.parametrize(("activation", "l2", "with_scales", "l2_sp"),
                         [("tanh", 1e-3, True, False), ("tanh", 0.0, False, False), ("relu", 1e-3, False, False),
                          ("relu", 0.0, True, False), ("tanh", 0.0, False, True), ("relu", 1e-3, True, True)])
def test_the_fused_step_follows_the_unfused_one_over_hundreds_of_steps(activation, l2, with_scales, l2_sp):
    data, rng = noisy_dataset(30, 300, 100)
    scales = {"hidden0_W": rng.choice([0.0, 0.5, 1.0], 12).astype(np.float32),
              "hidden0_b": rng.choice([0.0, 1.0], 12).astype(np.float32)} if with_scales else None
    # L2-SP pulls toward anchors (the source weights in a run; here other draws)
    anchors = MLP(np.random.default_rng(4), pt.matrix(), 30, (12, 10), 4, activation=activation).get_weights() \
        if l2_sp else None
    settings = dict(steps=300, batch_size=10, learning_rate=0.05, l2=l2, scales=scales, anchors=anchors,
                    activation=activation)
    plain, plain_errors, _ = train_steps(data, (12, 10), kernels="unfused", **settings)
    quick, quick_errors, _ = train_steps(data, (12, 10), kernels="fused", **settings)
    assert quick_errors == plain_errors
    for name, value in plain.items():
        np.testing.assert_allclose(quick[name], value, rtol=1e-4, atol=2e-6, err_msg=name)
    if with_scales:  # a frozen node stays frozen bit for bit
        frozen = scales["hidden0_W"] == 0
        start = MLP(np.random.default_rng(3), pt.matrix(), 30, (12, 10), 4, activation=activation).get_weights()
        assert quick["hidden0_W"][:, frozen].tobytes() == start["hidden0_W"][:, frozen].tobytes()


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_one_fused_step_is_one_sgd_step_computed_by_hand(tiny_data, activation):
    x, y = pt.matrix("x"), pt.ivector("y")
    model = MLP(np.random.default_rng(0), x, tiny_data.n_in, (8, 6), tiny_data.n_classes, activation=activation,
                kernels="fused")
    model.logRegressionLayer.W.set_value(np.random.default_rng(1).normal(0, 0.3, (6, 3)).astype(np.float32))
    compiled = compile_functions(model, x, y, tiny_data, batch_size=10, learning_rate=0.1, L2_reg=1e-3)
    before = {k: v.astype(np.float64) for k, v in model.get_weights().items()}
    cost, grads = numpy_mlp(before, tiny_data.train.x[20:30].astype(np.float64), tiny_data.train.y[20:30], 0.0, 1e-3,
                            activation=activation)
    nll = compiled.train_model(2)
    after = model.get_weights()
    l2_value = 1e-3 * sum((before[k] ** 2).sum() for k in before if k.endswith("_W"))
    np.testing.assert_allclose(nll, cost - l2_value, rtol=1e-5)
    for name in before:
        np.testing.assert_allclose(after[name], before[name] - 0.1 * grads[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_kernels_is_a_setting_with_a_one_line_error():
    assert TransferConfig().kernels == "fused"
    with pytest.raises(ConfigError, match="--kernels: expected one of fused, unfused"):
        TransferConfig(kernels="quick").validate()


FUSED = ["--kernels", "fused"]


@pytest.fixture(scope="module")
def fused_run(tmp_path_factory):
    """A tiny transfer run with the fused kernels, and the same run unfused."""
    from tests.helpers import TINY, make_splits, write_pickle
    from transfer_learning import cli

    tmp = tmp_path_factory.mktemp("fused")
    pickle_path = write_pickle(tmp / "tiny.pkl.gz", tuple(make_splits()))
    for kernels in ("fused", "unfused"):
        args = [*TINY, "--dataset", str(pickle_path), "--kernels", kernels, "--out", str(tmp / kernels)]
        assert cli.main_transfer(args) == 0
    return tmp, pickle_path


@pytest.mark.e2e
def test_a_fused_run_records_its_kernels_and_differs_only_in_the_last_bits(fused_run):
    import json

    tmp, _ = fused_run
    assert json.loads((tmp / "fused" / "config.json").read_text())["config"]["kernels"] == "fused"
    assert json.loads((tmp / "unfused" / "config.json").read_text())["config"]["kernels"] == "unfused"
    with np.load(tmp / "fused" / "weights_final.npz") as a, np.load(tmp / "unfused" / "weights_final.npz") as b:
        assert any(a[k].tobytes() != b[k].tobytes() for k in a.files)  # the kernels did run
        for key in a.files:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-3, atol=1e-4, err_msg=key)


@pytest.mark.e2e
def test_a_fused_run_resumed_equals_the_uninterrupted_one(fused_run, tmp_path):
    from tests.helpers import TINY, assert_same_results, stop_after, transfer_config
    from transfer_learning import cli
    from transfer_learning.experiment import run_transfer
    from transfer_learning.train import Interrupted

    tmp, pickle_path = fused_run
    out = tmp_path / "run"
    with pytest.raises(Interrupted):
        run_transfer(transfer_config([*TINY, "--dataset", str(pickle_path), *FUSED, "--out", str(out)]),
                     stop_requested=stop_after(10))
    assert cli.main_transfer(["--resume", str(out)]) == 0
    assert_same_results(tmp / "fused", out)


def test_a_fused_sweep_run_is_the_fused_single_run(fused_run, tmp_path):
    from tests.helpers import TINY
    from transfer_learning import sweep

    tmp, pickle_path = fused_run
    assert sweep.main([*TINY, "--dataset", str(pickle_path), *FUSED, "--thresholds", "0.6", "--seeds", "1234",
                       "--jobs", "1", "--out", str(tmp_path / "sw")]) == 0
    run = tmp_path / "sw" / "runs" / "seed1234-t0.6"
    for name in ("weights_source.npz", "weights_final.npz"):
        with np.load(tmp / "fused" / name) as a, np.load(run / name) as b:
            for key in a.files:
                assert a[key].tobytes() == b[key].tobytes(), f"{name}:{key}"


def test_compat_2015_refuses_the_fused_kernels(capsys):
    from transfer_learning import cli

    assert cli.main_transfer(["--compat", "2015", *FUSED]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--kernels has no meaning in 2015 mode" in err[0]
