"""``python -m transfer_learning.sweep``: thresholds x seeds x arms for one source/target pair.

Per seed, the source network is trained once (a "source run"); then each threshold is one run of
the ordinary transfer experiment from those source weights. The first threshold's run also trains
the threshold-free arms (scratch, finetune); freeze and random-reset depend on the threshold's kept
nodes and are trained in every run. So a (seed, threshold) result here is bit for bit the one
``mlp_transfer.py --seed S --threshold T`` gives, and all arms of a seed are paired.

Runs go to joblib worker processes, or with --scheduler to a Dask distributed cluster through
joblib's Dask backend. Each finished run is recorded under results/ at once; started again with
the same --out, a sweep skips what is recorded and resumes interrupted runs from their checkpoints.

Writes results.csv (one row per seed x threshold x arm, with the paired differences against scratch
and against random-reset), summary.md (means and 95 % intervals over seeds) and sweep.png.
"""

import argparse
import contextlib
import json
import math
import signal
import sys
import tempfile
import time
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np

from .cli import EXIT_SIGNAL, EXPECTED_ERRORS, Parser, add_config_flags, error_exit
from .config import SWEEP_BASELINES, SWEEP_OWNS, ConfigError, SweepConfig, TransferConfig
from .data import DataError
from .rundir import RunDir
from .weights import expected_shapes, load_weights

#: Arms whose result depends on the threshold (trained at every threshold) and those that do not.
PER_THRESHOLD = ("transfer", "freeze", "random-reset")
CSV_COLUMNS = ["seed", "threshold", "arm", "fraction_kept", "test_error_pct", "best_validation_error_pct",
               "first_epoch_validation_error_pct", "auc", "epochs_run", "source_retention_after_pct",
               "test_error_minus_scratch_pp", "jumpstart_pp", "transfer_ratio", "test_error_minus_random_reset_pp"]


def _quiet(log_path):
    """Send a run's stdout and stderr to its log file, so parallel runs do not interleave."""
    stack = contextlib.ExitStack()
    log = stack.enter_context(open(log_path, "a"))
    stack.enter_context(contextlib.redirect_stdout(log))
    stack.enter_context(contextlib.redirect_stderr(log))
    return stack


def run_source(cfg: TransferConfig) -> dict:
    """Train one seed's source network (a --no-transfer run) and return its weights as arrays."""
    from .experiment import run_transfer

    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _quiet(out.with_suffix(".log")):
        resume = (out / "config.json").is_file()
        result = run_transfer(cfg, resume=resume)
    with np.load(Path(result["run_dir"]) / "weights_source.npz") as saved:
        return {"weights": {k: saved[k] for k in saved.files}, "results": result}


def run_threshold(cfg: TransferConfig, source_weights: dict) -> dict:
    """One (seed, threshold) run from the seed's source weights, which travel with the call."""
    from .experiment import run_transfer

    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights_source.npz"
        np.savez(path, **source_weights)
        with _quiet(out.with_suffix(".log")):
            done = out / "results.json"
            if done.is_file():  # finished before the driver could record it
                result = json.loads(done.read_text())
            else:
                result = run_transfer(replace(cfg, source_weights=str(path)), resume=(out / "config.json").is_file())
    return {"results": result}


def _label(threshold: float) -> str:
    return f"{threshold:g}"


