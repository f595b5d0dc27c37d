"""``transfer-study --stage tune`` and ``--stage confirm``: the two-stage study, tuned on some replicates and
confirmed on fresh ones.

- **tune** runs every cell's sweep on the tuning replicates (seeds 1001..), each arm at every learning rate of
  --lr-grid and every value of its own knob (tuning.py), with pools set aside per task (pools.py). It writes
  <out>/tuned.json: per cell and arm, every candidate's mean validation-pool error over the tuning replicates, the
  chosen candidate (the lowest; ties to the earlier), and the grid edges it sits on.
- **plan** prints, from tuned.json, what the confirmation's --replicates would let the primary tests detect (and how
  many replicates TOST at the margin would need), writing nothing.
- **confirm** checks that tuned.json was made with this design, writes <out>/hypotheses.json before its first run
  (the primary family, its adjustment, the power calculation from the tuning replicates), then trains each arm
  once, at its tuned settings, on fresh replicates (seeds 2001..), every run's config.json naming both files'
  digests. Then it writes results.csv, primary.json, primary.md and primary.png (primary.py) and the score signal.

Both stages continue where they stopped when run again with the same command, as a study does, and both log to
<out>/study.log.
"""

import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from . import tuning
from .cells import Cell, cell_configs, cells, run_cell
from .config import STAGE_POOLS, StudyConfig, SweepConfig, TransferConfig
from .rundir import RunDir, file_digest, make_folder
from .vocab import PER_SELECTION, ConfigError, DataError

#: What tuned.json says of its choice, and hypotheses.json of what makes a claim firm.
CHOICE_RULE = ("per cell and arm, the candidate (learning rate and the arm's own knob) of the lowest mean "
               "validation-pool error over the tuning replicates; ties to the earlier candidate of the grid")
FIRM_RULE = ("Holm-adjusted p < 0.01, and the tuning replicates (other seeds, other images: the validation pool, at "
             "the tuned settings) give the pooled difference the same sign")


def with_pools(base: TransferConfig) -> TransferConfig:
    """The stages' base: pools set aside (STAGE_POOLS where --valid-pool is not given)."""
    return base if base.valid_pool is not None else replace(base, **STAGE_POOLS)


def design(study: StudyConfig, sweep: SweepConfig, base: TransferConfig) -> dict:
    """What a tuned.json is valid for: the grid, the arms, the pools and every training setting (not the replicate
    counts of confirm, the cells it cuts, the workers or the folder, nor --if-diverged, which each stage sets: tune's
    lr grid counts a diverged rate as lost, confirm keeps the best weights before it)."""
    grid = {k: v for k, v in asdict(study).items() if k not in ("stage", "replicates", "jobs", "scheduler", "out",
                                                                  "primary_sizes", "primary_rules", "cut_cells")}
    settings = {k: v for k, v in asdict(sweep).items() if k not in ("seeds", "data_seeds", "jobs", "scheduler", "out",
                                                                     "run_curves", "equivalence_margin")}
    training = {k: v for k, v in asdict(with_pools(base)).items() if k not in ("arm_settings", "tune_knobs",
                                                                              "lr_grid", "protocol", "out",
                                                                              "if_diverged")}
    return json.loads(json.dumps({"study": grid, "sweep": settings, "base": training, "lr_grid": base.lr_grid,
                                  "knobs": tuning.KNOBS, "tune_seeds": list(study.tune_seeds)}))


def _stage_cell(study, sweep, base, cell: Cell, stage: str, seeds) -> tuple:
    cell_sweep, cell_base = cell_configs(study, sweep, with_pools(base), cell)
    out = Path(study.out).resolve() / stage / "cells" / cell.name
    return replace(cell_sweep, seeds=seeds, out=str(out)), cell_base


def _log(study: StudyConfig, message: str) -> None:
    """A line on stderr and in <out>/study.log (bench/study_wall_time.py reads the log)."""
    line = f"[study] {time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
    print(line, file=sys.stderr, flush=True)
    with open(Path(study.out) / "study.log", "a") as log:
        log.write(line + "\n")


