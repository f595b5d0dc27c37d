"""A run's inputs, recorded and checked: absolute paths, fingerprints, the script and library versions.

config.json holds, beside every setting, a fingerprint of everything the run read: each dataset
(sha256 of the MNIST pickle or of the Fashion-MNIST IDX files, or of an image folder's sorted list of
files with their sizes and hashes) and the source weights it started from. ``--resume`` reads the
inputs again and refuses, with one line naming the input, to continue a run whose inputs changed; a
run started by the other script (pictures or not) is refused too. Other library versions, and another
BLAS kernel (blas.py), only warn: the run continues, but is then not guaranteed to end bit for bit as it
would have. A warning, not a refusal, because the result is as valid as any other run's; only its last bits
are another kernel's, and the warning names the variables that pick the first kernel again.
"""

import json
import platform
import sys
from dataclasses import asdict, replace
from pathlib import Path

from .data import parse_spec, spec_name
from .vocab import ConfigError, DataError
from .weights import weights_digest

#: The settings that name files; made absolute before config.json is written, so a resume from
#: another working directory reads the same files.
PATH_FIELDS = ("dataset", "source_path", "target_path", "source_weights")


def _absolute(path):
    return None if path is None else str(Path(path).expanduser().resolve())


def _absolute_spec(spec: str, path) -> str:
    """imagefolder:DIR[:classes] with DIR made absolute (other specs name no file)."""
    if spec_name(spec) != "imagefolder" or path is not None:
        return spec
    try:
        _, classes, folder = parse_spec(spec)
    except DataError:
        return spec  # the loader gives the one-line error
    tail = "" if classes is None else ":" + spec.rsplit(":", 1)[1]
    return f"imagefolder:{_absolute(folder)}{tail}"


def absolute_paths(cfg):
    """``cfg`` with every file and folder it names made absolute."""
    changes = {name: _absolute(getattr(cfg, name)) for name in PATH_FIELDS if getattr(cfg, name, None)}
    for name, path_field in (("source", "source_path"), ("target", "target_path"), ("task", None)):
        if hasattr(cfg, name):
            changes[name] = _absolute_spec(getattr(cfg, name), getattr(cfg, path_field, None) if path_field else None)
    return replace(cfg, **changes)


def versions() -> dict:
    """The versions that decide a run's numbers (read from the installed metadata: importing SciPy
    just for its version would cost a run a quarter of a second)."""
    from importlib.metadata import version

    from . import __version__

    return {"python": platform.python_version(), "transfer_learning": __version__, "pytensor": version("pytensor"),
            "numpy": version("numpy"), "scipy": version("scipy")}


def describe(cfg, datasets: dict, source_weights=None) -> dict:
    """The fingerprint of every input: per dataset role its spec and what was read, and the source weights."""
    recorded = {role: {"spec": task.name, **(task.fingerprint or {})}
                for role, task in datasets.items() if task is not None}
    if source_weights is not None:
        recorded["source_weights"] = {"file": getattr(cfg, "source_weights", None),
                                      "sha256_of_arrays": weights_digest(source_weights)}
    return recorded


def write_config(rundir, cfg, script, recorded) -> None:
    from . import backend, blas

    rundir.write_json("config.json", {"script": script, "config": asdict(cfg), "versions": versions(),
                                      "pytensor": backend.describe(), "arithmetic": blas.facts(), "inputs": recorded})
    print(config_line(cfg, rundir.path / "config.json"), file=sys.stderr)


def config_line(cfg, path) -> str:
    """The settings a run starts with, as flags, the defaults left out: the whole config was a line of about 1,500
    characters; every setting is in config.json."""
    from .config import flag, flag_value

    default = type(cfg)()
    changed = []
    for name, value in asdict(cfg).items():
        if value == getattr(default, name) or name == "out":
            continue
        if isinstance(value, bool):
            changed.append(flag(name))
        else:
            changed.append(f"{flag(name)} {flag_value(value)}")
    return f"config: {' '.join(changed) or 'the defaults'} (every setting: {path})"


def _differs(then: dict, now: dict) -> str | None:
    for role in sorted(set(then) | set(now)):
        a, b = then.get(role), now.get(role)
        if a == b:
            continue
        what = (b or a).get("file") or (b or a).get("folder") or (b or a).get("spec") or role
        if a is None or b is None:
            return f"the {role.replace('_', ' ')} ({what}) was not an input when the run started"
        changed = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        detail = "; ".join(f"{k} {a.get(k)!r} then, {b.get(k)!r} now" for k in changed[:2])
        return f"the {role.replace('_', ' ')} {what} changed since the run started ({detail})"
    return None


def script_identity(script: str) -> str:
    """mlp_transfer.py and the console script mlp-transfer are one program; the pictures script another."""
    return Path(script).name.removesuffix(".py").replace("-", "_")


def check_resume(rundir, script, recorded: dict, log=None) -> None:
    """Refuse to resume when the script or any input differs from config.json's record; warn on versions."""
    path = rundir / "config.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable run configuration ({err})") from err
    started_by = saved.get("script")
    if started_by and script_identity(started_by) != script_identity(script):
        raise ConfigError(f"--resume: {rundir.path} was started by {started_by}, not {script}; resume it with that "
                          "script")
    then = saved.get("inputs")
    if then is None:
        (log or print)(f"--resume: {path} records no input fingerprints (an older run); inputs are not checked")
    else:
        changed = _differs(json.loads(json.dumps(then)), json.loads(json.dumps(recorded)))
        if changed:
            raise DataError(f"--resume: {changed}; a resumed run would mix two inputs, so it is refused "
                            f"(start a new run, or restore the input)")
    before, now = saved.get("versions", {}), versions()
    different = [f"{k} {before[k]} -> {now[k]}" for k in now if k in before and before[k] != now[k]]
    if different and log:
        log(f"--resume: other library versions than when the run started ({', '.join(different)}); it continues, "
            "but is not guaranteed to end bit for bit as an uninterrupted run would have")
    from . import blas

    other_kernel = blas.differs(saved.get("arithmetic"))
    if other_kernel and log:
        log(f"--resume: another BLAS kernel than when the run started ({other_kernel}); it continues, but is not "
            "guaranteed to end bit for bit as an uninterrupted run would have")


def check_source_split(cfg, log=None) -> None:
    """--source-weights with an image-folder source: refuse weights trained on another split of the folder.

    The weights' run directory (config.json beside the file) records its --split-seed; with another
    split, the source test set would hold images the weights were trained on.
    """
    if spec_name(cfg.source) != "imagefolder" or not cfg.source_weights:
        return
    record = Path(cfg.source_weights).parent / "config.json"
    try:
        saved = json.loads(record.read_text())["config"]
    except (OSError, ValueError, KeyError):
        if log:
            log(f"--source-weights: no run configuration beside {cfg.source_weights}, so its image-folder split "
                f"cannot be checked; make sure it was trained with --split-seed {cfg.split_seed}")
        return
    theirs = saved.get("split_seed", 0)
    if theirs != cfg.split_seed or bool(saved.get("invert")) != bool(cfg.invert):
        raise ConfigError(
            f"--source-weights: {cfg.source_weights} was trained on the split of {saved.get('source')} made with "
            f"--split-seed {theirs}{' --invert' if saved.get('invert') else ''}; this run uses --split-seed "
            f"{cfg.split_seed}{' --invert' if cfg.invert else ''}, so its source test images would include images "
            f"the weights were trained on (pass --split-seed {theirs})")
