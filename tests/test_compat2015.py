"""--compat 2015 against the 2015 computation re-done here in NumPy, step by step (SPEC-2015.md): RandomState
draws, training with layer 2 frozen and the final weights kept, the bias-free score, the column-by-column
re-draws, the defective layer-2 list, the minibatch scoring, out.txt's number format and the printed lines."""

import contextlib
import hashlib
import io
import json
import re
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import make_splits, numpy_mlp, write_pickle
from transfer_learning import blas, cli
from transfer_learning.compat2015 import FIXES, py2_str
from transfer_learning.inputs import versions
from transfer_learning.train import LoopSettings
from transfer_learning.vocab import ConfigError

N_HIDDEN, BATCH, EPOCHS, PROBE, THRESHOLD = 6, 7, 3, 10, 0.3
ARGS = ["--compat", "2015", "--hidden-sizes", str(N_HIDDEN), "--batch-size", str(BATCH), "--n-epochs", str(EPOCHS),
        "--probe-size", str(PROBE), "--learning-rate", "0.05", "--threshold", str(THRESHOLD)]


@pytest.fixture
def compat_run(tmp_path_factory):
    """A tiny 2015-mode run, made anew for each test: mutmut credits a module-scoped fixture's calls to the first
    test that uses it, and would then run the other tests against none of compat2015.py's mutants."""
    tmp = tmp_path_factory.mktemp("compat")
    splits = tiny_2015_splits()
    pickle_path = write_pickle(tmp / "tiny.pkl.gz", tuple(splits))
    out = tmp / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert cli.main_transfer([*ARGS, "--dataset", str(pickle_path), "--out", str(out)]) == 0
    (tmp / "stderr.txt").write_text(stderr.getvalue())
    return out, splits, stdout.getvalue(), pickle_path


def tiny_2015_splits():
    """60 training, 28 validation and 21 test images of 16 pixels, 4 classes; the test split is not the
    validation split's size, and its last minibatch's labels are moved to the next class, so that its error
    differs from the first two's (scoring 16 or 14 test images instead of 21 would show)."""
    splits = make_splits(n_classes=4, sizes=(60, 28, 21))
    x, y = splits[2]
    splits[2] = (x, np.where(np.arange(len(y)) >= 14, (y + 1) % 4, y).astype(y.dtype))
    return splits


