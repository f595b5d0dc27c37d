"""The scripts' command lines, run in-process on a tiny pickle: the run directory contract and errors."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from transfer_learning import cli, command

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--source", "mnist:0-1", "--target", "mnist:2-3", "--hidden-sizes", "6,5", "--batch-size", "10",
        "--n-epochs", "2", "--probe-size", "10", "--threshold", "0.5"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from tests.helpers import make_splits, write_pickle

    tmp = tmp_path_factory.mktemp("run")
    pickle_path = write_pickle(tmp / "tiny.pkl.gz", tuple(make_splits()))
    out = tmp / "pictures"
    code = cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out), "--per-node"], pictures=True)
    assert code == 0
    return out, pickle_path


@pytest.mark.e2e
def test_run_directory_holds_the_contract(tiny_run):
    out, _ = tiny_run
    for name in ["config.json", "out.txt", "outTransfer.txt", "history.csv", "transfer.json", "probe_images.npy",
                 "weights_source.npz", "weights_transferred.npz", "weights_final.npz", "results.json", "curves.png"]:
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["hidden_sizes"] == [6, 5] and config["config"]["seed"] == 1234
    assert {"python", "pytensor", "numpy", "scipy", "transfer_learning"} == set(config["versions"])
    with np.load(out / "weights_final.npz") as w:
        assert sorted(w.files) == ["hidden0_W", "hidden0_b", "hidden1_W", "hidden1_b", "output_W", "output_b"]
        assert w["hidden0_W"].shape == (16, 6) and w["output_W"].shape == (5, 2)
    probe = np.load(out / "probe_images.npy")
    assert probe.shape == (10, 16) and probe.dtype == np.float32
    lines = (out / "out.txt").read_text().split()
    assert len(lines) == 2 and all(0 <= float(v) <= 100 for v in lines)  # 2 epochs, 1 check each
    rows = (out / "history.csv").read_text().splitlines()
    assert rows[0] == "phase,epoch,minibatch,validation_error_pct,best_model_test_error_pct"
    assert [r.split(",")[0] for r in rows[1:]] == ["source", "source", "target", "target", "target-scratch",
                                               "target-scratch"]


def test_transfer_json_matches_the_saved_weights(tiny_run):
    out, _ = tiny_run
    report = json.loads((out / "transfer.json").read_text())
    assert report["threshold"] == 0.5 and report["probe_size"] == 10
    source, moved = np.load(out / "weights_source.npz"), np.load(out / "weights_transferred.npz")
    for layer in report["layers"]:
        kept = layer["kept"]
        assert layer["n_kept"] == len(kept)
        assert kept == [i for i, s in enumerate(layer["scores"]) if s >= 0.5]
        i = layer["layer"]
        np.testing.assert_array_equal(moved[f"hidden{i}_W"][:, kept], source[f"hidden{i}_W"][:, kept])
        np.testing.assert_array_equal(moved[f"hidden{i}_b"][kept], source[f"hidden{i}_b"][kept])


def test_pictures_are_written(tiny_run):
    out, _ = tiny_run
    for name in ["weights_init.png", "weights_trained.png", "weights_transfer.png", "probe_images.png",
                 "wMapInit0.png", "wMapTrained5.png", "wMapTransfer5.png", "inputImage9.png"]:
        assert (out / name).read_bytes()[:4] == b"\x89PNG", name
    assert not (out / "wMapInit6.png").exists()


def test_a_per_node_picture_is_its_weight_column_scaled_to_gray(tiny_run):
    from PIL import Image

    out, _ = tiny_run
    with np.load(out / "weights_source.npz") as weights:
        trained = weights["hidden0_W"]
    for node in (0, 3):
        pixels = np.asarray(Image.open(out / f"wMapTrained{node}.png").convert("L"), dtype=float)
        column = trained[:, node].reshape(4, 4)  # 16 inputs shown as 4 x 4
        scaled = (column - column.min()) / (column.max() - column.min()) * 255  # min black, max white
        assert pixels.shape == (4, 4)
        np.testing.assert_allclose(pixels, scaled, atol=2.01)  # 256-entry colour table, 8-bit truncation
    probe = np.load(out / "probe_images.npy")
    image = np.asarray(Image.open(out / "inputImage2.png").convert("L"), dtype=float)
    np.testing.assert_allclose(image, ((probe[2] - probe[2].min()) / np.ptp(probe[2]) * 255).reshape(4, 4), atol=2.01)


def test_out_txt_is_each_checks_validation_error_in_percent_with_six_decimals(tiny_run):
    out, _ = tiny_run
    rows = (out / "history.csv").read_text().splitlines()[1:]
    for name, phase in (("out.txt", "source"), ("outTransfer.txt", "target")):
        want = [r.split(",")[3] for r in rows if r.split(",")[0] == phase]
        assert (out / name).read_text() == "".join(f"{float(v):f}\n" for v in want)
        assert all(len(v.split(".")[1]) == 6 for v in want)


def test_the_probe_is_drawn_from_the_target_training_set(tiny_run):
    from transfer_learning.data import load_task

    out, pickle_path = tiny_run
    probe = np.load(out / "probe_images.npy")
    indices = json.loads((out / "transfer.json").read_text())["probe_indices"]
    target, source = load_task("mnist:2-3", str(pickle_path)), load_task("mnist:0-1", str(pickle_path))
    np.testing.assert_array_equal(probe, target.train.x[indices])
    assert len(set(indices)) == len(indices) == 10
    assert not any((source.train.x == row).all(axis=1).any() for row in probe)


def test_same_seed_same_weights(tiny_run, tmp_path):
    out, pickle_path = tiny_run
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(tmp_path / "again")]) == 0
    for name in ("weights_source.npz", "weights_transferred.npz", "weights_final.npz"):
        a, b = np.load(out / name), np.load(tmp_path / "again" / name)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])


def test_no_transfer_trains_the_source_only(tiny_run, tmp_path):
    _, pickle_path = tiny_run
    out = tmp_path / "source-only"
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out), "--no-transfer"]) == 0
    assert (out / "weights_source.npz").exists() and not (out / "weights_final.npz").exists()


def test_logistic_main_runs_the_tutorial_loop(tiny_run, tmp_path, capsys):
    _, pickle_path = tiny_run
    out = tmp_path / "logistic"
    assert cli.main_logistic(["--dataset", str(pickle_path), "--n-epochs", "3", "--batch-size", "20",
                              "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "epoch 1, minibatch 3/3, validation error" in stdout
    assert stdout.strip().splitlines()[-1].startswith("Optimization complete with best validation score of")
    with np.load(out / "best_model.npz") as best:
        assert best["output_W"].shape == (16, 4)


#: Every flag of the transfer scripts and its default as --help must show it, written out by hand.
HELP = {"--hidden-sizes": "100,100", "--learning-rate": "0.1", "--l1-reg": "0.0", "--l2-reg": "0.0001",
        "--batch-size": "20", "--n-epochs": "20", "--patience": "10000", "--patience-increase": "2.0",
        "--improvement-threshold": "0.995", "--activation": "tanh", "--kernels": "fused", "--rule": "mean-abs",
        "--threshold": "0.6",
        "--keep-fraction": None, "--apoz-eps": "0.01", "--taylor-l2": "0.01", "--shrink": "0.4", "--perturb": "0.1",
        "--auto-thresholds": "0.0,0.2,0.4,0.6,0.8,1.0", "--auto-epochs": "3", "--probe-size": "100",
        "--source": "mnist:0-4", "--target": "mnist:5-9", "--dataset": None, "--source-path": None,
        "--target-path": None, "--invert": None, "--resize": "fit", "--labels-from-filename": None,
        "--split-seed": "0", "--baselines": "scratch", "--kept-lr-scale": "1.0", "--reinit-deeper": None,
        "--target-train-size": None, "--target-valid-size": None, "--data-seed": None, "--subset": "stratified",
        "--lr-grid": None, "--l2-sp": "0.01", "--source-weights": None, "--ttt-level": "1.05", "--no-transfer": None,
        "--seed": "1234", "--init-rng": "default", "--out": None, "--resume": None, "--overwrite": None,
        "--compat": None, "--fix": None, "--valid-pool": None, "--test-pool": "0", "--pool-seed": "0",
        "--arm-settings": None, "--protocol": None, "--tune-knobs": None, "--gemm": "onednn",
        "--if-diverged": "stop"}


def help_entries(text: str) -> dict:
    """--help's options section as {flag: its whole entry on one line}."""
    options = text.split("options:", 1)[1].split("exit status:", 1)[0]
    return {" ".join(entry.split()).split()[0].rstrip(","): " ".join(entry.split())
            for entry in re.split(r"\n  (?=-)", options) if entry.strip()}


