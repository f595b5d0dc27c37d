"""One cell of the transfer map timed with each step, side by side in one run: the default (--kernels fused --gemm
onednn) against the step before oneDNN (--kernels fused --gemm openblas), and with --steps the unfused one too.

    python bench/study_cell.py                         # Fashion-MNIST 0-4 -> 5-9, width 100, 300 examples, 3 repeats
    python bench/study_cell.py --sizes 1000 --widths 500,500 --repeats 2
    python bench/study_cell.py --steps fused,unfused   # the comparison of 2026-12-06

Each repeat runs the cell once per step, alternating which goes first, as the study runs it
(``python -m transfer_learning.study`` with one pair, width and size, into a fresh folder, so nothing is
resumed). The wall time of the whole command is measured; medians and ranges are printed as a Markdown table
and written to bench/results/study_cell.json. Why: the fused map took about 1.9x the unfused map's time cell
by cell, on other days, while the fused step is faster per epoch (bench/epoch.py); only a run of both in
the same minutes tells the step from the machine's load. Timings on a shared machine vary: compare rows of one
run only.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from startup import blas_in_use  # noqa: E402
from sweep import describe  # noqa: E402

#: The steps a cell can be timed with, by name: their flags.
STEPS = {"onednn": ["--kernels", "fused", "--gemm", "onednn"], "fused": ["--kernels", "fused", "--gemm", "openblas"],
         "unfused": ["--kernels", "unfused", "--gemm", "openblas"]}


def time_cell(args, step: str) -> float:
    """Seconds of wall time for the cell with ``step``'s flags, run from scratch."""
    with tempfile.TemporaryDirectory(prefix="study-cell-") as out:
        command = [sys.executable, "-m", "transfer_learning.study", "--pairs", args.pairs, "--widths", args.widths,
                   "--sizes", args.sizes, "--replicates", str(args.replicates), "--jobs", str(args.jobs),
                   *STEPS[step], "--out", out]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:  # a bad flag: the study's own one-line message, not a traceback from here
            raise SystemExit(f"study_cell.py: {(done.stderr.strip().splitlines() or ['the study failed'])[-1]}")
        return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default="fashion-mnist:0-4>fashion-mnist:5-9", help="the cell's task pair")
    parser.add_argument("--widths", default="100,100", help="the cell's hidden sizes (default: 100,100)")
    parser.add_argument("--sizes", default="300", help="the cell's target training size (default: 300)")
    parser.add_argument("--replicates", type=int, default=10, help="replicates, as in the map (default: 10)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes, as in the map (default: 2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the cell per step (default: 3)")
    parser.add_argument("--steps", default="onednn,fused", help="the steps to compare, the first against the second: "
                        "onednn (the default step), fused (its kernels, OpenBLAS's products) or unfused "
                        "(default: onednn,fused)")
    parser.add_argument("--json", default="bench/results/study_cell.json", help="where to write the table")
    args = parser.parse_args(argv)

    steps = [name.strip() for name in args.steps.split(",")]
    if len(steps) < 2 or any(name not in STEPS for name in steps):
        raise SystemExit(f"study_cell.py: --steps: expected two or more of {', '.join(STEPS)}, got {args.steps!r}")
    blas = blas_in_use()
    seconds = {name: [] for name in steps}
    for repeat in range(args.repeats):
        for step in (steps if repeat % 2 == 0 else steps[::-1]):
            seconds[step].append(time_cell(args, step))
            print(f"[bench] repeat {repeat + 1}/{args.repeats}, {' '.join(STEPS[step])}: {seconds[step][-1]:.1f} s",
                  file=sys.stderr, flush=True)
    cell = f"{args.pairs}, {args.widths}, {args.sizes} examples, {args.replicates} replicates, --jobs {args.jobs}"
    print(f"| step | cell wall time (s), median [min-max] of {args.repeats} |\n|---|---|")
    for step in steps:
        print(f"| {' '.join(STEPS[step])} | {describe(seconds[step], 1)} |")
    ratio = statistics.median(seconds[steps[0]]) / statistics.median(seconds[steps[1]])
    print(f"\n{cell}: {steps[0]} / {steps[1]} = {ratio:.2f} (medians)")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"cell": cell, "seconds": seconds, f"{steps[0]}_over_{steps[1]}": ratio,
                                                "blas": blas}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
