"""``python -m transfer_learning.study``: where choosing nodes pays, as a map over target size, network width and
task distance.

A study is a grid of sweeps, one per cell (task pair x width x target size), each with the same replicates, rules,
keep fractions, reference and layer arms and learning-rate grid, and each paired within itself by replicate. The
cells run one after the other into <out>/cells/<cell>/, every one an ordinary sweep (resumable, its own
results.csv, analysis.json and conclusions.md), so the same command continues an interrupted study. Then the
study writes:

- results.csv: every cell's rows, with the cell's pair, width and target size in front;
- study.md: for each pair and width, per target size, each reference arm against scratch, any rule against
  random, and any rule against the cell's best reference (chosen by validation error), the cells' tests
  Holm-adjusted across the cells; and from which size on each reference stops helping against scratch;
- study.png: the transfer map (test error against target size, one line per reference and per rule at its
  better keep fraction by validation error, 95 % bands; beside it the paired advantage of the best rule over
  random and of the best reference over scratch).

The two-stage study (--stage tune, then --stage confirm: stages.py) tunes on some replicates and confirms on
fresh ones, with a primary analysis declared before the data; docs/sweeps.md, "Two stages".
"""

import argparse
import json
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

from .analysis import CHOICE_COLUMN, best_reference, mean_error, read_csv, study_tests
from .cells import Cell, cell_configs, cells, run_cell, share_sources  # noqa: F401  (study.Cell: the tests' name)
from .command import Parser, add_config_flags, as_program, run_as_command, script_name
from .config import (
    STAGE_DEFAULTS,
    STUDY_DEFAULTS,
    SWEEP_BASELINES,
    SWEEP_OWNS,
    StudyConfig,
    SweepConfig,
    TransferConfig,
)
from .report import study_markdown
from .rundir import RunDir, make_folder
from .stats import mean_ci
from .vocab import REFERENCES, is_layer_arm

#: Settings a study sets per cell, so they are not its flags.
STUDY_OWNS = ("source", "target", "hidden_sizes", "target_train_size", "target_valid_size", "arm_settings",
              "tune_knobs", "protocol")
#: SweepConfig fields the study sets itself (the rest are its flags).
STUDY_SWEEP_OWNS = ("seeds", "data_seeds", "jobs", "scheduler", "out", "run_curves")


def run_study(study: StudyConfig, sweep: SweepConfig, base: TransferConfig, argv=(), out=None) -> dict:
    """Run (or continue) every cell, then write the study's files."""
    study.validate()
    grid = cells(study)
    make_folder(Path(study.out))
    start = time.perf_counter()
    for k, cell in enumerate(grid, start=1):
        print(f"[study] cell {k}/{len(grid)}: {cell.pair}, {cell.width}, {cell.size} target examples "
              f"(elapsed {_clock(time.perf_counter() - start)})", file=sys.stderr, flush=True)
        cell_sweep, cell_base = cell_configs(study, sweep, base, cell)
        run_cell(cell_sweep, cell_base, argv, cell, grid)
    return write_outputs(study, out)


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def collect(study: StudyConfig) -> list:
    """[(cell, its rows, its analysis)] for every cell whose sweep has finished."""
    found = []
    for cell in cells(study):
        folder = Path(study.out) / "cells" / cell.name
        if (folder / "analysis.json").is_file():
            found.append((cell, read_csv(folder / "results.csv"), json.loads((folder / "analysis.json").read_text())))
    return found


STUDY_COLUMNS = ["pair", "width", "target_size"]


def write_outputs(study: StudyConfig, out=None) -> dict:
    from . import plots
    from .sweep import CSV_COLUMNS

    found = collect(study)
    files = RunDir(Path(study.out))
    rows = []
    for cell, cell_rows, _ in found:
        for r in cell_rows:
            rows.append([cell.pair, cell.width, cell.size,
                         *["" if r.get(k) is None else (f"{r[k]:.6g}" if isinstance(r[k], float) else r[k])
                           for k in CSV_COLUMNS]])
    files.write_csv("results.csv", STUDY_COLUMNS + CSV_COLUMNS, rows)
    tests = study_tests(found)
    text = study_markdown(study, tests)
    files.write_text("study.md", text)
    plots.study_plot(map_series(study, found), Path(study.out) / "study.png")
    print(text, file=out or sys.stdout)
    return {"tests": tests, "cells": [c for c, _, _ in found]}


