"""The BLAS kernel a run computes with: reported as OpenBLAS chose it, recorded in config.json and sweep.json, named
in a sweep's summary, and a resume or a continued sweep under another kernel warned about in one line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import TINY, interrupted
from tests.test_sweep import GRID
from transfer_learning import blas, cli, sweep

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import json; from transfer_learning import blas; print(json.dumps(blas.facts()))"


def facts_under(**variables) -> dict:
    """blas.facts() of a fresh process with these variables (OpenBLAS picks its kernel once, when it loads)."""
    env = {k: v for k, v in os.environ.items() if k not in (*blas.ENVIRONMENT, "OPENBLAS_NUM_THREADS")}
    env.update(variables)
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.e2e
@pytest.mark.parametrize("coretype", ["Haswell", "Sandybridge"])
def test_the_kernel_a_user_names_is_the_one_reported_for_both_libraries(coretype):
    got = facts_under(OPENBLAS_CORETYPE=coretype)
    assert blas.kernel(got) == coretype
    assert got["numpy_blas"]["kernel"] == coretype
    assert got["environment"] == {"OPENBLAS_CORETYPE": coretype, "OPENBLAS_L2_SIZE": None}
    assert got["pytensor_blas"]["build"].startswith("OpenBLAS 0.3.")
    assert got["pytensor_blas"]["threads"] == 1  # backend.py's default: one thread unless the user says otherwise


@pytest.mark.e2e
def test_a_thread_count_the_user_chose_is_recorded():
    assert facts_under(OPENBLAS_CORETYPE="Haswell", OPENBLAS_NUM_THREADS="2")["pytensor_blas"]["threads"] == 2


def record(kernel="Haswell", threads=1, numpy_kernel=None, coretype=None):
    build = f"OpenBLAS 0.3.34.481.3 DYNAMIC_ARCH NO_AFFINITY {kernel} MAX_THREADS=64"
    return {"environment": {"OPENBLAS_CORETYPE": coretype, "OPENBLAS_L2_SIZE": None},
            "pytensor_blas": {"library": "libscipy_openblas.so", "build": build, "kernel": kernel, "threads": threads},
            "numpy_blas": {"library": "libscipy_openblas64_.so", "build": build, "kernel": numpy_kernel or kernel}}


def test_what_makes_other_bits_and_what_does_not():
    assert blas.differs(record(), record()) is None
    assert blas.differs(None, record()) is None  # a record from before kernels were recorded: nothing to compare
    assert blas.differs(record(), {**record(), "environment": {"OPENBLAS_CORETYPE": "Haswell"}}) is None
    assert blas.differs(record(threads=1), record(threads=2)) is not None
    assert blas.differs(record(numpy_kernel="Haswell"), record(numpy_kernel="SkylakeX")) is not None
    line = blas.differs(record("Haswell", coretype="Haswell"), record("SkylakeX"))
    assert line == ("it was made under OpenBLAS 0.3.34.481.3, kernel Haswell, 1 thread and this process runs "
                    "OpenBLAS 0.3.34.481.3, kernel SkylakeX, 1 thread; OPENBLAS_CORETYPE=Haswell reproduces its "
                    "arithmetic")


def test_the_variables_that_reproduce_a_record():
    assert blas.reproduce_with(record("SkylakeX")) == "OPENBLAS_CORETYPE=SkylakeX"
    pinned = record("Haswell")
    pinned["environment"] = dict(blas.COMMITTED)
    assert blas.reproduce_with(pinned) == "OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512"
    assert blas.describe(record(threads=2)) == "OpenBLAS 0.3.34.481.3, kernel Haswell, 2 threads"


@pytest.mark.e2e
def test_a_run_records_the_kernel_and_a_resume_under_another_warns_and_continues(pickle_path, tmp_path, capsys):
    out = tmp_path / "run"
    interrupted([*TINY, "--dataset", str(pickle_path)], out)
    config = json.loads((out / "config.json").read_text())
    assert config["arithmetic"] == json.loads(json.dumps(blas.facts()))
    other = "Sandybridge" if blas.kernel(blas.facts()) != "Sandybridge" else "Haswell"
    config["arithmetic"]["pytensor_blas"]["kernel"] = other
    config["arithmetic"]["environment"] = {"OPENBLAS_CORETYPE": other, "OPENBLAS_L2_SIZE": None}
    (out / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert cli.main_transfer(["--resume", str(out)]) == 0
    err = capsys.readouterr().err
    assert (f"--resume: another BLAS kernel than when the run started (it was made under OpenBLAS "
            f"{config['arithmetic']['pytensor_blas']['build'].split()[1]}, kernel {other}, 1 thread and this process "
            f"runs {blas.describe(blas.facts())}; OPENBLAS_CORETYPE={other} reproduces its arithmetic); it continues"
            ) in err
    assert (out / "results.json").is_file()


@pytest.mark.e2e
def test_an_unchanged_kernel_resumes_without_a_word(pickle_path, tmp_path, capsys):
    out = tmp_path / "run"
    interrupted([*TINY, "--dataset", str(pickle_path)], out)
    capsys.readouterr()
    assert cli.main_transfer(["--resume", str(out)]) == 0
    assert "BLAS kernel" not in capsys.readouterr().err


@pytest.mark.e2e
def test_a_sweep_records_its_kernel_names_it_in_its_summary_and_warns_when_continued_under_another(
        pickle_path, tmp_path, capsys):
    args = [*TINY, "--dataset", str(pickle_path), *GRID[:2], "--seeds", "1", "--jobs", "1", "--out", str(tmp_path)]
    assert sweep.main(args) == 0
    now = blas.facts()
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert saved["arithmetic"] == json.loads(json.dumps(now))
    summary = (tmp_path / "summary.md").read_text()
    assert (f"Arithmetic: {blas.describe(now)} (reproduce bit for bit with `OPENBLAS_CORETYPE={blas.kernel(now)}"
            in summary)
    capsys.readouterr()
    assert sweep.main(args) == 0
    assert "BLAS kernel" not in capsys.readouterr().err
    saved["arithmetic"]["pytensor_blas"]["threads"] = 7
    (tmp_path / "sweep.json").write_text(json.dumps(saved))
    assert sweep.main(args) == 0
    err = capsys.readouterr().err
    assert "[sweep] warning: another BLAS kernel than when this sweep started (it was made under " in err
    assert "7 threads and this process runs" in err


def test_the_makefile_and_ci_pin_the_kernel_the_committed_results_name():
    pinned = " ".join(f"{k}={v}" for k, v in blas.COMMITTED.items())
    makefile = (ROOT / "Makefile").read_text()
    assert f"\nPINNED ?= {pinned}\n" in makefile
    for target in ("SWEEP  := $(PINNED) $(PY)", "$(PINNED) $(PY) -m transfer_learning.study",
                   "$(PINNED) $(PY) -m transfer_learning.compat2015",
                   "$(PINNED) $(PY) mlp_transfer.py $(TUTORIAL_MLP)"):
        assert target in makefile, target
    assert f'"env {pinned}"' in (ROOT / ".ci" / "run").read_text()
