"""``python -m transfer_learning.sweep``: rules x (thresholds or keep fractions) x seeds x arms for one pair.

Per seed, the source network is trained once (a "source run"); then each (rule, threshold or keep
fraction) is one run of the ordinary transfer experiment from those source weights. The seed's first
run also trains the selection-free arms (scratch, finetune, shrink-perturb); freeze and random-reset
depend on the kept nodes and are trained in every run. So a (seed, rule, selection) result here is bit
for bit the one ``mlp_transfer.py --seed S --rule R --threshold T`` (or ``--keep-fraction F``) gives,
and all arms and rules of a seed are paired: same source network, probe, data and scratch init.

Runs go to joblib worker processes, or with --scheduler to a Dask distributed cluster. A worker
keeps its compiled graphs and datasets from run to run (workspace.py), so a run costs its training,
not its set-up. Each finished run is recorded under results/ at once; started again with the same
--out, a sweep skips what is recorded and resumes interrupted runs from their checkpoints.

Writes results.csv (one row per seed x rule x selection x arm, with paired differences), summary.md
(means and 95 % intervals over seeds; with several rules, each rule against random selection,
finetune and shrink-perturb, Holm-adjusted) and sweep.png.
"""

import argparse
import contextlib
import json
import sys
import time
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np

from . import blas
from .analysis import analyze, read_csv
from .checkpoint import drop_checkpoints
from .cluster import ClusterRunner, LocalRunner
from .command import (
    Parser,
    RunsFailed,
    add_config_flags,
    as_program,
    run_as_command,
    script_name,
)
from .config import SWEEP_BASELINES, SWEEP_OWNS, SweepConfig, TransferConfig, flag, flag_value
from .report import conclusions_markdown, summary_markdown, value_label
from .rundir import RunDir, make_folder
from .stats import mean_ci
from .vocab import PER_SELECTION, SELECTION_FREE, ConfigError, DataError, difference_column
from .weights import expected_shapes, load_weights

#: A transfer row's test error minus that of its random-reset arm, of the random rule, and of each reference.
PAIRED_COLUMNS = [difference_column("random-reset"), difference_column("random-rule"),
                  *(difference_column(arm) for arm in SELECTION_FREE if arm != "scratch")]
CSV_COLUMNS = ["seed", "data_seed", "rule", "threshold", "keep_fraction", "reinit_deeper", "arm", "selection_digest",
               "fraction_kept", "kept_layers", "learning_rate", "best_epoch", "test_error_pct",
               "best_validation_error_pct", "first_epoch_validation_error_pct", "auc", "epochs_run",
               "source_retention_after_pct", difference_column("scratch"), "jumpstart_pp", "transfer_ratio",
               *PAIRED_COLUMNS, "ran_on"]
#: The columns of a sweep whose runs set pools aside (--valid-pool), after the others: test_error_pct is then over
#: the official test split and the extra test pool (test_size images), test_error_official_pct the official split's.
POOL_COLUMNS = ["valid_pool_error_pct", "test_error_official_pct", "test_size"]


def csv_columns(rows) -> list:
    """CSV_COLUMNS, POOL_COLUMNS where the runs had pools, and "diverged" where an arm's phase was ended by
    --if-diverged keep-best (so a sweep without them writes what it always did)."""
    return (CSV_COLUMNS + (POOL_COLUMNS if any("test_size" in r for r in rows) else [])
            + (["diverged"] if any(r.get("diverged") for r in rows) else []))


def _quiet(out: Path):
    """Send a run's stdout and stderr to its own log file, <out>.log, so parallel runs do not interleave (the name
    whole: seed1-t0.5's suffix is not .5, or seed1-t0 and seed1-t0.5 would share seed1-t0.log)."""
    stack = contextlib.ExitStack()
    log = stack.enter_context(open(out.parent / f"{out.name}.log", "a"))
    stack.enter_context(contextlib.redirect_stdout(log))
    stack.enter_context(contextlib.redirect_stderr(log))
    return stack


