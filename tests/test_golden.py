"""Golden files: real-MNIST runs recorded once (tests/golden/, see its README) and compared exactly.

- `--compat 2015 --n-epochs 2`: every printed line, out.txt, outTransfer.txt and the node counts, exactly; every
  saved weight array's row and column sums within WEIGHT_SUM_TOLERANCE (OpenBLAS's kernels sum in other orders,
  docs/testing.md); and, where this process's BLAS kernel has them recorded, a sha256 of every array, exactly;
- the tutorial's MLP with `--init-rng legacy`, its first 5 epochs: every validation error, exactly;
- the default `make run`: its final table.

Regenerate (only when a change is meant to change these numbers, see tests/golden/README.md):
``.venv/bin/python -m tests.test_golden``.
"""

import contextlib
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "golden"


def _run(argv, out_dir) -> str:
    from transfer_learning import cli

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert cli.main_transfer([*argv, "--out", str(out_dir)]) == 0
    return stdout.getvalue()


#: How far a weight array's row or column sum may move when OpenBLAS sums in another order (another kernel).
#: Measured on this run under the Haswell, SkylakeX, Sandybridge and Nehalem kernels: every weight within
#: 6.3e-15 of the Haswell run's, every row and column sum within 7.3e-14 (`python -m tests.test_golden
#: --kernel-spread DIR...`); this allows over 1,000 times that, and still fails a run in which any one weight moved
#: by more than 1e-10 (a test below checks that).
WEIGHT_SUM_TOLERANCE = 1e-10


def _arrays(run_dir: Path) -> dict:
    out = {}
    for path in sorted(run_dir.glob("weights_*.npz")):
        with np.load(path) as saved:
            out[path.name] = {k: saved[k] for k in sorted(saved.files)}
    return out


def _digests(arrays: dict) -> dict:
    return {file: {k: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() for k, a in saved.items()}
            for file, saved in arrays.items()}


def _sums(arrays: dict) -> dict:
    """Each array's column sums (and row sums, for a matrix): every weight counts, and a kernel's reordering of
    float64 sums moves them by about 1e-13."""
    return {file: {k: {"columns": np.atleast_2d(a).sum(axis=0).tolist(),
                       **({"rows": a.sum(axis=1).tolist()} if a.ndim == 2 else {})} for k, a in saved.items()}
            for file, saved in arrays.items()}


def _kernel() -> str:
    from transfer_learning import blas

    return blas.kernel(blas.facts())


def compat_2015(out_dir: Path) -> dict:
    stdout = _run(["--compat", "2015", "--n-epochs", "2"], out_dir)
    report = json.loads((out_dir / "transfer.json").read_text())
    arrays = _arrays(out_dir)
    return {"stdout": stdout.splitlines(), "out.txt": (out_dir / "out.txt").read_text(),
            "outTransfer.txt": (out_dir / "outTransfer.txt").read_text(),
            "nodes_kept": [layer["n_kept"] for layer in report["layers"]],
            "sha256_by_kernel": {_kernel(): _digests(arrays)}, "weight_sums": _sums(arrays)}


def assert_same_compat_2015(got: dict, expected: dict):
    """Exact where the 2015 computation defines the result; the weights' sums within the kernels' spread; the
    weights' bits exact under a kernel the golden file has them for."""
    for key in ("stdout", "out.txt", "outTransfer.txt", "nodes_kept"):
        assert got[key] == expected[key], key
    assert got["weight_sums"].keys() == expected["weight_sums"].keys()
    for file, saved in expected["weight_sums"].items():
        assert got["weight_sums"][file].keys() == saved.keys(), file
        for array, sums in saved.items():
            for axis, values in sums.items():
                np.testing.assert_allclose(got["weight_sums"][file][array][axis], values, rtol=0,
                                           atol=WEIGHT_SUM_TOLERANCE, err_msg=f"{file}:{array} {axis} sums")
    (kernel, digests), = got["sha256_by_kernel"].items()
    if kernel in expected["sha256_by_kernel"]:
        assert digests == expected["sha256_by_kernel"][kernel], f"the weights' bits under the {kernel} kernel"


def tutorial_mlp(out_dir: Path) -> dict:
    _run(["--hidden-sizes", "500", "--learning-rate", "0.01", "--n-epochs", "5", "--source", "mnist",
          "--no-transfer", "--init-rng", "legacy"], out_dir)
    return {"validation_error_pct": (out_dir / "out.txt").read_text().split()}


def default_run(out_dir: Path) -> dict:
    stdout = _run([], out_dir)
    final = stdout.split("Final results:\n", 1)[1].splitlines()
    return {"final_results": [line for line in final if not line.startswith("  run directory:")]}


