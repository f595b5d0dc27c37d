"""``--lr-grid``: each arm trained at every rate of the grid, and the rate of the lowest best validation error kept.

A pure choice over what training returned, so that it is tested without training anything: ties go to the earlier
rate of the grid, a rate whose training diverged is a candidate that lost (not a failed run), and only when every
rate diverged is the arm's training an error. The test split is not read here: the run tests the chosen weights
once, after the choice.
"""

from dataclasses import dataclass

from .train import TrainingDiverged


@dataclass(frozen=True)
class Tried:
    rate: float
    history: object  # train.History: its best_validation_error decides
    final: dict  # the weights the phase ended with (its best-validation ones)


@dataclass(frozen=True)
class Choice:
    chosen: Tried
    tried: tuple  # every rate that trained, in grid order
    diverged: tuple  # the rates whose training diverged

    def record(self) -> dict:
        """What results.json records of the search."""
        return {"learning_rate": self.chosen.rate,
                "lr_search": [{"learning_rate": t.rate, "best_validation_error": t.history.best_validation_error,
                               "best_epoch": t.history.best_epoch} for t in self.tried],
                "lr_diverged": list(self.diverged)}


def choose(rates, train_at, on_diverged=None) -> Choice:
    """Train with ``train_at(rate) -> (history, final weights)`` at each of ``rates``; keep the lowest best
    validation error (the first of equal ones). ``on_diverged(rate, error)`` hears of each diverged rate."""
    tried, diverged = [], []
    for rate in rates:
        try:
            history, final = train_at(rate)
        except TrainingDiverged as err:
            if on_diverged:
                on_diverged(rate, err)
            diverged.append(rate)
            continue
        tried.append(Tried(rate, history, final))
    if not tried:
        raise TrainingDiverged("every learning rate of --lr-grid diverged; try smaller ones")
    chosen = min(tried, key=lambda t: t.history.best_validation_error)  # min keeps the first of ties
    return Choice(chosen, tuple(tried), tuple(diverged))