def _run_cells(study, stage, configs, argv) -> None:
    grid = cells(study)
    start = time.perf_counter()
    _log(study, f"{stage}: start, {len(grid)} cells")
    for k, cell in enumerate(grid, start=1):
        cell_sweep, cell_base = configs(cell)
        _log(study, f"{stage}: cell {k}/{len(grid)} {cell.name} (elapsed {time.perf_counter() - start:.0f} s)")
        run_cell(cell_sweep, cell_base, argv, cell, grid)
    _log(study, f"{stage}: done, wall time {time.perf_counter() - start:.0f} s")


def staged(study: StudyConfig, base: TransferConfig) -> StudyConfig:
    """The study as the stages run it: the activation is a dimension of every cell (--activations, else
    --activation), so that every cell folder and table names it."""
    return study if study.activations else replace(study, activations=(base.activation,))


def _check_stage_settings(study: StudyConfig, sweep: SweepConfig, base: TransferConfig) -> None:
    if sweep.keep_fractions is None or sweep.thresholds is not None:
        raise ConfigError("--stage: needs --keep-fractions and no --thresholds (the arms are tuned per keep fraction)")
    if study.stage == "tune" and base.lr_grid is None:
        raise ConfigError("--stage tune: needs --lr-grid (the rates it chooses among)")
    if "random" not in sweep.rule_names:
        raise ConfigError("--stage: --rules must include random (every primary test is a rule against it)")
    missing = [r for r in study.primary_rule_names if r not in sweep.rule_names]
    if missing:
        raise ConfigError(f"--primary-rules: {', '.join(missing)} not among --rules {sweep.rules}")


def run_tune(study: StudyConfig, sweep: SweepConfig, base: TransferConfig, argv=()) -> dict:
    """Every cell on the tuning replicates, every candidate of every arm; then tuned.json."""
    study = staged(study, base)
    _check_stage_settings(study, sweep, base)
    make_folder(Path(study.out))
    tuned_base = _tune_base(base)
    _run_cells(study, "tune", lambda cell: _stage_cell(study, sweep, tuned_base, cell, "tune", study.tune_seeds),
               argv)
    table = tuned_table(study, sweep, base)
    RunDir(Path(study.out)).write_json("tuned.json", table)
    _log(study, f"tune: wrote {Path(study.out) / 'tuned.json'}")
    return table


def _records(cell_sweep: SweepConfig, cell_base: TransferConfig):
    """(replicate, (rule, kind, fraction, deeper), results) of every finished run of a cell, and the grid's first
    run (the one that trains the selection-free arms)."""
    from .sweep import Sweep

    state = Sweep(cell_sweep, cell_base)
    found = []
    for replicate in cell_sweep.replicates:
        for run in state.grid:
            path = state.record_path(replicate, run)
            if path.is_file():
                found.append((replicate, run, json.loads(path.read_text())["results"]))
    return found, state.grid[0]


def tuned_cell(cell_sweep: SweepConfig, cell_base: TransferConfig) -> dict:
    """One cell of tuned.json: per arm (per-selection arms per rule and keep fraction), every candidate's
    validation-pool error per tuning replicate and on average, the chosen candidate and the edges it sits on."""
    found, first = _records(cell_sweep, cell_base)
    errors = {}  # key -> {setting (json): {seed: error pp}}
    for replicate, run, results in found:
        rule, _, fraction, _ = run
        for arm, metrics in results["arms"].items():
            if arm not in PER_SELECTION and run != first:
                continue
            key = tuning.arm_key(arm, rule, fraction)
            for tried in metrics.get("lr_search", []):
                setting = {k: v for k, v in tried.items() if k not in ("best_validation_error", "best_epoch",
                                                                        "valid_pool_error")}
                errors.setdefault(key, {}).setdefault(json.dumps(setting), {})[str(replicate[0])] = (
                    tried["valid_pool_error"] * 100)
    n = len(cell_sweep.replicates)
    arms = {}
    for key, by_setting in errors.items():
        complete = {s: e for s, e in by_setting.items() if len(e) == n}
        candidates = [{"setting": json.loads(s), "mean_valid_pool_error_pct": sum(e.values()) / n,
                       "per_replicate_pct": e} for s, e in complete.items()]
        if not candidates:
            continue
        chosen = min(candidates, key=lambda c: c["mean_valid_pool_error_pct"])  # first of ties: grid order
        arms[key] = {"chosen": chosen["setting"], "chosen_per_replicate_pct": chosen["per_replicate_pct"],
                     "at_edge": at_edges(chosen["setting"], [c["setting"] for c in candidates]),
                     "candidates": candidates}
    return {"replicates": [r[0] for r in cell_sweep.replicates], "arms": arms}


