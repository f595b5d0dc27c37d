"""The experiments, as tables of contents: load, build, train, probe, keep/re-init, retrain, save."""

import sys
import textwrap
import time
import typing
from dataclasses import dataclass, replace

import numpy as np

from . import arms as arm_builders
from . import controls, inputs, lr_grid, onednn, pools, rules, tuning
from .auto_threshold import choose_threshold
from .checkpoint import checkpoint_name, drop_checkpoints, load_checkpoint, save_checkpoint
from .data import load_task, spec_name
from .data.subsets import subset_indices, take_subset
from .metrics import arm_metrics, error_rate
from .model import MLP, LogisticRegression
from .report import arm_table_legend, metrics_table, pictures_written, run_summary_markdown, selection_text
from .rundir import RunDir, file_label
from .train import History, Interrupted, LoopSettings, StepSettings, TrainingDiverged, sgd_early_stopping
from .transfer import keep_masks, layer_report, top_fraction_masks, transferred_weights
from .vocab import ConfigError, DataError
from .weights import check_weights, expected_shapes, initial_weights, legacy_initial_weights, load_weights
from .workspace import Workspace


def _stderr(msg):
    print(msg, file=sys.stderr, flush=True)


def spawn_rngs(seed: int, n: int):
    """Independent generators from one seed, one per purpose, so no draw shifts another.

    SeedSequence children are numbered, so asking for more generators later leaves the first
    ones' streams unchanged.
    """
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def generators(seed: int) -> arm_builders.Generators:
    return arm_builders.Generators(*spawn_rngs(seed, 9))


def _history_rows(*histories):
    return [
        [h.phase, c.epoch, c.minibatch, f"{c.validation_error * 100:.6f}", f"{c.test_error_of_best * 100:.6f}"]
        for h in histories
        for c in h.checks
    ]


def _write_curves(rundir, histories, draw=True):
    rundir.write_csv(
        "history.csv",
        ["phase", "epoch", "minibatch", "validation_error_pct", "best_model_test_error_pct"],
        _history_rows(*histories),
    )
    if draw:
        from . import plots

        plots.learning_curves(histories, rundir / "curves.png")


def _validation_log(history) -> str:
    """out.txt / outTransfer.txt: the validation error in % at each check."""
    return "".join(f"{c.validation_error * 100:f}\n" for c in history.checks)


@dataclass
class RunContext:
    """What every phase of one run shares: where it writes, where it prints, its generators, the
    process's compiled graphs and datasets, and how it learns that it should stop (see cli.py)."""

    rundir: RunDir
    out: typing.TextIO
    rngs: list
    stop_requested: typing.Callable | None = None
    workspace: Workspace | None = None


@dataclass(frozen=True)
class Net:
    """A network's shape: what decides its compiled graph (besides the training settings)."""

    n_in: int
    hidden_sizes: tuple
    n_out: int
    activation: str = "tanh"

    @property
    def key(self):
        return ("mlp" if self.hidden_sizes else "logistic", self.n_in, tuple(self.hidden_sizes), self.n_out,
                self.activation)

    def builder(self, weights):
        """(x, kernels, gemm) -> the symbolic classifier, holding ``weights`` (so nothing is drawn)."""
        if not self.hidden_sizes:
            return lambda x, kernels, gemm: LogisticRegression(x, self.n_in, self.n_out, W=weights["output_W"],
                                                               b=weights["output_b"], kernels=kernels, gemm=gemm)
        return lambda x, kernels, gemm: MLP(None, x, self.n_in, self.hidden_sizes, self.n_out, weights=weights,
                                            activation=self.activation, kernels=kernels, gemm=gemm)