def error_rate_2015(weights, x, y):
    """numpy.mean of the per-minibatch error rates over len // BATCH whole minibatches (remainder dropped)."""
    rates = []
    for i in range(len(y) // BATCH):
        h = x[i * BATCH:(i + 1) * BATCH]
        for layer in (0, 1):
            h = np.tanh(h @ weights[f"hidden{layer}_W"] + weights[f"hidden{layer}_b"])
        logits = h @ weights["output_W"] + weights["output_b"]
        rates.append(np.mean(logits.argmax(axis=1) != y[i * BATCH:(i + 1) * BATCH]))
    return float(np.mean(rates))


#: the weights 2015's params list trained: layer 2's W2 and c2 were missing (defect A)
TRAINED_2015 = ("hidden0_W", "hidden0_b", "output_W", "output_b")


def train_2015(weights, splits, lr=0.05, l2=1e-4, epochs=EPOCHS, snapshots=None, l1=0.0, trained=TRAINED_2015):
    """The tutorial's loop in NumPy: layer 2 frozen (unless ``trained`` names it), the last minibatch's weights
    kept; returns the weights and the validation error at each epoch's check (``snapshots`` collects each
    check's weights)."""
    weights = {k: v.copy() for k, v in weights.items()}
    (x, y), (vx, vy) = splits[0], splits[1]
    checks = []
    for _ in range(epochs):  # patience (10000) never runs out here
        for i in range(len(y) // BATCH):
            _, grads = numpy_mlp(weights, x[i * BATCH:(i + 1) * BATCH].astype(np.float64), y[i * BATCH:(i + 1) * BATCH],
                                 l1, l2)
            for name in trained:
                weights[name] = weights[name] - lr * grads[name]
        checks.append(error_rate_2015(weights, vx.astype(np.float64), vy))
        if snapshots is not None:
            snapshots.append({k: v.copy() for k, v in weights.items()})
    return weights, checks


def initial_2015(n_in, n_out):
    rng = np.random.RandomState(1234)
    b1, b2 = np.sqrt(6. / (n_in + N_HIDDEN)), np.sqrt(6. / (2 * N_HIDDEN))
    weights = {"hidden0_W": rng.uniform(low=-b1, high=b1, size=(n_in, N_HIDDEN)), "hidden0_b": np.zeros(N_HIDDEN),
               "hidden1_W": rng.uniform(low=-b2, high=b2, size=(N_HIDDEN, N_HIDDEN)), "hidden1_b": np.zeros(N_HIDDEN),
               "output_W": np.zeros((N_HIDDEN, n_out)), "output_b": np.zeros(n_out)}
    return weights, rng


def load(path):
    with np.load(path) as archive:
        return {k: archive[k] for k in archive.files}


def test_both_phases_equal_the_2015_computation_done_in_numpy(compat_run):
    out, splits, stdout, _ = compat_run
    initial, rng = initial_2015(16, 4)
    snapshots = []
    trained, checks = train_2015(initial, splits, snapshots=snapshots)
    saved = load(out / "weights_source.npz")
    # the test error is the best (first lowest) check's weights' on the test split, scored 2015's way
    best = int(np.argmin(checks))
    results = json.loads((out / "results.json").read_text())
    test_error = error_rate_2015(snapshots[best], splits[2][0].astype(np.float64), splits[2][1])
    assert results["source_test_error"] == pytest.approx(test_error, abs=1e-12) and test_error > 0
    assert results["source_best_iteration"] == (best + 1) * (60 // BATCH)  # a check after every epoch's last step
    for name in trained:
        np.testing.assert_allclose(saved[name], trained[name], rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(saved["hidden1_W"], initial["hidden1_W"])  # layer 2 never trained
    assert [float(v) for v in (out / "out.txt").read_text().split()] == pytest.approx([c * 100 for c in checks])

    # the transfer step: bias-free scores of the first PROBE training images, columns re-drawn one by one
    inputs = splits[0][0][:PROBE].astype(np.float64)
    W1 = trained["hidden0_W"]
    scores = [sum(abs(np.tanh(inputs[j] @ W1[:, i])) for j in range(PROBE)) / PROBE for i in range(N_HIDDEN)]
    report = json.loads((out / "transfer.json").read_text())
    np.testing.assert_allclose(report["layers"][0]["scores"], scores, rtol=1e-12)
    kept = [i for i in range(N_HIDDEN) if scores[i] >= THRESHOLD]
    assert report["layers"][0]["kept"] == kept and 0 < len(kept) < N_HIDDEN
    want = W1.copy()
    b1 = np.sqrt(6. / (16 + N_HIDDEN))
    for i in range(N_HIDDEN):
        if i not in kept:
            want[:, i] = rng.uniform(low=-b1, high=b1, size=(16, 1)).flatten()
    moved = load(out / "weights_transferred.npz")
    np.testing.assert_allclose(moved["hidden0_W"], want, rtol=1e-9)
    np.testing.assert_array_equal(moved["hidden0_W"][:, kept], saved["hidden0_W"][:, kept])
    np.testing.assert_array_equal(moved["hidden1_W"], initial["hidden1_W"])  # the initial W2 goes on
    assert not moved["hidden0_b"].any() and not moved["hidden1_b"].any()  # defect E: biases reset
    assert not moved["output_W"].any() and not moved["output_b"].any()

    # defect D: a copy of W1, appended inside the inner loop; entry i = node 0's mean over images 0..i
    partial = np.cumsum([abs(np.tanh(inputs[j] @ W1[:, 0])) for j in range(N_HIDDEN)]) / PROBE
    np.testing.assert_allclose(report["layers"][1]["scores"], partial, rtol=1e-12)
    assert report["layers"][1]["score_list_length"] == N_HIDDEN * N_HIDDEN
    n_h2 = int(sum(partial >= THRESHOLD))
    assert f"A total number of {len(kept)} H1 nodes passed the threshold" in stdout
    assert f"A total number of {n_h2} H2 nodes passed the threshold" in stdout

    final, checks2 = train_2015({k: moved[k] for k in moved}, splits)
    np.testing.assert_allclose(load(out / "weights_final.npz")["hidden0_W"], final["hidden0_W"], rtol=1e-9,
                               atol=1e-12)
    written = [float(v) for v in (out / "outTransfer.txt").read_text().split()]
    assert written == pytest.approx([c * 100 for c in checks2])


def test_layer2_trained_with_both_penalties_equals_the_numpy_loop_training_every_layer(tmp_path):
    """--fix layer2-trained puts W2 and c2 in the trained parameters: with L1 and L2 penalties on every weight
    matrix (W1, W2 and the output's), the source phase equals the NumPy loop that trains all six arrays."""

    splits = make_splits(n_classes=4)
    pickle_path = write_pickle(tmp_path / "tiny.pkl.gz", tuple(splits))
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main_transfer([*ARGS, "--fix", "layer2-trained", "--l1-reg", "0.002", "--l2-reg", "0.003",
                                  "--dataset", str(pickle_path), "--out", str(tmp_path / "run")]) == 0
    initial, _ = initial_2015(16, 4)
    every = ("hidden0_W", "hidden0_b", "hidden1_W", "hidden1_b", "output_W", "output_b")
    trained, checks = train_2015(initial, splits, l1=0.002, l2=0.003, trained=every)
    saved = load(tmp_path / "run" / "weights_source.npz")
    for name in every:
        np.testing.assert_allclose(saved[name], trained[name], rtol=1e-9, atol=1e-12, err_msg=name)
    assert np.abs(saved["hidden1_b"]).min() > 0  # c2 trained, so its sign in the graph matters
    assert [float(v) for v in (tmp_path / "run" / "out.txt").read_text().split()] == pytest.approx(
        [c * 100 for c in checks])


def test_out_txt_is_python_2_str_of_each_check(compat_run):
    out, _, stdout, _ = compat_run
    printed = [line.split("validation error ")[1].rstrip(" %") for line in stdout.splitlines()
               if line.startswith("epoch")]
    written = (out / "out.txt").read_text().splitlines() + (out / "outTransfer.txt").read_text().splitlines()
    assert len(written) == len(printed) == 2 * EPOCHS
    for text, shown in zip(written, printed, strict=True):
        assert text == py2_str(float(text)) and float(text) == pytest.approx(float(shown), abs=5e-7)
        assert "." not in text or not text.endswith("0") or text.endswith(".0")  # 5.5, not 5.500000


def test_py2_str_is_what_python_2_printed():
    """Python 2.7's str() of these floats, as its interpreter printed them (12 significant digits, a lower-case
    exponent, no trailing zeros, but ".0" after a whole number)."""

    python2 = {0.1: "0.1", 1 / 3.: "0.333333333333", 5.5: "5.5", 12.0: "12.0", 100.0: "100.0", 0.0: "0.0", -2.0: "-2.0",
               2.0000000000000004: "2.0", 2.0 / 3e5: "6.66666666667e-06", 123456789012345.0: "1.23456789012e+14",
               1e16: "1e+16", float("inf"): "inf"}
    assert {value: py2_str(value) for value in python2} == python2


def test_the_2015_lines_in_their_order(compat_run):
    _, _, stdout, _ = compat_run
    lines = [line for line in stdout.splitlines() if not line.startswith(("epoch", "     epoch"))]
    phase = ["... loading data", "This is the vector size of the inputs", "(60, 16)", "8", "... building the model",
             "... training"]
    assert lines[:6] == phase
    report = json.loads((compat_run[0] / "transfer.json").read_text())
    optimization = r"Optimization complete\. Best validation score of \d+\.\d{6} % obtained at iteration \d+, " \
                   r"with test performance \d+\.\d{6} %"
    assert re.fullmatch(optimization, lines[6]), lines[6]
    assert lines[7:9] == ["starting transfer calculations", "ending calculation"]
    assert lines[9] == f"A total number of {report['layers'][0]['n_kept']} H1 nodes passed the threshold"
    assert lines[10:12] == ["starting next hidden layer calculation", "ending hidden 2 calculation"]
    assert lines[12] == f"A total number of {report['layers'][1]['n_kept']} H2 nodes passed the threshold"
    assert lines[13:19] == phase
    assert re.fullmatch(optimization, lines[19]) and lines[19] != lines[6], lines[19]
    results = json.loads((compat_run[0] / "results.json").read_text())
    for line, phase in ((lines[6], "source"), (lines[19], "target")):
        numbers = (results[f"{phase}_best_validation_error"] * 100., results[f"{phase}_best_iteration"],
                   results[f"{phase}_test_error"] * 100.)
        assert line == ("Optimization complete. Best validation score of %f %% obtained at iteration %i, with test "
                        "performance %f %%" % numbers)
    timing = (compat_run[0].parent / "stderr.txt").read_text()  # the tutorial's line, per phase, on stderr
    ran = re.findall(r"^The code for file (\S+) ran for (\d+\.\d\d)m$", timing, re.M)
    assert [name for name, _ in ran] == ["mlp_transfer.py"] * 2 and all(float(m) < 0.5 for _, m in ran), timing
    assert lines[20:] == ["Thank you for running this transfer program",
                          "Below are descriptions of files that have been created",
                          "out.txt         - validation error while training",
                          "outTransfer.txt - validation error while traning after transfer learning"]


def test_the_pictures_script_draws_2015s_per_node_figures(compat_run, tmp_path):
    """mlpV3TransferPictures.py's lines and files: the probe's first images as inputImage (drawn once, in phase 1),
    the weight maps at initialization, after training and after the transfer."""

    from transfer_learning.compat2015 import save_pictures

    _, splits, _, pickle_path = compat_run
    out = tmp_path / "pictures"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert cli.main_transfer([*ARGS, "--n-epochs", "1", "--dataset", str(pickle_path), "--out", str(out)],
                                 pictures=True) == 0
    lines = [line for line in stdout.getvalue().splitlines() if not line.startswith(("epoch", "     epoch"))]
    phase = ["... loading data", "... building the model", "...printing input images", "... training"]
    assert lines[:4] == phase and lines[5] == "...printing weight maps of H1 (hidden nodes in layer 1) after training"
    assert "...printing H1 weight maps after transfering learning" in lines and lines.count(phase[2]) == 2
    assert lines[-10:] == ["Thank you for running this transfer program",
                           "Below are descriptions of files that have been created",
                           "out.txt         - validation error while training",
                           "outTransfer.txt - validation error while training after transfer learning", "",
                           "wMapInit group    -  weight maps after initialization",
                           "wMapTrained group -  weight maps after training",
                           "wMapTransfer group    -  weight maps after transfering",
                           "     relevant weight maps to activated nodes are identical to wMapTrained",
                           "     non relevant weight maps are re-initialized"]
    save_pictures(splits[0][0][:PROBE].T, tmp_path, "want")  # the first probe-size training images
    for i in range(PROBE):
        assert np.array_equal(np.asarray(Image.open(out / f"inputImage{i}.png")),
                              np.asarray(Image.open(tmp_path / f"want{i}.png"))), i
    names = {p.name for p in out.glob("*.png")}
    for prefix, n in (("inputImage", PROBE), ("wMapInit", N_HIDDEN), ("wMapTrained", N_HIDDEN),
                      ("wMapTransfer", N_HIDDEN)):
        assert {f"{prefix}{i}.png" for i in range(n)} <= names
    kept = json.loads((out / "transfer.json").read_text())["layers"][0]["kept"]
    pixels = {p.name: np.asarray(Image.open(p)) for p in out.glob("wMap*.png")}
    for i in range(N_HIDDEN):  # a kept node's map is the trained one; a re-drawn node's is not
        same = np.array_equal(pixels[f"wMapTransfer{i}.png"], pixels[f"wMapTrained{i}.png"])
        assert same == (i in kept), i
    assert not np.array_equal(pixels["wMapInit0.png"], pixels["wMapInit1.png"])


def test_run_writes_to_its_stream_times_in_minutes_and_names_its_folder(tmp_path, monkeypatch):
    """compat2015.run, called from Python: every line goes to ``out`` (none to stdout), the timing line to stderr
    in minutes, an unnamed run into runs/<timestamp>-compat2015 with its config.json, and that folder is not
    overwritten unasked. The classes are counted on the training split (here the validation split lacks the last)."""

    from transfer_learning import compat2015

    real = compat2015.sgd_early_stopping

    def ninety_seconds(*args, **kwargs):
        history = real(*args, **kwargs)
        history.seconds = 90.0
        return history

    monkeypatch.setattr(compat2015, "sgd_early_stopping", ninety_seconds)
    monkeypatch.chdir(tmp_path)
    splits = tiny_2015_splits()
    splits[1] = (splits[1][0], splits[1][1] % 3)
    pickle_path = write_pickle(tmp_path / "tiny.pkl.gz", tuple(splits))
    cfg = compat2015.Compat2015Config(n_hidden=N_HIDDEN, batch_size=BATCH, n_epochs=1, probe_size=PROBE,
                                      threshold=THRESHOLD, dataset=str(pickle_path))
    out, stdout, stderr = io.StringIO(), io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        result = compat2015.run(cfg, pictures=True, out=out, script="/somewhere/mlp_transfer_pictures.py")
    assert stdout.getvalue() == ""
    lines = out.getvalue().splitlines()
    assert lines.count("...printing input images") == 2 and lines[-1].endswith("are re-initialized"), lines
    assert "ending hidden layer 2 calculation" in lines  # the pictures script's wording
    assert stderr.getvalue().splitlines() == ["The code for file mlp_transfer_pictures.py ran for 1.50m"] * 2
    run_dir = Path(result["run_dir"])
    assert re.fullmatch(r"\d{8}-\d{6}-compat2015", run_dir.name) and run_dir.parent == Path("runs"), run_dir
    assert json.loads((run_dir / "config.json").read_text()) == {
        "script": "/somewhere/mlp_transfer_pictures.py", "compat": "2015",
        "config": json.loads(json.dumps(asdict(cfg))), "versions": versions(),
        "arithmetic": json.loads(json.dumps(blas.facts())), "inputs": {"mnist": {"file": str(pickle_path.resolve()),
                             "sha256": hashlib.sha256(pickle_path.read_bytes()).hexdigest()}}}
    assert np.load(run_dir / "weights_final.npz")["output_W"].shape == (N_HIDDEN, 4)
    results = json.loads((run_dir / "results.json").read_text())
    kept = [layer["n_kept"] for layer in json.loads((run_dir / "transfer.json").read_text())["layers"]]
    assert result == {**results, "run_dir": str(run_dir)} and results["compat"] == "2015" and results["fixes"] == []
    assert results["nodes_kept"] == kept and kept[0] != kept[1]
    assert results["source_epochs_run"] == results["target_epochs_run"] == 1 and results["seconds"] == 180.0
    assert results["scoring"] == ("2015's: the mean error of the minibatches of batch_size; the test error is that of "
                                  "the best-validation check, the weights carried on are the last minibatch's unless "
                                  "fixed")
    with pytest.raises(ConfigError, match="already exists and is not empty; choose another, --resume it or"):
        compat2015.run(replace(cfg, out=str(run_dir)), out=io.StringIO())


def test_each_column_is_drawn_as_a_grey_map_filling_the_figure(tmp_path):
    """save_pictures: one file a column, the map in Greys (the largest weight black) on axes that fill the figure,
    so a 4 x 4 map's largest cell is a black square some 90 pixels high in the 640 x 480 image."""
    from transfer_learning.compat2015 import save_pictures

    save_pictures(np.stack([np.arange(16.0), np.arange(16.0)[::-1]], axis=1), tmp_path, "w")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w0.png", "w1.png"]
    for name in ("w0.png", "w1.png"):
        rgb = np.asarray(Image.open(tmp_path / name))[..., :3].astype(int)
        assert rgb.shape == (480, 640, 3)
        assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()  # grey levels only
        black = (rgb == 0).all(axis=-1)
        assert (black.sum(axis=1) >= 80).sum() >= 85  # the black cell's rows (the axes' frame adds a few)
    first, second = (np.asarray(Image.open(tmp_path / n))[..., 0] for n in ("w0.png", "w1.png"))
    assert not np.array_equal(first, second)


def test_a_phase_ends_with_its_last_weights_and_best_weights_restores_the_best(tmp_path):
    """Data and a learning rate where the validation error rises after its best check (epoch 3 of 6), so the
    last and the best weights differ: 2015 carried the last; --fix best-weights alone carries the best."""
    splits = make_splits(seed=1, n_classes=4)
    pickle_path = write_pickle(tmp_path / "noisy.pkl.gz", tuple(splits))
    snapshots = []
    initial, _ = initial_2015(16, 4)
    last, checks = train_2015(initial, splits, lr=0.2, epochs=6, snapshots=snapshots)
    best = int(np.argmin(checks))
    assert best < 5 and checks[best] < checks[-1]  # the case this test needs
    args = [*ARGS, "--n-epochs", "6", "--learning-rate", "0.2", "--dataset", str(pickle_path)]
    for fixes, expected in (((), last), (("best-weights",), snapshots[best])):
        out = tmp_path / ("-".join(fixes) or "2015")
        assert cli.main_transfer([*args, "--out", str(out), *(["--fix", *fixes] if fixes else [])]) == 0
        saved = load(out / "weights_source.npz")
        for name in expected:
            np.testing.assert_allclose(saved[name], expected[name], rtol=1e-9, atol=1e-12, err_msg=f"{fixes} {name}")
        report = json.loads((out / "transfer.json").read_text())
        scores = np.abs(np.tanh(splits[0][0][:PROBE] @ expected["hidden0_W"])).mean(axis=0)
        np.testing.assert_allclose(report["layers"][0]["scores"], scores, rtol=1e-9)  # the probe saw those weights


def test_layer2_scored_alone_changes_only_the_layer_2_step(compat_run, tmp_path):
    out2015, splits, _, pickle_path = compat_run
    out = tmp_path / "layer2"
    assert cli.main_transfer([*ARGS, "--dataset", str(pickle_path), "--out", str(out), "--fix", "layer2-scored"]) == 0
    plain, fixed = (json.loads((d / "transfer.json").read_text()) for d in (out2015, out))
    source = load(out / "weights_source.npz")
    for name, value in load(out2015 / "weights_source.npz").items():
        np.testing.assert_array_equal(source[name], value)  # phase 1 and the layer-1 step: unchanged
    assert fixed["layers"][0] == plain["layers"][0]
    images = splits[0][0][:PROBE].astype(np.float64)
    h1 = np.tanh(images @ source["hidden0_W"])  # without the bias, as 2015 scored (probe-bias is not fixed)
    expected = np.abs(np.tanh(h1 @ source["hidden1_W"])).mean(axis=0)
    np.testing.assert_allclose(fixed["layers"][1]["scores"], expected, rtol=1e-9)
    assert fixed["layers"][1]["scores"] != plain["layers"][1]["scores"]
    assert fixed["layers"][1]["used_by_phase_2"] and not plain["layers"][1]["used_by_phase_2"]
    moved = load(out / "weights_transferred.npz")
    reset = [i for i in range(N_HIDDEN) if i not in fixed["layers"][1]["kept"]]
    assert reset and not np.array_equal(moved["hidden1_W"][:, reset], source["hidden1_W"][:, reset])


def test_each_fix_changes_what_it_names(compat_run, tmp_path):
    _, splits, _, pickle_path = compat_run
    base = [*ARGS, "--n-epochs", "1", "--dataset", str(pickle_path)]
    initial, _ = initial_2015(16, 4)
    out = tmp_path / "fixed"
    assert cli.main_transfer([*base, "--fix", ",".join(FIXES), "--out", str(out)]) == 0
    source, moved = load(out / "weights_source.npz"), load(out / "weights_transferred.npz")
    assert not np.array_equal(source["hidden1_W"], initial["hidden1_W"])  # layer2-trained
    report = json.loads((out / "transfer.json").read_text())
    assert report["probe_indices"] != list(range(PROBE))  # target-probe: drawn at random
    images = splits[0][0][report["probe_indices"]].astype(np.float64)
    h1 = np.tanh(images @ source["hidden0_W"] + source["hidden0_b"])  # probe-bias, layer2-scored
    np.testing.assert_allclose(report["layers"][1]["scores"], np.abs(np.tanh(h1 @ source["hidden1_W"]
                                                                             + source["hidden1_b"])).mean(axis=0))
    for layer in (0, 1):  # bias-kept
        kept = report["layers"][layer]["kept"]
        np.testing.assert_array_equal(moved[f"hidden{layer}_b"][kept], source[f"hidden{layer}_b"][kept])


def test_2015_mode_takes_its_own_flags_and_refuses_the_rest_in_one_full_line():
    """config_from_args: the flags 2015's test_mlp() had become its config; every other flag given is named in
    the refusal, with what 2015 mode does take; --hidden-sizes is one width, or the same width twice."""
    from transfer_learning.compat2015 import COMPAT_FLAGS, Compat2015Config, config_from_args
    from transfer_learning.config import flag
    from transfer_learning.vocab import ConfigError

    values = dict(learning_rate=0.05, L1_reg=0.001, L2_reg=0.002, n_epochs=3, batch_size=7, probe_size=10, seed=9,
                  dataset="d.pkl.gz", out="o", hidden_sizes=(6, 6), threshold="0.3", rule="redo", target="mnist")
    given = set(values) - {"rule", "target"}
    assert config_from_args(values, given, ["probe-bias"]) == Compat2015Config(
        learning_rate=0.05, L1_reg=0.001, L2_reg=0.002, n_epochs=3, batch_size=7, n_hidden=6, threshold=0.3,
        probe_size=10, seed=9, dataset="d.pkl.gz", out="o", fixes=("probe-bias",))
    assert config_from_args(values, set(), ()) == Compat2015Config()  # what was not given keeps 2015's value
    takes = ", ".join(sorted(flag(k) for k in COMPAT_FLAGS))
    refusals = [(given | {"rule", "target"}, values, "--compat 2015: --rule, --target has no meaning in 2015 mode "
                 f"(it takes {takes}, --fix and --overwrite)"),
                (given, {**values, "threshold": "auto"},
                 "--compat 2015: --threshold auto has no meaning in 2015 mode (give a number)")]
    refusals += [(given, {**values, "hidden_sizes": h}, "--compat 2015: --hidden-sizes must be one width (2015's "
                  f"n_hidden, used for both layers), got {','.join(map(str, h))}") for h in ((6, 5), (6, 6, 6))]
    for named, flags, message in refusals:
        with pytest.raises(ConfigError) as error:
            config_from_args(flags, named, ())
        assert str(error.value) == message
    assert config_from_args({**values, "hidden_sizes": (8,)}, given, ()).n_hidden == 8


@pytest.mark.parametrize("argv, message", [
    (["--compat", "2015", "--rule", "redo"], "--compat 2015: --rule has no meaning in 2015 mode"),
    (["--compat", "2015", "--target", "mnist:5-9"], "--compat 2015: --target has no meaning in 2015 mode"),
    (["--compat", "2015", "--baselines", "finetune"], "--compat 2015: --baselines has no meaning in 2015 mode"),
    (["--compat", "2015", "--threshold", "auto"], "--threshold auto has no meaning in 2015 mode"),
    (["--compat", "2015", "--hidden-sizes", "100,50"], "--hidden-sizes must be one width"),
    (["--compat", "2015", "--fix", "nonsense"], "--fix: unknown nonsense"),
    (["--fix", "probe-bias"], "--fix: applies to --compat 2015 only"),
    (["--compat", "2015", "--resume", "somewhere"], "--resume has no meaning in 2015 mode"),
    (["--compat", "2016"], "argument --compat: invalid choice: '2016'"),
])
def test_flags_without_meaning_in_2015_mode_are_refused(argv, message, tmp_path, capsys):
    assert cli.main_transfer([*argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x").exists()


def test_the_ladder_adds_one_fix_a_rung_and_each_changes_what_it_names(tmp_path, capsys):
    """compat2015.ladder (make compat-table) at a small size: each rung switches on one more fix. The fixes
    that act after phase 1 leave phase 1 bit for bit as the rung before had it; each changes what it names.
    Its table is each rung's results.json, row by row; a second call reuses the finished runs."""
    from transfer_learning.compat2015 import FIXES, LADDER, main

    splits = make_splits(sizes=(300, 60, 60))
    splits[2] = (splits[2][0], np.where(np.arange(60) % 6 == 0, (splits[2][1] + 1) % 4, splits[2][1]))  # test errors
    pickle_path = write_pickle(tmp_path / "small.pkl.gz", tuple(splits))
    argv = ["--ladder", str(tmp_path / "ladder"), "--dataset", str(pickle_path), "--n-epochs", "2"]
    assert main(argv) == 0
    table, progress = capsys.readouterr()
    names = ["2015", *(f"+{fix}" for fix in LADDER)]
    timed = re.findall(r"^\[ladder\] (\S+): (\d+) s$", progress, re.M)
    assert [name for name, _ in timed] == names and all(int(s) < 120 for _, s in timed), progress
    assert table == (tmp_path / "ladder" / "ladder.md").read_text() + "\n"
    runs = sorted(p for p in (tmp_path / "ladder").iterdir() if p.is_dir() and p.name[0].isdigit())
    assert [p.name for p in runs] == ["0-2015", *(f"{k + 1}-{fix}" for k, fix in enumerate(LADDER))]
    port = tmp_path / "ladder" / "port"
    results = [json.loads((p / "results.json").read_text()) for p in [*runs, port]]
    assert all(r["source_test_error"] > 0 and r["target_test_error"] > 0 for r in results)  # so the % is visible
    # the port: the default port's run on the same file, for as many epochs, without reference arms
    assert (results[-1]["target_examples"]["train"], results[-1]["source_epochs_run"]) == (300, 2)
    assert list(results[-1]["arms"]) == ["transfer"]
    assert [(r["fixes"], r["source_epochs_run"]) for r in results[:-1]] == [(list(LADDER[:k]), 2)
                                                                             for k in range(len(runs))]
    commands = ["`--compat 2015`", *(f"`--compat 2015 --fix {','.join(LADDER[:k + 1])}`" for k in range(len(LADDER))),
                "`mlp_transfer.py --source mnist --target mnist`"]
    whats = ["2015", *(f"+ {fix}: {FIXES[fix]}".replace("|", "\\|") for fix in LADDER),
             "the port's default: every fix, float32, numpy's Generator, every example scored"]
    rows = [f"| {c} | {w} | {', '.join(map(str, r['nodes_kept']))} | {100 * r['source_test_error']:.2f} | "
            f"{100 * r['target_test_error']:.2f} |" for c, w, r in zip(commands, whats, results, strict=True)]
    assert table.splitlines() == ["| run | what changes | nodes kept (H1, H2) | source test error % | "
                                  "target test error % |", "|---|---|---|---|---|", *rows, ""]
    (runs[3] / "results.json").unlink()  # a rung stopped before its end: its folder is there, its results not
    assert not [png for rung in runs for png in rung.glob("*.png")]  # the rungs are mlp_transfer.py's: no pictures
    assert {json.loads((p / "config.json").read_text())["script"] for p in runs} == {"mlp_transfer.py"}
    stamps = [(p / "results.json").stat().st_mtime_ns for p in [*runs, port] if p != runs[3]]
    assert main(argv) == 0 and capsys.readouterr().out == table  # the finished runs are read back, not redone
    assert [(p / "results.json").stat().st_mtime_ns for p in [*runs, port] if p != runs[3]] == stamps
    assert json.loads((runs[3] / "results.json").read_text())["nodes_kept"] == results[3]["nodes_kept"]
    (port / "results.json").unlink()  # the same for the port's run
    assert main(argv) == 0 and capsys.readouterr().out == table
    source = [load(p / "weights_source.npz") for p in runs]
    moved = [load(p / "weights_transferred.npz") for p in runs]
    report = [json.loads((p / "transfer.json").read_text()) for p in runs]
    draws = np.random.RandomState(1234)  # 2015's: W1 (16 x 100) first, then W2 (100 x 100)
    draws.uniform(low=-np.sqrt(6 / 116), high=np.sqrt(6 / 116), size=(16, 100))
    initial_w2 = draws.uniform(low=-np.sqrt(6 / 200), high=np.sqrt(6 / 200), size=(100, 100))
    images = make_splits(sizes=(300, 60, 60))[0][0].astype(np.float64)

    def same_phase_1(k):
        return all(np.array_equal(source[k][n], source[k - 1][n]) for n in source[k])

    np.testing.assert_array_equal(source[0]["hidden1_W"], initial_w2)  # 2015: layer 2 never trained
    assert not np.array_equal(source[1]["hidden1_W"], source[0]["hidden1_W"])  # layer2-trained
    assert report[2]["probe_indices"] == report[1]["probe_indices"] == list(range(100))
    assert report[3]["probe_indices"] != list(range(100)) and same_phase_1(3)  # target-probe
    probe = images[report[4]["probe_indices"]]
    np.testing.assert_allclose(report[3]["layers"][0]["scores"],  # without the bias, then with it (probe-bias)
                               np.abs(np.tanh(probe @ source[3]["hidden0_W"])).mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(report[4]["layers"][0]["scores"], np.abs(np.tanh(
        probe @ source[4]["hidden0_W"] + source[4]["hidden0_b"])).mean(axis=0), rtol=1e-9)
    assert same_phase_1(4)
    assert not report[4]["layers"][1]["used_by_phase_2"] and report[5]["layers"][1]["used_by_phase_2"]
    assert same_phase_1(5) and report[5]["layers"][0] == report[4]["layers"][0]  # layer2-scored: layer 2 only
    assert same_phase_1(6) and report[6]["layers"] == report[5]["layers"]  # bias-kept: the biases only
    for layer in (0, 1):
        kept = report[6]["layers"][layer]["kept"]
        assert not moved[5][f"hidden{layer}_b"].any()
        np.testing.assert_array_equal(moved[6][f"hidden{layer}_b"][kept], source[6][f"hidden{layer}_b"][kept])
        np.testing.assert_array_equal(moved[6][f"hidden{layer}_W"], moved[5][f"hidden{layer}_W"])


def test_the_ladders_command_line(monkeypatch, capsys):
    """python -m transfer_learning.compat2015: --ladder DIR is required, --n-epochs is 2015's 20 unless given, the
    port's row computes with --gemm's library (the Makefile passes openblas, as the committed table was made), and
    --help says so."""
    from transfer_learning import compat2015

    calls = []
    monkeypatch.setattr(compat2015, "ladder", lambda *args: calls.append(args) or "the table")
    assert compat2015.main(["--ladder", "runs"]) == 0 and capsys.readouterr().out == "the table\n"
    assert compat2015.main(["--ladder", "r", "--dataset", "m.pkl.gz", "--n-epochs", "3", "--gemm", "openblas"]) == 0
    assert calls == [("runs", None, 20, "onednn"), ("r", "m.pkl.gz", 3, "openblas")]
    with pytest.raises(SystemExit) as stopped:
        compat2015.main([])
    assert stopped.value.code == 2 and "the following arguments are required: --ladder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        compat2015.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: python -m transfer_learning.compat2015 [-h] --ladder DIR [--dataset PATH] "
                           "[--n-epochs N_EPOCHS] [--gemm {onednn,openblas}] ``python -m "
                           "transfer_learning.compat2015 --ladder DIR``: the README's table of fixes.")
    for line in ("--ladder DIR folder for the runs and ladder.md",
                 "--dataset PATH your own mnist.pkl.gz (default: the data folder's)",
                 "--n-epochs N_EPOCHS epochs per phase (default: 20, as in 2015)"):
        assert line in text, line


def test_the_transfer_step_by_hand_fix_by_fix():
    """transfer_step on an 8-4 network: the kept nodes, the re-drawn columns and the carried weights, written
    out independently for 2015 and for the fixes that change them alone."""
    from types import SimpleNamespace

    from transfer_learning.compat2015 import Compat2015Config, bounds_2015, redraw_unkept, transfer_step

    rng = np.random.default_rng(0)
    trained = {"hidden0_W": rng.normal(0, 0.6, (8, 4)), "hidden0_b": rng.normal(0, 0.5, 4),
               "hidden1_W": rng.normal(0, 0.6, (4, 4)), "hidden1_b": rng.normal(0, 0.5, 4),
               "output_W": rng.normal(size=(4, 3)), "output_b": rng.normal(size=3)}
    x = rng.uniform(size=(30, 8)).astype(np.float32)
    splits = [SimpleNamespace(x=x, y=np.zeros(30, np.int32))]
    b1, b2 = bounds_2015(8, 4)

    def step(fixes, threshold=0.3):
        cfg = Compat2015Config(threshold=threshold, probe_size=5, seed=7, fixes=tuple(fixes))
        return transfer_step(cfg, trained, splits, np.random.RandomState(1234), io.StringIO(), False)

    def kept_and_redrawn(scores, W, threshold, draw, bound):
        W = W.copy()
        kept = [i for i, s in enumerate(scores) if not s < threshold]
        for i in range(W.shape[1]):
            if i not in kept:
                W[:, i] = draw.uniform(-bound, bound, size=(W.shape[0], 1)).flatten()
        return kept, W

    # 2015: layer 1 scored on the first 5 images without the bias; "layer 2" from W1's copy; biases zero
    moved, report = step(())
    images = x[:5].astype(np.float64)
    scores1 = np.abs(np.tanh(images @ trained["hidden0_W"])).mean(axis=0)
    np.testing.assert_allclose(report["layers"][0]["scores"], scores1, rtol=1e-12)
    draw = np.random.RandomState(1234)
    kept1, W1 = kept_and_redrawn(scores1, trained["hidden0_W"], 0.3, draw, b1)
    assert report["layers"][0]["kept"] == kept1 and 0 < len(kept1) < 4
    assert moved["hidden0_W"].tobytes() == W1.tobytes()
    assert moved["hidden1_W"].tobytes() == trained["hidden1_W"].tobytes()  # the layer-2 step was thrown away
    assert not moved["hidden0_b"].any() and not moved["hidden1_b"].any()
    assert not moved["output_W"].any() and moved["output_W"].shape == (4, 3) and not moved["output_b"].any()
    assert report["probe_indices"] == list(range(5))
    # the report: layer 2's list is node 0's running mean over the first images, of which the first 4 are read
    listed = np.cumsum(np.abs(np.tanh(images[:4] @ trained["hidden0_W"][:, 0]))) / 5
    np.testing.assert_allclose(report["layers"][1]["scores"], listed, rtol=1e-12)
    kept2 = [i for i in range(4) if listed[i] >= 0.3]
    assert {k: v for k, v in report.items() if k != "layers"} == {
        "compat": "2015", "fixes": [], "threshold": 0.3, "probe_size": 5, "probe_indices": [0, 1, 2, 3, 4]}
    assert {k: v for k, v in report["layers"][0].items() if k != "scores"} == {
        "layer": 0, "kept": kept1, "n_kept": len(kept1), "n_nodes": 4}
    assert {k: v for k, v in report["layers"][1].items() if k != "scores"} == {
        "layer": 1, "kept": kept2, "n_kept": len(kept2), "n_nodes": 4, "score_list_length": 16,
        "used_by_phase_2": False, "note": "2015's layer-2 list: entry i is the running mean of node 0 of a copy of W1 "
                                          "over the first i + 1 probe images; the re-drawn copy was thrown away"}
    # a node scoring exactly the threshold is kept (2015 re-drew below it)
    exact = float(scores1[kept1[0]])
    assert kept1[0] in step((), threshold=exact)[1]["layers"][0]["kept"]
    # target-probe: five training images drawn by default_rng(seed) without replacement
    _, report = step(("target-probe",))
    assert report["probe_indices"] == np.random.default_rng(7).choice(30, 5, replace=False).tolist()
    # probe-bias: the scores include the bias
    _, report = step(("probe-bias",))
    np.testing.assert_allclose(report["layers"][0]["scores"],
                               np.abs(np.tanh(images @ trained["hidden0_W"] + trained["hidden0_b"])).mean(axis=0),
                               rtol=1e-12)
    # bias-kept alone: layer 1's kept nodes keep their bias; layer 2 (not scored) restarts at zero
    moved, report = step(("bias-kept",))
    kept = report["layers"][0]["kept"]
    assert moved["hidden0_b"][kept].tolist() == trained["hidden0_b"][kept].tolist()
    assert not np.delete(moved["hidden0_b"], kept).any() and not moved["hidden1_b"].any()
    # layer2-scored with bias-kept: layer 2 scored on layer 1's activations, its unkept columns re-drawn after
    # layer 1's, its kept nodes' biases kept
    moved, report = step(("layer2-scored", "bias-kept"))
    h1 = np.tanh(images @ trained["hidden0_W"])
    scores2 = np.abs(np.tanh(h1 @ trained["hidden1_W"])).mean(axis=0)
    np.testing.assert_allclose(report["layers"][1]["scores"], scores2, rtol=1e-12)
    draw = np.random.RandomState(1234)
    kept_and_redrawn(scores1, trained["hidden0_W"], 0.3, draw, b1)
    kept2, W2 = kept_and_redrawn(scores2, trained["hidden1_W"], 0.3, draw, b2)
    assert report["layers"][1]["kept"] == kept2 and moved["hidden1_W"].tobytes() == W2.tobytes()
    assert moved["hidden1_b"][kept2].tolist() == trained["hidden1_b"][kept2].tolist()
    assert not np.delete(moved["hidden1_b"], kept2).any() and 0 < len(kept2) < 4
    assert report["fixes"] == ["bias-kept", "layer2-scored"] and report["layers"][1]["used_by_phase_2"] is True
    assert "note" not in report["layers"][1] and report["layers"][1]["score_list_length"] == 4
    assert redraw_unkept(np.zeros((2, 2)), [0.1, 0.9], 0.5, np.random.RandomState(0), 1.0) == [1]


@pytest.mark.parametrize("fixes", [(), ("best-weights",)])
def test_each_phase_runs_the_tutorials_loop_with_2015s_settings(fixes, tmp_path, monkeypatch):
    """test_mlp()'s loop: patience 10000, increase 2, improvement threshold 0.995, no progress bar; phase 1 is the
    source, phase 2 the target; the last minibatch's weights are carried on unless best-weights is fixed."""

    from transfer_learning import compat2015

    calls = []
    real = compat2015.sgd_early_stopping
    monkeypatch.setattr(compat2015, "sgd_early_stopping", lambda *a, **kw: calls.append((a[2], kw)) or real(*a, **kw))
    pickle_path = write_pickle(tmp_path / "tiny.pkl.gz", tuple(tiny_2015_splits()))
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main_transfer([*ARGS, "--dataset", str(pickle_path), "--out", str(tmp_path / "run"),
                                  *(["--fix", *fixes] if fixes else [])]) == 0
    settings = [(loop, kw["phase"], kw["progress"]) for loop, kw in calls]
    loop = LoopSettings(n_epochs=EPOCHS, patience=10000, patience_increase=2, improvement_threshold=0.995,
                        restore_best=bool(fixes), score_test=True)
    assert settings == [(loop, "source", False), (loop, "target", False)]


def test_2015_modes_run_refuses_what_its_data_cannot_hold(tmp_path, capsys):
    """A probe or a minibatch larger than the training set, and unknown fixes, each one full line (exit 2);
    a probe and a minibatch of the whole training set are taken."""

    from transfer_learning import compat2015

    pickle_path = write_pickle(tmp_path / "tiny.pkl.gz", tuple(tiny_2015_splits()))  # 60 training images
    base = [*ARGS, "--n-epochs", "1", "--dataset", str(pickle_path)]
    too_big = "--probe-size / --batch-size: larger than the 60 training images"
    for k, (flags, message) in enumerate([(["--probe-size", "61"], too_big), (["--batch-size", "61"], too_big)]):
        assert cli.main_transfer([*base, *flags, "--out", str(tmp_path / f"no{k}")]) == 2
        assert capsys.readouterr().err.strip().endswith(message)
    with pytest.raises(ConfigError) as error:
        compat2015.run(compat2015.Compat2015Config(fixes=("nonsense", "other")), out=io.StringIO())
    assert str(error.value) == f"--fix: unknown nonsense, other; expected some of {', '.join(FIXES)}"
    with contextlib.redirect_stdout(io.StringIO()):
        whole = ["--probe-size", "60", "--batch-size", "60"]
        assert cli.main_transfer([*base, *whole, "--out", str(tmp_path / "ok")]) == 0
