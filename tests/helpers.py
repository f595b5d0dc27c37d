"""Helpers the tests share: tiny data made with a seeded generator, the tiny transfer run's flags, NumPy computations
written out by hand to check the package against, and the comparison of two run directories. Fixtures stay in
conftest.py; these are plain functions a test imports."""

import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from transfer_learning import cli, data
from transfer_learning.config import TransferConfig
from transfer_learning.data.core import Dataset, Split
from transfer_learning.experiment import run_transfer
from transfer_learning.train import Check, History, Interrupted


def paste_into_a_shell(hint: str, cwd, **popen):
    """Run a printed hint (a resume or continue command) as a user pasting it would: in bash, with a PATH that has no
    `python` of the project's venv (the interpreter the hint names must be the one that has the packages)."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"
    return subprocess.Popen(["bash", "-c", hint], cwd=cwd, env=env, **popen)


def make_splits(seed=0, n_in=16, n_classes=4, sizes=(60, 24, 24)):
    """Separable-ish synthetic data: class means apart, noise on top, float32 in [0, 1)."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(0, 1, size=(n_classes, n_in))
    splits = []
    for n in sizes:
        y = np.arange(n) % n_classes
        x = np.clip(means[y] + rng.normal(0, 0.1, size=(n, n_in)), 0, 0.999).astype(np.float32)
        splits.append((x, y.astype(np.int64)))
    return splits


def write_pickle(path, content):
    with gzip.open(path, "wb") as f:
        pickle.dump(content, f, protocol=2)
    return path


#: A transfer run on tiny_pickle's 4x4 images that takes a fraction of a second: two classes each way,
#: hidden layers of 6 and 5 nodes, 3 epochs per phase, a 10-image probe.
TINY = ["--source", "mnist:0-1", "--target", "mnist:2-3", "--hidden-sizes", "6,5", "--batch-size", "10",
        "--n-epochs", "3", "--probe-size", "10"]
#: The same at threshold 0.5, which keeps some nodes of each layer and re-draws others.
TINY_KEEPING_SOME = [*TINY, "--threshold", "0.5"]


def transfer_config(argv) -> TransferConfig:
    """The settings mlp_transfer.py runs with for ``argv``: its parser, the flags that are not settings left out."""
    parser = cli.build_parser(TransferConfig, "t", "")
    return cli._config_from_args(TransferConfig, parser, parser.parse_args(argv))


def holm_by_hand(p):
    """Holm's step-down adjustment written out, independently of transfer_learning.stats.holm."""
    order = np.argsort(p)
    adjusted, running = np.empty(len(p)), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def numpy_mlp(weights, x, y, l1, l2, activation="tanh"):
    """Forward and backward by hand: tanh (or relu) layers, softmax, mean NLL + L1 + L2 on weight matrices."""
    n_layers = sum(k.endswith("_W") for k in weights) - 1
    acts, h = [x], x
    for i in range(n_layers):
        z = h @ weights[f"hidden{i}_W"] + weights[f"hidden{i}_b"]
        h = np.tanh(z) if activation == "tanh" else np.maximum(z, 0)
        acts.append(h)
    z = h @ weights["output_W"] + weights["output_b"]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    matrices = [v for k, v in weights.items() if k.endswith("_W")]
    cost = -np.log(p[np.arange(n), y]).mean() + l1 * sum(np.abs(W).sum() for W in matrices) \
        + l2 * sum((W ** 2).sum() for W in matrices)
    grads = {}
    delta = p.copy()
    delta[np.arange(n), y] -= 1
    delta /= n
    names = [(f"hidden{i}_W", f"hidden{i}_b") for i in range(n_layers)] + [("output_W", "output_b")]
    for layer in reversed(range(n_layers + 1)):
        w_name, b_name = names[layer]
        W = weights[w_name]
        grads[w_name] = acts[layer].T @ delta + l1 * np.sign(W) + 2 * l2 * W
        grads[b_name] = delta.sum(axis=0)
        if layer:
            slope = (1 - acts[layer] ** 2) if activation == "tanh" else (acts[layer] > 0)
            delta = (delta @ W.T) * slope
    return cost, grads


def make_weights(rng, sizes=(16, 8, 6), n_out=3):
    weights = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        weights[f"hidden{i}_W"] = rng.normal(0, 0.5, size=(a, b)).astype(np.float32)
        weights[f"hidden{i}_b"] = rng.normal(0, 0.5, size=b).astype(np.float32)
    weights["output_W"] = rng.normal(size=(sizes[-1], n_out)).astype(np.float32)
    weights["output_b"] = rng.normal(size=n_out).astype(np.float32)
    return weights


TIMING_KEYS = {"source_seconds", "target_seconds", "seconds"}