def _train(ctx, net: Net, weights, dataset, cfg, phase, log_name, on_improvement=None, lr_scales=None,
           scoring="all", anchors=None, score_test=True):
    """Run one phase's early-stopping loop from ``weights``, continuing from its checkpoint if one
    exists; returns its History and the weights it ends with (the best-validation ones).

    A checkpoint is written at every validation check and when a stop is requested, with the
    phase's validation log beside it, so an interrupted run loses at most the minibatch in flight.
    """
    path = ctx.rundir / checkpoint_name(phase)
    shapes = {name: value.shape for name, value in weights.items()}
    history = None
    saved = load_checkpoint(path, shapes)
    if saved is not None:
        try:
            history = History.from_state(saved.history_state, saved.best_weights)
            for rng, state in zip(ctx.rngs, saved.rng_states, strict=True):
                rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as err:
            raise DataError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from err
        weights = saved.weights
        where = "finished" if history.done else f"at epoch {history.epoch}, minibatch {history.next_minibatch}"
        _stderr(f"[{phase}] resuming {where} from {path}")
    graphs = ctx.workspace.graphs
    compiled_before, start = graphs.compiles, time.perf_counter()
    step = StepSettings.of(cfg, scoring=scoring, l2_sp=getattr(cfg, "l2_sp", 0.0) if anchors else 0.0)
    if step.gemm == "onednn" and onednn.available() is not None:
        onednn.note_fallback(_stderr)
    classifier, compiled = graphs.model(net.builder(weights), net.key, weights, dataset, step, lr_scales, anchors)
    if graphs.compiles > compiled_before:
        import pytensor

        _stderr(f"[{phase}] functions compiled in {time.perf_counter() - start:.1f} s "
                f"(cached in {pytensor.config.compiledir})")
    else:
        _stderr(f"[{phase}] functions reused (same graph shape as an earlier phase of this process)")

    def checkpoint(h):
        save_checkpoint(ctx.rundir, h, classifier.get_weights(), ctx.rngs)
        ctx.rundir.write_text(log_name, _validation_log(h))

    try:
        history = sgd_early_stopping(
            compiled, classifier, LoopSettings.of(cfg, score_test=score_test),
            phase=phase,
            out=ctx.out,
            on_improvement=on_improvement,
            on_checkpoint=checkpoint,
            stop_requested=ctx.stop_requested,
            history=history,
        )
    except Interrupted as stop:
        stop.run_dir = ctx.rundir.path
        raise
    except TrainingDiverged as err:  # the folder in the message itself: a sweep's worker sends only the message back
        raise TrainingDiverged(f"{err}; in {ctx.rundir.path}") from err
    return history, classifier.get_weights(), compiled


def _open_rundir(cfg, suffix, resume, overwrite):
    return RunDir.open_existing(cfg.out) if resume else RunDir.create(cfg.out, suffix, overwrite=overwrite)


def run_logistic(cfg, out=None, script="logistic_sgd.py", stop_requested=None, resume=False,
                 overwrite=False, workspace=None) -> dict:
    """The tutorial's sgd_optimization_mnist: logistic regression, early stopping, best model saved.

    Validation and test errors are scored the tutorial's way (the mean error of the whole minibatches
    of --batch-size, the remainder not counted) for the printed lines and the early stopping; the best
    model's errors over every example are computed at the end and written to results.json as well.
    """
    cfg = inputs.absolute_paths(cfg)
    cfg.validate()
    out = out or sys.stdout
    workspace = workspace or Workspace()
    print("... loading data", file=out)
    task = load_task(cfg.task, _dataset_path(cfg.task, None, cfg.dataset), log=_stderr, cache=workspace.datasets)
    _check_batch_size(cfg, task, "--task")
    rundir = _open_rundir(cfg, "-logistic", resume, overwrite)
    recorded = inputs.describe(cfg, {"task": task})
    if resume:
        inputs.check_resume(rundir, script, recorded, log=_stderr)
    else:
        inputs.write_config(rundir, cfg, script, recorded)
    ctx = RunContext(rundir, out, spawn_rngs(cfg.seed, 1), stop_requested, workspace)

    print("... building the model", file=out)
    net = Net(task.n_in, (), task.n_classes)
    weights = initial_weights(ctx.rngs[0], task.n_in, (), task.n_classes)

    print("... training the model", file=out)
    history, best, compiled = _train(
        ctx, net, weights, task, cfg, "train", "out.txt",
        on_improvement=lambda h: rundir.write_weights("best_model.npz", h.best_weights),
        scoring="minibatch",
    )
    print(
        "Optimization complete with best validation score of %f %%,"
        "with test performance %f %%" % (history.best_validation_error * 100.0, history.test_error * 100.0),
        file=out,
    )
    # timing goes to stderr, so stdout ends with the tutorial's "Optimization complete" line
    _stderr("The code run for %d epochs, with %f epochs/sec"
            % (history.epochs_run, history.epochs_run / max(history.seconds, 1e-9)))
    _stderr(f"The code for file {script} ran for {history.seconds:.1f}s; results in {rundir.path}")
    _write_curves(rundir, [history])
    every = replace(compiled, scoring="all")
    results = {
        "task": cfg.task,
        "scoring": "the tutorial's: mean error of the whole minibatches of batch_size, the remainder not counted",
        "best_validation_error": history.best_validation_error,
        "test_error": history.test_error,
        "best_validation_error_all_examples": every.validation_error(),
        "test_error_all_examples": every.test_error(),
        "best_epoch": history.best_epoch,
        "best_iteration": history.best_iter + 1,
        "epochs_run": history.epochs_run,
        "seconds": history.seconds,
        "labels": {"task": label_record(task)},
        "preprocessing": preprocessing_record(cfg),
    }
    rundir.write_json("results.json", results)
    drop_checkpoints(rundir.path)
    return {**results, "run_dir": str(rundir.path)}


