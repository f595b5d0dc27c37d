"""What the two-stage study tunes: each arm's candidates, the settings a run takes from --arm-settings, the choice
on the validation pool, the grid edges, and shrink-perturb's start at each shrink."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from tests.helpers import fake_history, make_weights, transfer_config
from transfer_learning import lr_grid, tuning
from transfer_learning.stages import at_edges
from transfer_learning.transfer import fresh_hidden_draws, shrink_perturb, shrunk_and_perturbed
from transfer_learning.vocab import ConfigError


def test_without_tune_knobs_every_arm_tries_the_rates_alone():
    cfg = transfer_config(["--lr-grid", "0.1,0.3"])
    assert tuning.candidates("l2-sp", cfg) == [0.1, 0.3] and tuning.candidates("scratch", cfg) == [0.1, 0.3]


def test_with_tune_knobs_an_arm_with_a_knob_tries_every_rate_and_value():
    cfg = transfer_config(["--lr-grid", "0.1,0.3", "--tune-knobs", "--n-epochs", "4"])
    assert tuning.candidates("scratch", cfg) == [0.1, 0.3]
    assert tuning.candidates("l2-sp", cfg) == [{"learning_rate": r, "l2_sp": s} for r in (0.1, 0.3)
                                               for s in (0.001, 0.01, 0.1)]
    probe = tuning.candidates("linear-probe", cfg)
    assert len(probe) == 2 * 3 * 2 and {c["n_epochs"] for c in probe} == {4, 12}
    assert {c["L2_reg"] for c in probe} == {1e-4, 1e-3, 1e-2}


def test_a_run_takes_its_own_arms_settings_and_a_per_selection_arm_its_rules():
    table = '{"scratch": {"learning_rate": 0.3}, "transfer/utility@0.25": {"learning_rate": 0.03}, ' \
            '"linear-probe": {"learning_rate": 1, "n_epochs": 60.0, "L2_reg": 0.001}}'
    cfg = transfer_config(["--arm-settings", table, "--rule", "utility", "--keep-fraction", "0.25"])
    assert tuning.settings_for(cfg, "scratch") == {"learning_rate": 0.3}
    assert tuning.settings_for(cfg, "transfer") == {"learning_rate": 0.03}
    probe = tuning.settings_for(cfg, "linear-probe")
    assert probe == {"learning_rate": 1, "n_epochs": 60, "L2_reg": 0.001} and isinstance(probe["n_epochs"], int)
    assert tuning.settings_for(cfg, "finetune") == {}
    other = transfer_config(["--arm-settings", table, "--rule", "utility", "--keep-fraction", "0.5"])
    assert tuning.settings_for(other, "transfer") == {}


@pytest.mark.parametrize("value, message", [
    ("{not json", "--arm-settings: expected JSON like"),
    ('{"scratch": 0.1}', "--arm-settings: expected an object of objects"),
    ('{"scratch": {"momentum": 0.9}}', "--arm-settings: scratch: expected settings among learning_rate, l2_sp, "
                                       "shrink, L2_reg, n_epochs with numbers, got momentum=0.9"),
])
def test_bad_arm_settings_are_refused_with_one_line(value, message):
    with pytest.raises(ConfigError, match=message.replace("{", r"\{")):
        transfer_config(["--arm-settings", value])


def test_the_choice_reads_the_validation_pool_where_there_is_one():
    runs = {0.1: (0.10, 0.30), 0.3: (0.20, 0.25)}  # rate: (run's own validation error, validation pool error)

    def train_at(candidate):
        own, pool = runs[candidate["learning_rate"]]
        return fake_history([own]), {}, {"valid_pool_error": pool}

    choice = lr_grid.choose([{"learning_rate": 0.1}, {"learning_rate": 0.3}], train_at)
    assert choice.chosen.rate == 0.3  # by the pool, though its own validation error is higher
    assert choice.record()["lr_search"][0]["valid_pool_error"] == 0.30


def test_the_edges_of_a_choice_are_named():
    tried = [{"learning_rate": r, "l2_sp": s} for r in (0.1, 0.3, 1.0) for s in (0.001, 0.01)]
    assert at_edges({"learning_rate": 1.0, "l2_sp": 0.001}, tried) == ["learning_rate at the top (1)",
                                                                      "l2_sp at the bottom (0.001)"]
    assert at_edges({"learning_rate": 0.3, "l2_sp": 0.01}, tried) == ["l2_sp at the top (0.01)"]


def test_every_shrink_starts_from_the_same_fresh_draw_and_the_default_from_what_it_always_did():
    weights = make_weights(np.random.default_rng(1))
    before = shrink_perturb(weights, 3, np.random.default_rng(9), 0.4, 0.1)
    fresh = fresh_hidden_draws(weights, np.random.default_rng(9))
    for name, value in shrunk_and_perturbed(weights, fresh, 3, 0.4, 0.1).items():
        assert_array_equal(value, before[name])
    other = shrunk_and_perturbed(weights, fresh, 3, 0.2, 0.1)
    assert_array_equal(other["hidden0_W"], (0.2 * weights["hidden0_W"] + 0.1 * fresh["hidden0_W"]).astype(np.float32))
    assert_array_equal(other["hidden1_b"], (0.2 * weights["hidden1_b"]).astype(np.float32))
