"""Golden files: real-MNIST runs recorded once (tests/golden/, see its README) and compared exactly.

- `--compat 2015 --n-epochs 2`: every printed line, out.txt, outTransfer.txt, the node counts, and a sha256 of
  every saved weight array;
- the tutorial's MLP with `--init-rng legacy`, its first 5 epochs: every validation error, exactly;
- the default `make run`: its final table.

Regenerate (only when a change is meant to change these numbers, see tests/golden/README.md):
``.venv/bin/python -m tests.test_golden``.
"""

import contextlib
import hashlib
import io
import json
import sys
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


def _digests(run_dir: Path) -> dict:
    out = {}
    for path in sorted(run_dir.glob("weights_*.npz")):
        with np.load(path) as saved:
            out[path.name] = {k: hashlib.sha256(np.ascontiguousarray(saved[k]).tobytes()).hexdigest()
                              for k in sorted(saved.files)}
    return out


def compat_2015(out_dir: Path) -> dict:
    stdout = _run(["--compat", "2015", "--n-epochs", "2"], out_dir)
    report = json.loads((out_dir / "transfer.json").read_text())
    return {"stdout": stdout.splitlines(), "out.txt": (out_dir / "out.txt").read_text(),
            "outTransfer.txt": (out_dir / "outTransfer.txt").read_text(),
            "nodes_kept": [layer["n_kept"] for layer in report["layers"]], "sha256": _digests(out_dir)}


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
    assert CASES[name](tmp_path / name) == expected


def main(argv=None) -> int:
    """Record every golden file anew from real MNIST runs of this version."""
    import tempfile

    names = (argv if argv is not None else sys.argv[1:]) or list(CASES)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            record = CASES[name](Path(tmp) / name)
            (GOLDEN / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
            print(f"{GOLDEN / name}.json written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