def _check_batch_size(cfg, task, flag_name):
    if cfg.batch_size > task.train.x.shape[0]:
        raise ConfigError(f"--batch-size: {cfg.batch_size} is larger than the {task.train.x.shape[0]} training "
                          f"examples of {task.name} ({flag_name})")


def _dataset_path(spec, path, mnist_pickle):
    """Where a spec's files are: --source-path/--target-path, else --dataset for MNIST, else the default."""
    if path is None and spec_name(spec) == "mnist":
        return mnist_pickle
    return path


def load_tasks(cfg, cache=None, source_arrays=None):
    """Every input the run needs (datasets, saved source weights), checked before anything is written.

    Returns the source and target Datasets (target None with --no-transfer) and the source weights
    (from --source-weights, or ``source_arrays`` that a sweep passes in; None when they are trained).
    """
    cache = {} if cache is None else cache

    def load(spec, path):
        return load_task(spec, _dataset_path(spec, path, cfg.dataset), log=_stderr, cache=cache,
                         split_seed=cfg.split_seed, invert=cfg.invert, resize=cfg.resize,
                         labels_from_filename=cfg.labels_from_filename)

    source = load(cfg.source, cfg.source_path)
    _check_batch_size(cfg, source, "--source")
    shapes = expected_shapes(source.n_in, cfg.hidden_sizes, source.n_classes)
    source_weights = source_arrays
    if source_weights is not None:
        check_weights("source weights", source_weights, shapes)
    elif cfg.source_weights:
        source_weights = load_weights(cfg.source_weights, shapes)
        inputs.check_source_split(cfg, log=_stderr)
    if cfg.no_transfer:
        return source, None, source_weights
    same = cfg.target == cfg.source and cfg.target_path == cfg.source_path
    target = source if same else load(cfg.target, cfg.target_path)
    target = target_subset(cfg, target)
    if target.n_in != source.n_in:
        raise ConfigError(
            f"--target: {cfg.target} has {target.n_in} inputs per image but {cfg.source} has {source.n_in}"
        )
    _check_batch_size(cfg, target, "--target")
    if cfg.probe_size > target.train.x.shape[0]:
        raise ConfigError(
            f"--probe-size: {cfg.probe_size} is more than the {target.train.x.shape[0]} training "
            f"images of {cfg.target}"
        )
    return source, target, source_weights


def target_subset(cfg, target):
    """The target's training and validation examples this run uses (--target-train-size, --target-valid-size,
    --subset, --data-seed); the whole target when neither size applies. With --valid-pool the pools are set aside
    first (pools.py) and the training subset is drawn from the draw pool alone."""
    cut = None
    if cfg.valid_pool is not None:
        target, cut = pools.set_aside(target, cfg.valid_pool, cfg.test_pool, cfg.pool_seed)
    train_size, valid_size = cfg.target_train_size, cfg.valid_size_used
    for flag_name, size, split in (("--target-train-size", train_size, target.train),
                                   ("--target-valid-size", valid_size, target.valid)):
        if size is not None and size > split.y.shape[0]:
            where = "draw pool's training" if cut is not None and split is target.train else (
                "training" if split is target.train else "validation")
            raise ConfigError(f"{flag_name}: {size} is more than the {split.y.shape[0]} {where} examples of "
                              f"{cfg.target}")
    if train_size is None and valid_size is None:
        return target
    indices = subset_indices(target, train_size, valid_size, cfg.subset, cfg.data_seed_used)
    description = {"kind": cfg.subset, "train": int(indices["train"].size), "valid": int(indices["valid"].size),
                   "data_seed": cfg.data_seed_used if cfg.subset == "stratified" else None}
    subset = take_subset(target, indices, description)
    if cut is None:
        return subset
    description["pools"] = target.pools["digest"]
    in_full_split = {**indices, "train": cut["draw"][indices["train"]]}  # what target_indices.npz records
    return replace(subset, indices=in_full_split,
                   fingerprint={**subset.fingerprint, "subset": {**subset.fingerprint["subset"], **description}})


