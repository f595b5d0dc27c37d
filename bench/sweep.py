"""What a sweep pays besides training: the fixed cost per run, the time to the first minibatch, arm-epochs per second.

    python bench/sweep.py                          # this checkout, 3 repeats
    python bench/sweep.py --baseline /tmp/base     # and another checkout of the project, side by side, same run

1. Fixed cost per run: a sweep of 1 seed x 6 thresholds with --n-epochs 1 --target-train-size 100 --jobs 1
   (7 runs that train almost nothing), wall time divided by runs; the same minus the training time the
   runs report, divided by runs; and what one more run costs beyond its training (a 24-threshold sweep
   against the 6-threshold one, training subtracted, per extra run: the one-time costs of a sweep,
   start-up, data, the first compile and sweep.png, cancel out).
2. Time to the first minibatch of `python mlp_transfer.py` on a warm compile cache: launch to the
   "[source] functions compiled" line, after which the first SGD step follows.
3. Arm-epochs per second: a 2-epoch run on MNIST 0-4 -> 5-9 with every target example and the scratch,
   finetune and random-reset arms; target epochs trained by all arms divided by their training seconds.

Each measurement runs --repeats times per checkout, alternating checkouts; medians and ranges are printed
as a Markdown table and written to bench/results/sweep.json. Timings on a shared machine vary: compare
rows of one run only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from startup import blas_in_use, seconds_to_training  # noqa: E402


def env_for(checkout: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(checkout)}


def training_seconds(run_dir: Path, prefix="checkpoint_") -> tuple[float, int]:
    """Seconds spent in training loops, and epochs trained, from a run's checkpoints (each phase's state)."""
    import numpy as np

    seconds, epochs = 0.0, 0
    for checkpoint in run_dir.glob(f"{prefix}*.npz"):
        with np.load(checkpoint) as archive:
            state = json.loads(archive["state"].tobytes())
        seconds += state["history"]["seconds"]
        epochs += state["history"]["epoch"]
    return seconds, epochs


def tiny_sweep(checkout: Path, work: Path, thresholds: str) -> tuple[float, float, int]:
    """Wall seconds, training seconds and runs of a 1-seed sweep that trains almost nothing."""
    out = work / f"sweep-{time.time_ns()}"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "transfer_learning.sweep", "--seeds", "1", "--n-epochs", "1",
                    "--target-train-size", "100", "--jobs", "1", "--thresholds", thresholds, "--out", str(out)],
                   cwd=checkout, env=env_for(checkout), check=True, capture_output=True, timeout=1800)
    wall = time.perf_counter() - start
    run_dirs = [d for d in (*(out / "runs").iterdir(), *(out / "sources").iterdir()) if d.is_dir()]
    return wall, sum(training_seconds(d)[0] for d in run_dirs), len(run_dirs)


SIX = "0,0.2,0.4,0.6,0.8,1"
TWENTY_FOUR = ",".join(f"{0.05 * i:g}" for i in range(24))


def fixed_cost(checkout: Path, work: Path) -> dict:
    """The 6-threshold sweep's wall time per run, and what one more run costs beyond its training: the
    difference between a 24-threshold and the 6-threshold sweep, training subtracted, per extra run."""
    wall6, train6, runs6 = tiny_sweep(checkout, work, SIX)
    wall24, train24, runs24 = tiny_sweep(checkout, work, TWENTY_FOUR)
    return {"runs": runs6, "wall_per_run": wall6 / runs6, "beyond_training_per_run": (wall6 - train6) / runs6,
            "marginal_per_run": ((wall24 - train24) - (wall6 - train6)) / (runs24 - runs6)}


def first_minibatch(checkout: Path, work: Path) -> float:
    """Launch to the first SGD step of `mlp_transfer.py` in ``checkout`` (bench/startup.py's measure)."""
    return seconds_to_training(env_for(checkout), str(work / f"first-{time.time_ns()}"), cwd=checkout)


def arm_epochs_per_second(checkout: Path, work: Path) -> float:
    out = work / f"arms-{time.time_ns()}"
    subprocess.run([sys.executable, "mlp_transfer.py", "--n-epochs", "2", "--baselines",
                    "scratch,finetune,random-reset", "--out", str(out)], cwd=checkout, env=env_for(checkout),
                   check=True, capture_output=True, timeout=1800)
    seconds, epochs = training_seconds(out, "checkpoint_target")
    return epochs / seconds


def describe(values, digits=2):
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="another checkout of the project to measure side by side")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per checkout (default: 3)")
    args = parser.parse_args(argv)
    checkouts = {"this checkout": ROOT}
    if args.baseline:
        checkouts = {"baseline": args.baseline.resolve(), **checkouts}
    blas = {name: blas_in_use(cwd=checkout) for name, checkout in checkouts.items()}
    found = {name: {"wall_per_run": [], "beyond_training_per_run": [], "marginal_per_run": [], "first_minibatch": [],
                    "arm_epochs_per_s": []} for name in checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for checkout in checkouts.values():  # warm each checkout's compile cache once
            first_minibatch(checkout, work)
        for repeat in range(args.repeats):
            for name, checkout in checkouts.items():
                for key, value in fixed_cost(checkout, work).items():
                    if key in found[name]:  # not "runs"
                        found[name][key].append(value)
                found[name]["first_minibatch"].append(first_minibatch(checkout, work))
                found[name]["arm_epochs_per_s"].append(arm_epochs_per_second(checkout, work))
                print(f"[bench] {name}, repeat {repeat + 1}/{args.repeats}: "
                      + ", ".join(f"{k} {v[-1]:.2f}" for k, v in found[name].items()), file=sys.stderr, flush=True)
    print("| checkout | sweep wall time per run (s) | beyond training per run (s) | one more run beyond its training "
          "(s) | first minibatch (s) | arm-epochs per second (one at a time) |")
    print("|---|---|---|---|---|---|")
    for name, values in found.items():
        print(f"| {name} | {describe(values['wall_per_run'])} | {describe(values['beyond_training_per_run'])} | "
              f"{describe(values['marginal_per_run'])} | {describe(values['first_minibatch'])} | "
              f"{describe(values['arm_epochs_per_s'])} |")
    print(f"\nmedian [min-max] of {args.repeats} repeats; sweep: 1 seed x 6 thresholds, --n-epochs 1 "
          "--target-train-size 100 --jobs 1 (7 runs); one more run: the same with 24 thresholds, training "
          "subtracted, per extra run; arm-epochs: MNIST 0-4 -> 5-9, all 24,754 target examples")
    path = ROOT / "bench" / "results" / "sweep.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**found, "blas": blas}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
