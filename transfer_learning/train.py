"""Compiled train/validate/test functions and the one SGD loop with patience-based early stopping.

Written once for every phase: the tutorial's logistic regression, the source phase and the
target phase all run ``sgd_early_stopping`` with their own functions and constants.
"""

import contextlib
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pytensor
import pytensor.tensor as pt

from . import backend, compile_cache
from .data import to_shared
from .model import regularizers
from .vocab import DEFAULT_IF_DIVERGED, DEFAULT_KERNELS, ConfigError

#: Examples per call of the evaluation functions: big enough that a validation pass costs a few
#: calls, small enough to stay light on memory. Every example is scored; no remainder is dropped.
EVAL_BATCH_SIZE = 5000
#: How validation and test errors are scored: "all" counts every example (this port's default);
#: "minibatch" is the tutorial's way, the mean of the error rates of the n // batch_size whole
#: minibatches, the remainder not counted (logistic_sgd.py's printed numbers, and --compat 2015).
SCORINGS = ("all", "minibatch")


@dataclass
class CompiledModel:
    """The tutorial's compiled functions; ``train_model`` takes a minibatch ``index`` (sliced via givens)."""

    train_model: callable  # index -> minibatch negative log-likelihood, after one SGD update
    count_errors_valid: callable  # (start, stop) -> number of errors among those validation examples
    count_errors_test: callable  # the same over the test set
    n_train_batches: int
    n_valid: int
    n_test: int
    batch_size: int = 1
    scoring: str = "all"

    def validation_error(self) -> float:
        return _error_rate(self.count_errors_valid, self.n_valid, self.batch_size, self.scoring)

    def test_error(self) -> float:
        return _error_rate(self.count_errors_test, self.n_test, self.batch_size, self.scoring)