def write_target_indices(rundir, target):
    """target_indices.npz: the positions in the target's train and valid splits this run learned and validated on
    (in training order)."""
    n_train, n_valid = target.train.y.shape[0], target.valid.y.shape[0]
    indices = target.indices or {"train": np.arange(n_train), "valid": np.arange(n_valid)}
    rundir.write_weights("target_indices.npz", {"train": indices["train"], "valid": indices["valid"]})


def selection_digest(masks) -> str:
    """A short fingerprint of which nodes were kept in every layer: equal digests, equal selections."""
    import hashlib

    return hashlib.sha256(b"/".join(np.packbits(m).tobytes() + str(m.size).encode() for m in masks)).hexdigest()[:16]


def select_nodes(cfg, scores, threshold):
    """The kept nodes per hidden layer: the top --keep-fraction, or scores at or above the threshold."""
    kind, value = cfg.selection
    if kind == "keep_fraction":
        return top_fraction_masks(scores, value)
    return keep_masks(scores, threshold)


def run_transfer(cfg, pictures=False, out=None, script="mlp_transfer.py", stop_requested=None, resume=False,
                 overwrite=False, workspace=None, source_arrays=None, draw_curves=True) -> dict:
    """Train on the source, probe with target images, score and keep/re-init hidden nodes, retrain on
    the target, and train the baseline arms on the same target for comparison.

    With ``resume``, every finished step is replayed from the run directory's checkpoints (or
    recomputed, bit for bit, where it is deterministic) and an interrupted phase continues.
    ``workspace`` (compiled graphs, datasets) is shared with other runs of the process when given;
    ``source_arrays`` are source weights passed in memory (a sweep's), as --source-weights would load.
    """
    cfg = inputs.absolute_paths(cfg)
    cfg.validate()
    cfg = replace(cfg, data_seed=cfg.data_seed_used)  # config.json records the seed the subsets were drawn with
    out = out or sys.stdout
    workspace = workspace or Workspace()
    rngs = generators(cfg.seed)

    print("... loading data", file=out)
    source, target, saved_source = load_tasks(cfg, workspace.datasets, source_arrays)
    recorded = inputs.describe(cfg, {"source": source, "target": target},
                               source_weights=saved_source)
    rundir = _open_rundir(cfg, "", resume, overwrite)
    if resume:
        inputs.check_resume(rundir, script, recorded, log=_stderr)
    else:
        inputs.write_config(rundir, cfg, script, recorded)
    ctx = RunContext(rundir, out, rngs.as_list(), stop_requested, workspace)
    source_net = Net(source.n_in, tuple(cfg.hidden_sizes), source.n_classes, cfg.activation)

    print(f"... building the model ({source.n_in}-{'-'.join(map(str, cfg.hidden_sizes))}-{source.n_classes}, "
          f"{cfg.activation})", file=out)
    if cfg.init_rng == "legacy":
        initial = legacy_initial_weights(cfg.seed, source.n_in, cfg.hidden_sizes, source.n_classes, cfg.activation)
    else:
        initial = initial_weights(rngs.init, source.n_in, cfg.hidden_sizes, source.n_classes,
                                  activation=cfg.activation)
    if saved_source is not None:
        print(f"... source weights from {cfg.source_weights or 'the sweep'} (no source training)", file=out)
        trained = saved_source
        source_history = History(phase="source", done=True,
                                 test_error=error_rate(saved_source, source.test, cfg.activation),
                                 best_validation_error=error_rate(saved_source, source.valid, cfg.activation))
    else:
        print(f"... training on the source task {cfg.source}", file=out)
        source_history, trained, _ = _train(ctx, source_net, initial, source, cfg, "source", "out.txt")
    rundir.write_weights("weights_source.npz", trained)
    if pictures:
        from . import plots

        plots.weight_grid(initial["hidden0_W"], rundir / "weights_init.png", "first-layer weights at init")
        plots.weight_grid(trained["hidden0_W"], rundir / "weights_trained.png", f"after training on {cfg.source}")
        if cfg.per_node:
            plots.per_node_images(initial["hidden0_W"], rundir.path, "wMapInit")
            plots.per_node_images(trained["hidden0_W"], rundir.path, "wMapTrained")

    results = {
        "source": cfg.source,
        "source_test_error": source_history.test_error,
        "source_best_validation_error": source_history.best_validation_error,
        "source_epochs_run": source_history.epochs_run,
        "source_seconds": source_history.seconds,
        **{f"source_{k}": v for k, v in _diverged(source_history).items()},
    }
    results["labels"] = {"source": label_record(source)}
    results["preprocessing"] = preprocessing_record(cfg)
    histories = [source_history] if source_history.checks else []
    if target is not None:
        results["labels"]["target"] = label_record(target)
        if target.pools is not None:
            results["pools"] = pools.record(target)
        write_target_indices(rundir, target)
        report, masks, transferred, threshold = _transfer_step(ctx, cfg, trained, target, rngs, pictures)
        target_net = Net(target.n_in, tuple(cfg.hidden_sizes), target.n_classes, cfg.activation)
        arm_inputs = arm_builders.ArmInputs(cfg, trained, transferred, masks, target.n_in, target.n_classes, rngs)
        trained_arms, extras, results_of = {}, {}, {}
        for name, start in arm_builders.build_arms(arm_inputs, cfg.arms).items():
            if start.after == "self-source" and "self-source" not in results_of:
                results_of["self-source"] = _self_source(ctx, cfg, target_net, target, rngs)
            if start.after is not None:
                start = start.resolve(results_of[start.after])
            suffix = "" if name == "transfer" else f"_{file_label(name)}"
            print(f"... {'retraining' if name == 'transfer' else 'baseline ' + name + ':'} on the target "
                  f"task {cfg.target}", file=out)
            try:
                history, final, extras[name] = _train_arm(ctx, cfg, target_net, name, start, target)
            except TrainingDiverged as err:  # the arm named, in one place: the transfer arm's phase is "target"
                raise TrainingDiverged(f"{name}: {err}") from err
            rundir.write_weights(f"weights_final{suffix}.npz", final)
            trained_arms[name] = (history, start.weights, final)
            results_of[name] = final
            if start.kept_layers is not None:
                extras[name].update(kept_layers=list(range(1, start.kept_layers + 1)),
                                      fraction_kept=sum(cfg.hidden_sizes[:start.kept_layers]) / sum(cfg.hidden_sizes))
            histories.append(history)
        metrics = arm_metrics(trained_arms, cfg.n_epochs, cfg.ttt_level, trained, source.test, cfg.activation)
        for name, extra in extras.items():
            metrics[name].update(extra)
        target_history = trained_arms["transfer"][0]
        results.update(
            target=cfg.target,
            target_test_error=target_history.test_error,
            target_best_validation_error=target_history.best_validation_error,
            target_epochs_run=target_history.epochs_run,
            target_seconds=target_history.seconds,
            rule=cfg.rule,
            selection=cfg.selection[0],
            threshold=threshold,
            keep_fraction=cfg.keep_fraction,
            activation=cfg.activation,
            nodes_kept=[layer["n_kept"] for layer in report["layers"]],
            selection_digest=selection_digest(masks),
            reinit_deeper=cfg.reinit_deeper,
            data_seed=cfg.data_seed_used,
            target_examples={"train": int(target.train.y.size), "valid": int(target.valid.y.size),
                             "subset": cfg.subset},
            arms=metrics,
        )
        rundir.write_text("summary.md", run_summary_markdown(cfg, results))
    _write_curves(rundir, histories, draw=draw_curves)
    rundir.write_json("results.json", results)
    drop_checkpoints(rundir.path)
    _print_summary(results, cfg, rundir, out)
    if pictures:
        print(f"  pictures: {pictures_written(rundir.path)}", file=out)
    return {**results, "run_dir": str(rundir.path)}