def where_am_i() -> str:
    """The Dask worker's address when running on one, else "local"."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "local"


def run_source(cfg: TransferConfig, draw_curves: bool = False) -> dict:
    """Train one seed's source network (a --no-transfer run) and return its weights as arrays."""
    from .experiment import run_transfer
    from .workspace import worker_workspace

    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _quiet(out):
        resume = (out / "config.json").is_file()
        result = run_transfer(cfg, resume=resume, workspace=worker_workspace(), draw_curves=draw_curves)
    with np.load(Path(result["run_dir"]) / "weights_source.npz") as saved:
        return {"weights": {k: saved[k] for k in saved.files}, "results": result, "ran_on": where_am_i()}


def run_selection(cfg: TransferConfig, source_weights: dict, draw_curves: bool = False) -> dict:
    """One (seed, rule, threshold or keep fraction) run from the seed's source weights, which travel with the call."""
    from .experiment import run_transfer
    from .workspace import worker_workspace

    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _quiet(out):
        done = out / "results.json"
        if done.is_file():  # finished before the driver could record it
            result = json.loads(done.read_text())
        else:
            result = run_transfer(cfg, resume=(out / "config.json").is_file(), workspace=worker_workspace(),
                                  source_arrays=source_weights, draw_curves=draw_curves)
    return {"results": result, "ran_on": where_am_i()}


def run_name(replicate, rule, kind, value, reinit_deeper=False) -> str:
    """seed1-t0.4 for the 2015 rule at a threshold; seed1-redo-f0.25 for another rule at a keep fraction;
    seed1-data3-... when data seeds are crossed with seeds; ...-deeper with --reinit-deeper."""
    seed, data_seed = replicate
    letter = "t" if kind == "threshold" else "f"
    return (f"seed{seed}" + ("" if data_seed == seed else f"-data{data_seed}")
            + ("" if rule == "mean-abs" else f"-{rule}") + f"-{letter}{value_label(value)}"
            + ("-deeper" if reinit_deeper else ""))


