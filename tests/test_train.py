"""The compiled SGD step and the tutorial's early-stopping loop, on tiny data."""

import io
import json
import re
from dataclasses import replace

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from tests.helpers import numpy_mlp
from transfer_learning.model import MLP
from transfer_learning.train import LoopSettings, compile_functions, minibatch_steps, sgd_early_stopping
from transfer_learning.vocab import ConfigError


def build(tiny_data, batch_size=10, lr=0.1, l2=1e-3, seed=0, activation="tanh"):
    x, y = pt.matrix("x"), pt.ivector("y")
    model = MLP(np.random.default_rng(seed), x, tiny_data.n_in, (8, 6), tiny_data.n_classes, activation=activation)
    compiled = compile_functions(model, x, y, tiny_data, batch_size=batch_size, learning_rate=lr, L2_reg=l2)
    return model, compiled


def test_one_train_call_is_one_sgd_step_on_the_indexed_minibatch(tiny_data):
    model, compiled = build(tiny_data)
    before = {k: v.astype(np.float64) for k, v in model.get_weights().items()}
    index = 2
    rows = slice(index * 10, (index + 1) * 10)
    _, grads = numpy_mlp(before, tiny_data.train.x[rows].astype(np.float64), tiny_data.train.y[rows], 0.0, 1e-3)
    compiled.train_model(index)
    after = model.get_weights()
    for name in before:
        np.testing.assert_allclose(after[name], before[name] - 0.1 * grads[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_a_trusted_step_is_the_checked_call_bit_for_bit_and_the_check_comes_back(tiny_data):
    checked_model, checked = build(tiny_data)
    trusted_model, trusted = build(tiny_data)
    costs = []
    for _ in range(3):
        for i in range(checked.n_train_batches):
            costs.append(checked.train_model(i))
    with minibatch_steps(trusted) as step:
        assert trusted.train_model.trust_input
        trusted_costs = [step(i) for _ in range(3) for i in range(trusted.n_train_batches)]
    assert [c.tobytes() for c in trusted_costs] == [c.tobytes() for c in costs]
    for name, value in checked_model.get_weights().items():
        assert trusted_model.get_weights()[name].tobytes() == value.tobytes(), name
    assert not trusted.train_model.trust_input
    with pytest.raises(KeyError), minibatch_steps(trusted):
        raise KeyError("a failure inside the loop")
    assert not trusted.train_model.trust_input
    trusted.train_model(0)  # a plain call is checked (and converted) again


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_train_graph_is_float32_throughout(tiny_data, activation):
    _, compiled = build(tiny_data, activation=activation)
    graph = compiled.train_model.maker.fgraph
    float64 = [v for node in graph.apply_nodes for v in node.outputs if getattr(v.type, "dtype", "") == "float64"]
    assert pytensor.config.floatX == "float32"
    assert not float64, f"float64 values in the train graph: {float64}"


def test_error_counts_cover_every_example(tiny_data):
    model, compiled = build(tiny_data)
    predict = pytensor.function([model.input], model.y_pred)
    want = np.mean(predict(tiny_data.valid.x) != tiny_data.valid.y)
    assert compiled.validation_error() == pytest.approx(want)


def test_evaluation_in_batches_of_5000_with_a_remainder_counts_every_example():
    """12,345 validation examples: two full evaluation batches of 5,000 and a remainder of 2,345."""
    from transfer_learning.data import Dataset, Split

    rng = np.random.default_rng(4)
    x = rng.normal(size=(12_345, 16)).astype(np.float32)
    y = rng.integers(0, 3, size=12_345).astype(np.int32)
    data = Dataset("big", Split(x[:40], y[:40]), Split(x, y), Split(x[::-1].copy(), y[::-1].copy()), n_classes=3,
                   classes=(0, 1, 2))
    xs, ys = pt.matrix("x"), pt.ivector("y")
    model = MLP(np.random.default_rng(0), xs, 16, (5,), 3)
    weights = {k: rng.normal(size=v.shape).astype(np.float32) for k, v in model.get_weights().items()}
    model.set_weights(weights)
    compiled = compile_functions(model, xs, ys, data, batch_size=10, learning_rate=0.1)
    logits = np.tanh(x @ weights["hidden0_W"] + weights["hidden0_b"]) @ weights["output_W"] + weights["output_b"]
    wrong = logits.argmax(axis=1) != y
    assert compiled.validation_error() == pytest.approx(wrong.mean(), abs=1e-12)
    batches = [(i * 5000, (i + 1) * 5000) for i in range(3)]  # EVAL_BATCH_SIZE examples a call
    assert [compiled.count_errors_valid(*b) for b in batches] == [wrong[slice(*b)].sum() for b in batches]
    assert wrong[10_000:].sum() > 0
    wrong_test = wrong[::-1]  # the test split is the validation split reversed: its batches hold other examples
    assert [compiled.count_errors_test(*b) for b in batches] == [wrong_test[slice(*b)].sum() for b in batches]
    assert compiled.test_error() == pytest.approx(wrong_test.mean(), abs=1e-12)
    tutorial = replace(compiled, scoring="minibatch")  # 1,234 minibatches of 10; the last 5 examples dropped
    rates = [wrong[i * 10:(i + 1) * 10].mean() for i in range(1_234)]
    assert tutorial.validation_error() == float(np.mean(rates))


class Scripted:
    """A compiled model and classifier whose validation errors follow a script: the loop's decisions (best,
    patience, stopping, which weights it ends with) can then be worked out by hand, independently of it."""

    def __init__(self, errors, n_train_batches):
        self.errors, self.n_train_batches = list(errors), n_train_batches
        self.steps = 0  # the weights are the number of SGD steps taken so far
        self.train_model = self._step
        self.tests = 0

    def _step(self, index):
        self.steps += 1
        return 0.5

    def validation_error(self):
        return self.errors.pop(0)

    def test_error(self):
        self.tests += 1
        return self.steps / 1000  # tells which weights were tested

    def get_weights(self):
        return {"steps": np.array(self.steps)}

    def set_weights(self, weights):
        self.steps = int(weights["steps"])


def test_each_check_records_its_epoch_minibatch_iteration_and_both_errors():
    """history.checks (what validation_log.csv and the resume state are written from), worked out by hand: a check
    every 2 of 4 minibatches (patience 4 // 2), the test error of the best weights so far, held until a new best."""
    from transfer_learning.train import Check

    model = Scripted([0.5, 0.4, 0.45, 0.3], n_train_batches=4)
    history = sgd_early_stopping(model, model, LoopSettings(n_epochs=2, patience=4, patience_increase=10),
                                 out=io.StringIO(), progress=False)
    assert history.checks == [Check(1, 2, 1, 0.5, 2 / 1000), Check(1, 4, 3, 0.4, 4 / 1000),
                              Check(2, 2, 5, 0.45, 4 / 1000), Check(2, 4, 7, 0.3, 8 / 1000)]


def test_early_stopping_tracks_the_first_best_and_restores_it_by_the_tutorials_rules():
    # 3 minibatches an epoch, patience 10000: a check after every epoch (at 3, 6, 9, 12, 15 steps)
    model = Scripted([0.5, 0.4, 0.4, 0.45, 0.3999], n_train_batches=3)
    history = sgd_early_stopping(model, model, LoopSettings(n_epochs=5), out=io.StringIO(), progress=False)
    # 0.4 again at epoch 3 is not below the best: the best stays epoch 2's; 0.3999 is below it (but not by 0.5 %)
    assert [history.best_epoch, history.best_iter, history.best_validation_error] == [5, 14, 0.3999]
    assert history.test_error == 15 / 1000 and model.steps == 15  # the best weights, tested when found
    model = Scripted([0.5, 0.4, 0.4, 0.45, 0.41], n_train_batches=3)
    history = sgd_early_stopping(model, model, LoopSettings(n_epochs=5), out=io.StringIO(), progress=False)
    assert [history.best_epoch, history.best_iter] == [2, 5]  # the first 0.4, not the equal one after it
    assert model.steps == 6 and history.test_error == 6 / 1000  # restored: the weights after 6 steps
    model = Scripted([0.5, 0.4, 0.4, 0.45, 0.41], n_train_batches=3)
    history = sgd_early_stopping(model, model, LoopSettings(n_epochs=5, restore_best=False), out=io.StringIO(),
                                 progress=False)
    assert model.steps == 15 and history.best_iter == 5  # the tutorial's own loop: the last weights stay
    assert model.tests == 2  # the test set is scored at each new best only


def test_patience_grows_by_the_tutorials_rule_and_ends_training():
    """validation_frequency = min(10, 4 // 2) = 2: checks after iterations 1, 3, 5, 7, ... (0-based). A significant
    improvement sets patience = max(patience, iteration x 2); training stops at the first iteration >= patience."""
    errors = [0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    # iteration 1: 0.5, patience max(4, 2) = 4; iteration 3: 0.4, max(4, 6) = 6; iteration 5: 0.3, max(6, 10) = 10;
    # iteration 7: 0.3, no gain; patience 10 <= iteration 10: the loop stops after 11 steps
    model = Scripted(errors, n_train_batches=10)
    history = sgd_early_stopping(model, model, LoopSettings(n_epochs=50, patience=4, restore_best=False),
                                 out=io.StringIO(), progress=False)
    assert model.steps == 11 and history.patience == 10
    assert [c.iteration for c in history.checks] == [1, 3, 5, 7, 9]
    # an improvement smaller than 0.5 % is a new best but does not extend patience: 0.399 at iteration 5 is not
    # below 0.4 x 0.995, so patience stays 6 and the loop stops at iteration 6, after 7 steps
    model = Scripted([0.5, 0.4, 0.399, 0.398, 0.397, 0.396], n_train_batches=10)
    history = sgd_early_stopping(model, model, LoopSettings(n_epochs=50, patience=4, restore_best=False),
                                 out=io.StringIO(), progress=False)
    assert model.steps == 7 and history.patience == 6 and history.best_validation_error == 0.399


def test_early_stopping_logs_like_the_tutorial(tiny_data):
    model, compiled = build(tiny_data)
    out = io.StringIO()
    history = sgd_early_stopping(compiled, model, LoopSettings(n_epochs=15), phase="t", out=out, progress=False)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("epoch 1, minibatch 6/6, validation error ")
    assert history.epochs_run == 15 and len(history.checks) == 15
    assert history.best_validation_error < 0.2  # tiny data are nearly separable
    assert history.test_error == pytest.approx(compiled.test_error())


def test_patience_stops_training_early(tiny_data):
    model, compiled = build(tiny_data)
    history = sgd_early_stopping(compiled, model, LoopSettings(n_epochs=50, patience=4, patience_increase=1.0),
                                 out=io.StringIO(), progress=False)
    # validation every min(6, 4 // 2) = 2 minibatches; patience 4 ends the first epoch at iteration 4
    assert history.epochs_run == 1
    assert [c.minibatch for c in history.checks] == [2, 4]


def test_validation_frequency_history_and_time_by_the_tutorials_rules():
    """Validation every min(n_batches, patience // 2) minibatches, at least every one; the history records the
    epoch's minibatches; a resumed loop adds its time to the seconds it was given."""
    def checked_at(patience, n_train_batches):
        model = Scripted([1.0 - k / 100 for k in range(20)], n_train_batches=n_train_batches)  # always better
        history = sgd_early_stopping(model, model, LoopSettings(n_epochs=1, patience=patience), out=io.StringIO(),
                                     progress=False)
        assert history.n_train_batches == n_train_batches
        return [c.minibatch for c in history.checks]

    assert checked_at(5, 10) == [2, 4, 6, 8, 10]  # 5 // 2, not 2.5
    assert checked_at(1, 3) == [1, 2, 3]  # 1 // 2 is 0: every minibatch
    model = Scripted([0.5, 0.4, 0.3], n_train_batches=3)
    history = sgd_early_stopping(model, model, LoopSettings(n_epochs=1), out=io.StringIO(), progress=False)
    history.seconds = 100.0  # as a checkpoint records it
    history = sgd_early_stopping(model, model, LoopSettings(n_epochs=1), out=io.StringIO(), progress=False,
                                 history=history)
    assert history.epochs_run == 1 and 100.0 < history.seconds < 160.0


def test_an_error_exactly_at_the_threshold_is_not_significant_and_the_lines_say_so():
    """best x improvement_threshold is not yet an improvement that extends patience (the tutorial's strict <), but
    it is a new best: its test error is printed with the minibatch it came at, and on_improvement gets the history."""
    model = Scripted([0.5, 0.25, 0.2], n_train_batches=3)  # 0.5 x 0.5 = 0.25 exactly
    out, seen = io.StringIO(), []
    history = sgd_early_stopping(model, model, LoopSettings(n_epochs=5, patience=6, improvement_threshold=0.5), out=out,
                                 progress=False, on_improvement=lambda h: seen.append(h.best_validation_error))
    assert history.patience == 6 and (history.epoch, history.next_minibatch) == (3, 1) and seen == [0.5, 0.25]
    assert out.getvalue().splitlines() == [
        "epoch 1, minibatch 3/3, validation error 50.000000 %",
        "     epoch 1, minibatch 3/3, test error of best model 0.300000 %",
        "epoch 2, minibatch 3/3, validation error 25.000000 %",
        "     epoch 2, minibatch 3/3, test error of best model 0.600000 %"]


def test_a_checkpoint_follows_each_validation_with_the_time_so_far_and_the_end_is_recorded():
    """on_checkpoint after every validation (every 3 minibatches here), on a stop request and at the end, done
    (a resumed run then skips the phase), its history's seconds those elapsed."""
    from transfer_learning.train import History, Interrupted

    seen = []

    def record(h):
        seen.append((h.epoch, h.next_minibatch, len(h.checks), h.done, h.seconds))

    model = Scripted([0.5, 0.4, 0.3], n_train_batches=3)
    history = sgd_early_stopping(model, model, LoopSettings(n_epochs=2), out=io.StringIO(), progress=False,
                                 on_checkpoint=record)
    assert [s[:4] for s in seen] == [(1, 0, 1, False), (2, 0, 2, False), (2, 0, 2, True)], seen
    assert all(0 <= s[4] < 60 for s in seen) and history.done is True and history.to_state()["done"] is True
    seen.clear()
    model, steps = Scripted([0.5, 0.4], n_train_batches=3), iter(range(1, 9))
    with pytest.raises(Interrupted):
        sgd_early_stopping(model, model, LoopSettings(n_epochs=2), out=io.StringIO(), progress=False,
                           history=History("train", 3, 10000), on_checkpoint=record,
                           stop_requested=lambda: "SIGINT" if next(steps) == 2 else None)
    assert [s[:4] for s in seen] == [(1, 2, 0, False)] and 0 <= seen[0][4] < 60, seen


def test_a_cost_that_is_not_finite_stops_training_with_where_and_what_to_try():
    from transfer_learning.train import TrainingDiverged

    model = Scripted([0.5, 0.4], n_train_batches=3)
    model.train_model = lambda index: np.float32("nan") if model.steps == 3 else model._step(index)
    with pytest.raises(TrainingDiverged) as diverged:
        sgd_early_stopping(model, model, LoopSettings(n_epochs=2), phase="target", out=io.StringIO(), progress=False)
    assert str(diverged.value) == ("the target cost became nan at epoch 2, minibatch 1; try a smaller --learning-rate "
                                   "(the last good checkpoint is kept)")


def test_keep_best_ends_a_diverged_phase_with_its_best_weights_and_says_where():
    """--if-diverged keep-best: the NaN in epoch 3's second minibatch ends the phase; the weights are the best
    validation check's (6 steps: epoch 2's check at 0.3, not epoch 1's at 0.5), and so is the test error; the last
    checkpoint holds them and says where it diverged, so a resumed run ends the same."""
    from transfer_learning.train import History

    model = Scripted([0.5, 0.3, 0.4], n_train_batches=3)
    model.train_model = lambda index: np.float32("nan") if model.steps == 7 else model._step(index)
    saved, out = [], io.StringIO()
    history = sgd_early_stopping(model, model, LoopSettings(n_epochs=5, if_diverged="keep-best"), phase="target",
                                 out=out, progress=False, on_checkpoint=lambda h: saved.append((h.to_state(),
                                                                                            model.steps)))
    assert model.steps == 6 and history.test_error == 6 / 1000 and history.best_validation_error == 0.3
    assert history.done and history.diverged == "epoch 3, minibatch 2, cost nan" and history.epoch == 3
    assert saved[-1][0]["diverged"] == history.diverged and saved[-1][0]["done"] and saved[-1][1] == 6
    assert History.from_state(saved[-1][0]).diverged == history.diverged
    assert out.getvalue().splitlines()[-1] == ("the target cost became nan at epoch 3, minibatch 2: the phase ends "
                                               "with its best-validation weights before it (--if-diverged keep-best)")


def test_keep_best_without_a_validated_check_still_stops_and_a_finite_run_is_unchanged():
    """Before the first validation check there are no weights to keep: the run stops as under stop. A run that never
    diverges ends exactly as under stop (so a sweep continued under keep-best keeps its recorded runs)."""
    from transfer_learning.train import TrainingDiverged

    model = Scripted([0.5, 0.4], n_train_batches=3)
    model.train_model = lambda index: np.float32("inf") if model.steps == 1 else model._step(index)
    with pytest.raises(TrainingDiverged, match=r"^the train cost became inf at epoch 1, minibatch 2; try a smaller "
                       r"--learning-rate \(the last good checkpoint is kept\); --if-diverged keep-best had no "
                       r"validated weights to keep$"):
        sgd_early_stopping(model, model, LoopSettings(n_epochs=2, if_diverged="keep-best"), out=io.StringIO(),
                           progress=False)
    ends = []
    for rule in ("stop", "keep-best"):
        model = Scripted([0.5, 0.3, 0.4], n_train_batches=3)
        h = sgd_early_stopping(model, model, LoopSettings(n_epochs=3, if_diverged=rule), out=io.StringIO(),
                               progress=False)
        ends.append((model.steps, h.test_error, h.epoch, h.diverged))
    assert ends[0] == ends[1] == (6, 6 / 1000, 3, None)


def test_a_progress_bar_named_by_its_phase_is_on_by_default_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for kwargs, shown in ((dict(), "train: "), (dict(phase="source"), "source: "), (dict(progress=False), None)):
        terminal = Terminal()
        monkeypatch.setattr("sys.stderr", terminal)
        model = Scripted([0.5, 0.4], n_train_batches=3)
        history = sgd_early_stopping(model, model, LoopSettings(n_epochs=2), out=io.StringIO(), **kwargs)
        assert history.phase == kwargs.get("phase", "train")
        assert (shown in terminal.getvalue()) if shown else terminal.getvalue() == "", (kwargs, terminal.getvalue())
        if not kwargs:  # one state an epoch, out of n_epochs, with the best validation error so far
            states = re.findall(r"\rtrain: +(\d+)%\|[# ]+\| (\d)/(\d) \[[^]]*?epoch/s(?:, best_valid=([\d.]+)%)?]",
                                terminal.getvalue())
            assert states == [("0", "0", "2", ""), ("50", "1", "2", "50.00"), ("100", "2", "2", "40.00")], states
            assert re.search(r"\r +\r$", terminal.getvalue())  # and cleared at the end, leaving the log's lines
    # a loop resumed after its first epoch, or inside its second, starts its bar at one epoch done
    from transfer_learning.train import History, Interrupted

    for stop_after in (3, 4):
        model, history, steps = Scripted([0.5, 0.4], n_train_batches=3), History("train", 3, 10000), iter(range(1, 9))
        loop, out = LoopSettings(n_epochs=2), io.StringIO()
        with pytest.raises(Interrupted):
            sgd_early_stopping(model, model, loop, out=out, progress=False, history=history,
                               stop_requested=lambda s=steps, n=stop_after: "SIGTERM" if next(s) == n else None)
        monkeypatch.setattr("sys.stderr", terminal := Terminal())
        sgd_early_stopping(model, model, loop, out=out, history=history)
        assert terminal.getvalue().startswith("\rtrain:  50%|#####     | 1/2 ["), (stop_after, terminal.getvalue())


@pytest.mark.parametrize("scoring", ["all", "minibatch"])
def test_the_compiled_error_rates_score_the_network_as_scoring_says(tiny_data, scoring):
    """validation_error and test_error: all examples counted once ("all"), or the tutorial's mean of whole
    minibatches' error rates ("minibatch", the remainder dropped), checked against a forward pass in NumPy."""
    x, y = pt.matrix("x"), pt.ivector("y")
    model = MLP(np.random.default_rng(2), x, tiny_data.n_in, (8, 6), tiny_data.n_classes)
    compiled = compile_functions(model, x, y, tiny_data, batch_size=7, learning_rate=0.1, scoring=scoring)
    for i in range(6):  # part of the way: some examples right, some wrong
        compiled.train_model(i % compiled.n_train_batches)
    weights = model.get_weights()

    def wrong(split):
        h = split.x.astype(np.float64)
        for i in range(2):
            h = np.tanh(h @ weights[f"hidden{i}_W"] + weights[f"hidden{i}_b"])
        return (np.argmax(h @ weights["output_W"] + weights["output_b"], axis=1) != split.y).astype(float)

    for split, got in ((tiny_data.valid, compiled.validation_error()), (tiny_data.test, compiled.test_error())):
        misses = wrong(split)
        assert len(misses) % 7 != 0 and 0 < misses.sum() < len(misses)
        whole = len(misses) // 7 * 7
        by_scoring = {"all": misses.mean(), "minibatch": misses[:whole].reshape(-1, 7).mean(axis=1).mean()}
        assert got == pytest.approx(by_scoring[scoring], abs=1e-12) and by_scoring["all"] != by_scoring["minibatch"]


def test_a_batch_larger_than_the_training_set_is_refused(tiny_data):
    with pytest.raises(ConfigError, match="--batch-size: 1000 is larger than the 60 training examples"):
        build(tiny_data, batch_size=1000)


def test_training_is_deterministic(tiny_data):
    results = []
    for _ in range(2):
        model, compiled = build(tiny_data, seed=3)
        sgd_early_stopping(compiled, model, LoopSettings(n_epochs=3), out=io.StringIO(), progress=False)
        results.append(model.get_weights())
    for name in results[0]:
        np.testing.assert_array_equal(results[0][name], results[1][name])


@pytest.mark.e2e
def test_the_graph_cache_compiles_once_a_shape_and_a_reused_graph_computes_what_a_fresh_one_does(tiny_data):
    """Each setting that changes the graph's code gets its own graph; values (rate, penalties, factors, weights)
    are set on reuse, so three steps of a cached graph equal three steps of a freshly compiled one, bit for bit."""
    from transfer_learning.train import GraphCache, StepSettings
    from transfer_learning.weights import initial_weights

    start = initial_weights(np.random.default_rng(4), tiny_data.n_in, (8, 6), tiny_data.n_classes)

    def build(weights):
        return lambda x, kernels, gemm: MLP(np.random.default_rng(0), x, tiny_data.n_in, (8, 6), tiny_data.n_classes,
                                            weights=weights, kernels=kernels, gemm=gemm)

    def factors(value):
        return {"hidden0_W": np.full(8, value, np.float32), "hidden0_b": np.full(8, value, np.float32)}

    def anchors(seed):
        return {"hidden0_W": np.random.default_rng(seed).normal(size=start["hidden0_W"].shape).astype(np.float32)}

    shapes = [dict(), dict(L2_reg=1e-3), dict(L1_reg=1e-3), dict(lr_scales=factors(0.5)), dict(kernels="unfused"),
              dict(batch_size=5), dict(scoring="minibatch"), dict(l2_sp=1e-2, anchors=anchors(1))]
    later = [dict(learning_rate=0.05), dict(L2_reg=3e-3), dict(L1_reg=2e-3), dict(lr_scales=factors(0.25)),
             dict(kernels="unfused", learning_rate=0.2), dict(batch_size=5, learning_rate=0.3),
             dict(scoring="minibatch", learning_rate=0.07), dict(l2_sp=0.5, anchors=anchors(2)),
             dict(l2_sp=0.0, anchors=anchors(2))]  # strength 0: the graph without the term
    def cached_model(cache, settings):
        arrays = {k: settings.pop(k) for k in ("lr_scales", "anchors") if k in settings}
        return cache.model(build(start), "mlp-8-6", start, tiny_data, StepSettings(**settings), **arrays)

    cache = GraphCache()
    for settings in shapes:
        cached_model(cache, {"batch_size": 10, "learning_rate": 0.1, **settings})
    assert cache.compiles == len(shapes) - 1  # scoring is how errors are added up, not the graph's code
    for settings in later:
        settings = {"batch_size": 10, "learning_rate": 0.1, **settings}
        classifier, cached = cached_model(cache, dict(settings))
        x, y = pt.matrix("x"), pt.ivector("y")
        kernels = settings.pop("kernels", "fused")
        fresh_model = MLP(np.random.default_rng(0), x, tiny_data.n_in, (8, 6), tiny_data.n_classes, weights=start,
                          kernels=kernels)
        fresh = compile_functions(fresh_model, x, y, tiny_data, **settings)
        for i in range(3):
            assert cached.train_model(i).tobytes() == fresh.train_model(i).tobytes(), settings
        for name, value in fresh_model.get_weights().items():
            assert classifier.get_weights()[name].tobytes() == value.tobytes(), (settings, name)
        assert cached.validation_error() == fresh.validation_error()
    assert cache.compiles == len(shapes) - 1


def test_minibatch_scoring_is_the_tutorials_mean_of_whole_minibatches(tiny_data):
    from transfer_learning.train import _error_rate

    counts = {(0, 10): 2, (10, 20): 5, (20, 30): 1}
    assert _error_rate(lambda a, b: counts[(a, b)], 24, 10, "minibatch") == pytest.approx((0.2 + 0.5) / 2)
    assert _error_rate(lambda a, b: counts[(a, b)], 10, 10, "minibatch") == pytest.approx(0.2)  # one whole batch
    assert np.isnan(_error_rate(lambda a, b: 0, 9, 10, "minibatch"))  # none whole: nothing to average
    x, y = pt.matrix("x"), pt.ivector("y")
    model = MLP(np.random.default_rng(0), x, tiny_data.n_in, (8, 6), tiny_data.n_classes)
    with pytest.raises(ValueError, match="scoring must be one of"):
        compile_functions(model, x, y, tiny_data, batch_size=10, learning_rate=0.1, scoring="mean")


def test_an_l2_sp_step_is_the_sgd_step_computed_by_hand(tiny_data):
    """The cost adds l2_sp x ||W - anchor||^2 for each anchored weight: its gradient 2 l2_sp (W - anchor) joins the
    SGD step of that weight only."""
    x, y = pt.matrix("x"), pt.ivector("y")
    model = MLP(np.random.default_rng(0), x, tiny_data.n_in, (8, 6), tiny_data.n_classes)
    anchor = np.random.default_rng(3).normal(size=(tiny_data.n_in, 8))  # float64: taken in the weights' precision
    compiled = compile_functions(model, x, y, tiny_data, batch_size=10, learning_rate=0.1, l2_sp=0.3,
                                 anchors={"hidden0_W": anchor})
    before = {k: v.astype(np.float64) for k, v in model.get_weights().items()}
    _, grads = numpy_mlp(before, tiny_data.train.x[10:20].astype(np.float64), tiny_data.train.y[10:20], 0.0, 0.0)
    grads["hidden0_W"] = grads["hidden0_W"] + 2 * 0.3 * (before["hidden0_W"] - anchor)
    compiled.train_model(1)
    for name, value in model.get_weights().items():
        np.testing.assert_allclose(value, before[name] - 0.1 * grads[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_per_node_factors_scale_each_nodes_step_and_the_functions_use_the_c_linker(tiny_data):
    """lr_scales (here Python lists: float64) multiply node j's incoming column and bias step by factor j, in the
    weights' precision; a factor 0 leaves the node bit for bit; the other layers take the whole step. The step and
    the error counter are compiled for the project's linker (backend.compile_mode: C)."""
    from transfer_learning.train import StepSettings, _compile

    x, y = pt.matrix("x"), pt.ivector("y")
    model = MLP(np.random.default_rng(0), x, tiny_data.n_in, (8, 6), tiny_data.n_classes)
    factors = [0.0, 0.5, 1.0, 2.0, 0.25, 1.0, 3.0, 0.0]
    compiled = compile_functions(model, x, y, tiny_data, batch_size=10, learning_rate=0.1, L2_reg=1e-3,
                                 lr_scales={"hidden0_W": factors, "hidden0_b": factors[::-1]})
    start = model.get_weights()
    before = {k: v.astype(np.float64) for k, v in start.items()}
    _, grads = numpy_mlp(before, tiny_data.train.x[10:20].astype(np.float64), tiny_data.train.y[10:20], 0.0, 1e-3)
    grads["hidden0_W"] = grads["hidden0_W"] * np.array(factors)
    grads["hidden0_b"] = grads["hidden0_b"] * np.array(factors[::-1])
    compiled.train_model(1)
    after = model.get_weights()
    for name, value in after.items():
        np.testing.assert_allclose(value, before[name] - 0.1 * grads[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert after["hidden0_W"][:, [0, 7]].tobytes() == start["hidden0_W"][:, [0, 7]].tobytes()
    assert after["hidden0_b"][[0, 7]].tobytes() == start["hidden0_b"][[0, 7]].tobytes()
    plain = MLP(np.random.default_rng(0), x, tiny_data.n_in, (8, 6), tiny_data.n_classes, kernels="unfused")
    graph = _compile(plain, x, y, {"train_x": pytensor.shared(tiny_data.train.x), "train_y": pytensor.shared(
        tiny_data.train.y)}, StepSettings(batch_size=10, learning_rate=0.1, kernels="unfused"), set(), ())
    assert [type(f.maker.linker).__name__ for f in graph.functions] == ["CLinker", "CLinker"]


def test_an_l1_step_is_the_sgd_step_computed_by_hand(tiny_data):
    x, y = pt.matrix("x"), pt.ivector("y")
    model = MLP(np.random.default_rng(0), x, tiny_data.n_in, (8, 6), tiny_data.n_classes)
    compiled = compile_functions(model, x, y, tiny_data, batch_size=10, learning_rate=0.1, L1_reg=1e-2)
    before = {k: v.astype(np.float64) for k, v in model.get_weights().items()}
    _, grads = numpy_mlp(before, tiny_data.train.x[10:20].astype(np.float64), tiny_data.train.y[10:20], 1e-2, 0.0)
    compiled.train_model(1)
    for name, value in model.get_weights().items():
        np.testing.assert_allclose(value, before[name] - 0.1 * grads[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("stop_after", [1, 3, 4, 8])
def test_an_interrupted_loop_continues_from_its_json_state_exactly(stop_after):
    """A stop request ends the loop after that minibatch with Interrupted(the signal's name), its checkpoint
    written; the history taken through JSON (to_state, from_state) with its best weights continues to the same
    checks, best and final weights as the loop that was never stopped."""
    from transfer_learning.train import History, Interrupted

    errors = [0.5, 0.3, 0.45, 0.4, 0.35]  # the best at the second check: stopped after it, only the state knows it
    loop = LoopSettings(n_epochs=5)
    whole = Scripted(errors, n_train_batches=3)
    want = sgd_early_stopping(whole, whole, loop, out=io.StringIO(), progress=False)
    model, saved, steps = Scripted(errors, n_train_batches=3), [], iter(range(1, 100))

    def save(h):
        saved.append((json.dumps(h.to_state()), None if h.best_weights is None else dict(h.best_weights)))

    with pytest.raises(Interrupted) as stopped:
        sgd_early_stopping(model, model, loop, out=io.StringIO(), progress=False, on_checkpoint=save,
                           stop_requested=lambda: "SIGTERM" if next(steps) == stop_after else None)
    assert stopped.value.signal_name == "SIGTERM" and str(stopped.value) == "SIGTERM" and model.steps == stop_after
    state, best = saved[-1]
    history = History.from_state(json.loads(state), best_weights=best)
    assert history.next_minibatch == stop_after % 3 and len(history.checks) == stop_after // 3
    resumed = Scripted(errors[len(history.checks):], n_train_batches=3)
    resumed.steps = stop_after
    got = sgd_early_stopping(resumed, resumed, loop, out=io.StringIO(), progress=False, history=history)
    assert {**got.to_state(), "seconds": 0} == {**want.to_state(), "seconds": 0}
    assert got.checks == want.checks and resumed.steps == whole.steps and got.best_weights == want.best_weights


def test_step_settings_are_a_configs_own_with_the_changes_given():
    from transfer_learning.config import LogisticConfig, TransferConfig
    from transfer_learning.train import StepSettings

    cfg = TransferConfig(batch_size=7, learning_rate=0.3, L1_reg=0.002, L2_reg=0.004, l2_sp=0.5, kernels="unfused")
    assert StepSettings.of(cfg) == StepSettings(batch_size=7, learning_rate=0.3, L1_reg=0.002, L2_reg=0.004,
                                                l2_sp=0.5, scoring="all", kernels="unfused", gemm="onednn")
    assert StepSettings.of(cfg, scoring="minibatch", l2_sp=0.0, learning_rate=0.01) == StepSettings(
        batch_size=7, learning_rate=0.01, L1_reg=0.002, L2_reg=0.004, l2_sp=0.0, scoring="minibatch",
        kernels="unfused", gemm="onednn")
    logistic = LogisticConfig(batch_size=600, learning_rate=0.13)  # no penalties of its own: zero
    assert StepSettings.of(logistic) == StepSettings(batch_size=600, learning_rate=0.13, L1_reg=0.0, L2_reg=0.0,
                                                     l2_sp=0.0, scoring="all", kernels="fused", gemm="openblas")


def test_loop_settings_are_the_configs_with_the_tutorials_defaults():
    from dataclasses import replace

    from transfer_learning.config import LogisticConfig, TransferConfig

    assert LoopSettings(n_epochs=7) == LoopSettings(7, 10000, 2, 0.995, True, True)  # the tutorial's constants
    cfg = replace(TransferConfig(), n_epochs=3, patience=500, patience_increase=3.0, improvement_threshold=0.9)
    assert LoopSettings.of(cfg) == LoopSettings(3, 500, 3.0, 0.9, restore_best=True, score_test=True)
    assert LoopSettings.of(cfg, score_test=False, patience=7) == LoopSettings(3, 7, 3.0, 0.9, True, False)
    logistic = replace(LogisticConfig(), n_epochs=4, patience=600)
    assert LoopSettings.of(logistic) == LoopSettings(4, 600, logistic.patience_increase,
                                                     logistic.improvement_threshold)