def _train_arm(ctx, cfg, net, name, start, target):
    """One arm's target phase: at its settings (--learning-rate, or --arm-settings' for the arm), or at every
    candidate of --lr-grid (and of its knob, --tune-knobs) with the one of the lowest validation error kept (ties to
    the earlier candidate). The candidates never read a test split; the chosen one's best weights are tested once.
    Returns (history, final weights, what was chosen and measured)."""
    own = tuning.settings_for(cfg, name)
    cfg = replace(cfg, **own)
    phase = "target" if name == "transfer" else f"target-{name}"
    log = "outTransfer.txt" if name == "transfer" else f"out_{file_label(name)}.txt"
    if cfg.lr_grid is None:
        start = _start_under(start, cfg)
        history, final, _ = _train(ctx, net, start.weights, target, cfg, phase, log, lr_scales=start.lr_scales,
                                   anchors=start.anchors)
        return history, final, {"learning_rate": cfg.learning_rate, **own, **_pool_measures(cfg, final, target),
                                **_test_measures(cfg, history, final, target), **_diverged(history)}

    def train_at(candidate):
        setting = candidate if isinstance(candidate, dict) else {"learning_rate": candidate}
        label = "@" + ",".join(("lr" if k == "learning_rate" else k) + f"{v:g}" for k, v in setting.items())
        arm_cfg = replace(cfg, **setting)
        arm_start = _start_under(start, arm_cfg)
        history, final, _ = _train(ctx, net, arm_start.weights, target, arm_cfg, phase + label,
                                   log.replace(".txt", f"{label}.txt"), lr_scales=arm_start.lr_scales,
                                   anchors=arm_start.anchors, score_test=False)
        return history, final, _pool_measures(cfg, final, target)

    def diverged(candidate, err):
        print(f"    {name}: {_candidate_text(candidate)} diverged ({err})", file=ctx.out)

    choice = lr_grid.choose(tuning.candidates(name, cfg), train_at, diverged)
    history, final = choice.chosen.history, choice.chosen.final
    chosen_cfg = replace(cfg, **choice.chosen.setting)
    history.test_error = _test_error(ctx, net, final, target, chosen_cfg, _start_under(start, chosen_cfg))
    measures = _test_measures(cfg, history, final, target)
    print(f"    {name}: {_candidate_text(choice.chosen.candidate)} chosen by validation ("
          + ", ".join(f"{_candidate_short(t.candidate)}: {t.validation_error * 100:.2f} %" for t in choice.tried)
          + f"); test error {measures.get('test_error', history.test_error) * 100:.2f} %", file=ctx.out)
    return history, final, {**choice.record(), **choice.chosen.measures, **measures, **_diverged(history)}