CASES = {"compat2015-2-epochs": compat_2015, "tutorial-mlp-legacy-5-epochs": tutorial_mlp,
         "default-run": default_run}


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_a_fresh_run_equals_its_golden_file(name, tmp_path):
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    got = CASES[name](tmp_path / name)
    if name == "compat2015-2-epochs":
        assert_same_compat_2015(got, expected)
    else:
        assert got == expected


def test_the_weight_comparison_fails_one_weight_moved_by_more_than_the_tolerance():
    expected = json.loads((GOLDEN / "compat2015-2-epochs.json").read_text())
    (kernel, digests), = list(expected["sha256_by_kernel"].items())[:1]
    got = {**expected, "sha256_by_kernel": {kernel: digests}}
    assert_same_compat_2015(got, expected)
    for axis in ("rows", "columns"):
        moved = json.loads(json.dumps(got))
        moved["weight_sums"]["weights_final.npz"]["hidden0_W"][axis][3] += 1.5 * WEIGHT_SUM_TOLERANCE
        with pytest.raises(AssertionError, match="hidden0_W"):
            assert_same_compat_2015(moved, expected)
    other_bits = json.loads(json.dumps(got))
    other_bits["sha256_by_kernel"][kernel]["weights_final.npz"]["output_b"] = "0" * 64
    with pytest.raises(AssertionError, match=f"under the {kernel} kernel"):
        assert_same_compat_2015(other_bits, expected)
    unknown = {**got, "sha256_by_kernel": {"NoSuchKernel": {}}}
    assert_same_compat_2015(unknown, expected)  # another kernel's bits are not known: the sums decide
    with pytest.raises(AssertionError, match="nodes_kept"):
        assert_same_compat_2015({**got, "nodes_kept": [80, 8]}, expected)


def test_the_compat_golden_file_holds_the_committed_kernels_bits():
    """The weights' bits are recorded for the kernel the committed results were made with (blas.COMMITTED), the
    one an AVX-512 CPU picks, and the one of AVX-only CPUs; CI runs the golden tests under two of them."""
    from transfer_learning import blas

    recorded = json.loads((GOLDEN / "compat2015-2-epochs.json").read_text())["sha256_by_kernel"]
    assert {blas.COMMITTED["OPENBLAS_CORETYPE"], "SkylakeX", "Sandybridge"} <= recorded.keys()


def kernel_spread(run_dirs) -> str:
    """The largest difference of any weight, and of any row or column sum, between runs made under other kernels."""
    runs = [_arrays(Path(d)) for d in run_dirs]
    weights = sums = 0.0
    for other in runs[1:]:
        for file, saved in runs[0].items():
            for k, a in saved.items():
                weights = max(weights, float(np.abs(a - other[file][k]).max()))
        first, second = _sums(runs[0]), _sums(other)
        for file, saved in first.items():
            for k, axes in saved.items():
                for axis, values in axes.items():
                    sums = max(sums, float(np.abs(np.subtract(values, second[file][k][axis])).max()))
    return f"largest weight difference {weights:.2g}, largest sum difference {sums:.2g}"


def main(argv=None) -> int:
    """Record every golden file anew from real MNIST runs of this version. 2015 mode's weight digests are kept per
    BLAS kernel: a run under another kernel (OPENBLAS_CORETYPE=...) adds its own beside the others."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m tests.test_golden", description=main.__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"the golden files to record (default: all of {', '.join(CASES)})")
    parser.add_argument("--kernel-spread", nargs="+", metavar="RUN_DIR",
                        help="instead, print how far the weights of these --compat 2015 runs (made under other "
                             "OPENBLAS_CORETYPE kernels) are apart, the first against each other")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in CASES]
    if unknown:
        parser.error(f"no golden file {', '.join(unknown)} (choose from {', '.join(CASES)})")
    if args.kernel_spread:
        print(kernel_spread(args.kernel_spread))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.names or list(CASES):
            record = CASES[name](Path(tmp) / name)
            path = GOLDEN / f"{name}.json"
            if "sha256_by_kernel" in record and path.is_file():
                before = json.loads(path.read_text())
                if any(before.get(k) != record[k] for k in ("stdout", "out.txt", "outTransfer.txt", "nodes_kept")):
                    before["sha256_by_kernel"] = {}  # the computation changed: the other kernels' digests are void
                record["sha256_by_kernel"] = {**before.get("sha256_by_kernel", {}), **record["sha256_by_kernel"]}
            path.write_text(json.dumps(record, indent=1) + "\n")
            print(f"{path} written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