def _error_rate(count_errors, n, batch_size, scoring) -> float:
    if scoring == "minibatch":
        # the tutorial: numpy.mean([validate_model(i) for i in range(n // batch_size)]), each a minibatch's
        # error rate; k / batch_size in float64 is what its T.mean(T.neq(...)) returned
        n_batches = n // batch_size
        if n_batches == 0:
            return float("nan")
        rates = [int(count_errors(i * batch_size, (i + 1) * batch_size)) / batch_size for i in range(n_batches)]
        return float(np.mean(rates))
    n_batches = -(-n // EVAL_BATCH_SIZE)
    return float(sum(count_errors(i * EVAL_BATCH_SIZE, (i + 1) * EVAL_BATCH_SIZE) for i in range(n_batches))) / n


def _hyperparameter(value, name):
    # a shared scalar, not a constant baked into the C code: another value needs no recompile
    return pytensor.shared(np.asarray(value, dtype=pytensor.config.floatX), name=name)


@dataclass
class _Graph:
    """The shared variables a compiled graph reads, so that another run can set them and reuse it."""

    data: dict  # train_x, train_y: the training set the compiled step slices minibatches from
    learning_rate: object
    penalties: dict  # L1_reg / L2_reg -> shared scalar, only for the penalties in the graph
    lr_scales: dict  # parameter name -> shared per-node factor
    anchors: dict  # parameter name -> shared weights an L2-SP penalty pulls it toward
    functions: tuple  # train_model, count_errors_valid, count_errors_test


@dataclass(frozen=True)
class StepSettings:
    """What a compiled SGD step is made with, besides the weights and the data: one value that the training loop's
    callers hand to the graph cache, the compiler and the binder (they passed these one keyword at a time)."""

    batch_size: int
    learning_rate: float
    L1_reg: float = 0.0
    L2_reg: float = 0.0
    l2_sp: float = 0.0  # L2-SP's strength (with anchors; 0 leaves the term out)
    scoring: str = "all"
    kernels: str = DEFAULT_KERNELS
    gemm: str = "openblas"  # which library computes the larger products (onednn.py); a LogisticConfig has none

    @classmethod
    def of(cls, cfg, **changes) -> "StepSettings":
        """A run config's settings (a LogisticConfig has no penalties), with ``changes``."""
        return cls(**{"batch_size": cfg.batch_size, "learning_rate": cfg.learning_rate,
                      "L1_reg": getattr(cfg, "L1_reg", 0.0), "L2_reg": getattr(cfg, "L2_reg", 0.0),
                      "l2_sp": getattr(cfg, "l2_sp", 0.0), "kernels": cfg.kernels,
                      "gemm": getattr(cfg, "gemm", "openblas"), **changes})


def _compile(classifier, x, y, data, step: StepSettings, lr_scale_names, anchor_names):
    """Compile the tutorial's functions over the shared ``data``; see compile_functions (whose defaults hold)."""
    learning_rate, L1_reg, L2_reg, l2_sp = step.learning_rate, step.L1_reg, step.L2_reg, step.l2_sp
    batch_size = step.batch_size
    nll, y_pred = classifier.negative_log_likelihood(y), classifier.y_pred
    cost = nll
    L1, L2_sqr = regularizers(classifier)
    penalties = {}
    if L1_reg:  # a zero penalty is left out of the graph, not multiplied by a shared zero
        penalties["L1_reg"] = _hyperparameter(L1_reg, "L1_reg")
        cost = cost + penalties["L1_reg"] * L1
    if L2_reg:
        penalties["L2_reg"] = _hyperparameter(L2_reg, "L2_reg")
        cost = cost + penalties["L2_reg"] * L2_sqr
    anchors = {}
    if l2_sp and anchor_names:
        penalties["l2_sp"] = _hyperparameter(l2_sp, "l2_sp")
        params = dict(zip(classifier._names(), classifier.params, strict=True))
        for name in sorted(anchor_names):
            anchors[name] = pytensor.shared(params[name].get_value(), name=f"{name}_anchor")
        cost = cost + penalties["l2_sp"] * sum(((params[n] - a) ** 2).sum() for n, a in anchors.items())
    gparams = pt.grad(cost, classifier.params)
    lr = _hyperparameter(learning_rate, "learning_rate")
    scales = {}
    updates = []
    for name, p, g in zip(classifier._names(), classifier.params, gparams, strict=True):
        if name in lr_scale_names:
            width = p.get_value(borrow=True).shape[-1]
            scales[name] = pytensor.shared(np.ones(width, dtype=pytensor.config.floatX), name=f"{name}_lr_scale")
            g = g * scales[name]  # broadcast over a weight's rows: its last axis is the node
        updates.append((p, p - lr * g))

    index = pt.lscalar("index")
    mode = backend.compile_mode()
    compile_cache.reuse_march_flags()
    train_model = pytensor.function(
        [index],
        nll,
        updates=updates,
        mode=mode,
        givens={
            x: data["train_x"][index * batch_size : (index + 1) * batch_size],
            y: data["train_y"][index * batch_size : (index + 1) * batch_size],
        },
    )
    # one error counter for the validation and the test set: the examples are its inputs (views of the
    # dataset's rows), so the one graph serves both, and each run compiles two functions instead of three
    count_errors = pytensor.function([x, y], pt.sum(pt.neq(y_pred, y)), mode=mode)
    return _Graph(data, lr, penalties, scales, anchors, (train_model, count_errors))


def _bind(graph, dataset, step: StepSettings, lr_scales, anchors=None) -> CompiledModel:
    batch_size, scoring = step.batch_size, step.scoring
    n_train_batches = dataset.train.x.shape[0] // batch_size
    if n_train_batches == 0:
        raise ConfigError(
            f"--batch-size: {batch_size} is larger than the {dataset.train.x.shape[0]} training "
            f"examples of {dataset.name}"
        )
    if scoring not in SCORINGS:
        raise ValueError(f"scoring must be one of {SCORINGS}, got {scoring!r}")
    for name, shared in graph.lr_scales.items():
        shared.set_value(np.asarray(lr_scales[name], dtype=pytensor.config.floatX))
    for name, shared in graph.anchors.items():
        shared.set_value(np.asarray(anchors[name], dtype=pytensor.config.floatX))
    train_model, count_errors = graph.functions

    def counter(split):
        x = np.asarray(split.x, dtype=pytensor.config.floatX)
        y = np.asarray(split.y, dtype="int32")
        return lambda start, stop: count_errors(x[start:stop], y[start:stop])

    return CompiledModel(train_model, counter(dataset.valid), counter(dataset.test), n_train_batches,
                         dataset.valid.x.shape[0], dataset.test.x.shape[0], batch_size, scoring)


def compile_functions(classifier, x, y, dataset, *, batch_size, learning_rate, L1_reg=0.0, L2_reg=0.0,
                      lr_scales=None, scoring="all", l2_sp=0.0, anchors=None):
    """Put ``dataset`` in shared variables and compile the tutorial's three functions.

    ``x`` and ``y`` are the symbolic inputs the classifier was built on (a matrix and an int32
    vector). Plain SGD: every parameter moves by ``-learning_rate * gradient`` of the regularized
    cost after each minibatch. ``train_model`` returns the minibatch's negative log-likelihood
    (the tutorial returned the regularized cost): the penalty's value is never needed, only its
    gradient, and leaving it out saves a pass over every weight matrix per step.

    ``lr_scales`` maps a hidden layer's parameter names (hidden0_W, hidden0_b) to one factor per
    node: node j's incoming column and bias then move by ``-learning_rate * factor[j] *
    gradient``, inside the compiled update (0 freezes a node bit for bit).

    ``anchors`` maps weight names to arrays: with ``l2_sp`` > 0 the cost adds ``l2_sp * ||W - anchor||^2``
    for each (L2-SP, Li et al. 2018); with ``l2_sp`` 0 the term is left out of the graph.

    The step computes with the kernels the classifier was built with (model.py's ``kernels``).

    Every call compiles anew; GraphCache compiles once per graph shape and reuses the functions.
    """
    step = StepSettings(batch_size, learning_rate, L1_reg, L2_reg, l2_sp, scoring,
                        getattr(classifier, "kernels", DEFAULT_KERNELS), getattr(classifier, "gemm", "openblas"))
    data = {}
    data["train_x"], data["train_y"] = to_shared(dataset.train, "train")
    graph = _compile(classifier, x, y, data, step, set(lr_scales or ()), set(anchors or ()))
    return _bind(graph, dataset, step, lr_scales or {}, anchors or {})


class GraphCache:
    """Compiled functions by graph shape, compiled once and reused by every phase, arm and run of a process.

    A graph's shape is everything that changes its code: the layer widths, the activation, the batch
    size, which penalties and learning-rate factors are in it, and PyTensor's mode and floatX. Weights,
    data, learning rate, penalty weights and per-node factors live in shared variables that ``model``
    sets for each use, so a cached graph computes exactly what a freshly compiled one would.
    """

    def __init__(self):
        self._graphs = {}
        self.compiles = 0  # how many graphs were compiled (the rest were reused)

    def model(self, build, key, weights, dataset, step: StepSettings, lr_scales=None, anchors=None):
        """(classifier, CompiledModel) for ``dataset``, the classifier holding ``weights``.

        ``build(x, kernels, gemm)`` makes the symbolic classifier on input ``x``, with ``step.kernels`` and
        ``step.gemm`` (model.py), the
        first time ``key`` (the network's widths and activation) is seen with these settings; later calls reuse it.
        The classifier stays the cache's: use it until the next call for the same key.
        """
        anchor_names = tuple(sorted(anchors or ())) if step.l2_sp else ()
        full_key = (key, step.batch_size, bool(step.L1_reg), bool(step.L2_reg), tuple(sorted(lr_scales or ())),
                    anchor_names, str(backend.compile_mode()), pytensor.config.floatX, step.kernels, step.gemm)
        entry = self._graphs.get(full_key)
        if entry is None:
            x, y = pt.matrix("x"), pt.ivector("y")
            classifier = build(x, step.kernels, step.gemm)
            data = {"train_x": pytensor.shared(np.zeros((0, 0), dtype=pytensor.config.floatX), name="train_x"),
                    "train_y": pytensor.shared(np.zeros(0, dtype="int32"), name="train_y")}
            graph = _compile(classifier, x, y, data, step, set(lr_scales or ()), set(anchor_names))
            entry = self._graphs[full_key] = (classifier, graph)
            self.compiles += 1
        classifier, graph = entry
        classifier.set_weights(weights)
        graph.data["train_x"].set_value(np.asarray(dataset.train.x, dtype=pytensor.config.floatX), borrow=True)
        graph.data["train_y"].set_value(np.asarray(dataset.train.y, dtype="int32"), borrow=True)
        graph.learning_rate.set_value(np.asarray(step.learning_rate, dtype=pytensor.config.floatX))
        for name in ("L1_reg", "L2_reg", "l2_sp"):
            if name in graph.penalties:
                graph.penalties[name].set_value(np.asarray(getattr(step, name), dtype=pytensor.config.floatX))
        return classifier, _bind(graph, dataset, step, lr_scales or {}, anchors or {})


@contextlib.contextmanager
def minibatch_steps(compiled):
    """``step(i)``: ``compiled.train_model(i)`` without PyTensor's per-call check of its input.

    A compiled function checks and converts every argument on every call, about 13 µs, which is 8 % of a
    step of the default 784-100-100-10 network (``bench/epoch.py``, README "Speed"). The index arrays are
    made here once, already of the input's type (a 0-d int64 array, what the check would have made of
    ``i``), and the function trusts its input inside the ``with`` block only; the step computes exactly
    what ``train_model(i)`` does. A step function that is not a PyTensor function of one int64 index is
    called as it is.
    """
    function = compiled.train_model
    inputs = [i for i in getattr(getattr(function, "maker", None), "inputs", ()) if not i.implicit]
    if not (len(inputs) == 1 and getattr(inputs[0].variable.type, "dtype", None) == "int64"
            and inputs[0].variable.type.ndim == 0):
        yield function
        return
    indices = [np.asarray(i, dtype="int64") for i in range(compiled.n_train_batches)]
    trusted = function.trust_input
    function.trust_input = True
    try:
        yield lambda i: function(indices[i])
    finally:
        function.trust_input = trusted


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
    diverged: str | None = None  # where the cost stopped being finite, when --if-diverged keep-best ended the phase

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


@dataclass(frozen=True)
class LoopSettings:
    """How long the tutorial's loop runs and what it ends with: the settings of ``sgd_early_stopping`` as one value
    (its callers passed them one keyword at a time). The defaults are the tutorial's."""

    n_epochs: int
    patience: int = 10000
    patience_increase: float = 2
    improvement_threshold: float = 0.995
    restore_best: bool = True  # False keeps the last minibatch's weights, as the tutorial and the 2015 script did
    score_test: bool = True  # False never reads the test split (a candidate phase, tested once after the choice)
    if_diverged: str = DEFAULT_IF_DIVERGED  # "keep-best" ends a phase whose cost is not finite with its best weights

    @classmethod
    def of(cls, cfg, **changes) -> "LoopSettings":
        """A run config's stopping settings, with ``changes``."""
        return cls(**{"n_epochs": cfg.n_epochs, "patience": cfg.patience, "patience_increase": cfg.patience_increase,
                      "improvement_threshold": cfg.improvement_threshold,
                      "if_diverged": getattr(cfg, "if_diverged", DEFAULT_IF_DIVERGED), **changes})


def sgd_early_stopping(
    compiled,
    classifier,
    loop: LoopSettings,
    *,
    phase="train",
    out=None,
    progress=True,
    history=None,
    on_improvement=None,
    on_checkpoint=None,
    stop_requested=None,
):
    """The tutorial's loop: SGD by minibatch, validate every ``validation_frequency`` updates.

    A validation error below ``best * improvement_threshold`` extends patience to
    ``iteration * patience_increase``; training stops when patience runs out or after
    ``n_epochs``. The best-validation parameters are restored into ``classifier`` at the end, so
    the returned test error is that of the weights the caller saves (unless ``loop.restore_best`` is off).
    Prints the tutorial's lines.

    ``on_checkpoint(history)`` is called after every validation check and before stopping;
    ``stop_requested()`` is asked after every minibatch and, when true, ends the loop with
    ``Interrupted``. Passing a ``history`` from a checkpoint (weights already in
    ``classifier``) continues exactly where that run stopped. Without ``loop.score_test`` the test error
    stays nan. A cost that is not finite raises ``TrainingDiverged``, unless ``loop.if_diverged`` is "keep-best" and
    a validation check has kept weights: the phase then ends there with them, and ``history.diverged`` says where.
    """
    from tqdm import tqdm

    out = out or sys.stdout
    n_epochs, patience = loop.n_epochs, loop.patience
    n_batches = compiled.n_train_batches
    validation_frequency = min(n_batches, patience // 2) or 1
    if history is None:
        history = History(phase=phase, n_train_batches=n_batches, patience=patience)
    h = history
    start = time.perf_counter() - h.seconds
    bar = tqdm(total=n_epochs, initial=max(h.epoch - (h.next_minibatch > 0), 0), desc=phase, unit="epoch",
               file=sys.stderr, disable=None if progress else True, leave=False)
    with minibatch_steps(compiled) as step:
        while not h.done:
            if h.next_minibatch == 0:
                if h.epoch >= n_epochs:
                    break
                h.epoch += 1
            epoch = h.epoch
            for minibatch_index in range(h.next_minibatch, n_batches):
                cost = step(minibatch_index)
                if not np.isfinite(cost):
                    where = f"the {phase} cost became {float(cost)} at epoch {epoch}, minibatch {minibatch_index + 1}"
                    if loop.if_diverged != "keep-best" or h.best_weights is None:
                        raise TrainingDiverged(
                            f"{where}; try a smaller --learning-rate (the last good checkpoint is kept)"
                            + ("" if loop.if_diverged != "keep-best" else
                               "; --if-diverged keep-best had no validated weights to keep"))
                    print(f"{where}: the phase ends with its best-validation weights before it "
                          f"(--if-diverged keep-best)", file=out)
                    classifier.set_weights(h.best_weights)
                    h.diverged = f"epoch {epoch}, minibatch {minibatch_index + 1}, cost {float(cost)}"
                    h.done = True
                    break
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
                        if this_validation_loss < h.best_validation_error * loop.improvement_threshold:
                            h.patience = max(h.patience, iteration * loop.patience_increase)
                        h.best_validation_error = this_validation_loss
                        h.best_iter = iteration
                        h.best_epoch = epoch
                        h.best_weights = classifier.get_weights()
                        if loop.score_test:
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
    if loop.restore_best and h.best_weights is not None:
        classifier.set_weights(h.best_weights)
    return h