def at_edges(chosen: dict, settings: list) -> list[str]:
    """Each setting of ``chosen`` at the lowest or highest value tried ("learning_rate at the top (1)")."""
    edges = []
    for name, value in chosen.items():
        values = sorted({s[name] for s in settings})
        if len(values) > 1 and value in (values[0], values[-1]):
            edges.append(f"{name} at the {'bottom' if value == values[0] else 'top'} ({value:g})")
    return edges


def load_tuned(study: StudyConfig, sweep: SweepConfig, base: TransferConfig) -> dict:
    """tuned.json of this --out, refused unless made with this design (--cut-cells may leave out more of its cells)."""
    path = Path(study.out) / "tuned.json"
    if not path.is_file():
        raise ConfigError(f"--stage {study.stage}: {path} not found; run --stage tune with the same settings and --out "
                          "first")
    try:
        tuned = json.loads(path.read_text())
    except ValueError as err:
        raise DataError(f"{path}: not a readable tuned.json ({err})") from err
    now, then = design(study, sweep, base), tuned.get("design", {})
    differing = []
    for part, value in now.items():
        if isinstance(value, dict):
            differing += [f"{part}.{k}" for k in value if value[k] != (then.get(part) or {}).get(k)]
        elif value != then.get(part):
            differing.append(part)
    if differing:
        raise ConfigError(f"--stage {study.stage}: {path} was tuned for another design ({', '.join(differing[:4])} "
                          "differ); confirm with the settings it was tuned with, or tune again")
    missing = [c.name for c in cells(study) if c.name not in tuned["cells"]]
    if missing:
        raise ConfigError(f"--stage {study.stage}: {path} has no tuned settings for {', '.join(missing[:3])}; finish "
                          "--stage tune first")
    return tuned


def _tune_base(base: TransferConfig) -> TransferConfig:
    """A tune-stage run's settings: every arm tried at every candidate of its knob."""
    return replace(base, tune_knobs=True, protocol="two-stage study, tune stage")


def tuned_table(study: StudyConfig, sweep: SweepConfig, base: TransferConfig, finished_only=False) -> dict:
    """tuned.json's content: every cell's tuned settings; with ``finished_only``, only the cells whose tune stage
    has finished (their sweep wrote analysis.json), for --stage plan while the stage still runs."""
    table = {}
    for cell in cells(study):
        entry = tuned_settings(study, sweep, base, cell, unfinished=not finished_only)
        if entry is not None:
            table[cell.name] = entry
    return {"design": design(study, sweep, base), "choice": CHOICE_RULE, "cells": table}


def tuned_settings(study: StudyConfig, sweep: SweepConfig, base: TransferConfig, cell: Cell, unfinished=False):
    """One cell's entry of tuned.json, from its tune folder; None while its tune stage has not finished (its sweep
    has not written analysis.json) unless ``unfinished``."""
    cell_sweep, cell_base = _stage_cell(study, sweep, _tune_base(base), cell, "tune", study.tune_seeds)
    if not unfinished and not (Path(cell_sweep.out) / "analysis.json").is_file():
        return None
    return tuned_cell(cell_sweep, cell_base)


