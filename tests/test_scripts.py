"""End-to-end runs of the three scripts on real MNIST with a tiny budget (slow: --runslow)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def run(script, *args):
    result = subprocess.run([sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_logistic_sgd_script(tmp_path):
    stdout = run("logistic_sgd.py", "--n-epochs", "2", "--out", str(tmp_path / "r"))
    assert "epoch 1, minibatch 83/83, validation error" in stdout
    assert stdout.strip().splitlines()[-1].startswith("Optimization complete with best validation score of")
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    from transfer_learning.data import load_mnist

    test = load_mnist()[2]
    with np.load(tmp_path / "r" / "best_model.npz") as best:
        assert best["output_W"].shape == (784, 10)
        wrong = (test.x @ best["output_W"] + best["output_b"]).argmax(axis=1) != test.y
    # the saved best model's error, scored the tutorial's way (16 minibatches of 600) and over every example
    assert results["test_error"] == pytest.approx(np.mean([wrong[i * 600:(i + 1) * 600].mean() for i in range(16)]),
                                                  abs=1 / 9600)
    assert results["test_error_all_examples"] == pytest.approx(wrong.mean(), abs=1 / 10000)
    assert f"with test performance {results['test_error'] * 100:f} %" in stdout


def test_mlp_transfer_default_run(tmp_path):
    out = tmp_path / "r"
    stdout = run("mlp_transfer.py", "--n-epochs", "1", "--out", str(out))
    assert "epoch 1, minibatch 1276/1276, validation error" in stdout  # 25,5xx images of 0-4 / 20
    assert "target mnist:5-9: test error" in stdout
    results = json.loads((out / "results.json").read_text())
    from transfer_learning.data import load_task
    from transfer_learning.metrics import error_rate

    for key, task, weights in (("source_test_error", "mnist:0-4", "weights_source.npz"),
                               ("target_test_error", "mnist:5-9", "weights_final.npz")):
        test = load_task(task).test
        with np.load(out / weights) as saved:  # the saved weights' error, recomputed in NumPy (float64)
            recomputed = error_rate({k: saved[k].astype(np.float64) for k in saved.files}, test)
        assert results[key] == pytest.approx(recomputed, abs=2 / len(test.y)), key
    report = json.loads((out / "transfer.json").read_text())
    assert [len(layer["scores"]) for layer in report["layers"]] == [100, 100]
    for layer in report["layers"]:  # kept: the nodes scoring at least 0.6, the 2015 threshold
        assert layer["kept"] == [i for i, score in enumerate(layer["scores"]) if score >= 0.6]
    assert results["nodes_kept"] == [layer["n_kept"] for layer in report["layers"]]
    probe = np.load(out / "probe_images.npy")
    assert probe.shape == (100, 784)


def test_mlp_transfer_pictures_script(tmp_path):
    out = tmp_path / "r"
    stdout = run("mlp_transfer_pictures.py", "--source", "mnist:0,1", "--target", "mnist:7,9", "--n-epochs", "1",
                 "--hidden-sizes", "16", "--probe-size", "9", "--per-node", "--out", str(out))
    from PIL import Image

    # the last line names every picture written, a numbered series once with its count
    listed = stdout.strip().splitlines()[-1]
    assert listed == ("  pictures: curves.png, probe_images.png, weights_init.png, weights_trained.png, "
                      "weights_transfer.png, inputImage*.png (9), wMapInit*.png (16), wMapTrained*.png (16), "
                      "wMapTransfer*.png (16)")
    assert len(list(out.glob("*.png"))) == 5 + 9 + 3 * 16

    for name in ("weights_init.png", "weights_trained.png", "weights_transfer.png", "probe_images.png"):
        with Image.open(out / name) as image:  # real pictures, not empty files
            assert image.size[0] > 100 and np.asarray(image.convert("L")).std() > 0, name
    with np.load(out / "weights_source.npz") as weights:
        column = weights["hidden0_W"][:, 15].reshape(28, 28)
    pixels = np.asarray(Image.open(out / "wMapTrained15.png").convert("L"), dtype=float)
    np.testing.assert_allclose(pixels, (column - column.min()) / np.ptp(column) * 255, atol=2.01)
    probe = np.load(out / "probe_images.npy")
    assert probe.shape == (9, 784)
    image = np.asarray(Image.open(out / "inputImage8.png").convert("L"), dtype=float)
    np.testing.assert_allclose(image, ((probe[8] - probe[8].min()) / np.ptp(probe[8]) * 255).reshape(28, 28),
                               atol=2.01)
    for name in ("wMapInit15.png", "wMapTransfer15.png"):
        assert Image.open(out / name).size == (28, 28), name


def test_benchmark_runs_in_tiny_mode(tmp_path):
    """Only that the benchmark works and its trainers agree; timings are never asserted."""
    out = tmp_path / "epoch.json"
    stdout = run("bench/epoch.py", "--tiny", "--no-torch", "--cases", "bc", "--json", str(out))
    assert "ours / NumPy" in stdout and "fused / unfused" in stdout
    results = json.loads(out.read_text())
    for row in results["cases"].values():
        errors = {name: t["validation_error"] for name, t in row["trainers"].items()}
        # same init, same minibatches, same update: the trainers must agree
        assert errors["ours (PyTensor)"] == pytest.approx(errors["hand-written NumPy"], abs=0.002), errors
        assert errors["ours, fused kernels"] == pytest.approx(errors["ours (PyTensor)"], abs=0.002), errors
        assert row["floor_s"] > 0 and row["gemm_gflops"] > 0


def test_benchmark_profile_shows_the_step_op_by_op():
    """--profile prints PyTensor's per-op profile of our compiled step, unfused and fused: its products and
    elementwise loops, and in the fused one the fused softmax loss in their place."""
    stdout = run("bench/epoch.py", "--profile", "--tiny", "--cases", "c")
    unfused, fused = stdout.split("(c) logistic 784-10, ours, fused kernels: 3 steps per epoch")
    assert "(c) logistic 784-10, ours (PyTensor): 3 steps per epoch" in unfused
    assert "Time in thunks" in unfused and "Time in thunks" in fused
    for op in ("pytensor.tensor.blas.Dot22", "pytensor.tensor.blas.Gemm", "pytensor.tensor.elemwise.Elemwise"):
        assert op in unfused, op
    assert "transfer_learning.fused.SoftmaxNLL" in fused and "SoftmaxNLL" not in unfused
