"""One training phase's checkpoint: current and best weights, loop state, generator states.

A single ``.npz`` written atomically (temp file, rename), so a crash at any instant leaves the
previous checkpoint or the new one. Loading checks everything and raises DataError otherwise.
"""

import json
from dataclasses import dataclass

import numpy as np

from .vocab import DataError
from .weights import check_weights

FORMAT = 1


@dataclass
class Checkpoint:
    phase: str
    weights: dict
    best_weights: dict | None
    history_state: dict
    rng_states: list


def drop_checkpoints(run_dir) -> None:
    """Delete a finished run's checkpoints: they only serve to resume it (720 KB each for the default network; a
    study's cells once filled 42 GB of 48 with them)."""
    from pathlib import Path

    for path in Path(run_dir).glob("checkpoint_*.npz"):
        path.unlink(missing_ok=True)


def checkpoint_name(phase: str) -> str:
    from .rundir import file_label

    return f"checkpoint_{file_label(phase)}.npz"


def save_checkpoint(rundir, history, weights: dict, rngs) -> None:
    state = {
        "format": FORMAT,
        "phase": history.phase,
        "history": history.to_state(),
        "rng_states": [rng.bit_generator.state for rng in rngs],
    }
    arrays = {f"current/{k}": v for k, v in weights.items()}
    if history.best_weights is not None:
        arrays.update({f"best/{k}": v for k, v in history.best_weights.items()})
    arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
    rundir.write_weights(checkpoint_name(history.phase), arrays)


def load_checkpoint(path, expected_shapes: dict) -> Checkpoint | None:
    """The checkpoint at ``path``, or None if there is none; DataError if it is damaged."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        state = json.loads(arrays.pop("state").tobytes().decode())
        if state.get("format") != FORMAT:
            raise ValueError(f"format {state.get('format')!r}, expected {FORMAT}")
        phase, history, rng_states = state["phase"], state["history"], state["rng_states"]
    except Exception as err:  # a damaged zip fails in many ways (BadZipFile, NotImplementedError, ...)
        raise DataError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from err
    parts = {"current": {}, "best": {}}
    for name, value in arrays.items():
        kind, _, key = name.partition("/")
        if kind not in parts:
            raise DataError(f"{path}: unexpected array {name!r} in checkpoint")
        parts[kind][key] = value
    for kind in ("current", "best"):
        if kind == "current" or parts[kind]:
            check_weights(path, parts[kind], expected_shapes, prefix=f"{kind}/")
    return Checkpoint(phase, parts["current"], parts["best"] or None, history, rng_states)
