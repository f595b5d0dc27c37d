"""Seconds from `python mlp_transfer.py` starting to its first training step, cold and warm cache.

    python bench/startup.py              # a cold PyTensor compile cache (a fresh temporary one), then warm
    python bench/startup.py --mode CVM   # the same with another PyTensor mode for the compiled functions

"Start" is the process launch; "training starts" is the moment the script reports its source-phase
functions compiled (the next thing it does is the first SGD step). The cold run compiles every C
op of the graph; the warm run finds them in the cache, as every run after the first does.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def seconds_to_training(env, out_dir, cwd=ROOT):
    """Launch of `mlp_transfer.py` in ``cwd`` to its "[source] functions compiled" line (the first step follows)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "mlp_transfer.py", "--n-epochs", "1", "--no-transfer", "--out", out_dir],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if line.startswith("[source] functions compiled"):
            elapsed = time.perf_counter() - start
            proc.kill()
            proc.wait()
            return elapsed
    proc.wait()
    raise SystemExit(f"mlp_transfer.py exited with {proc.returncode} before training")


def blas_in_use(env=None, cwd=ROOT) -> dict:
    """The BLAS kernel a run started with ``env`` computes with (a fresh process: OpenBLAS picks it when it loads).
    Every benchmark prints it, since timings (and last bits) are that kernel's."""
    probe = "import json; from transfer_learning import blas; print(json.dumps(blas.facts()))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:  # a checkout from before the kernel was recorded (bench/sweep.py --baseline)
        print(f"[bench] BLAS: {cwd} does not report its kernel", file=sys.stderr, flush=True)
        return {}
    facts = json.loads(done.stdout)
    blas = facts["pytensor_blas"] or {}
    print(f"[bench] BLAS: kernel {blas.get('kernel')}, {blas.get('threads')} thread(s), {blas.get('build')} "
          f"(OPENBLAS_CORETYPE={facts['environment']['OPENBLAS_CORETYPE'] or 'unset'})", file=sys.stderr, flush=True)
    return facts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", help="PyTensor mode to compile with (default: the project's, see backend.py)")
    args = parser.parse_args(argv)
    results = {"blas": blas_in_use()}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as runs:
        flags = [os.environ.get("PYTENSOR_FLAGS"), f"base_compiledir={cache}", args.mode and f"mode={args.mode}"]
        env = dict(os.environ, PYTENSOR_FLAGS=",".join(filter(None, flags)))
        for label in ("cold cache", "warm cache"):
            results[label] = seconds_to_training(env, f"{runs}/{label.split()[0]}")
            print(f"{label}: training starts {results[label]:.1f} s after launch")
    path = ROOT / "bench" / "results" / f"startup{'-' + args.mode if args.mode else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
