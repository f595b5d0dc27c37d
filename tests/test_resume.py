"""Interrupt a run anywhere, resume it, and get exactly the files of an uninterrupted run."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import TINY_KEEPING_SOME as TINY
from tests.helpers import (
    assert_same_results,
    interrupted,
    make_splits,
    paste_into_a_shell,
    stop_after,
    transfer_config,
    write_pickle,
)
from transfer_learning import cli
from transfer_learning.experiment import run_transfer
from transfer_learning.train import Interrupted

ROOT = Path(__file__).resolve().parent.parent
@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resume")
    pickle_path = write_pickle(tmp / "tiny.pkl.gz", tuple(make_splits()))
    out = tmp / "uninterrupted"
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out)]) == 0
    return out, pickle_path


# 30 training examples per task / batch 10 = 3 minibatches an epoch, 3 epochs: 9 per phase;
# phases: source, target (transfer), target-scratch (the default baseline)
@pytest.mark.parametrize("stop_at", [
    pytest.param(1, marks=pytest.mark.slow),  # after the first minibatch, before any checkpoint
    4,  # mid-epoch 2 of the source phase
    pytest.param(9, marks=pytest.mark.slow),  # the source phase's last minibatch
    10,  # the target phase's first minibatch, transfer step done
    pytest.param(14, marks=pytest.mark.slow),
    pytest.param(18, marks=pytest.mark.slow),  # the transfer arm's last minibatch
    22,  # inside the scratch baseline
    pytest.param(26, marks=pytest.mark.slow),  # one minibatch before the end
])
def test_resume_after_an_interrupt_gives_identical_results(reference, tmp_path, stop_at):
    expected, pickle_path = reference
    out = tmp_path / "run"
    cfg = transfer_config([*TINY, "--dataset", str(pickle_path), "--out", str(out)])
    with pytest.raises(Interrupted):
        run_transfer(cfg, stop_requested=stop_after(stop_at))
    assert any(out.glob("checkpoint_*.npz"))
    assert cli.main_transfer(["--resume", str(out)]) == 0
    assert_same_results(expected, out)


def test_resume_refuses_other_flags_and_a_non_run_directory(reference, tmp_path, capsys):
    expected, _ = reference
    assert cli.main_transfer(["--resume", str(expected), "--threshold", "0.1"]) == 2
    assert "--resume takes every setting from" in capsys.readouterr().err
    assert cli.main_transfer(["--resume", str(tmp_path)]) == 2
    assert "holds no config.json" in capsys.readouterr().err


def test_a_damaged_checkpoint_is_a_one_line_error(reference, tmp_path, capsys):
    expected, pickle_path = reference
    out = tmp_path / "run"
    interrupted([*TINY, "--dataset", str(pickle_path)], out)
    (out / "checkpoint_target.npz").write_bytes(b"PK\x03\x04 torn")
    capsys.readouterr()
    assert cli.main_transfer(["--resume", str(out)]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("mlp_transfer.py: error: ") and "Traceback" not in err
    assert last.endswith("checkpoint_target.npz: not a readable checkpoint (BadZipFile: File is not a zip file)")


def test_overwrite_replaces_an_earlier_run_only(reference, tmp_path, capsys):
    _, pickle_path = reference
    out = tmp_path / "run"
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out)]) == 0
    (out / "stale.txt").write_text("from before")
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out), "--overwrite"]) == 0
    assert not (out / "stale.txt").exists() and (out / "weights_final.npz").exists()
    other = tmp_path / "not-a-run"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(other), "--overwrite"]) == 2
    assert "it is not a run directory" in capsys.readouterr().err
    assert (other / "thesis.tex").read_text() == "precious"


def test_divergence_stops_with_a_clear_message(reference, tmp_path, capsys):
    _, pickle_path = reference
    out = tmp_path / "run"
    code = cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out), "--learning-rate", "1e30"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 3
    assert "the source cost became" in err and "at epoch 1, minibatch" in err
    assert "try a smaller --learning-rate" in err


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_real_signal_checkpoints_and_the_run_resumes(reference, tmp_path, sig, code):
    _, pickle_path = reference
    out = tmp_path / "run"
    long_run = [*TINY[:-6], "--n-epochs", "100000", "--patience", "100000000", "--probe-size", "10",
                "--dataset", str(pickle_path), "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "mlp_transfer.py", *long_run], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # wait until training prints its first validation line
        if line.startswith("epoch 2,"):
            break
    time.sleep(0.2)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code
    hint = stderr.split("Resume with: ", 1)[1].strip()
    assert hint == f"{sys.executable} mlp_transfer.py --resume {out}"
    state = json.loads(np.load(out / "checkpoint_source.npz")["state"].tobytes())
    assert state["history"]["epoch"] >= 2 and not state["history"]["done"]
    assert (out / "out.txt").read_text().count("\n") >= 2  # partial results are on disk
    # the printed command resumes where the checkpoint stopped, and a second signal stops it again
    checks_before = len(state["history"]["checks"])
    proc = paste_into_a_shell(hint, ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = None
    for line in proc.stdout:
        if line.startswith("epoch "):
            first = line
            break
    time.sleep(0.2)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code
    where = state["history"]["epoch"] + (state["history"]["next_minibatch"] == 0)
    assert first is not None and first.startswith(f"epoch {where},"), first  # no epoch trained twice or skipped
    assert f"[source] resuming at epoch {state['history']['epoch']}" in stderr
    after = json.loads(np.load(out / "checkpoint_source.npz")["state"].tobytes())
    assert len(after["history"]["checks"]) > checks_before
    assert after["history"]["checks"][:checks_before] == state["history"]["checks"]


def test_a_finished_run_keeps_no_checkpoints_and_resuming_it_says_so_on_one_line(pickle_path, tmp_path, capsys):
    """A finished run's checkpoints only served to resume it (three of 720 KB for the default network): they go
    once results.json is written, and --resume of the finished run trains nothing."""
    out = tmp_path / "done"
    interrupted([*TINY, "--dataset", str(pickle_path)], out)
    assert list(out.glob("checkpoint_*.npz"))  # an interrupted run keeps them, to resume from
    assert cli.main_transfer(["--resume", str(out)]) == 0
    assert not list(out.glob("checkpoint_*.npz")) and (out / "results.json").is_file()
    written = (out / "results.json").stat().st_mtime_ns
    capsys.readouterr()
    assert cli.main_transfer(["--resume", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--resume: {out} finished already" in err
    assert (out / "results.json").stat().st_mtime_ns == written
    logistic = tmp_path / "logistic"
    assert cli.main_logistic(["--dataset", str(pickle_path), "--n-epochs", "2", "--batch-size", "10",
                              "--out", str(logistic)]) == 0
    assert not list(logistic.glob("checkpoint_*.npz")) and (logistic / "results.json").is_file()