class Sweep:
    """The sweep directory: its plan, what is recorded as done, and the tables and plot made from it."""

    def __init__(self, sweep: SweepConfig, base: TransferConfig):
        self.sweep, self.base = sweep, base
        self.path = Path(sweep.out)
        self.files = RunDir(self.path)  # atomic writes, as for a run directory
        self.grid = [(rule, kind, value, deeper) for deeper in sweep.reinit_deeper for rule in sweep.rule_names
                     for kind, value in sweep.selections]

    def source_config(self, seed):
        return replace(self.base, seed=seed, no_transfer=True, out=str(self.path.resolve() / "sources" / f"seed{seed}"))

    def run_config(self, replicate, rule, kind, value, deeper):
        seed, data_seed = replicate
        first = (rule, kind, value, deeper) == self.grid[0]
        arms = self.base.arms if first else tuple(a for a in self.base.arms if a in PER_SELECTION)
        return replace(self.base, seed=seed, data_seed=data_seed, rule=rule,
                       threshold=value if kind == "threshold" else None,
                       keep_fraction=value if kind == "keep_fraction" else None, reinit_deeper=deeper,
                       baselines=",".join(arms) or "none",
                       source_weights=str(self.path.resolve() / self.source_weights_name(seed)),
                       out=str(self.path.resolve() / "runs" / run_name(replicate, rule, kind, value, deeper)))

    def record_name(self, seed, run=None):
        """results/source-seed1.json for a source run (``seed`` an int); results/<run name>.json for a run of
        the grid (``seed`` a replicate, (seed, data seed))."""
        return f"results/{'source-seed' + str(seed) if run is None else run_name(seed, *run)}.json"

    def record_path(self, seed, run=None):
        return self.path / self.record_name(seed, run)

    def source_weights_name(self, seed):
        return f"sources/seed{seed}.npz"

    def settings(self) -> dict:
        sweep = {k: v for k, v in asdict(self.sweep).items() if k not in ("jobs", "scheduler", "out", "run_curves")}
        return {"sweep": sweep, "base": asdict(self.base)}

    @contextlib.contextmanager
    def locked(self):
        """Hold the sweep directory for this process: a second sweep on the same --out is refused at once.

        An advisory lock (flock) on <out>/.lock: the kernel drops it when the holder exits, however it
        exits, so a crashed sweep never leaves the directory stuck.
        """
        import fcntl
        import os

        make_folder(self.path)
        lock = open(self.path / ".lock", "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise ConfigError(f"--out: {self.path} is in use by another sweep ({holder}); wait for it to finish, "
                              "or choose another --out") from err
        try:
            lock.seek(0)
            lock.truncate()
            lock.write(f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
            lock.flush()
            yield
        finally:
            lock.close()  # releases the lock

    def open(self, argv):
        """Create the sweep directory, or check that an existing one was made with the same settings."""
        settings = self.settings()
        saved = self.path / "sweep.json"
        if saved.is_file():
            try:
                before = json.loads(saved.read_text())
            except ValueError as err:
                raise DataError(f"{saved}: not a readable sweep record ({err})") from err
            changed = _other_settings(json.loads(json.dumps(settings)), before.get("settings"))
            if changed:
                raise ConfigError(f"--out: {self.path} holds a sweep with other settings ({'; '.join(changed[:3])}"
                                  f"{'; ...' if len(changed) > 3 else ''}); choose another --out, or give the same")
            other_kernel = blas.differs(before.get("arithmetic"))
            if other_kernel:
                print(f"[sweep] warning: another BLAS kernel than when this sweep started ({other_kernel}); it "
                      "continues, and each run's config.json records its own", file=sys.stderr, flush=True)
            return True
        if self.path.exists() and any(p.name != ".lock" for p in self.path.iterdir()):
            raise ConfigError(f"--out: {self.path} already exists, is not empty and holds no sweep.json")
        for folder in ("results", "sources"):
            (self.path / folder).mkdir(parents=True, exist_ok=True)
        self.files.write_json("sweep.json", {"settings": settings, "argv": argv, "arithmetic": blas.facts()})
        return False

    def rows(self):
        """One row per replicate x rule x selection x arm from the recorded runs, with paired differences."""
        rows = []
        hidden = sum(self.base.hidden_sizes)
        for replicate in self.sweep.replicates:
            for run in self.grid:
                rule, kind, value, deeper = run
                path = self.record_path(replicate, run)
                if not path.is_file():
                    continue
                record = json.loads(path.read_text())
                results = record["results"]
                fraction = sum(results["nodes_kept"]) / hidden
                for arm, m in results["arms"].items():
                    per_selection = arm in PER_SELECTION
                    if not per_selection and run != self.grid[0]:
                        continue
                    rows.append({
                        "seed": replicate[0],
                        "data_seed": replicate[1],
                        "rule": rule if per_selection else None,
                        "threshold": value if per_selection and kind == "threshold" else None,
                        "keep_fraction": value if per_selection and kind == "keep_fraction" else None,
                        "reinit_deeper": (int(deeper) if per_selection else None),
                        "arm": arm,
                        "selection_digest": results.get("selection_digest") if arm == "transfer" else None,
                        "fraction_kept": fraction if per_selection else m.get("fraction_kept",
                                                                                  {"scratch": 0.0}.get(arm, 1.0)),
                        "kept_layers": ",".join(map(str, m["kept_layers"])) if m.get("kept_layers") else None,
                        "learning_rate": m.get("learning_rate", self.base.learning_rate),
                        "best_epoch": m.get("best_epoch"),
                        "test_error_pct": m["test_error"] * 100,
                        "best_validation_error_pct": m["best_validation_error"] * 100,
                        "first_epoch_validation_error_pct":
                            m["validation_curve"][0] * 100 if m["validation_curve"] else None,
                        "auc": m["auc"] * 100,
                        "epochs_run": m["epochs_run"],
                        "source_retention_after_pct": m["source_retention_after"] * 100,
                        "ran_on": record.get("ran_on", "local"),
                        **_pool_cells(m),
                        **({"diverged": m["diverged"]} if m.get("diverged") else {}),
                    })
        _paired_differences(rows)
        return rows


def _pool_cells(metrics) -> dict:
    """The POOL_COLUMNS of an arm's row, where its run had pools."""
    if "valid_pool_error" not in metrics:
        return {}
    official = metrics.get("test_error_official", metrics["test_error"])
    return {"valid_pool_error_pct": metrics["valid_pool_error"] * 100, "test_error_official_pct": official * 100,
            "test_size": metrics.get("test_size")}


#: What a sweep recorded before a setting existed ran as, where that is not the setting's default today: the
#: fused kernels became the default after --kernels was added, so a record without it ran unfused; and oneDNN's
#: products after --gemm was.
BEFORE_RECORDED = {"kernels": "unfused", "gemm": "openblas"}
#: Settings a continued sweep may change, from the first value to the second: every run recorded under --if-diverged
#: stop ended without diverging, so it is the run keep-best would have recorded (the other way is refused: a run kept
#: after diverging is one stop would not have recorded)
LOOSENED_ON_CONTINUE = {"if_diverged": ("stop", "keep-best")}


def _other_settings(now, before) -> list[str]:
    """The settings that differ, as 'FLAG THEN then, NOW now', where fields added since the sweep was started still
    have the value the code then used (their defaults, but for BEFORE_RECORDED); an unreadable record differs whole."""
    if not isinstance(before, dict):
        return ["the record sweep.json holds no settings"]
    defaults = json.loads(json.dumps({"sweep": asdict(SweepConfig()), "base": asdict(TransferConfig())}))
    changed = []
    for part in ("sweep", "base"):
        old = before.get(part, {})
        for key, value in now[part].items():
            then = old.get(key, BEFORE_RECORDED.get(key, defaults[part].get(key)))
            if then != value and LOOSENED_ON_CONTINUE.get(key) != (then, value):
                changed.append(f"{flag(key)} {flag_value(then)} then, {flag_value(value)} now")
    return changed



def replicate_of(row) -> tuple:
    """(seed, data seed): what pairs rows."""
    return row["seed"], row["data_seed"]


def _paired_differences(rows):
    """Each row's test error minus that of its pairs, all of the same replicate: the selection-free arms
    (scratch, finetune, shrink-perturb, linear-probe, lp-ft, l2-sp), its random-reset arm (same rule, selection
    and reinit-deeper), and the random rule's transfer arm (same selection and reinit-deeper)."""
    by_arm = {(replicate_of(r), r["arm"]): r for r in rows if r["arm"] not in PER_SELECTION}
    random_reset = {(replicate_of(r), r["rule"], r["threshold"], r["keep_fraction"], r["reinit_deeper"]): r
                    for r in rows if r["arm"] == "random-reset"}
    random_rule = {(replicate_of(r), r["threshold"], r["keep_fraction"], r["reinit_deeper"]): r
                   for r in rows if r["arm"] == "transfer" and r["rule"] == "random"}
    for r in rows:
        s = by_arm.get((replicate_of(r), "scratch"))
        r["test_error_minus_scratch_pp"] = r["test_error_pct"] - s["test_error_pct"] if s else None
        r["jumpstart_pp"] = (r["first_epoch_validation_error_pct"] - s["first_epoch_validation_error_pct"]
                             if s and r["first_epoch_validation_error_pct"] is not None else None)
        r["transfer_ratio"] = (s["auc"] - r["auc"]) / s["auc"] if s and s["auc"] else None
        transfer = r["arm"] == "transfer"
        at = (r["threshold"], r["keep_fraction"], r["reinit_deeper"])
        pairs = {
            "test_error_minus_random_reset_pp":
                random_reset.get((replicate_of(r), r["rule"], *at)) if transfer else None,
            "test_error_minus_random_rule_pp": random_rule.get((replicate_of(r), *at)) if transfer else None,
            **{difference_column(arm): by_arm.get((replicate_of(r), arm)) if transfer else None
               for arm in SELECTION_FREE if arm != "scratch"},
        }
        for key, other in pairs.items():
            r[key] = r["test_error_pct"] - other["test_error_pct"] if other else None


def _selection_of(row):
    if row["keep_fraction"] is not None:
        return ("keep_fraction", row["keep_fraction"])
    if row["threshold"] is not None:
        return ("threshold", row["threshold"])
    return None


METRICS = ("fraction_kept", "test_error_pct", difference_column("scratch"), "jumpstart_pp", "transfer_ratio", "auc",
           *PAIRED_COLUMNS, "best_epoch", "learning_rate")


def rule_label(row):
    """The rule as tables and plots name it: with " +deeper" where the weights leaving reset nodes were re-drawn."""
    if row["rule"] is None:
        return None
    return row["rule"] + (" +deeper" if row.get("reinit_deeper") == 1 else "")


def summarize(rows) -> dict:
    """Per (arm, rule, selection), the mean and 95 % interval over replicates of each metric, and the values."""
    groups = {}
    for r in rows:
        groups.setdefault((r["arm"], rule_label(r), _selection_of(r)), []).append(r)
    out = {}
    for key, members in groups.items():
        out[key] = {"n_seeds": len(members), **{m: mean_ci([row[m] for row in members]) for m in METRICS},
                    "values": {m: [row[m] for row in members] for m in METRICS}}
    return out


def csv_cells(row, columns) -> list:
    return ["" if row.get(k) is None else (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k])
            for k in columns]


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