def test_the_defaults_are_2015s():
    """The 2015 script's test_mlp() arguments and transfer constants, written out (SPEC: lr 0.1, L1 0, L2 1e-4,
    20 epochs, batch 20, 100 hidden nodes a layer, threshold 0.6, a probe of 100 images, seed 1234, the
    tutorial's patience), against what a run with no flags uses."""
    from transfer_learning.config import DEFAULT_THRESHOLD, TransferConfig

    cfg = TransferConfig()
    assert (cfg.learning_rate, cfg.L1_reg, cfg.L2_reg, cfg.n_epochs, cfg.batch_size) == (0.1, 0.0, 0.0001, 20, 20)
    assert (cfg.hidden_sizes, cfg.probe_size, cfg.seed) == ((100, 100), 100, 1234)
    assert (cfg.patience, cfg.patience_increase, cfg.improvement_threshold) == (10000, 2.0, 0.995)
    assert cfg.selection == ("threshold", 0.6) and DEFAULT_THRESHOLD == 0.6


def test_help_lists_every_setting_with_its_default(capsys):
    assert cli.main_transfer(["--help"]) == 0
    entries = help_entries(capsys.readouterr().out)
    assert set(entries) == set(HELP) | {"-h"}, set(entries) ^ (set(HELP) | {"-h"})
    for name, default in HELP.items():
        if default is not None:
            assert f"(default: {default})" in entries[name], name
        else:
            assert "(default: None)" not in entries[name], name
    assert cli.main_transfer(["--help"], pictures=True) == 0
    assert set(help_entries(capsys.readouterr().out)) == set(HELP) | {"-h", "--per-node"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--learning-rate", "0"], "--learning-rate: expected a value > 0, got 0.0"),
        (["--hidden-sizes", "100,x"], "expected comma-separated integers like 100,100, got '100,x'"),
        (["--hidden-sizes", "100,0"], "--hidden-sizes: expected positive widths, got 0"),
        (["--threshold", "-1"], "--threshold: expected a number >= 0 or auto, got '-1'"),
        (["--batch-size", "0"], "--batch-size: expected a positive number, got 0"),
        (["--source", "letters"], "unknown name 'letters'"),
        (["--target", "mnist:3-1"], "range '3-1' is empty"),
        (["--probe-size", "100000"], "--probe-size: 100000 is more than the"),
        (["--batch-size", "31"], "--batch-size: 31 is larger than the 30 training examples of mnist:0-1 (--source)"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tiny_run, tmp_path, capsys, argv, message):
    _, pickle_path = tiny_run
    out = tmp_path / "never"
    code = cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("mlp_transfer.py: error: ")
    assert not out.exists()


def test_a_non_empty_run_directory_is_not_overwritten(tiny_run, capsys):
    out, pickle_path = tiny_run
    before = (out / "weights_final.npz").read_bytes()
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert (out / "weights_final.npz").read_bytes() == before


def test_script_bad_file_gives_no_traceback(tmp_path):
    bad = tmp_path / "bad.pkl.gz"
    bad.write_bytes(b"garbage")
    result = subprocess.run([sys.executable, "mlp_transfer.py", "--dataset", str(bad), "--out", str(tmp_path / "o")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"mlp_transfer.py: error: {bad}: not a readable gzip file "
                                     "(Not a gzipped file (b'ga'))")
    assert not (tmp_path / "o").exists()


def test_a_program_returns_mains_status_and_leaves_its_objects_to_the_exit():
    """Console scripts end with gc.freeze(): Python's collections at exit then skip what the run made."""
    import gc

    calls = []
    program = command.as_program(lambda: calls.append("ran") or 5)
    try:
        assert program() == 5
        assert calls == ["ran"]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def _unwritable(tmp_path):
    """A folder this process may not write in (root may write anywhere but into /proc, which it may not create in)."""
    if os.geteuid() == 0:
        return Path("/proc/transfer-learning-test")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return locked / "run"


COMMANDS = [[sys.executable, "mlp_transfer.py", "--n-epochs", "1"],
            [sys.executable, "-m", "transfer_learning.sweep", "--n-epochs", "1", "--seeds", "1", "--thresholds", "0.5"],
            [sys.executable, "-m", "transfer_learning.study", "--replicates", "2", "--sizes", "100"]]


@pytest.mark.e2e
@pytest.mark.parametrize("command", COMMANDS, ids=["run", "sweep", "study"])
@pytest.mark.parametrize("where, message", [
    ("a file", "is a file, not a folder; choose a folder"),
    ("under a file", "(not a directory); choose a folder you can write to"),
    ("unwritable", "; choose a folder you can write to"),
])
def test_an_out_that_cannot_be_a_folder_is_one_line_and_exit_2(command, where, message, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    out = {"a file": a_file, "under a file": a_file / "run", "unwritable": _unwritable(tmp_path)}[where]
    result = subprocess.run([*command, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"error: --out: {'' if where == 'a file' else 'cannot create '}{out}" in result.stderr
    assert message in result.stderr
    assert a_file.read_text() == "not a folder"


def test_a_flag_is_spelled_whole_not_matched_by_its_prefix(tmp_path, capsys):
    assert cli.main_transfer(["--n-epoch", "1", "--out", str(tmp_path / "never")]) == 2
    assert capsys.readouterr().err == "mlp_transfer.py: error: unrecognized arguments: --n-epoch 1\n"
    assert not (tmp_path / "never").exists()


def test_a_run_starts_by_naming_the_settings_it_changed_not_all_of_them(tiny_run, tmp_path, capsys):
    from transfer_learning.config import TransferConfig
    from transfer_learning.inputs import config_line

    assert config_line(TransferConfig(n_epochs=3, hidden_sizes=(6, 5), no_transfer=True, out="x"), "x/config.json") \
        == "config: --hidden-sizes 6,5 --n-epochs 3 --no-transfer (every setting: x/config.json)"
    assert config_line(TransferConfig(), "c.json") == "config: the defaults (every setting: c.json)"
    _, pickle_path = tiny_run
    out = tmp_path / "run"
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out)]) == 0
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("config: ")]
    assert line.startswith("config: --hidden-sizes 6,5 --batch-size 10 --n-epochs 2 --threshold 0.5 --probe-size 10 "
                           "--source mnist:0-1 --target mnist:2-3 ") and len(line) < 400
    assert line.endswith(f"(every setting: {out / 'config.json'})")


def test_the_arm_table_says_what_its_columns_mean_where_it_is_printed_and_in_summary_md(tiny_run, capsys):
    from transfer_learning.report import arm_table_legend

    out, _ = tiny_run
    summary = (out / "summary.md").read_text()
    assert arm_table_legend(1.05) in summary and "epochs to threshold: first epoch within --ttt-level (1.05) x " \
        "scratch's best" in summary
    assert "(negative: a better start)" in summary and "(positive: transfer helped)" in summary


def test_help_sorts_every_setting_into_one_section(capsys):
    from dataclasses import fields

    from transfer_learning.config import FLAG_GROUPS, TransferConfig

    named = [name for names in FLAG_GROUPS.values() for name in names]
    assert sorted(named) == sorted(f.name for f in fields(TransferConfig))  # each once, none left to "other"
    assert cli.main_transfer(["--help"]) == 0
    shown = capsys.readouterr().out
    titles = [line[:-1] for line in shown.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert titles[-5:] == list(FLAG_GROUPS) and "other settings:" not in shown
    data_section = shown.split("\ndata:\n", 1)[1].split("\nthe network and its training:\n", 1)[0]
    assert "--source SPEC" in data_section and "--invert" in data_section and "--rule" not in data_section
