"""A trained network used: a run's weights classify images into its classes' names, and its test split's
predictions give exactly the test error the run recorded (the run's compiled graph and this NumPy pass agree)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import TINY, make_folder, make_splits, write_pickle
from transfer_learning import cli, predict
from transfer_learning.data import load_task

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A transfer run between two image folders (dark strokes on light, so --invert), and the target folder."""
    tmp = tmp_path_factory.mktemp("predict")
    source = make_folder(tmp / "source", classes=("a", "b"), per_class=25)
    target = make_folder(tmp / "target", classes=("x", "y", "z"), per_class=25, seed=1)
    out = tmp / "run"
    assert cli.main_transfer([*TINY[4:], "--source", f"imagefolder:{source}", "--target", f"imagefolder:{target}",
                              "--invert", "--n-epochs", "8", "--threshold", "0.5", "--out", str(out)]) == 0
    return out, target


@pytest.mark.e2e
def test_the_run_records_what_its_outputs_mean_and_how_images_became_inputs(folder_run):
    out, target = folder_run
    results = json.loads((out / "results.json").read_text())
    assert results["labels"]["target"] == {"task": f"imagefolder:{target}", "classes": [0, 1, 2],
                                           "names": ["x", "y", "z"]}
    assert results["labels"]["source"]["names"] == ["a", "b"]
    assert results["preprocessing"]["invert"] is True and results["preprocessing"]["resize"] == "fit"


@pytest.mark.e2e
def test_the_test_split_predicted_gives_the_recorded_test_error_exactly(folder_run):
    out, target = folder_run
    network = predict.load(out)
    assert network.names == ("x", "y", "z") and network.invert
    task = load_task(f"imagefolder:{target}", invert=True)  # the split the run made (split seed 0)
    p = predict.probabilities(network, task.test.x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    recorded = json.loads((out / "results.json").read_text())["target_test_error"]
    assert float(np.mean(p.argmax(axis=1) != task.test.y)) == recorded


@pytest.mark.e2e
def test_files_and_folders_are_classified_by_name_from_the_command_line(folder_run, tmp_path):
    out, target = folder_run
    images = sorted((target / "y").iterdir())[:3]
    done = subprocess.run([sys.executable, "-m", "transfer_learning.predict", str(out), *map(str, images),
                           str(target / "z"), "--probabilities"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3 + 25  # the three files, then every image of the folder
    by_path = {line.split("\t")[0]: line.split("\t")[1:] for line in lines}
    for image in images:
        name, probabilities = by_path[str(image)]
        shown = dict(item.split(":") for item in probabilities.split())
        assert set(shown) == {"x", "y", "z"} and name == max(shown, key=lambda k: float(shown[k]))
    library = predict.classify(out, images)
    assert [found.name for found in library] == [by_path[str(image)][0] for image in images]


def test_a_logistic_and_a_no_transfer_run_classify_into_their_own_task(tmp_path):
    pickle = write_pickle(tmp_path / "tiny.pkl.gz", tuple(make_splits()))
    logistic = tmp_path / "logistic"
    assert cli.main_logistic(["--dataset", str(pickle), "--task", "mnist:0-2", "--n-epochs", "2", "--batch-size", "10",
                              "--out", str(logistic)]) == 0
    source_only = tmp_path / "source"
    assert cli.main_transfer([*TINY, "--dataset", str(pickle), "--no-transfer", "--out", str(source_only)]) == 0
    task = load_task("mnist:0-2", path=pickle)
    for run, names, recorded in ((logistic, ("0", "1", "2"), "test_error_all_examples"),
                                 (source_only, ("0", "1"), "source_test_error")):
        network = predict.load(run)
        assert network.names == names
        test = load_task("mnist:0-1", path=pickle).test if run == source_only else task.test
        p = predict.probabilities(network, test.x)
        assert float(np.mean(p.argmax(axis=1) != test.y)) == json.loads((run / "results.json").read_text())[recorded]


@pytest.mark.parametrize("make, message", [
    (lambda run: None, "holds no config.json, so it is not a finished run directory"),
    (lambda run: (run.mkdir(), (run / "config.json").write_text('{"compat": "2015", "config": {}}'),
                  (run / "results.json").write_text("{}")),
     "a --compat 2015 run records the 2015 files only; classify with a run of the default path"),
    (lambda run: (run.mkdir(), (run / "config.json").write_text('{"config": {}}'),
                  (run / "results.json").write_text("{}")),
     "results.json records no label map"),
])
def test_what_cannot_be_classified_with_is_one_line_and_exit_2(tmp_path, capsys, make, message):
    run = tmp_path / "run"
    make(run)
    image = tmp_path / "x.png"
    from PIL import Image

    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    assert predict.main([str(run), str(image)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("python -m transfer_learning.predict: error: ")


@pytest.mark.e2e
def test_image_files_are_read_as_the_run_read_its_images(folder_run):
    """Every image of the target folder classified from its file (the run's --invert and resize applied by predict)
    is right exactly as often as the run's own arrays of those images, read by the loader, are."""
    out, target = folder_run
    found = predict.classify(out, [target])
    right_from_files = sum(f.name == f.path.parent.name for f in found)
    task = load_task(f"imagefolder:{target}", invert=True)
    network = predict.load(out)
    right_from_arrays = sum(int((predict.probabilities(network, split.x).argmax(axis=1) == split.y).sum())
                            for split in (task.train, task.valid, task.test))
    assert len(found) == 75 and right_from_files == right_from_arrays
    assert sum(f.name == f.path.parent.name for f in predict.classify(out, [target], invert=False)) != right_from_files