def run_plan(study: StudyConfig, sweep: SweepConfig, base: TransferConfig, argv=(), out=None) -> dict:
    """What the confirmation would declare with these settings (--replicates among them), printed, nothing written:
    to choose the replicates from the tuning stage's paired SDs before hypotheses.json fixes them. While the tune
    stage still runs (no tuned.json yet), from the cells it has finished, and says so."""
    from . import primary
    from .report import power_markdown, tuning_edges_section

    study = staged(study, base)
    _check_stage_settings(study, sweep, base)
    path = Path(study.out) / "tuned.json"
    if path.is_file():
        tuned, digest, note = load_tuned(study, sweep, base), file_digest(path), ""
    else:
        tuned = tuned_table(study, sweep, base, finished_only=True)
        if not tuned["cells"]:
            raise ConfigError(f"--stage plan: no cell of {study.out} has finished its tune stage; run --stage tune "
                              "with the same settings and --out first")
        digest = "0" * 64
        note = (f"Planned from the {len(tuned['cells'])} of {len(cells(study))} cells tuned so far (no tuned.json "
                "yet: the tune stage has not finished).\n\n")
    planned = primary.hypotheses(study, sweep, tuned, digest)
    edges = "\n".join(tuning_edges_section(primary.tuning_edges(tuned)))
    print(note + power_markdown(planned) + edges, file=out or sys.stdout)
    return planned


def confirm_configs(study: StudyConfig, sweep: SweepConfig, base: TransferConfig, cell: Cell, tuned_cell_entry: dict,
                    seeds, protocol: str) -> tuple:
    """A cell's sweep and run settings in the confirm stage: ``seeds``, each arm once at its tuned setting (its entry
    of tuned.json) as --arm-settings. An arm whose cost stops being finite keeps its best-validation weights before it
    (--if-diverged keep-best): a tuned setting can diverge on a fresh replicate, and neither stopping the study nor
    dropping the replicate would be the same for every arm (docs/sweeps.md)."""
    cell_sweep, cell_base = _stage_cell(study, sweep, base, cell, "confirm", seeds)
    settings = tuning.as_json({key: entry["chosen"] for key, entry in tuned_cell_entry["arms"].items()})
    return cell_sweep, replace(cell_base, lr_grid=None, arm_settings=settings, protocol=protocol,
                               if_diverged="keep-best")


def run_confirm(study: StudyConfig, sweep: SweepConfig, base: TransferConfig, argv=(), out=None) -> dict:
    """hypotheses.json first, then every cell on fresh replicates at its tuned settings; then the analysis."""
    from . import primary

    study = staged(study, base)
    _check_stage_settings(study, sweep, base)
    tuned = load_tuned(study, sweep, base)
    root = Path(study.out)
    hypotheses = primary.hypotheses(study, sweep, tuned, file_digest(root / "tuned.json"))
    path = root / "hypotheses.json"
    if path.is_file():
        before = json.loads(path.read_text())
        if before != json.loads(json.dumps(hypotheses)):
            raise ConfigError(f"--stage confirm: {path} declares other hypotheses than these settings would (its "
                              "family, margin or replicates differ); a declared analysis is not changed after the "
                              "data: confirm into another --out")
    else:
        RunDir(root).write_json("hypotheses.json", hypotheses)
        _log(study, f"confirm: declared {path} before the first confirmation run")
    protocol = (f"two-stage study, confirm stage; tuned.json sha256 {file_digest(root / 'tuned.json')}; "
                f"hypotheses.json sha256 {file_digest(path)}")

    def configs(cell):
        return confirm_configs(study, sweep, base, cell, tuned["cells"][cell.name], study.confirm_seeds, protocol)

    _run_cells(study, "confirm", configs, argv)
    folders = [(cell, Path(configs(cell)[0].out)) for cell in cells(study)]
    return primary.write_outputs(study, sweep, tuned, json.loads(path.read_text()), folders, out=out)
