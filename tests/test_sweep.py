"""Sweeps: one row per seed x threshold x arm, paired by seed, equal to single runs, resumable, and the
same numbers whether the runs go to joblib processes or to a Dask cluster."""

import csv

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from tests.helpers import TINY, make_splits, paste_into_a_shell, write_pickle
from transfer_learning import cli, sweep

GRID = ["--thresholds", "0,0.5,1.5", "--seeds", "1,2", "--baselines", "scratch,random-reset"]


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    pickle_path = write_pickle(tmp / "tiny.pkl.gz", tuple(make_splits()))
    args = [*TINY, "--dataset", str(pickle_path), *GRID]
    assert sweep.main([*args, "--jobs", "2", "--out", str(tmp / "sw")]) == 0
    return tmp, args


def test_one_row_per_seed_threshold_and_arm(swept):
    tmp, _ = swept
    rows = read_csv(tmp / "sw" / "results.csv")
    keys = [(r["seed"], r["threshold"], r["arm"]) for r in rows]
    want = [(s, t, a) for s in ("1", "2") for t in ("0", "0.5", "1.5") for a in ("transfer", "random-reset")]
    want += [(s, "", "scratch") for s in ("1", "2")]
    assert sorted(keys) == sorted(want)
    for r in rows:
        scratch = next(q for q in rows if q["seed"] == r["seed"] and q["arm"] == "scratch")
        assert float(r["test_error_minus_scratch_pp"]) == pytest.approx(
            float(r["test_error_pct"]) - float(scratch["test_error_pct"]), abs=1e-4)
    at = {(r["seed"], r["threshold"], r["arm"]): r for r in rows}
    rule = at[("2", "0.5", "transfer")]
    assert float(rule["test_error_minus_random_reset_pp"]) == pytest.approx(
        float(rule["test_error_pct"]) - float(at[("2", "0.5", "random-reset")]["test_error_pct"]), abs=1e-4)
    assert at[("2", "0.5", "random-reset")]["test_error_minus_random_reset_pp"] == ""
    assert float(at[("1", "0", "transfer")]["fraction_kept"]) == 1.0  # threshold 0 keeps every node
    assert float(at[("1", "1.5", "transfer")]["fraction_kept"]) == 0.0  # mean |tanh| < 1.5 keeps none
    summary = (tmp / "sw" / "summary.md").read_text()
    assert "| transfer | 0.5 |" in summary and "| scratch | - |" in summary
    assert (tmp / "sw" / "sweep.png").stat().st_size > 10_000


def test_a_recorded_run_keeps_its_results_but_not_its_checkpoints(swept):
    tmp, _ = swept
    recorded = sorted(p.stem for p in (tmp / "sw" / "results").glob("*.json"))
    assert len(recorded) == 2 + 6  # 2 sources, 2 seeds x 3 thresholds
    assert not list((tmp / "sw").rglob("checkpoint_*.npz"))
    for run in ("seed1-t0", "seed2-t1.5"):
        assert (tmp / "sw" / "runs" / run / "weights_final.npz").is_file()
        assert (tmp / "sw" / "runs" / run / "results.json").is_file()
    for run in ("seed2-t0", "seed2-t0.5", "seed2-t1.5"):  # each its own log, which names its own folder alone
        log = (tmp / "sw" / "runs" / f"{run}.log").read_text()
        assert log.count("config.json") == 1 and f"/runs/{run}/config.json" in log, (run, log)


def test_a_sweep_run_is_the_single_run_with_that_seed_and_threshold(swept):
    tmp, args = swept
    pickle_path = args[args.index("--dataset") + 1]
    out = tmp / "single"
    assert cli.main_transfer([*TINY, "--dataset", pickle_path, "--seed", "2", "--threshold", "0.5",
                              "--baselines", "random-reset", "--out", str(out)]) == 0
    in_sweep = tmp / "sw" / "runs" / "seed2-t0.5"
    for name in ("weights_source.npz", "weights_transferred.npz", "weights_final.npz",
                 "weights_final_random-reset.npz"):
        a, b = np.load(out / name), np.load(in_sweep / name)
        for key in a.files:
            assert_array_equal(a[key], b[key])


def test_a_restarted_sweep_skips_finished_runs(swept, capsys):
    tmp, args = swept
    before = read_csv(tmp / "sw" / "results.csv")
    (tmp / "sw" / "results" / "seed2-t0.5.json").unlink()  # as if stopped before this run was recorded
    (tmp / "sw" / "runs" / "seed2-t0.5" / "results.json").unlink()  # and before it finished
    kept = (tmp / "sw" / "results" / "seed1-t0.json").stat().st_mtime_ns
    capsys.readouterr()
    assert sweep.main([*args, "--jobs", "1", "--out", str(tmp / "sw")]) == 0
    err = capsys.readouterr().err
    assert "continuing, 7 already done" in err
    assert "2 seeds x 3 rule/selection runs + 2 source runs = 8 runs, arms transfer, scratch, random-reset, each up " \
        "to 3 epochs a phase, on " in err  # its size, said before it starts
    assert "8/8 runs done (seed 2, threshold 0.5)" in err and err.count("runs done") == 1
    assert (tmp / "sw" / "results" / "seed1-t0.json").stat().st_mtime_ns == kept
    assert read_csv(tmp / "sw" / "results.csv") == before  # resumed from its checkpoint, same numbers
    assert sweep.main([*args[:-1], "scratch", "--out", str(tmp / "sw")]) == 2
    assert "holds a sweep with other settings (--baselines scratch,random-reset then, scratch now); choose another " \
        "--out, or give the same" in capsys.readouterr().err
    assert sweep.main([*args, "--n-epochs", "5", "--out", str(tmp / "sw")]) == 2
    assert "(--n-epochs 3 then, 5 now)" in capsys.readouterr().err


