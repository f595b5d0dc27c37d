"""oneDNN's products (--gemm onednn): each against NumPy, chosen by shape when the graph is built, a training step
that follows OpenBLAS's within float32 rounding over hundreds of steps, a run that is the same every time and
resumes bit for bit, and the fallback to OpenBLAS where oneDNN is missing."""

import json

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from tests.helpers import make_splits, noisy_dataset, train_steps, transfer_config, write_pickle
from transfer_learning import onednn
from transfer_learning.experiment import run_transfer
from transfer_learning.model import MLP
from transfer_learning.train import Interrupted

pytestmark = pytest.mark.skipif(onednn.available() is not None, reason=f"{onednn.available()}")


def dnnl_ops(function):
    return [node.op for node in function.maker.fgraph.toposort() if isinstance(node.op, onednn.DnnlDot)]


@pytest.mark.parametrize("transpose_b", [False, True])
def test_the_product_is_numpys_within_float32_rounding(transpose_b):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(20, 300)).astype(np.float32)
    b = rng.normal(size=(64, 300) if transpose_b else (300, 64)).astype(np.float32)
    x, w = pt.matrix("x"), pt.matrix("w")
    f = pytensor.function([x, w], onednn.DnnlDot(transpose_b, 300, 64)(x, w))
    want = a.astype(np.float64) @ (b.T if transpose_b else b).astype(np.float64)
    got = f(a, b)
    assert dnnl_ops(f) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())
    np.testing.assert_array_equal(f(a[::-1].copy(), b), f(np.ascontiguousarray(a[::-1]), b))


def test_a_product_of_other_shapes_than_it_was_built_for_is_an_error():
    x, w = pt.matrix("x"), pt.matrix("w")
    f = pytensor.function([x, w], onednn.DnnlDot(False, 300, 64)(x, w))
    with pytest.raises(ValueError, match=r"not the product it was built for \(inner 300, width 64\)"):
        f(np.zeros((2, 300), np.float32), np.zeros((300, 65), np.float32))


@pytest.mark.parametrize(("shape", "gemm", "dtype", "chosen"), [
    ((784, 500), "onednn", "float32", True), ((784, 100), "onednn", "float32", True),
    ((500, 500), "onednn", "float32", True), ((100, 100), "onednn", "float32", False),
    ((500, 10), "onednn", "float32", False), ((784, 500), "openblas", "float32", False),
    ((784, 500), "onednn", "float64", False)])
def test_onednn_computes_the_products_it_is_faster_at_and_only_when_asked(shape, gemm, dtype, chosen):
    W = pytensor.shared(np.zeros(shape, dtype=dtype))
    z = onednn.product(pt.matrix(dtype=dtype), W, gemm)
    assert isinstance(z.owner.op, onednn.DnnlDot) == chosen


@pytest.mark.e2e
@pytest.mark.parametrize(("activation", "l2", "with_scales", "l2_sp"),
                         [("tanh", 1e-3, True, False), ("tanh", 0.0, False, False), ("relu", 1e-3, False, True),
                          ("relu", 0.0, True, False)])
def test_the_onednn_step_follows_the_openblas_one_over_hundreds_of_steps(activation, l2, with_scales, l2_sp):
    data, rng = noisy_dataset(300, 400, 100)
    scales = {"hidden0_W": rng.choice([0.0, 0.5, 1.0], 256).astype(np.float32),
              "hidden0_b": rng.choice([0.0, 1.0], 256).astype(np.float32)} if with_scales else None
    anchors = MLP(np.random.default_rng(4), pt.matrix(), 300, (256, 256), 4, activation=activation).get_weights() \
        if l2_sp else None
    settings = dict(steps=300, batch_size=20, learning_rate=0.02, l2=l2, scales=scales, anchors=anchors,
                    activation=activation)
    plain, plain_errors, plain_step = train_steps(data, (256, 256), gemm="openblas", **settings)
    quick, quick_errors, quick_step = train_steps(data, (256, 256), gemm="onednn", **settings)
    assert not dnnl_ops(plain_step.train_model)
    # layer 1 forward (300 -> 256), layer 2 forward (256 -> 256) and its backward product to layer 1 (256 x 256^T)
    assert sorted((op.inner, op.width, op.transpose_b) for op in dnnl_ops(quick_step.train_model)) == [
        (256, 256, False), (256, 256, True), (300, 256, False)]
    assert quick_errors == plain_errors
    for name, value in plain.items():
        np.testing.assert_allclose(quick[name], value, rtol=1e-4, atol=5e-6, err_msg=name)
    if with_scales:  # a frozen node stays frozen bit for bit
        frozen = scales["hidden0_W"] == 0
        start = MLP(np.random.default_rng(3), pt.matrix(), 300, (256, 256), 4, activation=activation).get_weights()
        assert quick["hidden0_W"][:, frozen].tobytes() == start["hidden0_W"][:, frozen].tobytes()


WIDE = ["--source", "mnist:0-1", "--target", "mnist:2-3", "--hidden-sizes", "256,64", "--batch-size", "10",
        "--n-epochs", "3", "--probe-size", "10", "--keep-fraction", "0.5", "--baselines", "scratch"]


@pytest.fixture(scope="module")
def wide_pickle(tmp_path_factory):
    return write_pickle(tmp_path_factory.mktemp("wide") / "wide.pkl.gz",
                        tuple(make_splits(n_in=300, sizes=(200, 60, 60))))


def weights_of(out):
    found = {}
    for path in sorted(out.glob("weights_*.npz")):
        with np.load(path) as archive:
            found[path.name] = {k: archive[k].tobytes() for k in archive.files}
    return found


@pytest.mark.e2e
def test_a_run_with_onednn_is_the_same_every_time_and_resumes_bit_for_bit(wide_pickle, tmp_path):
    args = [*WIDE, "--dataset", str(wide_pickle)]
    for name in ("first", "second"):
        run_transfer(transfer_config([*args, "--out", str(tmp_path / name)]), out=open("/dev/null", "w"))
    first = weights_of(tmp_path / "first")
    assert first and first == weights_of(tmp_path / "second")
    assert json.loads((tmp_path / "first" / "config.json").read_text())["config"]["gemm"] == "onednn"
    from tests.helpers import stop_after

    cut = tmp_path / "cut"
    with pytest.raises(Interrupted):
        run_transfer(transfer_config([*args, "--out", str(cut)]), stop_requested=stop_after(9 + 4),
                     out=open("/dev/null", "w"))
    run_transfer(transfer_config([*args, "--out", str(cut)]), resume=True, out=open("/dev/null", "w"))
    assert weights_of(cut) == first


def test_without_onednn_the_products_are_openblass_and_a_run_says_so_once(monkeypatch, capsys):
    monkeypatch.setattr(onednn, "available", lambda: "oneDNN is not installed (for this test)")
    onednn.note_fallback.cache_clear()
    W = pytensor.shared(np.zeros((784, 500), dtype="float32"))
    assert not isinstance(onednn.product(pt.matrix(), W, "onednn").owner.op, onednn.DnnlDot)
    lines = []
    onednn.note_fallback(lines.append)
    onednn.note_fallback(lines.append)
    assert lines == ["[gemm] oneDNN is not installed (for this test): OpenBLAS computes every product (--gemm onednn "
                     "falls back; config.json records why)"]
    onednn.note_fallback.cache_clear()
