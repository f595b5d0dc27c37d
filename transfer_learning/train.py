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


def compile_functions(classifier, x, y, dataset, *, batch_size, learning_rate, L1_reg=0.0, L2_reg=0.0):
    """Put ``dataset`` in shared variables and compile the tutorial's three functions.

    ``x`` and ``y`` are the symbolic inputs the classifier was built on (a matrix and an int32
    vector). Plain SGD: every parameter moves by ``-learning_rate * gradient`` of the regularized
    cost after each minibatch. ``train_model`` returns the minibatch's negative log-likelihood
    (the tutorial returned the regularized cost): the penalty's value is never needed, only its
    gradient, and leaving it out saves a pass over every weight matrix per step.
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

    nll = classifier.negative_log_likelihood(y)
    cost = nll
    if L1_reg or L2_reg:
        L1, L2_sqr = regularizers(classifier)
        cost = cost + L1_reg * L1 + L2_reg * L2_sqr
    gparams = pt.grad(cost, classifier.params)
    lr = np.asarray(learning_rate, dtype=pytensor.config.floatX)
    updates = [(p, p - lr * g) for p, g in zip(classifier.params, gparams)]

    index = pt.lscalar("index")
    train_model = pytensor.function(
        [index],
        nll,
        updates=updates,
        givens={
            x: train_x[index * batch_size : (index + 1) * batch_size],
            y: train_y[index * batch_size : (index + 1) * batch_size],
        },
    )
    n_errors = pt.sum(pt.neq(classifier.y_pred, y))

    def evaluator(set_x, set_y):
        window = slice(index * EVAL_BATCH_SIZE, (index + 1) * EVAL_BATCH_SIZE)
        return pytensor.function([index], n_errors, givens={x: set_x[window], y: set_y[window]})

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


@dataclass
class History:
    phase: str
    n_train_batches: int = 1
    checks: list = field(default_factory=list)
    best_validation_error: float = np.inf
    best_iter: int = -1
    best_epoch: int = 0
    test_error: float = np.nan
    epochs_run: int = 0
    seconds: float = 0.0
    best_weights: dict | None = None


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
    progress=True,
):
    """The tutorial's loop: SGD by minibatch, validate every ``validation_frequency`` updates.

    A validation error below ``best * improvement_threshold`` extends patience to
    ``iteration * patience_increase``; training stops when patience runs out or after
    ``n_epochs``. The best-validation parameters are restored into ``classifier`` at the end, so
    the returned test error is that of the weights the caller saves. Prints the tutorial's lines.
    """
    from tqdm import tqdm

    out = out or sys.stdout
    n_batches = compiled.n_train_batches
    validation_frequency = min(n_batches, patience // 2) or 1
    history = History(phase=phase, n_train_batches=n_batches)
    start = time.perf_counter()
    done = False
    epoch = 0
    bar = tqdm(total=n_epochs, desc=phase, unit="epoch", file=sys.stderr, disable=None if progress else True,
               leave=False)
    while epoch < n_epochs and not done:
        epoch += 1
        for minibatch_index in range(n_batches):
            compiled.train_model(minibatch_index)
            iteration = (epoch - 1) * n_batches + minibatch_index
            if (iteration + 1) % validation_frequency == 0:
                this_validation_loss = compiled.validation_error()
                print(
                    "epoch %i, minibatch %i/%i, validation error %f %%"
                    % (epoch, minibatch_index + 1, n_batches, this_validation_loss * 100.0),
                    file=out,
                )
                if this_validation_loss < history.best_validation_error:
                    if this_validation_loss < history.best_validation_error * improvement_threshold:
                        patience = max(patience, iteration * patience_increase)
                    history.best_validation_error = this_validation_loss
                    history.best_iter = iteration
                    history.best_epoch = epoch
                    history.best_weights = classifier.get_weights()
                    history.test_error = compiled.test_error()
                    print(
                        "     epoch %i, minibatch %i/%i, test error of best model %f %%"
                        % (epoch, minibatch_index + 1, n_batches, history.test_error * 100.0),
                        file=out,
                    )
                    if on_improvement is not None:
                        on_improvement(history)
                history.checks.append(
                    Check(epoch, minibatch_index + 1, iteration, this_validation_loss, history.test_error)
                )
            if patience <= iteration:
                done = True
                break
        bar.update(1)
        bar.set_postfix(best_valid=f"{history.best_validation_error * 100:.2f}%")
    bar.close()
    history.epochs_run = epoch
    history.seconds = time.perf_counter() - start
    if history.best_weights is not None:
        classifier.set_weights(history.best_weights)
    return history