class Sweep:
    """The sweep directory: its plan, what is recorded as done, and the tables and plot made from it."""

    def __init__(self, sweep: SweepConfig, base: TransferConfig):
        self.sweep, self.base = sweep, base
        self.path = Path(sweep.out)
        self.files = RunDir(self.path)  # atomic writes, as for a run directory

    def source_config(self, seed):
        return replace(self.base, seed=seed, no_transfer=True, out=str(self.path.resolve() / "sources" / f"seed{seed}"))

    def threshold_config(self, seed, threshold):
        arms = self.base.arms if threshold == self.sweep.thresholds[0] else tuple(
            a for a in self.base.arms if a in PER_THRESHOLD)
        return replace(self.base, seed=seed, threshold=threshold, baselines=",".join(arms) or "none",
                       out=str(self.path.resolve() / "runs" / f"seed{seed}-t{_label(threshold)}"))

    def record_name(self, kind, seed, threshold=None):
        name = f"source-seed{seed}" if kind == "source" else f"seed{seed}-t{_label(threshold)}"
        return f"results/{name}.json"

    def record_path(self, kind, seed, threshold=None):
        return self.path / self.record_name(kind, seed, threshold)

    def source_weights_name(self, seed):
        return f"sources/seed{seed}.npz"

    def open(self, argv):
        """Create the sweep directory, or check that an existing one was made with the same settings."""
        settings = {"sweep": {k: v for k, v in asdict(self.sweep).items() if k not in ("jobs", "scheduler", "out")},
                    "base": asdict(self.base)}
        saved = self.path / "sweep.json"
        if saved.is_file():
            try:
                before = json.loads(saved.read_text())
            except ValueError as err:
                raise DataError(f"{saved}: not a readable sweep record ({err})")
            if json.loads(json.dumps(settings)) != before.get("settings"):
                raise ConfigError(f"--out: {self.path} holds a sweep with other settings; choose another --out")
            return True
        if self.path.exists() and any(self.path.iterdir()):
            raise ConfigError(f"--out: {self.path} already exists, is not empty and holds no sweep.json")
        for folder in ("results", "sources"):
            (self.path / folder).mkdir(parents=True, exist_ok=True)
        self.files.write_json("sweep.json", {"settings": settings, "argv": argv})
        return False

    def rows(self):
        """One row per seed x threshold x arm from the recorded runs, with paired differences to scratch."""
        rows = []
        for seed in self.sweep.seeds:
            for threshold in self.sweep.thresholds:
                path = self.record_path("run", seed, threshold)
                if not path.is_file():
                    continue
                results = json.loads(path.read_text())["results"]
                fraction = sum(results["nodes_kept"]) / sum(self.base.hidden_sizes)
                for arm, m in results["arms"].items():
                    if arm not in PER_THRESHOLD and threshold != self.sweep.thresholds[0]:
                        continue
                    rows.append({
                        "seed": seed,
                        "threshold": threshold if arm in PER_THRESHOLD else None,
                        "arm": arm,
                        "fraction_kept": fraction if arm in PER_THRESHOLD else {"finetune": 1.0, "scratch": 0.0}[arm],
                        "test_error_pct": m["test_error"] * 100,
                        "best_validation_error_pct": m["best_validation_error"] * 100,
                        "first_epoch_validation_error_pct": m["validation_curve"][0] * 100 if m["validation_curve"] else None,
                        "auc": m["auc"] * 100,
                        "epochs_run": m["epochs_run"],
                        "source_retention_after_pct": m["source_retention_after"] * 100,
                    })
        scratch = {r["seed"]: r for r in rows if r["arm"] == "scratch"}
        for r in rows:
            s = scratch.get(r["seed"])
            r["test_error_minus_scratch_pp"] = r["test_error_pct"] - s["test_error_pct"] if s else None
            r["jumpstart_pp"] = (r["first_epoch_validation_error_pct"] - s["first_epoch_validation_error_pct"]
                                 if s and r["first_epoch_validation_error_pct"] is not None else None)
            r["transfer_ratio"] = (s["auc"] - r["auc"]) / s["auc"] if s and s["auc"] else None
        # the control for the activation rule: the same number of nodes reset, chosen at random
        random = {(r["seed"], r["threshold"]): r for r in rows if r["arm"] == "random-reset"}
        for r in rows:
            control = random.get((r["seed"], r["threshold"])) if r["arm"] == "transfer" else None
            r["test_error_minus_random_reset_pp"] = r["test_error_pct"] - control["test_error_pct"] if control else None
        return rows


def mean_ci(values):
    """Mean and half-width of the 95 % t interval over seeds (nan with fewer than two)."""
    from scipy import stats

    values = np.asarray([v for v in values if v is not None], dtype=float)
    if values.size == 0:
        return math.nan, math.nan
    if values.size < 2:
        return float(values.mean()), math.nan
    half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
    return float(values.mean()), float(half)