def map_series(study: StudyConfig, found) -> dict:
    """{(pair, width): {"lines": {name: [(size, mean, half)]}, "advantage": {name: [(size, mean, half)]}}} for the
    map: each reference, each rule at its better keep fraction; the paired advantage of the best rule over random
    and of the best reference over scratch. "Better" and "best" are chosen on validation error (CHOICE_COLUMN)."""
    series = {}
    for cell, rows, analysis in found:
        entry = series.setdefault((cell.pair, cell.width), {"lines": {}, "advantage": {}})

        def per_replicate(arm, rule=None, fraction=None, rows=rows):
            return {(r["seed"], r["data_seed"]): r["test_error_pct"] for r in rows if r["arm"] == arm
                    and r.get("rule") == rule and r.get("keep_fraction") == fraction
                    and r.get("reinit_deeper") in (None, 0)}

        references = [a for a in REFERENCES if a in analysis["references"]]
        for arm in [*references, *sorted({r["arm"] for r in rows if is_layer_arm(r["arm"])})]:
            entry["lines"].setdefault(arm, []).append((cell.size, *mean_ci(per_replicate(arm).values())))
        fractions = sorted({r["keep_fraction"] for r in rows if r.get("keep_fraction") is not None})
        best_rule = None
        for rule in analysis["rules"]:
            fraction = min(fractions, key=lambda f, rule=rule: mean_error(rows, "transfer", rule, f,
                                                                          column=CHOICE_COLUMN))
            entry["lines"].setdefault(rule, []).append(
                (cell.size, *mean_ci(per_replicate("transfer", rule, fraction).values())))
            if rule != "random" and (best_rule is None or mean_error(rows, "transfer", rule, fraction,
                                                                     column=CHOICE_COLUMN)
                                     < mean_error(rows, "transfer", *best_rule, column=CHOICE_COLUMN)):
                best_rule = (rule, fraction)
        if best_rule is not None and "random" in analysis["rules"]:
            a, b = per_replicate("transfer", *best_rule), per_replicate("transfer", "random", best_rule[1])
            entry["advantage"].setdefault("best rule minus random", []).append(
                (cell.size, *mean_ci([a[k] - b[k] for k in a if k in b])))
        others = [a for a in references if a != "scratch"]
        if others and "scratch" in references:
            best = best_reference(rows, others)
            a, b = per_replicate(best), per_replicate("scratch")
            entry["advantage"].setdefault("best reference minus scratch", []).append(
                (cell.size, *mean_ci([a[k] - b[k] for k in a if k in b])))
    return series


def build_parser(prog="python -m transfer_learning.study", staged=False):
    """The study's flags; ``staged`` (--stage given) makes the two-stage study's arms the defaults."""
    defaults = {**STUDY_DEFAULTS, **(STAGE_DEFAULTS if staged else {})}
    parser = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="exit status: 0 done, 2 bad input, 3 a run diverged, 4 disk full, 130 / 143 stopped by "
                           "SIGINT / SIGTERM (finished runs are kept: run the same command again to continue). With "
                           "--stage, --rules defaults to " + STAGE_DEFAULTS["rules"] + " and --baselines to "
                           + STAGE_DEFAULTS["baselines"] + ".")
    add_config_flags(parser, StudyConfig, fields(StudyConfig))
    add_config_flags(parser, SweepConfig, [f for f in fields(SweepConfig) if f.name not in STUDY_SWEEP_OWNS],
                     defaults=defaults)
    add_config_flags(parser, TransferConfig, [f for f in fields(TransferConfig)
                                              if f.name not in SWEEP_OWNS and f.name not in STUDY_OWNS],
                     defaults={"baselines": defaults.get("baselines", SWEEP_BASELINES),
                               "lr_grid": defaults["lr_grid"]})
    return parser


def _staged(argv) -> bool:
    """Whether the command line names a stage (before the parser runs, to choose its defaults)."""
    return any(a == "--stage" or a.startswith("--stage=") for a in argv)


def configs_from_args(args: dict):
    study = StudyConfig(**{f.name: args.pop(f.name) for f in fields(StudyConfig)})
    sweep = SweepConfig(**{f.name: args.pop(f.name) for f in fields(SweepConfig) if f.name in args})
    return study, sweep, TransferConfig(**args)


def main(argv=None) -> int:
    """``python -m transfer_learning.study``; returns the exit status (those of a sweep)."""
    prog = script_name("transfer-study", "python -m transfer_learning.study")

    def body(argv):
        study, sweep, base = configs_from_args(vars(build_parser(prog, _staged(argv)).parse_args(argv)))
        if study.out is None:
            study = replace(study, out=f"studies/{time.strftime('%Y%m%d-%H%M%S')}")
            argv += ["--out", study.out]
        if study.stage is None:
            run_study(study, sweep, base, argv)
            return
        from . import stages

        {"tune": stages.run_tune, "plan": stages.run_plan, "confirm": stages.run_confirm}[study.stage](
            study, sweep, base, argv)

    return run_as_command(prog, sys.argv[1:] if argv is None else argv, body)


program = as_program(main)

if __name__ == "__main__":
    raise SystemExit(program())
