"""Compiled train/validate/test functions and the one SGD loop with patience-based early stopping.

Written once for every phase: the tutorial's logistic regression, the source phase and the
target phase all run ``sgd_early_stopping`` with their own functions and constants.
"""

import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pytensor
import pytensor.tensor as pt

from . import backend
from .config import ConfigError
from .data import to_shared
from .model import regularizers

#: Examples per call of the evaluation functions: big enough that a validation pass costs a few
#: calls, small enough to stay light on memory. Every example is scored; no remainder is dropped.
EVAL_BATCH_SIZE = 5000


@dataclass
class CompiledModel:
    """The tutorial's compiled functions; each takes a minibatch ``index`` (sliced via givens)."""

    train_model: callable  # index -> minibatch negative log-likelihood, after one SGD update
    validate_model: callable  # index -> number of errors in that evaluation batch
    test_model: callable
    n_train_batches: int
    n_valid: int
    n_test: int

    def validation_error(self) -> float:
        return _error_rate(self.validate_model, self.n_valid)

    def test_error(self) -> float:
        return _error_rate(self.test_model, self.n_test)


def _error_rate(count_errors, n) -> float:
    n_batches = -(-n // EVAL_BATCH_SIZE)
    return float(sum(count_errors(i) for i in range(n_batches))) / n


def compile_functions(classifier, x, y, dataset, *, batch_size, learning_rate, L1_reg=0.0, L2_reg=0.0,
                      lr_scales=None):
    """Put ``dataset`` in shared variables and compile the tutorial's three functions.

    ``x`` and ``y`` are the symbolic inputs the classifier was built on (a matrix and an int32
    vector). Plain SGD: every parameter moves by ``-learning_rate * gradient`` of the regularized
    cost after each minibatch. ``train_model`` returns the minibatch's negative log-likelihood
    (the tutorial returned the regularized cost): the penalty's value is never needed, only its
    gradient, and leaving it out saves a pass over every weight matrix per step.

    ``lr_scales`` maps a hidden layer's parameter names (hidden0_W, hidden0_b) to one factor per
    node: node j's incoming column and bias then move by ``-learning_rate * factor[j] *
    gradient``, inside the compiled update (0 freezes a node bit for bit).
    """
    train_x, train_y = to_shared(dataset.train, "train")
    valid_x, valid_y = to_shared(dataset.valid, "valid")
    test_x, test_y = to_shared(dataset.test, "test")
    n_train_batches = dataset.train.x.shape[0] // batch_size
    if n_train_batches == 0:
        raise ConfigError(
            f"--batch-size: {batch_size} is larger than the {dataset.train.x.shape[0]} training "
            f"examples of {dataset.name}"
        )

    def hyperparameter(value, name):
        # a shared scalar, not a constant baked into the C code: another value needs no recompile
        return pytensor.shared(np.asarray(value, dtype=pytensor.config.floatX), name=name)

    nll = classifier.negative_log_likelihood(y)
    cost = nll
    L1, L2_sqr = regularizers(classifier)
    if L1_reg:  # a zero penalty is left out of the graph, not multiplied by a shared zero
        cost = cost + hyperparameter(L1_reg, "L1_reg") * L1
    if L2_reg:
        cost = cost + hyperparameter(L2_reg, "L2_reg") * L2_sqr
    gparams = pt.grad(cost, classifier.params)
    lr = hyperparameter(learning_rate, "learning_rate")
    lr_scales = lr_scales or {}
    updates = []
    for name, p, g in zip(classifier._names(), classifier.params, gparams):
        if name in lr_scales:
            scale = pytensor.shared(np.asarray(lr_scales[name], dtype=pytensor.config.floatX), name=f"{name}_lr_scale")
            g = g * (scale.dimshuffle("x", 0) if p.ndim == 2 else scale)
        updates.append((p, p - lr * g))

    index = pt.lscalar("index")
    mode = backend.compile_mode()
    train_model = pytensor.function(
        [index],
        nll,
        updates=updates,
        mode=mode,
        givens={
            x: train_x[index * batch_size : (index + 1) * batch_size],
            y: train_y[index * batch_size : (index + 1) * batch_size],
        },
    )
    n_errors = pt.sum(pt.neq(classifier.y_pred, y))

    def evaluator(set_x, set_y):
        window = slice(index * EVAL_BATCH_SIZE, (index + 1) * EVAL_BATCH_SIZE)
        return pytensor.function([index], n_errors, givens={x: set_x[window], y: set_y[window]}, mode=mode)

    return CompiledModel(
        train_model=train_model,
        validate_model=evaluator(valid_x, valid_y),
        test_model=evaluator(test_x, test_y),
        n_train_batches=n_train_batches,
        n_valid=dataset.valid.x.shape[0],
        n_test=dataset.test.x.shape[0],
    )


@dataclass
class Check:
    """One validation check, as the tutorial prints it."""

    epoch: int
    minibatch: int
    iteration: int
    validation_error: float
    test_error_of_best: float


class TrainingDiverged(RuntimeError):
    """The cost became NaN or infinite; the message names the phase, epoch and minibatch."""


class Interrupted(Exception):
    """Training stopped on request (SIGINT/SIGTERM) after a minibatch, its checkpoint written."""

    def __init__(self, signal_name):
        super().__init__(signal_name)
        self.signal_name = signal_name


@dataclass
class History:
    """Everything the early-stopping loop knows: enough to print, save, and continue exactly."""

    phase: str
    n_train_batches: int = 1
    patience: int = 0
    epoch: int = 0  # epochs started
    next_minibatch: int = 0  # position inside the current epoch; 0 when it is complete
    done: bool = False
    checks: list = field(default_factory=list)
    best_validation_error: float = np.inf
    best_iter: int = -1
    best_epoch: int = 0
    test_error: float = np.nan
    seconds: float = 0.0
    best_weights: dict | None = None

    @property
    def epochs_run(self) -> int:
        return self.epoch

    def to_state(self) -> dict:
        """JSON-ready state (without the weights, which a checkpoint stores as arrays)."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("checks", "best_weights")}
        state["checks"] = [list(c.__dict__.values()) for c in self.checks]
        return state

    @classmethod
    def from_state(cls, state: dict, best_weights=None):
        fields_ = {k: v for k, v in state.items() if k != "checks"}
        return cls(**fields_, checks=[Check(*c) for c in state["checks"]], best_weights=best_weights)


def sgd_early_stopping(
    compiled,
    classifier,
    *,
    n_epochs,
    patience,
    patience_increase,
    improvement_threshold,
    phase="train",
    out=None,
    on_improvement=None,
    on_checkpoint=None,
    stop_requested=None,
    history=None,
    progress=True,
):
    """The tutorial's loop: SGD by minibatch, validate every ``validation_frequency`` updates.

    A validation error below ``best * improvement_threshold`` extends patience to
    ``iteration * patience_increase``; training stops when patience runs out or after
    ``n_epochs``. The best-validation parameters are restored into ``classifier`` at the end, so
    the returned test error is that of the weights the caller saves. Prints the tutorial's lines.

    ``on_checkpoint(history)`` is called after every validation check and before stopping;
    ``stop_requested()`` is asked after every minibatch and, when true, ends the loop with
    ``Interrupted``. Passing a ``history`` from a checkpoint (weights already in
    ``classifier``) continues exactly where that run stopped.
    """
    from tqdm import tqdm

    out = out or sys.stdout
    n_batches = compiled.n_train_batches
    validation_frequency = min(n_batches, patience // 2) or 1
    if history is None:
        history = History(phase=phase, n_train_batches=n_batches, patience=patience)
    h = history
    start = time.perf_counter() - h.seconds
    bar = tqdm(total=n_epochs, initial=max(h.epoch - (h.next_minibatch > 0), 0), desc=phase, unit="epoch",
               file=sys.stderr, disable=None if progress else True, leave=False)
    while not h.done:
        if h.next_minibatch == 0:
            if h.epoch >= n_epochs:
                break
            h.epoch += 1
        epoch = h.epoch
        for minibatch_index in range(h.next_minibatch, n_batches):
            cost = compiled.train_model(minibatch_index)
            if not np.isfinite(cost):
                raise TrainingDiverged(
                    f"the {phase} cost became {float(cost)} at epoch {epoch}, minibatch {minibatch_index + 1}; "
                    f"try a smaller --learning-rate (the last good checkpoint is kept)"
                )
            iteration = (epoch - 1) * n_batches + minibatch_index
            h.next_minibatch = minibatch_index + 1
            if (iteration + 1) % validation_frequency == 0:
                this_validation_loss = compiled.validation_error()
                print(
                    "epoch %i, minibatch %i/%i, validation error %f %%"
                    % (epoch, minibatch_index + 1, n_batches, this_validation_loss * 100.0),
                    file=out,
                )
                if this_validation_loss < h.best_validation_error:
                    if this_validation_loss < h.best_validation_error * improvement_threshold:
                        h.patience = max(h.patience, iteration * patience_increase)
                    h.best_validation_error = this_validation_loss
                    h.best_iter = iteration
                    h.best_epoch = epoch
                    h.best_weights = classifier.get_weights()
                    h.test_error = compiled.test_error()
                    print(
                        "     epoch %i, minibatch %i/%i, test error of best model %f %%"
                        % (epoch, minibatch_index + 1, n_batches, h.test_error * 100.0),
                        file=out,
                    )
                    if on_improvement is not None:
                        on_improvement(h)
                h.checks.append(Check(epoch, minibatch_index + 1, iteration, this_validation_loss, h.test_error))
            if h.patience <= iteration:
                h.done = True
            if h.next_minibatch == n_batches:
                h.next_minibatch = 0
            if h.done:
                break
            if (iteration + 1) % validation_frequency == 0 and on_checkpoint is not None:
                h.seconds = time.perf_counter() - start
                on_checkpoint(h)
            signal_name = stop_requested() if stop_requested is not None else None
            if signal_name:
                h.seconds = time.perf_counter() - start
                if on_checkpoint is not None:
                    on_checkpoint(h)
                bar.close()
                raise Interrupted(signal_name)
        if h.next_minibatch == 0:
            bar.update(1)
            bar.set_postfix(best_valid=f"{h.best_validation_error * 100:.2f}%")
    bar.close()
    h.done = True
    h.seconds = time.perf_counter() - start
    if on_checkpoint is not None:
        on_checkpoint(h)
    if h.best_weights is not None:
        classifier.set_weights(h.best_weights)
    return h
