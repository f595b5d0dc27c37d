"""--lr-grid's choice, a pure function: tested with what training would return, nothing trained."""

import pytest

from transfer_learning import lr_grid
from transfer_learning.train import History, TrainingDiverged


def trained(validation: dict, diverge=()):
    """train_at for a grid whose rates end at these best validation errors (and whose ``diverge`` rates diverge)."""
    calls = []

    def train_at(rate):
        calls.append(rate)
        if rate in diverge:
            raise TrainingDiverged("cost is nan")
        return History(phase="x", best_validation_error=validation[rate], best_epoch=int(rate * 10)), {"rate": rate}

    return train_at, calls


def test_the_lowest_validation_error_wins_and_every_rate_is_tried_in_order():
    train_at, calls = trained({0.01: 0.20, 0.1: 0.15, 0.3: 0.10})
    choice = lr_grid.choose((0.01, 0.1, 0.3), train_at)
    assert calls == [0.01, 0.1, 0.3]
    assert choice.chosen.rate == 0.3 and choice.chosen.final == {"rate": 0.3}
    assert choice.record() == {"learning_rate": 0.3, "lr_diverged": [], "lr_search": [
        {"learning_rate": 0.01, "best_validation_error": 0.20, "best_epoch": 0},
        {"learning_rate": 0.1, "best_validation_error": 0.15, "best_epoch": 1},
        {"learning_rate": 0.3, "best_validation_error": 0.10, "best_epoch": 3}]}


def test_a_tie_goes_to_the_earlier_rate_of_the_grid():
    assert lr_grid.choose((0.3, 0.1, 1.0), trained({0.3: 0.1, 0.1: 0.05, 1.0: 0.05})[0]).chosen.rate == 0.1
    assert lr_grid.choose((1.0, 0.1), trained({1.0: 0.05, 0.1: 0.05})[0]).chosen.rate == 1.0


def test_a_diverging_rate_loses_and_is_reported_and_only_all_diverging_is_an_error():
    heard = []
    choice = lr_grid.choose((0.1, 5.0), trained({0.1: 0.5}, diverge={5.0})[0],
                            on_diverged=lambda rate, err: heard.append((rate, str(err))))
    assert choice.chosen.rate == 0.1 and choice.diverged == (5.0,) and heard == [(5.0, "cost is nan")]
    assert [t.rate for t in choice.tried] == [0.1]
    with pytest.raises(TrainingDiverged, match="every learning rate of --lr-grid diverged; try smaller ones"):
        lr_grid.choose((5.0, 9.0), trained({}, diverge={5.0, 9.0})[0])
