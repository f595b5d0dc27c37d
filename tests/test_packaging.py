"""The project as a package: pyproject.toml agrees with the pinned lock files, and `pip install .` into a
fresh virtual environment gives console scripts that run from any working directory (slow)."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def pins(path: Path) -> dict:
    """name -> version of every `name==version` line of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_pyproject_agrees_with_the_lock_files():
    project = pyproject()["project"]
    runtime, dev = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-dev.txt")
    for spec, lock in [(d, runtime) for d in project["dependencies"]] + \
                      [(d, {**runtime, **dev}) for d in project["optional-dependencies"]["dev"]] + \
                      [(d, runtime) for d in project["optional-dependencies"]["dask"]]:
        requirement = Requirement(spec)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in lock, f"{spec} in pyproject.toml is not pinned in the lock files"
        assert requirement.specifier.contains(lock[name]), f"{spec} does not admit the pinned {name}=={lock[name]}"
    # every direct dependency the code imports at run time is declared
    declared = {re.sub(r"[-_.]+", "-", Requirement(d).name).lower() for d in project["dependencies"]}
    assert {"pytensor", "numpy", "scipy", "scipy-openblas32", "matplotlib", "tqdm", "joblib", "pillow"} <= declared


def test_console_scripts_name_the_three_programs_and_every_command():
    scripts = pyproject()["project"]["scripts"]
    assert scripts == {"mlp-transfer": "mlp_transfer:program", "mlp-transfer-pictures": "mlp_transfer_pictures:program",
                       "logistic-sgd": "logistic_sgd:program", "transfer-sweep": "transfer_learning.sweep:program",
                       "transfer-study": "transfer_learning.study:program",
                       "transfer-analysis": "transfer_learning.analysis:program",
                       "transfer-verdicts": "transfer_learning.verdicts:program",
                       "transfer-compat-ladder": "transfer_learning.compat2015:program",
                       "transfer-predict": "transfer_learning.predict:program"}
    for target in scripts.values():
        module, _, function = target.partition(":")
        assert callable(getattr(__import__(module, fromlist=[function]), function))


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_then_every_console_script_from_elsewhere(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # a copy of the project, so that the build leaves nothing in the checkout; the lock file as constraints:
    # the tested versions, from pip's cache where `make` already fetched them
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "runs", "sweeps", "*.gz", "*.npz",
                                                                 "__pycache__", ".pytest_cache", ".hypothesis"))
    result = subprocess.run([*pip, "--constraint", str(ROOT / "requirements.txt"), str(source)],
                            capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cache = tmp_path / "cache"
    (cache / "transfer-learning").mkdir(parents=True)
    from transfer_learning.data import fetch_mnist

    shutil.copy(fetch_mnist(), cache / "transfer-learning" / "mnist.pkl.gz")  # checked by sha256 on use
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRANSFER_LEARNING_DATA", "VIRTUAL_ENV")}
    env["XDG_CACHE_HOME"] = str(cache)

    def run(*command, timeout=600):
        return subprocess.run([str(venv / "bin" / command[0]), *command[1:]], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=timeout)

    for script in pyproject()["project"]["scripts"]:
        shown = run(script, "--help")
        assert shown.returncode == 0 and shown.stdout.startswith(f"usage: {script}"), shown.stderr
    bad = run("mlp-transfer", "--threshold", "-1")
    assert bad.returncode == 2 and bad.stderr.strip() == \
        "mlp-transfer: error: argument --threshold: expected a number >= 0 or auto, got '-1'"
    done = run("mlp-transfer", "--n-epochs", "1", "--out", "run", timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (elsewhere / "run" / "results.json").is_file() and "Final results:" in done.stdout
    assert sorted(p.name for p in (cache / "transfer-learning").iterdir()) == ["mnist-f11bb9e41d6c", "mnist.pkl.gz"]
    code = "import logistic_sgd, transfer_learning; print(transfer_learning.__file__, logistic_sgd.__file__)"
    where = run("python", "-c", code)
    assert where.returncode == 0 and str(venv) in where.stdout and str(ROOT) not in where.stdout
    assert not (ROOT / "build").exists()


@pytest.mark.e2e
def test_the_readme_set_up_puts_every_console_script_on_the_venvs_path():
    """make's set-up (make run, make test) installs the project into .venv, so each console script runs from there."""
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("not running in the checkout's .venv (make test runs the suite there)")
    for script in pyproject()["project"]["scripts"]:
        done = subprocess.run([str(ROOT / ".venv" / "bin" / script), "--help"], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0 and done.stdout.startswith(f"usage: {script}"), (script, done.stderr[-500:])
