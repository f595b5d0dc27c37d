"""Remake a committed map's study.md and study.png from its committed cells, after a change to how the map is
reported (not to any run): ``python -m tools.rewrite_map docs/results/study [--sizes ...] [--replicates N]``.

The cells' files (<cell>.csv and <cell>.analysis.json, as `make study` copies them) are laid out as a study folder
again and study.write_outputs runs on them; results.csv must come out byte for byte as committed, or nothing is
written, since a map whose rows changed is not a map remade but another map.
"""

import argparse
import io
import shutil
import sys
import tempfile
from pathlib import Path

from transfer_learning import study
from transfer_learning.config import StudyConfig


def rewrite(folder: Path, cfg: StudyConfig) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "study"
        for cell in study.cells(cfg):
            target = staged / "cells" / cell.name
            target.mkdir(parents=True)
            shutil.copyfile(folder / f"{cell.name}.csv", target / "results.csv")
            shutil.copyfile(folder / f"{cell.name}.analysis.json", target / "analysis.json")
        from dataclasses import replace

        study.write_outputs(replace(cfg, out=str(staged)), out=io.StringIO())
        if (staged / "results.csv").read_bytes() != (folder / "results.csv").read_bytes():
            raise SystemExit(f"{folder}: results.csv would change; not a rewrite of the same map")
        for name in ("study.md", "study.png"):
            shutil.copyfile(staged / name, folder / name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a committed map, e.g. docs/results/study")
    parser.add_argument("--sizes", default="100,300,1000,3000", help="the map's target sizes (default: make study's)")
    parser.add_argument("--replicates", type=int, default=10, help="its replicates a cell (default: make study's)")
    args = parser.parse_args(argv)
    rewrite(args.folder, StudyConfig(sizes=tuple(int(s) for s in args.sizes.split(",")), replicates=args.replicates))
    print(f"rewrote {args.folder / 'study.md'} and study.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