def _diverged(history) -> dict:
    """Where the arm's cost stopped being finite, when --if-diverged keep-best ended its phase there (else nothing,
    so results.json is what it always was)."""
    return {"diverged": history.diverged} if history.diverged else {}


def _candidate_text(candidate) -> str:
    if not isinstance(candidate, dict):
        return f"learning rate {candidate:g}"
    return ", ".join(("learning rate" if k == "learning_rate" else k) + f" {v:g}" for k, v in candidate.items())


def _candidate_short(candidate) -> str:
    return _candidate_text(candidate) if isinstance(candidate, dict) else f"{candidate:g}"


def _start_under(start, cfg):
    """The arm's start under ``cfg``'s settings (shrink-perturb's start depends on its shrink)."""
    return replace(start, weights=start.variant(cfg)) if start.variant is not None else start


def _pool_measures(cfg, final, target) -> dict:
    """The validation pool's error of ``final`` (the best-validation weights), where the run has the pool."""
    if target.pools is None:
        return {}
    return {"valid_pool_error": error_rate(final, target.pools["valid"], cfg.activation)}


def _test_measures(cfg, history, final, target) -> dict:
    """With an extra test pool, the test error over the official split and the pool together (the official split's
    own error, counted by the compiled graph as always, kept beside it)."""
    if target.pools is None or not target.pools["test"].y.size:
        return {}
    extra = target.pools["test"]
    n_official = target.test.y.size
    return {"test_error": pools.pooled_test_error(history.test_error, n_official,
                                                  error_rate(final, extra, cfg.activation), extra.y.size),
            "test_error_official": history.test_error, "test_size": int(n_official + extra.y.size)}