def run_sweep(sweep: SweepConfig, base: TransferConfig, argv=(), out=None, prog="transfer-sweep") -> dict:
    """Run (or continue) the sweep and write its tables and plot; returns the summary rows."""

    from .experiment import load_tasks
    from .workspace import worker_workspace

    out = out or sys.stdout
    sweep.validate()
    base.validate()
    if sweep.out is None:
        sweep = replace(sweep, out=default_out())
    # every dataset and flag checked before a worker starts; with --jobs 1 the runs reuse this read
    source, _, _ = load_tasks(base, worker_workspace().datasets)
    shapes = expected_shapes(source.n_in, base.hidden_sizes, source.n_classes)
    state = Sweep(sweep, base)
    seeds, grid = sweep.seeds, state.grid
    runner = LocalRunner(sweep.jobs) if sweep.scheduler is None else ClusterRunner(sweep.scheduler, base, state.path)
    with runner, state.locked():
        continuing = state.open(list(argv))
        replicates = sweep.replicates
        total = len(seeds) + len(replicates) * len(grid)
        done = sum(state.record_path(s).is_file() for s in seeds) + sum(
            state.record_path(r, run).is_file() for r in replicates for run in grid)
        crossed = "" if sweep.data_seeds is None else f" x {len(sweep.data_seeds)} data seeds"
        print(f"[sweep] {state.path}: {len(seeds)} seeds{crossed} x {len(grid)} rule/selection runs + {len(seeds)} "
              f"source runs = {total} runs, arms {', '.join(('transfer', *base.arms))}, each up to {base.n_epochs} "
              f"epochs a phase{f' at each of {len(base.lr_grid)} learning rates' if base.lr_grid else ''}, "
              f"on {runner.where}"
              + (f"; continuing, {done} already done" if continuing else ""), file=sys.stderr, flush=True)
        progress = Progress(total, done)
        todo = [s for s in seeds if not state.record_path(s).is_file()]
        tasks = ((seed, run_source, (state.source_config(seed), sweep.run_curves)) for seed in todo)
        for seed, result in runner.run(tasks):
            state.files.write_weights(state.source_weights_name(seed), result["weights"])
            state.files.write_json(state.record_name(seed), {"results": result["results"], "ran_on": result["ran_on"]})
            drop_checkpoints(state.source_config(seed).out)
            progress.step(f"source, seed {seed}")
        ready = [s for s in seeds if state.record_path(s).is_file()]
        weights = {s: load_weights(state.path / state.source_weights_name(s), shapes) for s in ready}
        jobs = [(r, run) for r in replicates if r[0] in weights for run in grid
                if not state.record_path(r, run).is_file()]
        tasks = (((r, run), run_selection, (state.run_config(r, *run), weights[r[0]], sweep.run_curves))
                 for r, run in jobs)
        for (replicate, run), result in runner.run(tasks):
            state.files.write_json(state.record_name(replicate, run), result)
            drop_checkpoints(state.run_config(replicate, *run).out)
            rule, kind, value, deeper = run
            progress.step(f"seed {replicate[0]}" + ("" if sweep.data_seeds is None else f", data {replicate[1]}")
                          + ", " + ("" if len(sweep.rule_names) == 1 else f"{rule}, ")
                          + f"{'threshold' if kind == 'threshold' else 'keep fraction'} {value_label(value)}"
                          + (", reinit-deeper" if deeper else ""))
    if runner.failures:
        write_outputs(state, out)
        raise RunsFailed(runner.failures)
    return write_outputs(state, out)


