"""The compile cache's two savings keep PyTensor's behaviour: its own compiledir, and the -march flags reused."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytensor
import pytest
from pytensor.link.c.cmodule import GCC_compiler

from transfer_learning import compile_cache

ROOT = Path(__file__).resolve().parent.parent
SHOW_COMPILEDIR = "import transfer_learning, pytensor; print(pytensor.config.compiledir)"


def compiledir_in_fresh_process(home: Path, flags: str | None) -> Path:
    env = {key: value for key, value in os.environ.items() if key != "PYTENSOR_FLAGS"}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), PYTENSORRC=str(home / "no-rc"))
    if flags:
        env["PYTENSOR_FLAGS"] = flags
    done = subprocess.run([sys.executable, "-c", SHOW_COMPILEDIR], env=env, capture_output=True, text=True,
                          check=True)
    return Path(done.stdout.strip())


def test_runs_use_their_own_compiledir_next_to_pytensors(tmp_path):
    compiledir = compiledir_in_fresh_process(tmp_path, None)
    assert compiledir.parent == tmp_path / ".pytensor"
    assert compiledir.name.startswith("compiledir_") and compiledir.name.endswith("-transfer-learning")


def test_a_compiledir_the_user_chose_wins(tmp_path):
    base = tmp_path / "mine"
    compiledir = compiledir_in_fresh_process(tmp_path, f"base_compiledir={base}")
    assert compiledir.parent == base
    assert not compiledir.name.endswith("-transfer-learning")
    assert compiledir_in_fresh_process(tmp_path, f"compiledir={base}") == base


@pytest.fixture
def unprobed(monkeypatch):
    """PyTensor as at the start of a process: -march flags not yet known (restored afterwards)."""
    monkeypatch.setattr(GCC_compiler, "march_flags", None)


def pytensor_probe_in_fresh_process() -> list[str]:
    code = ("import json; from pytensor.link.c.cmodule import GCC_compiler; GCC_compiler.compile_args(); "
            "print(json.dumps(GCC_compiler.march_flags))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_the_first_process_stores_pytensors_own_flags(unprobed, tmp_path):
    compile_cache.reuse_march_flags(tmp_path)
    stored = json.loads((tmp_path / compile_cache.MARCH_FLAGS_FILE).read_text())
    assert stored["march_flags"] == GCC_compiler.march_flags == pytensor_probe_in_fresh_process()
    assert any(flag.startswith("-march=") for flag in stored["march_flags"])


def test_a_later_process_reuses_them_without_probing(unprobed, tmp_path, monkeypatch):
    compile_cache.reuse_march_flags(tmp_path)
    first = list(GCC_compiler.march_flags)
    GCC_compiler.march_flags = None

    def no_probe(*args, **kwargs):
        raise AssertionError("PyTensor probed although the flags were stored")

    monkeypatch.setattr(GCC_compiler, "compile_args", no_probe)
    compile_cache.reuse_march_flags(tmp_path)
    assert GCC_compiler.march_flags == first


@pytest.mark.parametrize("store", ['{"probe": "another compiler or CPU", "march_flags": ["-march=i386"]}',
                                   "not json {", '["a list"]'])
def test_a_store_from_elsewhere_or_damaged_is_probed_again_and_replaced(unprobed, tmp_path, store):
    (tmp_path / compile_cache.MARCH_FLAGS_FILE).write_text(store)
    compile_cache.reuse_march_flags(tmp_path)
    assert "-march=i386" not in GCC_compiler.march_flags
    assert GCC_compiler.march_flags == pytensor_probe_in_fresh_process()
    stored = json.loads((tmp_path / compile_cache.MARCH_FLAGS_FILE).read_text())
    assert stored["march_flags"] == GCC_compiler.march_flags


def test_a_march_flag_of_the_users_own_is_left_to_pytensor(unprobed, tmp_path, monkeypatch):
    monkeypatch.setattr(pytensor.config, "gcc__cxxflags", "-march=x86-64")
    compile_cache.reuse_march_flags(tmp_path)
    assert GCC_compiler.march_flags is None
    assert not (tmp_path / compile_cache.MARCH_FLAGS_FILE).exists()