def _self_source(ctx, cfg, net, target, rngs):
    """The self-layers arms' own source network (Yosinski et al.'s BnB): a fresh network trained on the target's
    training subset exactly as the source phase is trained on the source task; it never reads the source task."""
    print(f"... self-layers: training a network on the target task {cfg.target} itself", file=ctx.out)
    initial = initial_weights(rngs.self_source, target.n_in, cfg.hidden_sizes, target.n_classes,
                              activation=cfg.activation)
    _, trained, _ = _train(ctx, net, initial, target, cfg, "self-source", "out_self-source.txt")
    ctx.rundir.write_weights("weights_self_source.npz", trained)
    return trained


def _test_error(ctx, net, weights, dataset, cfg, start) -> float:
    """The test error of ``weights``, counted by the run's compiled graph (the one the phase trained with)."""
    step = StepSettings.of(cfg, l2_sp=cfg.l2_sp if start.anchors else 0.0)
    _, compiled = ctx.workspace.graphs.model(net.builder(weights), net.key, weights, dataset, step, start.lr_scales,
                                             start.anchors)
    return compiled.test_error()


def _transfer_step(ctx, cfg, trained, target, rngs, pictures):
    """Probe, score with the rule, choose the kept nodes, re-initialize the rest: the transfer arm's start.

    Returns transfer.json's report, the masks, the transferred weights and the threshold used (None
    with --keep-fraction).
    """
    out, rundir = ctx.out, ctx.rundir
    print(f"... probing with {cfg.probe_size} images of {cfg.target}", file=out)
    probe_index = rngs.probe.choice(target.train.x.shape[0], size=cfg.probe_size, replace=False)
    probe_images = target.train.x[probe_index]
    rundir.write_array("probe_images.npy", probe_images)
    probe = rules.probe_network(trained, probe_images, target.train.y[probe_index], target.n_classes, cfg.activation)
    start = time.perf_counter()
    held_out = target.pools["valid"] if target.pools is not None else target.valid  # the oracle's loss, never test
    scored = rules.score(cfg.rule, probe, rules.RuleSettings(cfg.apoz_eps, cfg.taylor_l2, rngs.rule,
                                                             oracle_data=(target.train, held_out)))
    score_seconds = time.perf_counter() - start
    if "taylor_head" in scored.extras:
        head = scored.extras["taylor_head"]
        rundir.write_weights("taylor_head.npz", {k: head[k] for k in ("output_W", "output_b")})
    kind, value = cfg.selection
    threshold, auto = (value if kind == "threshold" else None), None
    if threshold == "auto":
        threshold, auto = _auto_threshold(ctx, cfg, trained, probe_images, scored.layers, target, rngs.reinit)
    masks = select_nodes(cfg, scored.layers, threshold)
    transferred = transferred_weights(trained, masks, rngs.reinit, target.n_classes, cfg.reinit_deeper, cfg.activation)
    if cfg.rule == "scale-matched":
        transferred = controls.scale_matched(transferred, trained, masks, controls.generator(cfg.seed))
    report = {
        "rule": cfg.rule,
        "rule_settings": _rule_settings(cfg, scored),
        "selection": kind,
        "threshold": threshold,
        "keep_fraction": cfg.keep_fraction,
        "probe_size": int(cfg.probe_size),
        "probe_indices": [int(i) for i in probe_index],
        "reinit_deeper": cfg.reinit_deeper,
        "activation": cfg.activation,
        "seconds": score_seconds,  # wall time of scoring the nodes
        "layers": layer_report(scored.layers, masks),
    }
    if auto is not None:
        report["auto"] = auto
    rundir.write_json("transfer.json", report)
    rundir.write_weights("weights_transferred.npz", transferred)
    if pictures:
        from . import plots

        how = f"threshold {threshold:g}" if threshold is not None else f"keep fraction {cfg.keep_fraction:g}"
        plots.weight_grid(transferred["hidden0_W"], rundir / "weights_transfer.png",
                          f"after transfer ({cfg.rule}, {how})", kept=masks[0])
        plots.image_grid(probe_images, rundir / "probe_images.png", f"probe images from {cfg.target}")
        if cfg.per_node:
            plots.per_node_images(transferred["hidden0_W"], rundir.path, "wMapTransfer")
            plots.per_node_images(probe_images.T, rundir.path, "inputImage")
    return report, masks, transferred, threshold


