"""inputs.py on its own: which change to a run's record refuses a resume, which only warns, and the line a run
starts with (test_faults.py changes real datasets and weights files under whole runs)."""

import json
from dataclasses import replace

import pytest

from transfer_learning.config import TransferConfig
from transfer_learning.inputs import absolute_paths, check_resume, config_line, script_identity, versions
from transfer_learning.rundir import RunDir
from transfer_learning.vocab import ConfigError, DataError

INPUTS = {"source": {"spec": "mnist", "file": "/d/mnist.pkl.gz", "sha256": "aa"},
          "source_weights": {"file": "/w.npz", "sha256_of_arrays": "bb"}}


def _run(tmp_path, **saved):
    rundir = RunDir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"script": "mlp_transfer.py", "inputs": INPUTS,
                                                      "versions": versions(), **saved}))
    return rundir


def test_the_same_inputs_resume_without_a_word(tmp_path):
    said = []
    check_resume(_run(tmp_path), "mlp-transfer", json.loads(json.dumps(INPUTS)), log=said.append)
    assert said == []


def test_a_changed_input_is_refused_naming_the_file_and_the_change(tmp_path):
    now = {**INPUTS, "source": {**INPUTS["source"], "sha256": "cc"}}
    with pytest.raises(DataError, match=r"^--resume: the source /d/mnist.pkl.gz changed since the run started "
                                        r"\(sha256 'aa' then, 'cc' now\); a resumed run would mix two inputs"):
        check_resume(_run(tmp_path), "mlp_transfer.py", now)


def test_an_input_added_or_dropped_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"the source weights \(/w.npz\) was not an input when the run started"):
        check_resume(_run(tmp_path), "mlp_transfer.py", {"source": INPUTS["source"]})


def test_the_other_script_is_refused_and_a_console_script_is_the_same_program(tmp_path):
    assert script_identity("/usr/bin/mlp-transfer") == script_identity("mlp_transfer.py")
    with pytest.raises(ConfigError, match="was started by mlp_transfer.py, not mlp_transfer_pictures.py"):
        check_resume(_run(tmp_path), "mlp_transfer_pictures.py", INPUTS)


def test_other_versions_only_warn(tmp_path):
    said = []
    check_resume(_run(tmp_path, versions={**versions(), "numpy": "0.1"}), "mlp_transfer.py", INPUTS, log=said.append)
    assert len(said) == 1 and said[0].startswith("--resume: other library versions than when the run started "
                                                 "(numpy 0.1 -> ")


def test_an_older_run_without_fingerprints_is_resumed_unchecked_with_a_note(tmp_path):
    said = []
    (tmp_path / "config.json").write_text(json.dumps({"script": "mlp_transfer.py"}))
    check_resume(RunDir(tmp_path), "mlp_transfer.py", INPUTS, log=said.append)
    assert said == [f"--resume: {tmp_path / 'config.json'} records no input fingerprints (an older run); inputs "
                    "are not checked"]


def test_an_unreadable_record_is_one_data_error(tmp_path):
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(DataError, match="not a readable run configuration"):
        check_resume(RunDir(tmp_path), "mlp_transfer.py", INPUTS)


def test_paths_are_made_absolute_so_a_resume_elsewhere_reads_the_same_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = absolute_paths(replace(TransferConfig(), source_weights="w.npz", target="imagefolder:letters:0-4"))
    assert cfg.source_weights == str(tmp_path / "w.npz")
    assert cfg.target == f"imagefolder:{tmp_path / 'letters'}:0-4"


def test_the_config_line_lists_only_what_differs_from_the_defaults(tmp_path):
    assert config_line(TransferConfig(), "c.json") == "config: the defaults (every setting: c.json)"
    line = config_line(replace(TransferConfig(), n_epochs=3, hidden_sizes=(500, 500)), "c.json")
    assert line == "config: --hidden-sizes 500,500 --n-epochs 3 (every setting: c.json)"