def test_a_sweep_recorded_before_kernels_existed_ran_unfused_and_is_continued_only_as_such(swept, capsys):
    """Sweeps started before --kernels was a setting ran the unfused step: the default flipped to fused later, so
    such a record must not pass for a fused sweep (its runs would mix the two arithmetics)."""
    import json
    import shutil

    tmp, args = swept
    old = tmp / "recorded-before-kernels"
    shutil.copytree(tmp / "sw", old)
    record = json.loads((old / "sweep.json").read_text())
    for part in ("sweep", "base"):
        record["settings"][part].pop("kernels", None)
    (old / "sweep.json").write_text(json.dumps(record))
    capsys.readouterr()
    assert sweep.main([*args, "--jobs", "1", "--out", str(old)]) == 2  # the default, fused: refused
    assert "holds a sweep with other settings (--kernels unfused then, fused now)" in capsys.readouterr().err
    assert sweep.main([*args, "--jobs", "1", "--kernels", "unfused", "--out", str(old)]) == 0
    assert "continuing, 8 already done" in capsys.readouterr().err


def test_a_sweep_may_be_continued_under_keep_best_but_not_back(swept, capsys):
    """Every run recorded under --if-diverged stop ended without diverging, so keep-best would have recorded the same:
    the switch is allowed (the confirm stage made it mid-study). Back is refused: a run kept after diverging is one
    that stop would not have recorded."""
    import json
    import shutil

    tmp, args = swept
    copy = tmp / "switched"
    shutil.copytree(tmp / "sw", copy)
    capsys.readouterr()
    assert sweep.main([*args, "--jobs", "1", "--if-diverged", "keep-best", "--out", str(copy)]) == 0
    assert "continuing, 8 already done" in capsys.readouterr().err
    record = json.loads((copy / "sweep.json").read_text())
    record["settings"]["base"]["if_diverged"] = "keep-best"
    (copy / "sweep.json").write_text(json.dumps(record))
    assert sweep.main([*args, "--jobs", "1", "--out", str(copy)]) == 2
    assert "holds a sweep with other settings (--if-diverged keep-best then, stop now)" in capsys.readouterr().err


def test_dask_cluster_gives_the_same_rows(swept):
    distributed = pytest.importorskip("distributed")
    tmp, args = swept
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert sweep.main([*args, "--scheduler", cluster.scheduler_address, "--out", str(tmp / "dask")]) == 0
        workers = set(cluster.scheduler_info["workers"])
    on_cluster, local = read_csv(tmp / "dask" / "results.csv"), read_csv(tmp / "sw" / "results.csv")
    assert {r.pop("ran_on") for r in on_cluster} <= workers and {r.pop("ran_on") for r in local} == {"local"}
    assert on_cluster == local


@pytest.mark.parametrize("argv, message", [
    (["--thresholds", "0.5,-1"], "--thresholds: expected values >= 0"),
    (["--thresholds", "0.5,0.5"], "--thresholds: a threshold is listed twice"),
    (["--seeds", "1,1"], "--seeds: expected distinct seeds"),
    (["--jobs", "0"], "--jobs: expected a positive number or -1"),
    (["--target", "mnist:2-3", "--target-train-size", "0"], "--target-train-size: expected a positive number"),
    (["--scheduler", "tcp://127.0.0.1:9"], "--scheduler: cannot reach a Dask scheduler at tcp://127.0.0.1:9"),
])
def test_bad_sweep_flags(swept, tmp_path, capsys, argv, message):
    _, args = swept
    assert sweep.main([*args, "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_ctrl_c_then_the_same_command_finishes_the_sweep(tmp_path):
    import signal
    import subprocess
    import sys

    pickle_path = write_pickle(tmp_path / "tiny.pkl.gz", tuple(make_splits()))
    argv = [sys.executable, "-m", "transfer_learning.sweep", *TINY, "--dataset", str(pickle_path), *GRID,
            "--jobs", "1", "--out", str(tmp_path / "sw")]
    # started with SIGINT ignored, as a shell script's `... &` starts it: the sweep still takes Ctrl-C
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "runs done" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, "".join(lines) + rest
    assert "stopped by SIGINT; finished runs are kept. Continue with:" in rest
    hint = rest.split("Continue with: ", 1)[1].splitlines()[0]
    assert hint.startswith(f"{sys.executable} -m transfer_learning.sweep ")
    recorded = len(list((tmp_path / "sw" / "results").glob("*.json")))
    assert 1 <= recorded < 8
    pasted = paste_into_a_shell(hint, ".", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # where it ran
    _, stderr = pasted.communicate(timeout=600)
    assert pasted.returncode == 0, stderr
    assert f"continuing, {recorded} already done" in stderr
    assert len(list((tmp_path / "sw" / "results").glob("*.json"))) == 8


def test_ctrl_c_on_worker_processes_ends_with_the_one_line_message_alone(tmp_path):
    """Stopping a pool of workers left Python's resource tracker six lines of 'leaked semaphore' warnings to print
    after the sweep's own message."""
    import signal
    import subprocess
    import sys

    pickle_path = write_pickle(tmp_path / "tiny.pkl.gz", tuple(make_splits()))
    argv = [sys.executable, "-m", "transfer_learning.sweep", *TINY, "--dataset", str(pickle_path), *GRID,
            "--jobs", "2", "--out", str(tmp_path / "sw")]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "runs done" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, rest
    assert rest.strip().splitlines()[-1].startswith("python -m transfer_learning.sweep: stopped by SIGINT"), rest
    assert "leaked" not in rest and "resource_tracker" not in rest
