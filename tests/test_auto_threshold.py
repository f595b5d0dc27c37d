"""--threshold auto: the choice follows validation scores only, every candidate is recorded, and the
winner starts from exactly the weights the real transfer then trains."""

import json

import numpy as np
import pytest

from tests.helpers import TINY_KEEPING_SOME as TINY
from tests.helpers import fake_history, make_splits, make_weights, transfer_config, write_pickle
from transfer_learning import cli
from transfer_learning.auto_threshold import choose_threshold
from transfer_learning.transfer import hidden_activity


def test_lowest_validation_score_wins_and_equal_masks_train_once():
    rng = np.random.default_rng(0)
    weights = make_weights(rng)
    probe = rng.uniform(size=(12, weights["hidden0_W"].shape[0])).astype(np.float32)
    scores = hidden_activity(weights, probe)
    low = float(min(s.min() for s in scores))
    candidates = (0.0, low / 2, 0.5, 2.0, 3.0)  # 0 and low/2 keep every node; 2 and 3 keep none
    # validation favours keeping nothing; the test error (never used) favours keeping everything
    curves = {"all": [0.5, 0.4], "some": [0.3, 0.3], "none": [0.2, 0.1]}
    calls = []

    def retrain(initial, masks, label):
        kept = sum(int(m.sum()) for m in masks)
        kind = "all" if kept == sum(m.size for m in masks) else ("none" if kept == 0 else "some")
        calls.append(kind)
        history = fake_history(curves[kind])
        history.test_error = {"all": 0.0, "some": 0.5, "none": 0.9}[kind]
        return history

    reinit_rng = np.random.default_rng(7)
    state = reinit_rng.bit_generator.state
    chosen, report = choose_threshold(weights, probe, 3, candidates, reinit_rng, retrain)
    assert chosen == 2.0  # the first of the tied "keep none" candidates
    assert sorted(calls) == ["all", "none", "some"]  # one retrain per distinct set of kept nodes
    assert [c["threshold"] for c in report] == list(candidates)
    assert report[0]["validation_auc"] == report[1]["validation_auc"] == pytest.approx(0.45)
    assert report[3]["nodes_kept"] == [0, 0] and report[3]["validation_auc"] == pytest.approx(0.15)
    assert reinit_rng.bit_generator.state == state  # the real transfer's draws are not shifted


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auto")
    pickle_path = write_pickle(tmp / "tiny.pkl.gz", tuple(make_splits()))
    args = [*TINY[:-2], "--dataset", str(pickle_path), "--auto-thresholds", "0,0.3,0.6,1.5", "--auto-epochs", "2",
            "--kept-lr-scale", "0.5"]
    assert cli.main_transfer([*args, "--threshold", "auto", "--out", str(tmp / "auto")]) == 0
    return tmp, args


@pytest.mark.e2e
def test_auto_records_every_candidate_and_the_choice(auto_run):
    tmp, _ = auto_run
    report = json.loads((tmp / "auto" / "transfer.json").read_text())
    auto = report["auto"]
    assert [c["threshold"] for c in auto["candidates"]] == [0.0, 0.3, 0.6, 1.5]
    best = min(auto["candidates"], key=lambda c: c["validation_auc"])
    assert auto["chosen"] == report["threshold"] == best["threshold"]
    assert auto["epochs"] == 2 and all(len(c["validation_curve"]) == 2 for c in auto["candidates"])
    assert auto["candidates"][-1]["nodes_kept"] == [0, 0]  # mean |tanh| < 1 < 1.5: nothing kept
    results = json.loads((tmp / "auto" / "results.json").read_text())
    assert results["threshold"] == auto["chosen"]
    # the winner's short retrain is the first two epochs of the real transfer arm, bit for bit
    assert results["arms"]["transfer"]["validation_curve"][:2] == best["validation_curve"]


@pytest.mark.e2e
def test_auto_equals_the_fixed_threshold_it_chose(auto_run):
    tmp, args = auto_run
    chosen = json.loads((tmp / "auto" / "transfer.json").read_text())["threshold"]
    assert cli.main_transfer([*args, "--threshold", str(chosen), "--out", str(tmp / "fixed")]) == 0
    for name in ("weights_transferred.npz", "weights_final.npz", "weights_final_scratch.npz"):
        a, b = np.load(tmp / "auto" / name), np.load(tmp / "fixed" / name)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize("argv, message", [
    (["--threshold", "sometimes"], "--threshold: expected a number >= 0 or auto, got 'sometimes'"),
    (["--threshold", "-0.1"], "expected a number >= 0 or auto"),
    (["--threshold", "auto", "--auto-thresholds", "0.5,-1"], "--auto-thresholds: expected values >= 0"),
    (["--threshold", "auto", "--auto-epochs", "0"], "--auto-epochs: expected a positive number"),
])
def test_bad_auto_flags(tmp_path, capsys, argv, message):
    assert cli.main_transfer([*TINY, "--out", str(tmp_path / "z"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "z").exists()


@pytest.mark.e2e
def test_an_interrupted_auto_choice_resumes_to_the_same_run(auto_run, tmp_path):
    from tests.helpers import assert_same_results, stop_after
    from transfer_learning.experiment import run_transfer
    from transfer_learning.train import Interrupted

    tmp, args = auto_run
    out = tmp_path / "run"
    cfg = transfer_config([*args, "--threshold", "auto", "--out", str(out)])
    # 3 minibatches an epoch: 9 for the source, then 6 per candidate; stop inside the second candidate
    with pytest.raises(Interrupted):
        run_transfer(cfg, stop_requested=stop_after(9 + 6 + 2))
    assert (out / "checkpoint_auto-0.npz").is_file() and not (out / "results.json").exists()
    assert cli.main_transfer(["--resume", str(out)]) == 0
    assert_same_results(tmp / "auto", out)