def write_outputs(state: "Sweep", out=None) -> dict:
    """results.csv, analysis.json, conclusions.md, summary.md and sweep.png from the recorded runs.

    The analysis reads results.csv back, so that it is computed from exactly the numbers the file holds."""
    from . import plots

    sweep, base = state.sweep, state.base
    rows = state.rows()
    columns = csv_columns(rows)
    state.files.write_csv("results.csv", columns, [csv_cells(r, columns) for r in rows])
    title = sweep_title(base)
    analysis = {"title": title, **analyze(read_csv(state.path / "results.csv"), sweep.equivalence_margin)}
    state.files.write_json("analysis.json", analysis)
    state.files.write_text("conclusions.md", conclusions_markdown(analysis))
    summary = summarize(rows)
    started = json.loads((state.path / "sweep.json").read_text()).get("arithmetic")
    text = summary_markdown(summary, sweep, base, analysis, rows, arithmetic=started)
    state.files.write_text("summary.md", text)
    plots.sweep_plot(summary, state.path / "sweep.png", title)
    print(text, file=out or sys.stdout)
    print(f"sweep directory: {state.path} (results.csv, summary.md, analysis.json, conclusions.md, sweep.png)",
          file=out or sys.stdout)
    return {"rows": rows, "summary": summary, "analysis": analysis, "path": str(state.path)}


