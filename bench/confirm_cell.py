"""A few cells of a two-stage study's confirmation, timed on spare replicates before the confirmation starts.

    python bench/confirm_cell.py --cells mnist0-4-mnist5-9_500-500_n1000_tanh,mnist0-4-mnist5-9_500-500_n3000_tanh \\
        --replicates 2 -- --stage confirm <the study's flags, --out the study's folder>

Why: `hypotheses.json` fixes the confirmation's cells and replicates before its first run, so whether they fit a
budget has to be known before any confirmation data exist. This runs each named cell as the confirm stage would (each
arm once, at the settings the tune stage chose for that cell, read from the cell's tune folder: the tune stage need
not have finished) on spare seeds 9001.. (no study uses them: the tune stage's are 1001.., the confirmation's
2001..), into a scratch folder, and prints each cell's wall time. Cells named in the study's order share their
source networks as the study's do (a source depends on the pair, width, activation and seed, not the size). Nothing
of the study's folder is written; the scratch folder is removed unless --keep is given. Timings on a shared machine
vary: compare with a run of the same minutes.
"""

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transfer_learning import stages, study  # noqa: E402
from transfer_learning.cells import cells, run_cell  # noqa: E402

#: The first spare seed: above every study's tuning (1001..) and confirmation (2001..) seeds.
SPARE_SEEDS_FROM = 9001


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    ours, theirs = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     usage="%(prog)s --cells NAME,NAME [--replicates N] [--keep DIR] -- STUDY FLAGS")
    parser.add_argument("--cells", required=True, help="cell folder names of the study, comma-separated")
    parser.add_argument("--replicates", type=int, default=2, help="spare replicates per cell (default: 2)")
    parser.add_argument("--keep", metavar="DIR", help="write the runs here and keep them (default: a temporary "
                        "folder, removed)")
    args = parser.parse_args(ours)
    if args.replicates < 1:
        parser.error("--replicates: expected at least 1")
    study_cfg, sweep, base = study.configs_from_args(vars(study.build_parser(staged=True).parse_args(theirs)))
    study_cfg = stages.staged(study_cfg, base)
    wanted = args.cells.split(",")
    grid = [c for c in cells(study_cfg) if c.name in wanted]
    unknown = sorted(set(wanted) - {c.name for c in grid})
    if unknown:
        parser.error(f"--cells: {', '.join(unknown)} not among the study's cells")
    scratch = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="confirm-cell-"))
    seeds = tuple(range(SPARE_SEEDS_FROM, SPARE_SEEDS_FROM + args.replicates))
    total = 0.0
    try:
        for cell in grid:
            tuned = stages.tuned_settings(study_cfg, sweep, base, cell)
            if tuned is None:
                parser.error(f"--cells: {cell.name} has not finished its tune stage")
            cell_sweep, cell_base = stages.confirm_configs(study_cfg, sweep, base, cell, tuned, seeds,
                                                           "bench/confirm_cell.py: spare seeds, not a study")
            cell_sweep = replace(cell_sweep, out=str(scratch / "cells" / cell.name))
            start = time.perf_counter()
            run_cell(cell_sweep, cell_base, [], cell, grid)
            seconds = time.perf_counter() - start
            total += seconds
            print(f"{cell.name:60s} {args.replicates} replicates {seconds:7.0f} s  "
                  f"({seconds / args.replicates:.0f} s a replicate)", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"{len(grid)} cells, {total:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
