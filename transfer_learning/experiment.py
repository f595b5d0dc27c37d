"""The experiments, as tables of contents: load, build, train, probe, keep/re-init, retrain, save."""

import json
import platform
import sys
import time
import typing
from dataclasses import asdict, dataclass, replace

import numpy as np
import pytensor
import pytensor.tensor as pt

from . import backend, plots
from .config import ConfigError
from .checkpoint import checkpoint_name, load_checkpoint, save_checkpoint
from .auto_threshold import choose_threshold
from .data import DataError, Split, load_task, spec_name
from .metrics import arm_metrics, error_rate, metrics_table
from .model import MLP, LogisticRegression
from .rundir import RunDir
from .train import History, Interrupted, TrainingDiverged, compile_functions, sgd_early_stopping
from .transfer import random_masks, transfer
from .weights import expected_shapes, hidden_names, initial_weights, load_weights


def _stderr(msg):
    print(msg, file=sys.stderr, flush=True)


def spawn_rngs(seed: int, n: int):
    """Independent generators from one seed, one per purpose, so no draw shifts another."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def _write_config(rundir, cfg, script):
    rundir.write_json(
        "config.json",
        {
            "script": script,
            "config": asdict(cfg),
            "versions": {
                "python": platform.python_version(),
                "pytensor": pytensor.__version__,
                "numpy": np.__version__,
            },
            "pytensor": backend.describe(),
        },
    )
    print("config: " + json.dumps(asdict(cfg)), file=sys.stderr)


def _history_rows(*histories):
    return [
        [h.phase, c.epoch, c.minibatch, f"{c.validation_error * 100:.6f}", f"{c.test_error_of_best * 100:.6f}"]
        for h in histories
        for c in h.checks
    ]


def _write_curves(rundir, *histories):
    rundir.write_csv(
        "history.csv",
        ["phase", "epoch", "minibatch", "validation_error_pct", "best_model_test_error_pct"],
        _history_rows(*histories),
    )
    plots.learning_curves(histories, rundir / "curves.png")


def _validation_log(history) -> str:
    """out.txt / outTransfer.txt as in 2015: the validation error in % at each check."""
    return "".join(f"{c.validation_error * 100:f}\n" for c in history.checks)


@dataclass
class RunContext:
    """What every phase of one run shares: where it writes, where it prints, its generators,
    and how it learns that it should stop (SIGINT/SIGTERM, see cli.py)."""

    rundir: RunDir
    out: typing.TextIO
    rngs: list
    stop_requested: typing.Callable | None = None


def _train(ctx, classifier, x, y, task, cfg, phase, log_name, on_improvement=None, lr_scales=None):
    """Run one phase's early-stopping loop, continuing from its checkpoint if one exists.

    A checkpoint is written at every validation check and when a stop is requested, with the
    phase's validation log beside it, so an interrupted run loses at most the minibatch in flight.
    """
    path = ctx.rundir / checkpoint_name(phase)
    shapes = {name: value.shape for name, value in classifier.get_weights().items()}
    history = None
    saved = load_checkpoint(path, shapes)
    if saved is not None:
        try:
            history = History.from_state(saved.history_state, saved.best_weights)
            for rng, state in zip(ctx.rngs, saved.rng_states, strict=True):
                rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as err:
            raise DataError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})")
        classifier.set_weights(saved.weights)
        where = "finished" if history.done else f"at epoch {history.epoch}, minibatch {history.next_minibatch}"
        _stderr(f"[{phase}] resuming {where} from {path}")
    start = time.perf_counter()
    compiled = compile_functions(
        classifier, x, y, task,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        L1_reg=getattr(cfg, "L1_reg", 0.0),
        L2_reg=getattr(cfg, "L2_reg", 0.0),
        lr_scales=lr_scales,
    )
    _stderr(f"[{phase}] functions compiled in {time.perf_counter() - start:.1f} s "
            f"(cached in {pytensor.config.compiledir})")

    def checkpoint(h):
        save_checkpoint(ctx.rundir, h, classifier.get_weights(), ctx.rngs)
        ctx.rundir.write_text(log_name, _validation_log(h))

    try:
        return sgd_early_stopping(
            compiled, classifier,
            n_epochs=cfg.n_epochs,
            patience=cfg.patience,
            patience_increase=cfg.patience_increase,
            improvement_threshold=cfg.improvement_threshold,
            phase=phase,
            out=ctx.out,
            on_improvement=on_improvement,
            on_checkpoint=checkpoint,
            stop_requested=ctx.stop_requested,
            history=history,
        )
    except (Interrupted, TrainingDiverged) as stop:
        stop.run_dir = ctx.rundir.path
        raise


def _open_rundir(cfg, suffix, resume, overwrite):
    return RunDir.open_existing(cfg.out) if resume else RunDir.create(cfg.out, suffix, overwrite=overwrite)


def run_logistic(cfg, out=None, script="logistic_sgd.py", stop_requested=None, resume=False,
                 overwrite=False) -> dict:
    """The tutorial's sgd_optimization_mnist: logistic regression, early stopping, best model saved."""
    cfg.validate()
    out = out or sys.stdout
    print("... loading data", file=out)
    task = load_task(cfg.task, _dataset_path(cfg.task, None, cfg.dataset), log=_stderr, seed=cfg.seed)
    _check_batch_size(cfg, task, "--task")
    rundir = _open_rundir(cfg, "-logistic", resume, overwrite)
    if not resume:
        _write_config(rundir, cfg, script)
    ctx = RunContext(rundir, out, spawn_rngs(cfg.seed, 1), stop_requested)

    print("... building the model", file=out)
    x, y = pt.matrix("x"), pt.ivector("y")
    classifier = LogisticRegression(input=x, n_in=task.n_in, n_out=task.n_classes)

    print("... training the model", file=out)
    history = _train(
        ctx, classifier, x, y, task, cfg, "train", "out.txt",
        on_improvement=lambda h: rundir.write_weights("best_model.npz", h.best_weights),
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
    _write_curves(rundir, history)
    results = {
        "task": cfg.task,
        "best_validation_error": history.best_validation_error,
        "test_error": history.test_error,
        "best_epoch": history.best_epoch,
        "epochs_run": history.epochs_run,
        "seconds": history.seconds,
    }
    rundir.write_json("results.json", results)
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


def load_tasks(cfg):
    """Every input the run needs (datasets, saved source weights), checked before anything is written."""
    cache = {}

    def load(spec, path):
        return load_task(spec, _dataset_path(spec, path, cfg.dataset), log=_stderr, cache=cache,
                         seed=cfg.seed, invert=cfg.invert)

    source = load(cfg.source, cfg.source_path)
    _check_batch_size(cfg, source, "--source")
    source_weights = None
    if cfg.source_weights:
        source_weights = load_weights(cfg.source_weights, expected_shapes(source.n_in, cfg.hidden_sizes, source.n_classes))
    if cfg.no_transfer:
        return source, None, source_weights
    same = cfg.target == cfg.source and cfg.target_path == cfg.source_path
    target = source if same else load(cfg.target, cfg.target_path)
    if cfg.target_train_size is not None:
        if cfg.target_train_size > target.train.x.shape[0]:
            raise ConfigError(f"--target-train-size: {cfg.target_train_size} is more than the "
                              f"{target.train.x.shape[0]} training examples of {cfg.target}")
        n = cfg.target_train_size
        target = replace(target, train=Split(target.train.x[:n], target.train.y[:n]))
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


def _lr_scales(masks, kept_scale):
    """Per-node learning-rate factors: ``kept_scale`` for kept nodes, 1 for re-initialized ones."""
    if kept_scale == 1:
        return None
    scales = {}
    for layer, keep in enumerate(masks):
        factor = np.where(keep, kept_scale, 1.0)
        for name in hidden_names(layer):
            scales[name] = factor
    return scales


def _arms(cfg, threshold, trained, probe, target, transferred, report, rngs):
    """Initial target weights and per-node learning-rate factors of every arm, transfer first."""
    _, _, reinit_rng, scratch_rng, random_rng = rngs
    masks = [np.isin(np.arange(layer["n_nodes"]), layer["kept"]) for layer in report["layers"]]
    arms = {"transfer": (transferred, _lr_scales(masks, cfg.kept_lr_scale))}
    for name in cfg.arms:
        if name == "scratch":
            arms[name] = (initial_weights(scratch_rng, target.n_in, cfg.hidden_sizes, target.n_classes), None)
        elif name == "finetune":
            arms[name] = (transfer(trained, probe, 0.0, target.n_classes, reinit_rng)[0], None)
        elif name == "freeze":
            arms[name] = (transferred, _lr_scales(masks, 0.0))
        elif name == "random-reset":
            chosen = random_masks(masks, random_rng)
            weights = transfer(trained, probe, threshold, target.n_classes, random_rng,
                               cfg.reinit_deeper, masks=chosen)[0]
            arms[name] = (weights, _lr_scales(chosen, cfg.kept_lr_scale))
    return arms


def run_transfer(cfg, pictures=False, out=None, script="mlp_transfer.py", stop_requested=None, resume=False,
                 overwrite=False) -> dict:
    """Train on the source, probe with target images, keep/re-init hidden nodes, retrain on the target,
    and train the baseline arms on the same target for comparison.

    With ``resume``, every finished step is replayed from the run directory's checkpoints (or
    recomputed, bit for bit, where it is deterministic) and an interrupted phase continues.
    """
    cfg.validate()
    out = out or sys.stdout
    rngs = spawn_rngs(cfg.seed, 5)
    init_rng, probe_rng, reinit_rng = rngs[:3]

    print("... loading data", file=out)
    source, target, saved_source = load_tasks(cfg)
    rundir = _open_rundir(cfg, "", resume, overwrite)
    if not resume:
        _write_config(rundir, cfg, script)
    ctx = RunContext(rundir, out, rngs, stop_requested)
    x, y = pt.matrix("x"), pt.ivector("y")

    print(f"... building the model ({source.n_in}-{'-'.join(map(str, cfg.hidden_sizes))}-{source.n_classes})", file=out)
    model = MLP(init_rng, x, source.n_in, cfg.hidden_sizes, source.n_classes)
    initial = model.get_weights()
    if saved_source is not None:
        print(f"... source weights from {cfg.source_weights} (no source training)", file=out)
        model.set_weights(saved_source)
        source_history = History(phase="source", done=True, test_error=error_rate(saved_source, source.test),
                                 best_validation_error=error_rate(saved_source, source.valid))
    else:
        print(f"... training on the source task {cfg.source}", file=out)
        source_history = _train(ctx, model, x, y, source, cfg, "source", "out.txt")
    trained = model.get_weights()
    rundir.write_weights("weights_source.npz", trained)
    if pictures:
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
    }
    histories = [source_history] if source_history.checks else []
    if target is not None:
        print(f"... probing with {cfg.probe_size} images of {cfg.target}", file=out)
        probe_index = probe_rng.choice(target.train.x.shape[0], size=cfg.probe_size, replace=False)
        probe = target.train.x[probe_index]
        rundir.write_array("probe_images.npy", probe)
        threshold, auto = cfg.threshold, None
        if threshold == "auto":
            threshold, auto = _auto_threshold(ctx, cfg, trained, probe, target, x, y, reinit_rng)
        transferred, report = transfer(trained, probe, threshold, target.n_classes, reinit_rng, cfg.reinit_deeper)
        report["probe_indices"] = [int(i) for i in probe_index]
        report["reinit_deeper"] = cfg.reinit_deeper
        if auto is not None:
            report["auto"] = auto
        rundir.write_json("transfer.json", report)
        rundir.write_weights("weights_transferred.npz", transferred)
        if pictures:
            kept_first = np.zeros(cfg.hidden_sizes[0], dtype=bool)
            kept_first[report["layers"][0]["kept"]] = True
            plots.weight_grid(transferred["hidden0_W"], rundir / "weights_transfer.png",
                              f"after transfer (threshold {threshold:g})", kept=kept_first)
            plots.image_grid(probe, rundir / "probe_images.png", f"probe images from {cfg.target}")
            if cfg.per_node:
                plots.per_node_images(transferred["hidden0_W"], rundir.path, "wMapTransfer")
                plots.per_node_images(probe.T, rundir.path, "inputImage")

        trained_arms = {}
        for name, (weights, scales) in _arms(cfg, threshold, trained, probe, target, transferred, report, rngs).items():
            phase, suffix = ("target", "") if name == "transfer" else (f"target-{name}", f"_{name}")
            print(f"... {'retraining' if name == 'transfer' else 'baseline ' + name + ':'} on the target "
                  f"task {cfg.target}", file=out)
            arm_model = MLP(init_rng, x, target.n_in, cfg.hidden_sizes, target.n_classes, weights=weights)
            history = _train(ctx, arm_model, x, y, target, cfg, phase,
                             "outTransfer.txt" if name == "transfer" else f"out_{name}.txt", lr_scales=scales)
            final = arm_model.get_weights()
            rundir.write_weights(f"weights_final{suffix}.npz", final)
            trained_arms[name] = (history, weights, final)
            histories.append(history)
        metrics = arm_metrics(trained_arms, cfg.n_epochs, cfg.ttt_level, trained, source.test)
        target_history = trained_arms["transfer"][0]
        results.update(
            target=cfg.target,
            target_test_error=target_history.test_error,
            target_best_validation_error=target_history.best_validation_error,
            target_epochs_run=target_history.epochs_run,
            target_seconds=target_history.seconds,
            threshold=threshold,
            nodes_kept=[layer["n_kept"] for layer in report["layers"]],
            arms=metrics,
        )
        rundir.write_text("summary.md", _summary_markdown(cfg, results))
    _write_curves(rundir, *histories)
    rundir.write_json("results.json", results)
    _print_summary(results, cfg, rundir, out)
    return {**results, "run_dir": str(rundir.path)}