def _rule_settings(cfg, scored) -> dict:
    settings = {}
    if cfg.rule == "apoz":
        settings["apoz_eps"] = cfg.apoz_eps
    if cfg.rule == "taylor":
        head = scored.extras["taylor_head"]
        settings.update(taylor_l2=cfg.taylor_l2, head_file="taylor_head.npz", head_fit_loss=head["loss"],
                        head_fit_iterations=head["iterations"],
                        head_fit="multinomial logistic regression on the probe's last hidden layer, float64, "
                                 "L-BFGS-B from zeros, loss mean cross-entropy + taylor_l2 / 2 ||W||^2")
    if cfg.rule in ("random", "scale-matched"):
        settings["generator"] = "the run's own, spawned from --seed"
    if cfg.rule == "scale-matched":
        settings["redraw"] = ("each kept node's incoming weights and bias from the normal distribution of its source "
                              "layer's weights (and biases), the tenth generator of --seed")
    if cfg.rule == "oracle":
        settings.update(taylor_l2=cfg.taylor_l2, **scored.extras["oracle"],
                        loss_measured_on="the validation pool" if cfg.valid_pool is not None else
                        "the run's validation examples")
    return settings


def _auto_threshold(ctx, cfg, trained, probe, scores, target, reinit_rng):
    """--threshold auto: short retrains over --auto-thresholds, scored on target validation data."""
    print(f"... choosing the threshold among {', '.join(f'{t:g}' for t in cfg.auto_thresholds)} "
          f"({cfg.auto_epochs}-epoch retrains, scored by validation AUC)", file=ctx.out)
    short = replace(cfg, n_epochs=cfg.auto_epochs)
    net = Net(target.n_in, tuple(cfg.hidden_sizes), target.n_classes, cfg.activation)
    start = time.perf_counter()

    def retrain(weights, masks, label):
        history, _, _ = _train(ctx, net, weights, target, short, label, f"out_{label}.txt",
                               lr_scales=arm_builders.lr_scales(masks, cfg.kept_lr_scale))
        return history

    chosen, candidates = choose_threshold(trained, probe, target.n_classes, cfg.auto_thresholds, reinit_rng,
                                          retrain, cfg.reinit_deeper, scores=scores, activation=cfg.activation)
    for c in candidates:
        mark = "  <- chosen" if c["threshold"] == chosen else ""
        print(f"    threshold {c['threshold']:g}: nodes kept {c['nodes_kept']}, "
              f"mean validation error {c['validation_auc'] * 100:.2f} %{mark}", file=ctx.out)
    auto = {"rule": "lowest mean target validation error over a short retrain", "epochs": cfg.auto_epochs,
            "chosen": chosen, "candidates": candidates, "seconds": time.perf_counter() - start}
    return chosen, auto


def label_record(task) -> dict:
    """What a network's outputs mean, for results.json (predict.py reads it back): the task, its original labels in
    the order of the outputs, and their names (an image folder's class folders; else the labels themselves)."""
    names = task.class_names or tuple(str(c) for c in task.classes)
    return {"task": task.name, "classes": [int(c) if isinstance(c, (int, np.integer)) else c for c in task.classes],
            "names": list(names)}


def preprocessing_record(cfg) -> dict:
    """How an image became the network's input, for results.json (predict.py applies it to new images)."""
    return {"size": [28, 28], "invert": bool(getattr(cfg, "invert", False)), "resize": getattr(cfg, "resize", "fit"),
            "scale": "pixel value / 256 (image folders; MNIST's pickle holds the same scale)"}


def _print_summary(results, cfg, rundir, out):
    print("Final results:", file=out)
    print(f"  source {results['source']}: test error {results['source_test_error'] * 100:.2f} %", file=out)
    if "target" in results:
        print(
            f"  target {results['target']}: test error {results['target_test_error'] * 100:.2f} % after transfer",
            file=out,
        )
        kept = ", ".join(f"layer {i + 1}: {k}/{n}"
                         for i, (k, n) in enumerate(zip(results["nodes_kept"], cfg.hidden_sizes, strict=True)))
        print(f"  nodes kept (rule {cfg.rule}, {selection_text(cfg, results)}): {kept}", file=out)
        print(metrics_table(results["arms"]), file=out)
        print(textwrap.fill(arm_table_legend(cfg.ttt_level), width=110, initial_indent="  ", subsequent_indent="  ",
                            break_on_hyphens=False), file=out)
    print(f"  run directory: {rundir.path}", file=out)

