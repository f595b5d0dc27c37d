"""``python -m transfer_learning.study``: where choosing nodes pays, as a map over target size, network width and
task distance.

A study is a grid of sweeps, one per cell (task pair x width x target size), each with the same replicates, rules,
keep fractions, reference and layer arms and learning-rate grid, and each paired within itself by replicate. The
cells run one after the other into <out>/cells/<cell>/, every one an ordinary sweep (resumable, its own
results.csv, analysis.json and conclusions.md), so the same command continues an interrupted study. Then the
study writes:

- results.csv: every cell's rows, with the cell's pair, width and target size in front;
- study.md: for each pair and width, per target size, each reference arm against scratch, any rule against
  random, and any rule against the cell's best reference, the cells' tests Holm-adjusted across the cells; and
  from which size on each reference stops helping against scratch;
- study.png: the transfer map (test error against target size, one line per reference and per rule at its
  better keep fraction, 95 % bands; beside it the paired advantage of the best rule over random and of the best
  reference over scratch).
"""

import argparse
import io
import json
import sys
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .analysis import mean_error, read_csv, study_tests
from .command import Parser, add_config_flags, as_program, run_as_command, script_name
from .config import STUDY_DEFAULTS, SWEEP_BASELINES, SWEEP_OWNS, StudyConfig, SweepConfig, TransferConfig
from .report import study_markdown
from .rundir import RunDir, make_folder
from .stats import mean_ci
from .vocab import REFERENCES, is_layer_arm

#: Settings a study sets per cell, so they are not its flags.
STUDY_OWNS = ("source", "target", "hidden_sizes", "target_train_size", "target_valid_size")
#: SweepConfig fields the study sets itself (the rest are its flags).
STUDY_SWEEP_OWNS = ("seeds", "data_seeds", "jobs", "scheduler", "out", "run_curves")


@dataclass(frozen=True)
class Cell:
    source: str
    target: str
    widths: tuple
    size: int

    @property
    def pair(self) -> str:
        return f"{self.source}>{self.target}"

    @property
    def width(self) -> str:
        return ",".join(map(str, self.widths))

    @property
    def name(self) -> str:
        """A folder name: mnist0-4-mnist5-9_100-100_n1000."""
        def clean(spec):
            return spec.replace(":", "").replace(",", "+")
        return f"{clean(self.source)}-{clean(self.target)}_{self.width.replace(',', '-')}_n{self.size}"


def cells(study: StudyConfig) -> list[Cell]:
    """Every cell of the grid, pair by pair, width by width, size by size."""
    return [Cell(source, target, widths, size) for source, target in study.pairs for widths in study.widths
            for size in study.sizes]


def cell_configs(study: StudyConfig, sweep: SweepConfig, base: TransferConfig, cell: Cell):
    """The cell's sweep: the study's replicates as seeds (each its own data subsets), the cell's pair, width and
    size, validation a fifth of the size."""
    out = Path(study.out).resolve() / "cells" / cell.name
    cell_sweep = replace(sweep, seeds=tuple(range(1, study.replicates + 1)), data_seeds=None, jobs=study.jobs,
                         scheduler=study.scheduler, out=str(out))
    cell_base = replace(base, source=cell.source, target=cell.target, hidden_sizes=tuple(cell.widths),
                        target_train_size=cell.size, target_valid_size=None)
    return cell_sweep, cell_base


def run_study(study: StudyConfig, sweep: SweepConfig, base: TransferConfig, argv=(), out=None) -> dict:
    """Run (or continue) every cell, then write the study's files."""
    from .sweep import Sweep, run_sweep

    study.validate()
    grid = cells(study)
    make_folder(Path(study.out))
    start = time.perf_counter()
    for k, cell in enumerate(grid, start=1):
        print(f"[study] cell {k}/{len(grid)}: {cell.pair}, {cell.width}, {cell.size} target examples "
              f"(elapsed {_clock(time.perf_counter() - start)})", file=sys.stderr, flush=True)
        cell_sweep, cell_base = cell_configs(study, sweep, base, cell)
        state = Sweep(cell_sweep, cell_base)
        with state.locked():
            state.open(list(argv))  # the cell's sweep.json first: a sweep folder holds nothing before it
        share_sources(study, cell)
        run_sweep(cell_sweep, cell_base, argv, out=io.StringIO())
    return write_outputs(study, out)


