"""A phase's checkpoint: what is saved comes back exactly, and each way a file can be wrong is one DataError."""

import json

import numpy as np
import pytest

from transfer_learning.checkpoint import FORMAT, checkpoint_name, load_checkpoint, save_checkpoint
from transfer_learning.data import DataError
from transfer_learning.rundir import RunDir
from transfer_learning.train import Check, History

SHAPES = {"output_W": (4, 2), "output_b": (2,)}


def weights(value):
    return {"output_W": np.full((4, 2), value, np.float32), "output_b": np.full(2, value, np.float32)}


def saved(tmp_path, best=True, rngs=2):
    history = History(phase="target-scratch", patience=7)
    history.checks.append(Check(1, 3, 2, 0.25, 0.5))
    history.best_weights = weights(2.0) if best else None
    generators = [np.random.default_rng(seed) for seed in range(rngs)]
    for g in generators:
        g.random(3)  # a state past the seed's
    save_checkpoint(RunDir(tmp_path), history, weights(1.0), generators)
    return tmp_path / checkpoint_name("target-scratch"), history, generators


def test_what_is_saved_comes_back_exactly(tmp_path):
    path, history, generators = saved(tmp_path)
    back = load_checkpoint(path, SHAPES)
    assert back.phase == "target-scratch"
    assert {k: v.tolist() for k, v in back.weights.items()} == {k: v.tolist() for k, v in weights(1.0).items()}
    assert {k: v.tolist() for k, v in back.best_weights.items()} == {k: v.tolist() for k, v in weights(2.0).items()}
    assert back.history_state == json.loads(json.dumps(history.to_state()))
    assert back.rng_states == [g.bit_generator.state for g in generators]
    with np.load(path) as archive:  # format 1 on disk: checkpoints written by earlier versions still load
        assert json.loads(archive["state"].tobytes())["format"] == 1


def test_no_best_weights_loads_as_none_and_no_file_as_none(tmp_path):
    path, _, _ = saved(tmp_path, best=False, rngs=1)
    back = load_checkpoint(path, SHAPES)
    assert back.best_weights is None and len(back.rng_states) == 1
    assert load_checkpoint(tmp_path / "checkpoint_other.npz", SHAPES) is None


def rewrite(path, change):
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    change(arrays)
    np.savez(path, **arrays)


def test_another_format_is_refused(tmp_path):
    path, _, _ = saved(tmp_path)

    def newer(arrays):
        state = json.loads(arrays["state"].tobytes())
        state["format"] = FORMAT + 1
        arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)

    rewrite(path, newer)
    refusal = rf"not a readable checkpoint \(ValueError: format {FORMAT + 1}, expected {FORMAT}\)"
    with pytest.raises(DataError, match=refusal):
        load_checkpoint(path, SHAPES)


def test_best_weights_are_checked_like_the_current_ones(tmp_path):
    path, _, _ = saved(tmp_path)
    rewrite(path, lambda arrays: arrays.update({"best/output_b": np.zeros(3, np.float32)}))
    with pytest.raises(DataError, match=rf"^{path}: best/output_b has shape \(3,\)"):
        load_checkpoint(path, SHAPES)
    rewrite(path, lambda arrays: arrays.update({"best/output_b": np.zeros(2, np.float32),
                                                 "current/output_W": np.full((4, 2), np.nan, np.float32)}))
    with pytest.raises(DataError, match="current/output_W holds NaN"):
        load_checkpoint(path, SHAPES)


def test_an_unexpected_array_is_refused(tmp_path):
    path, _, _ = saved(tmp_path)
    rewrite(path, lambda arrays: arrays.update({"extra/output_W": np.zeros((4, 2), np.float32)}))
    with pytest.raises(DataError, match="unexpected array 'extra/output_W'"):
        load_checkpoint(path, SHAPES)


def test_a_checkpoint_without_current_weights_or_with_a_pickled_array_is_refused(tmp_path):
    path, _, _ = saved(tmp_path)
    rewrite(path, lambda arrays: [arrays.pop(k) for k in [k for k in arrays if k.startswith("current/")]])
    with pytest.raises(DataError, match=r"holds arrays \[\], expected \['current/output_W', 'current/output_b'\]"):
        load_checkpoint(path, SHAPES)
    (tmp_path / "pickled").mkdir()
    path, _, _ = saved(tmp_path / "pickled")
    rewrite(path, lambda arrays: arrays.update({"current/output_b": np.array([{"a": 1}, None], dtype=object)}))
    with pytest.raises(DataError, match=r"not a readable checkpoint \(ValueError: Object arrays cannot be loaded"):
        load_checkpoint(path, SHAPES)
