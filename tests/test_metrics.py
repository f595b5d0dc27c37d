"""The transfer metrics (metrics.py), each against the definition written out here (Taylor & Stone 2009)."""

import numpy as np
import pytest

from tests.helpers import fake_history, make_weights
from transfer_learning import metrics
from transfer_learning.data import Split


def test_an_epochs_curve_is_its_last_check_and_the_area_pads_with_the_best():
    history = fake_history([0.5, 0.4, 0.45])
    assert metrics.epoch_curve(history) == [0.5, 0.4, 0.45]
    # an arm that stopped after 3 of 5 epochs keeps its best (0.4) for the 2 it did not run
    assert metrics.area_under_curve([0.5, 0.4, 0.45], 5, 0.4) == pytest.approx(0.5 + 0.4 + 0.45 + 0.4 + 0.4)
    assert metrics.area_under_curve([0.5, 0.4, 0.45, 0.3], 2, 0.3) == pytest.approx(0.9)  # the budget cuts it


def test_time_to_threshold_is_the_first_epoch_at_or_below_the_level():
    assert metrics.time_to_threshold([0.5, 0.3, 0.2], 0.3) == 2
    assert metrics.time_to_threshold([0.5, 0.4], 0.3) is None


def test_the_error_rate_is_a_forward_pass_written_out_here():
    rng = np.random.default_rng(1)
    weights = make_weights(rng)
    split = Split(rng.uniform(size=(50, 16)).astype(np.float32), rng.integers(0, 3, 50))
    h = np.tanh(np.tanh(split.x @ weights["hidden0_W"] + weights["hidden0_b"]) @ weights["hidden1_W"]
                + weights["hidden1_b"])
    wrong = (h @ weights["output_W"] + weights["output_b"]).argmax(axis=1) != split.y
    assert metrics.error_rate(weights, split) == wrong.mean()
    relu = np.maximum(np.maximum(split.x @ weights["hidden0_W"] + weights["hidden0_b"], 0) @ weights["hidden1_W"]
                      + weights["hidden1_b"], 0)
    wrong = (relu @ weights["output_W"] + weights["output_b"]).argmax(axis=1) != split.y
    assert metrics.error_rate(weights, split, "relu") == wrong.mean()


def test_another_networks_output_layer_replaces_only_the_output_layer():
    rng = np.random.default_rng(2)
    a, b = make_weights(rng), make_weights(rng)
    mixed = metrics.with_output_of(a, b)
    assert mixed["output_W"] is b["output_W"] and mixed["hidden0_W"] is a["hidden0_W"]