def sweep_title(base: TransferConfig) -> str:
    return (f"{base.source} -> {base.target}, {base.activation}"
            + (f", {base.target_train_size} target examples" if base.target_train_size else ""))


def default_out() -> str:
    return f"sweeps/{time.strftime('%Y%m%d-%H%M%S')}"


def build_parser(prog="python -m transfer_learning.sweep"):
    parser = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="exit status: 0 done, 2 bad input, 3 a run diverged, 4 disk full, 5 runs failed on the "
                           "cluster, 130 / 143 stopped by SIGINT / SIGTERM (finished runs are kept: run the same "
                           "command again to continue)")
    add_config_flags(parser, SweepConfig, fields(SweepConfig))
    add_config_flags(parser, TransferConfig, [f for f in fields(TransferConfig) if f.name not in SWEEP_OWNS],
                     defaults={"baselines": SWEEP_BASELINES})
    return parser


def main(argv=None) -> int:
    """``python -m transfer_learning.sweep`` and the console script ``transfer-sweep``; returns the exit status."""
    prog = script_name("transfer-sweep", "python -m transfer_learning.sweep")

    def body(argv):
        args = vars(build_parser(prog).parse_args(argv))
        sweep = SweepConfig(**{f.name: args.pop(f.name) for f in fields(SweepConfig)})
        if sweep.out is None:
            sweep = replace(sweep, out=default_out())
            argv += ["--out", sweep.out]
        run_sweep(sweep, TransferConfig(**args), argv, prog=prog)

    return run_as_command(prog, sys.argv[1:] if argv is None else argv, body)


#: ``transfer-sweep`` and ``python -m transfer_learning.sweep``: main() as the process's program.
program = as_program(main)


if __name__ == "__main__":
    raise SystemExit(program())