def share_sources(study: StudyConfig, cell: Cell) -> None:
    """Give a cell the source networks an earlier cell of the same pair and width trained (a source depends on the
    pair, the width and the seed, not on the target size): the sweep then uses them instead of training them again,
    with the same weights it would have trained (a sweep's source run is deterministic)."""
    import shutil

    root = Path(study.out) / "cells"
    donors = [c for c in cells(study) if (c.source, c.target, c.widths) == (cell.source, cell.target, cell.widths)
              and c != cell and (root / c.name / "sources").is_dir()]
    if not donors:
        return
    donor = root / donors[0].name
    for seed in range(1, study.replicates + 1):
        weights, record = donor / "sources" / f"seed{seed}.npz", donor / "results" / f"source-seed{seed}.json"
        mine = root / cell.name
        if weights.is_file() and record.is_file() and not (mine / "results" / record.name).is_file():
            for folder in ("sources", "results"):
                (mine / folder).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(weights, mine / "sources" / weights.name)
            shutil.copyfile(record, mine / "results" / record.name)


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
    and of the best reference over scratch."""
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
            fraction = min(fractions, key=lambda f, rule=rule: mean_error(rows, "transfer", rule, f))
            entry["lines"].setdefault(rule, []).append(
                (cell.size, *mean_ci(per_replicate("transfer", rule, fraction).values())))
            if rule != "random" and (best_rule is None or mean_error(rows, "transfer", rule, fraction)
                                     < mean_error(rows, "transfer", *best_rule)):
                best_rule = (rule, fraction)
        if best_rule is not None and "random" in analysis["rules"]:
            a, b = per_replicate("transfer", *best_rule), per_replicate("transfer", "random", best_rule[1])
            entry["advantage"].setdefault("best rule minus random", []).append(
                (cell.size, *mean_ci([a[k] - b[k] for k in a if k in b])))
        others = [a for a in references if a != "scratch"]
        if others and "scratch" in references:
            best = min(others, key=lambda a: mean_error(rows, a))
            a, b = per_replicate(best), per_replicate("scratch")
            entry["advantage"].setdefault("best reference minus scratch", []).append(
                (cell.size, *mean_ci([a[k] - b[k] for k in a if k in b])))
    return series


def build_parser(prog="python -m transfer_learning.study"):
    parser = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="exit status: 0 done, 2 bad input, 3 a run diverged, 4 disk full, 130 / 143 stopped by "
                           "SIGINT / SIGTERM (finished runs are kept: run the same command again to continue)")
    add_config_flags(parser, StudyConfig, fields(StudyConfig))
    add_config_flags(parser, SweepConfig, [f for f in fields(SweepConfig) if f.name not in STUDY_SWEEP_OWNS],
                     defaults=STUDY_DEFAULTS)
    add_config_flags(parser, TransferConfig, [f for f in fields(TransferConfig)
                                              if f.name not in SWEEP_OWNS and f.name not in STUDY_OWNS],
                     defaults={"baselines": STUDY_DEFAULTS.get("baselines", SWEEP_BASELINES),
                               "lr_grid": STUDY_DEFAULTS["lr_grid"]})
    return parser


def configs_from_args(args: dict):
    study = StudyConfig(**{f.name: args.pop(f.name) for f in fields(StudyConfig)})
    sweep = SweepConfig(**{f.name: args.pop(f.name) for f in fields(SweepConfig) if f.name in args})
    return study, sweep, TransferConfig(**args)


def main(argv=None) -> int:
    """``python -m transfer_learning.study``; returns the exit status (those of a sweep)."""
    prog = script_name("transfer-study", "python -m transfer_learning.study")

    def body(argv):
        study, sweep, base = configs_from_args(vars(build_parser(prog).parse_args(argv)))
        if study.out is None:
            study = replace(study, out=f"studies/{time.strftime('%Y%m%d-%H%M%S')}")
            argv += ["--out", study.out]
        run_study(study, sweep, base, argv)

    return run_as_command(prog, sys.argv[1:] if argv is None else argv, body)


program = as_program(main)

if __name__ == "__main__":
    raise SystemExit(program())
