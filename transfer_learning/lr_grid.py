"""``--lr-grid``: each arm trained at every rate of the grid (with --tune-knobs, at every rate and value of its own
knob), and the candidate of the lowest validation error kept.

A pure choice over what training returned, so that it is tested without training anything: ties go to the earlier
candidate, a candidate whose training diverged is one that lost (not a failed run), and only when every candidate
diverged is the arm's training an error. The validation error that decides is the validation pool's where the run
has one (pools.py), else the run's own best validation error. The test split is not read here: the run tests the
chosen weights once, after the choice.
"""

from dataclasses import dataclass, field

from .train import TrainingDiverged


@dataclass(frozen=True)
class Tried:
    candidate: object  # a learning rate, or a dict of settings with its "learning_rate"
    history: object  # train.History
    final: dict  # the weights the phase ended with (its best-validation ones)
    measures: dict = field(default_factory=dict)  # {"valid_pool_error": ...} where the run has a validation pool

    @property
    def rate(self) -> float:
        return self.candidate["learning_rate"] if isinstance(self.candidate, dict) else self.candidate

    @property
    def setting(self) -> dict:
        return dict(self.candidate) if isinstance(self.candidate, dict) else {"learning_rate": self.candidate}

    @property
    def validation_error(self) -> float:
        """What the choice compares."""
        return self.measures.get("valid_pool_error", self.history.best_validation_error)


@dataclass(frozen=True)
class Choice:
    chosen: Tried
    tried: tuple  # every candidate that trained, in grid order
    diverged: tuple  # the candidates whose training diverged

    def record(self) -> dict:
        """What results.json records of the search: the chosen setting, then every candidate's."""
        return {**self.chosen.setting,
                "lr_search": [{**t.setting, "best_validation_error": t.history.best_validation_error,
                               "best_epoch": t.history.best_epoch, **t.measures} for t in self.tried],
                "lr_diverged": list(self.diverged)}


def choose(candidates, train_at, on_diverged=None) -> Choice:
    """Train with ``train_at(candidate) -> (history, final weights[, measures])`` at each candidate; keep the lowest
    validation error (the first of equal ones). ``on_diverged(candidate, error)`` hears of each diverged one."""
    tried, diverged = [], []
    for candidate in candidates:
        try:
            history, final, *measures = train_at(candidate)
        except TrainingDiverged as err:
            if on_diverged:
                on_diverged(candidate, err)
            diverged.append(candidate)
            continue
        tried.append(Tried(candidate, history, final, measures[0] if measures else {}))
    if not tried:
        raise TrainingDiverged("every learning rate of --lr-grid diverged; try smaller ones")
    chosen = min(tried, key=lambda t: t.validation_error)  # min keeps the first of ties
    return Choice(chosen, tuple(tried), tuple(diverged))
