"""The study's grid: its cells (task pair x width x target size, and activation where asked), each cell's sweep
settings, and how a cell's sweep is run and shares its source networks with the cells that can use them. The map
(study.py) and the two stages (stages.py) are both built on it."""

import fnmatch
import io
from dataclasses import dataclass, replace
from pathlib import Path

from .config import StudyConfig, SweepConfig, TransferConfig
from .vocab import ConfigError


@dataclass(frozen=True)
class Cell:
    source: str
    target: str
    widths: tuple
    size: int
    activation: str | None = None  # None: the study's --activation, and the folder name says nothing of it

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
        name = f"{clean(self.source)}-{clean(self.target)}_{self.width.replace(',', '-')}_n{self.size}"
        return name if self.activation is None else f"{name}_{self.activation}"


def cells(study: StudyConfig) -> list[Cell]:
    """Every cell of the grid, activation by activation (where --activations is given), pair by pair, width by
    width, size by size; less those --cut-cells names."""
    grid = [Cell(source, target, widths, size, activation) for activation in study.activations or (None,)
            for source, target in study.pairs for widths in study.widths for size in study.sizes]
    patterns = study.cut_cells or ()
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(c.name, p) for c in grid)]
    if unmatched:
        raise ConfigError(f"--cut-cells: {', '.join(unmatched)} matches no cell of the grid (cells are named like "
                          f"{grid[0].name})")
    kept = [c for c in grid if not any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]
    if not kept:
        raise ConfigError("--cut-cells: every cell of the grid is cut")
    return kept


def cell_configs(study: StudyConfig, sweep: SweepConfig, base: TransferConfig, cell: Cell):
    """The cell's sweep: the study's replicates as seeds (each its own data subsets), the cell's pair, width and
    size, validation a fifth of the size."""
    out = Path(study.out).resolve() / "cells" / cell.name
    cell_sweep = replace(sweep, seeds=tuple(range(1, study.replicates + 1)), data_seeds=None, jobs=study.jobs,
                         scheduler=study.scheduler, out=str(out))
    cell_base = replace(base, source=cell.source, target=cell.target, hidden_sizes=tuple(cell.widths),
                        target_train_size=cell.size, target_valid_size=None,
                        activation=cell.activation or base.activation)
    return cell_sweep, cell_base


def run_cell(cell_sweep: SweepConfig, cell_base: TransferConfig, argv, cell: "Cell", grid) -> None:
    """One cell's sweep, run or continued, given the source networks of an earlier cell of ``grid`` that it can
    use (its folder's parent holds the grid's cells)."""
    from .sweep import Sweep, run_sweep

    state = Sweep(cell_sweep, cell_base)
    with state.locked():
        state.open(list(argv))  # the cell's sweep.json first: a sweep folder holds nothing before it
    share_sources(Path(cell_sweep.out).parent, cell, grid, cell_sweep.seeds)
    run_sweep(cell_sweep, cell_base, argv, out=io.StringIO())


def share_sources(root: Path, cell: Cell, grid, seeds) -> None:
    """Give a cell the source networks an earlier cell of the same pair, width and activation trained (a source
    depends on those and the seed, not on the target size): the sweep then uses them instead of training them again,
    with the same weights it would have trained (a sweep's source run is deterministic). ``root`` holds the cells'
    folders."""
    import shutil

    def network(c):
        return c.source, c.target, tuple(c.widths), c.activation

    donors = [c for c in grid if network(c) == network(cell) and c != cell and (root / c.name / "sources").is_dir()]
    if not donors:
        return
    donor = root / donors[0].name
    for seed in seeds:
        weights, record = donor / "sources" / f"seed{seed}.npz", donor / "results" / f"source-seed{seed}.json"
        mine = root / cell.name
        if weights.is_file() and record.is_file() and not (mine / "results" / record.name).is_file():
            for folder in ("sources", "results"):
                (mine / folder).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(weights, mine / "sources" / weights.name)
            shutil.copyfile(record, mine / "results" / record.name)