def summarize(rows) -> dict:
    """Per arm (and threshold), the mean and 95 % interval over seeds of each metric."""
    groups = {}
    for r in rows:
        groups.setdefault((r["arm"], r["threshold"]), []).append(r)
    out = {}
    for (arm, threshold), members in groups.items():
        out[(arm, threshold)] = {
            "n_seeds": len(members),
            **{key: mean_ci([m[key] for m in members])
               for key in ("fraction_kept", "test_error_pct", "test_error_minus_scratch_pp", "jumpstart_pp",
                           "transfer_ratio", "auc", "test_error_minus_random_reset_pp")},
        }
    return out


def _fmt(pair, digits=2):
    mean, half = pair
    if math.isnan(mean):
        return "-"
    return f"{mean:.{digits}f}" + ("" if math.isnan(half) else f" ± {half:.{digits}f}")


def summary_markdown(summary, sweep: SweepConfig, base: TransferConfig) -> str:
    size = f", first {base.target_train_size} target training examples" if base.target_train_size else ""
    lines = [
        f"# Sweep {base.source} -> {base.target}",
        "",
        f"Hidden layers {','.join(map(str, base.hidden_sizes))}, {base.n_epochs} epochs per phase{size}, "
        f"probe {base.probe_size} images, kept-lr-scale {base.kept_lr_scale}, reinit-deeper {base.reinit_deeper}, "
        f"seeds {','.join(map(str, sweep.seeds))}. Mean ± half-width of the 95 % t interval over seeds; "
        "differences are paired by seed (same source network, data and scratch init).",
        "",
        "| arm | threshold | nodes kept | test error % | minus scratch (pp) | jumpstart (pp) | transfer ratio "
        "| rule minus random-reset (pp) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    order = {arm: i for i, arm in enumerate(("scratch", "finetune", "transfer", "freeze", "random-reset"))}
    for (arm, threshold), s in sorted(summary.items(), key=lambda kv: (order[kv[0][0]], kv[0][1] or 0)):
        lines.append(
            f"| {arm} | {'-' if threshold is None else _label(threshold)} | {_fmt(s['fraction_kept'], 2)} | "
            f"{_fmt(s['test_error_pct'])} | {_fmt(s['test_error_minus_scratch_pp'])} | {_fmt(s['jumpstart_pp'])} | "
            f"{_fmt(s['transfer_ratio'], 3)} | {_fmt(s['test_error_minus_random_reset_pp'])} |"
        )
    lines += ["", "Nodes kept: fraction of all hidden nodes whose trained source weights are kept (scratch 0, "
              "finetune 1). Transfer ratio: (AUC_scratch - AUC_arm) / AUC_scratch of the validation-error curve. "
              "Rule minus random-reset: the transfer arm's test error minus that of the random-reset arm of the same "
              "seed and threshold (negative: the activation rule picks better nodes than chance).", ""]
    return "\n".join(lines)


def _csv_cells(row) -> list:
    return ["" if row[k] is None else (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in CSV_COLUMNS]


class Progress:
    """Runs done / total, elapsed and an estimate of the time left, one line per finished run."""

    def __init__(self, total, done, stream=None):
        self.total, self.done, self.stream = total, done, stream
        self.start, self.finished_here = time.perf_counter(), 0

    def step(self, what):
        self.done += 1
        self.finished_here += 1
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.finished_here * (self.total - self.done)
        print(f"[sweep] {self.done}/{self.total} runs done ({what}); elapsed {_clock(elapsed)}, "
              f"about {_clock(left)} left", file=self.stream or sys.stderr, flush=True)


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@contextlib.contextmanager
def _parallel(sweep: SweepConfig):
    """joblib's Parallel on local processes, or on the Dask cluster at --scheduler."""
    import joblib

    if sweep.scheduler is None:
        yield joblib.Parallel(n_jobs=sweep.jobs, return_as="generator_unordered")
        return
    try:
        from dask.distributed import Client

        client = Client(sweep.scheduler, timeout="10s")
    except (OSError, ValueError) as err:
        raise ConfigError(f"--scheduler: cannot reach a Dask scheduler at {sweep.scheduler} ({err})")
    with client, joblib.parallel_config(backend="dask"):
        yield joblib.Parallel(return_as="generator_unordered")


def run_sweep(sweep: SweepConfig, base: TransferConfig, argv=(), out=None) -> dict:
    """Run (or continue) the sweep and write its tables and plot; returns the summary rows."""
    from joblib import delayed

    from . import plots
    from .experiment import load_tasks

    out = out or sys.stdout
    sweep.validate()
    base.validate()
    if sweep.out is None:
        sweep = replace(sweep, out=default_out())
    source, _, _ = load_tasks(base)  # every dataset and flag checked before a worker starts
    shapes = expected_shapes(source.n_in, base.hidden_sizes, source.n_classes)
    state = Sweep(sweep, base)
    seeds, thresholds = sweep.seeds, sweep.thresholds
    with _parallel(sweep) as parallel:
        continuing = state.open(list(argv))
        total = len(seeds) * (1 + len(thresholds))
        done = sum(state.record_path("source", s).is_file() for s in seeds) + sum(
            state.record_path("run", s, t).is_file() for s in seeds for t in thresholds)
        print(f"[sweep] {state.path}: {len(seeds)} seeds x ({len(thresholds)} thresholds + source) = {total} runs, "
              f"arms {', '.join(('transfer', *base.arms))}" + (f"; continuing, {done} already done" if continuing else ""),
              file=sys.stderr, flush=True)
        progress = Progress(total, done)
        todo = [s for s in seeds if not state.record_path("source", s).is_file()]
        for seed, result in parallel(delayed(_tagged)(seed, run_source, state.source_config(seed)) for seed in todo):
            state.files.write_weights(state.source_weights_name(seed), result["weights"])
            state.files.write_json(state.record_name("source", seed), {"results": result["results"]})
            progress.step(f"source, seed {seed}")
        weights = {s: load_weights(state.path / state.source_weights_name(s), shapes) for s in seeds}
        jobs = [(s, t) for s in seeds for t in thresholds if not state.record_path("run", s, t).is_file()]
        calls = (delayed(_tagged)((s, t), run_threshold, state.threshold_config(s, t), weights[s]) for s, t in jobs)
        for (seed, threshold), result in parallel(calls):
            state.files.write_json(state.record_name("run", seed, threshold), result)
            progress.step(f"seed {seed}, threshold {_label(threshold)}")
    rows = state.rows()
    state.files.write_csv("results.csv", CSV_COLUMNS, [_csv_cells(r) for r in rows])
    summary = summarize(rows)
    text = summary_markdown(summary, sweep, base)
    state.files.write_text("summary.md", text)
    plots.sweep_plot(summary, state.path / "sweep.png", f"{base.source} -> {base.target}"
                     + (f", {base.target_train_size} target examples" if base.target_train_size else ""))
    print(text, file=out)
    print(f"sweep directory: {state.path} (results.csv, summary.md, sweep.png)", file=out)
    return {"rows": rows, "summary": summary, "path": str(state.path)}


def default_out() -> str:
    return f"sweeps/{time.strftime('%Y%m%d-%H%M%S')}"


def _tagged(tag, function, *args):
    """A worker call that returns its tag with the result, since results arrive in any order."""
    return tag, function(*args)


def build_parser(prog="python -m transfer_learning.sweep"):
    parser = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="exit status: 0 done, 2 bad input, 3 a run diverged, 130 / 143 stopped by SIGINT / SIGTERM "
                           "(finished runs are kept: run the same command again to continue)")
    add_config_flags(parser, SweepConfig, fields(SweepConfig))
    add_config_flags(parser, TransferConfig, [f for f in fields(TransferConfig) if f.name not in SWEEP_OWNS],
                     defaults={"baselines": SWEEP_BASELINES})
    return parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: stop dispatching, keep what is recorded."""


def _terminate(signum, frame):
    raise _Terminated


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    prog = "python -m transfer_learning.sweep"
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        args = vars(build_parser(prog).parse_args(argv))
        sweep = SweepConfig(**{f.name: args.pop(f.name) for f in fields(SweepConfig)})
        if sweep.out is None:
            sweep = replace(sweep, out=default_out())
            argv = [*argv, "--out", sweep.out]
        run_sweep(sweep, TransferConfig(**args), argv)
    except EXPECTED_ERRORS as err:
        return error_exit(prog, err)
    except KeyboardInterrupt as stop:
        name = "SIGTERM" if isinstance(stop, _Terminated) else "SIGINT"
        print(f"{prog}: stopped by {name}; finished runs are kept. Continue with: {prog} {' '.join(argv)}",
              file=sys.stderr)
        return EXIT_SIGNAL[name]
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