def assert_same_results(a: Path, b: Path):
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        if name.endswith(".npz"):
            with np.load(a / name) as x, np.load(b / name) as y:
                assert x.files == y.files, name
                for key in x.files:
                    if name.startswith("checkpoint") and key == "state":
                        continue  # holds wall-clock seconds; its training state is compared below
                    np.testing.assert_array_equal(x[key], y[key], err_msg=f"{name}:{key}")
        elif name.endswith(".json"):
            x, y = json.loads((a / name).read_text()), json.loads((b / name).read_text())
            if name == "config.json":
                x["config"].pop("out"), y["config"].pop("out")
            for d in (x, y):
                for key in TIMING_KEYS & set(d):
                    d.pop(key)
                d.get("auto", {}).pop("seconds", None)  # --threshold auto's wall-clock cost
            assert x == y, name
        elif name.endswith((".txt", ".csv", ".npy")):
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    checkpoints = [name for name in names if name.startswith("checkpoint_")]
    if (a / "results.json").is_file():
        assert not checkpoints, checkpoints  # a finished run keeps none (experiment.py drops them)
    for name in checkpoints:
        states = [json.loads(np.load(d / name)["state"].tobytes()) for d in (a, b)]
        for state in states:
            state["history"].pop("seconds")
        assert states[0] == states[1]


def stop_after(n_minibatches):
    calls = {"n": 0}

    def requested():
        calls["n"] += 1
        return "SIGINT" if calls["n"] >= n_minibatches else None

    return requested


def interrupted(args, out):
    """A run of ``args`` stopped by a signal inside its target phase."""
    cfg = transfer_config([*args, "--out", str(out)])
    with pytest.raises(Interrupted):
        run_transfer(cfg, stop_requested=stop_after(9 + 4))
    assert (out / "checkpoint_target.npz").is_file()


def save(path, pixels, fmt=None, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode).save(path, format=fmt)
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fashion(directory, n_train=10_012, n_test=6, seed=0):
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for (images, labels), n in zip(data.fashion.FASHION_FILES.values(), (n_train, n_test), strict=True):
        (directory / f"{images}.gz").write_bytes(gzip.compress(idx_bytes(rng.integers(0, 256, (n, 4, 4)))))
        (directory / f"{labels}.gz").write_bytes(gzip.compress(idx_bytes(np.arange(n) % 10)))


def fake_history(errors, best=None):
    history = History(phase="x", checks=[Check(e + 1, 3, 0, err, 0.1) for e, err in enumerate(errors)])
    history.best_validation_error = min(errors) if best is None else best
    history.epoch = len(errors)
    history.test_error = 0.1
    return history


def make_folder(root, classes=("A", "B", "C"), per_class=10, seed=0):
    """Light-on-dark glyph-like images of assorted sizes and formats, one sub-folder per class."""
    rng = np.random.default_rng(seed)
    for k, name in enumerate(classes):
        for i in range(per_class):
            h, w = rng.integers(10, 60, size=2)
            pixels = np.zeros((h, w), np.uint8)
            pixels[:, (k * w) // len(classes):((k + 1) * w) // len(classes)] = 200 + k * 20  # a stripe per class
            ext = ("png", "jpg", "bmp")[i % 3]
            save(root / name / f"{i:03d}.{ext}", pixels)
    return root


def noisy_dataset(n_in, n_train, n_valid, seed=5):
    """Four noisy classes of ``n_in`` features: enough steps of SGD to amplify any difference in the last bits."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(0, 1, (4, n_in))
    labels = np.arange(n_train + n_valid) % 4
    x = np.clip(means[labels] + rng.normal(0, 0.3, (labels.size, n_in)), 0, 1).astype(np.float32)
    train = Split(x[:n_train], labels[:n_train].astype(np.int32))
    valid = Split(x[n_train:], labels[n_train:].astype(np.int32))
    return Dataset("noisy", train, valid, valid, n_classes=4, classes=(0, 1, 2, 3)), rng


def train_steps(data, hidden, steps, batch_size, learning_rate, l2, scales=None, anchors=None, activation="tanh",
                **model_kwargs):
    """``steps`` SGD steps of an MLP (drawn from seed 3, built with ``model_kwargs``: kernels=, gemm=) through the
    project's compiled step; returns its weights, the validation error count every 50 steps, and the compiled step."""
    import pytensor.tensor as pt

    from transfer_learning.model import MLP
    from transfer_learning.train import compile_functions, minibatch_steps

    x, y = pt.matrix("x"), pt.ivector("y")
    model = MLP(np.random.default_rng(3), x, data.n_in, hidden, data.n_classes, activation=activation, **model_kwargs)
    compiled = compile_functions(model, x, y, data, batch_size=batch_size, learning_rate=learning_rate, L2_reg=l2,
                                 lr_scales=scales, l2_sp=0.05 if anchors else 0.0, anchors=anchors)
    errors = []
    with minibatch_steps(compiled) as step:
        for i in range(steps):
            step(i % compiled.n_train_batches)
            if i % 50 == 49:
                errors.append(compiled.count_errors_valid(0, compiled.n_valid))
    return model.get_weights(), errors, compiled