def _auto_threshold(ctx, cfg, trained, probe, target, x, y, reinit_rng):
    """--threshold auto: short retrains over --auto-thresholds, scored on target validation data."""
    print(f"... choosing the threshold among {', '.join(f'{t:g}' for t in cfg.auto_thresholds)} "
          f"({cfg.auto_epochs}-epoch retrains, scored by validation AUC)", file=ctx.out)
    short = replace(cfg, n_epochs=cfg.auto_epochs)
    start = time.perf_counter()

    def retrain(weights, masks, label):
        model = MLP(ctx.rngs[0], x, target.n_in, cfg.hidden_sizes, target.n_classes, weights=weights)  # no draw: all weights given
        return _train(ctx, model, x, y, target, short, label, f"out_{label}.txt",
                      lr_scales=_lr_scales(masks, cfg.kept_lr_scale))

    chosen, candidates = choose_threshold(trained, probe, target.n_classes, cfg.auto_thresholds, reinit_rng,
                                          retrain, cfg.reinit_deeper)
    for c in candidates:
        print(f"    threshold {c['threshold']:g}: nodes kept {c['nodes_kept']}, "
              f"mean validation error {c['validation_auc'] * 100:.2f} %{'  <- chosen' if c['threshold'] == chosen else ''}",
              file=ctx.out)
    auto = {"rule": "lowest mean target validation error over a short retrain", "epochs": cfg.auto_epochs,
            "chosen": chosen, "candidates": candidates, "seconds": time.perf_counter() - start}
    return chosen, auto


