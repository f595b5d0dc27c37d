"""What the two-stage study tunes per arm, and how a run finds an arm's tuned settings (--tune-knobs,
--arm-settings).

Each reference with a knob of its own has it tried at every learning rate of the grid, so that the references are
compared at their best, as the literature tunes them:

- ``l2-sp``: the penalty's strength (Li, Grandvalet and Davoine 2018 tune it per task);
- ``shrink-perturb``: the shrink (Ash and Adams 2020), the perturbation's scale fixed at --perturb;
- ``linear-probe``: the squared-L2 penalty and the number of epochs (Kornblith et al. 2019 and Kumar et al. 2022
  tune the probe's regularization and fit it to convergence; here the longest budget is three times --n-epochs,
  early-stopped on validation as every arm is).

Every other arm tunes its learning rate alone.
"""

import itertools
import json

from .config import parse_arm_settings
from .vocab import PER_SELECTION

#: arm -> {setting: values tried}; "n_epochs" values are multiples of --n-epochs.
KNOBS = {
    "l2-sp": {"l2_sp": (0.001, 0.01, 0.1)},
    "shrink-perturb": {"shrink": (0.2, 0.4, 0.6)},
    "linear-probe": {"L2_reg": (1e-4, 1e-3, 1e-2), "n_epochs": (1, 3)},
}


def knob_values(arm: str, n_epochs: int) -> list[dict]:
    """Every combination of an arm's knob values ([{}] for an arm without one)."""
    knobs = KNOBS.get(arm, {})
    values = [[v * n_epochs if name == "n_epochs" else v for v in knobs[name]] for name in knobs]
    return [dict(zip(knobs, combo, strict=True)) for combo in itertools.product(*values)]


def candidates(arm: str, cfg) -> list:
    """What --lr-grid tries for an arm: its rates, crossed with its knob values under --tune-knobs."""
    if not cfg.tune_knobs or arm not in KNOBS:
        return list(cfg.lr_grid)
    return [{"learning_rate": rate, **knob} for rate in cfg.lr_grid for knob in knob_values(arm, cfg.n_epochs)]


def arm_key(arm: str, rule: str | None = None, fraction: float | None = None) -> str:
    """The name an arm's settings go by: a per-selection arm's carries its rule and keep fraction."""
    return f"{arm}/{rule}@{fraction:g}" if arm in PER_SELECTION else arm


def settings_for(cfg, arm: str) -> dict:
    """The arm's own settings from --arm-settings ({} when it has none)."""
    if cfg.arm_settings is None:
        return {}
    table = parse_arm_settings(cfg.arm_settings)
    settings = table.get(arm_key(arm, cfg.rule, cfg.keep_fraction) if cfg.keep_fraction is not None else arm, {})
    return {k: (int(v) if k == "n_epochs" else v) for k, v in settings.items()}


def as_json(table: dict) -> str:
    """--arm-settings's value for a table of settings, in a stable order."""
    return json.dumps({k: table[k] for k in sorted(table)}, sort_keys=True, separators=(",", ":"))