def _summary_markdown(cfg, results) -> str:
    kept = ", ".join(f"{k}/{n}" for k, n in zip(results["nodes_kept"], cfg.hidden_sizes))
    return (
        f"# {cfg.source} -> {cfg.target}\n\n"
        f"threshold {_threshold_text(cfg, results)}, probe {cfg.probe_size} images, nodes kept per layer {kept}, "
        f"kept-lr-scale {cfg.kept_lr_scale}, reinit-deeper {cfg.reinit_deeper}, seed {cfg.seed}, "
        f"{cfg.n_epochs} epochs per arm"
        + (f", first {cfg.target_train_size} target training examples" if cfg.target_train_size else "")
        + f"\n\n{metrics_table(results['arms'])}\n\n"
        "Jumpstart, transfer ratio and speed-up are against the scratch arm; time to threshold counts epochs "
        f"until the validation error is <= {cfg.ttt_level} x scratch's best. See transfer_learning/metrics.py.\n"
    )


def _threshold_text(cfg, results) -> str:
    chosen = f"{results['threshold']:g}"
    return f"auto -> {chosen}" if cfg.threshold == "auto" else chosen


def _print_summary(results, cfg, rundir, out):
    print("Final results:", file=out)
    print(f"  source {results['source']}: test error {results['source_test_error'] * 100:.2f} %", file=out)
    if "target" in results:
        print(
            f"  target {results['target']}: test error {results['target_test_error'] * 100:.2f} % after transfer",
            file=out,
        )
        kept = ", ".join(f"layer {i + 1}: {k}/{n}" for i, (k, n) in enumerate(zip(results["nodes_kept"], cfg.hidden_sizes)))
        print(f"  nodes kept (threshold {_threshold_text(cfg, results)}): {kept}", file=out)
        print(metrics_table(results["arms"]), file=out)
    print(f"  run directory: {rundir.path}", file=out)
