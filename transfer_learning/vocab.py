"""The names every part of the package shares, on its ground floor: the error types, the training step's kernel
names and the arm registry.

Defined once, here, so that no module imports another just for a name or an error, and so that adding an arm is
one entry of ``ARMS`` (and its builder in arms.py). This module imports nothing of the package.
"""

from dataclasses import dataclass


class ConfigError(ValueError):
    """A setting has a value the run cannot use; the message names the flag and the value."""


class DataError(Exception):
    """A dataset cannot be used; the message names the file or value and what was expected."""


#: How the training step is compiled (train.compile_functions): "fused" with fused.py's kernels (the default),
#: "unfused" with the tutorial's ops as written: the escape hatch, whose results differ from fused's in the last
#: bits (the Makefile passes it to the tables that were made with it)
KERNELS = ("fused", "unfused")
DEFAULT_KERNELS = "fused"
#: Which library computes the training step's larger matrix products (onednn.py): oneDNN where it is the faster (the
#: default), or OpenBLAS throughout, as every result before 2026-12-07 was made (the Makefile passes it to those)
GEMMS = ("onednn", "openblas")
DEFAULT_GEMM = "onednn"
#: What a training phase does when its cost becomes NaN or infinite (train.sgd_early_stopping): "stop" ends the run
#: with exit 3 (the default: a single run should say so at once), "keep-best" ends the phase there with its
#: best-validation weights before it and marks it diverged (a study's confirm stage: one arm's divergence on one
#: replicate must not stop, or drop, the rest; docs/sweeps.md)
IF_DIVERGED = ("stop", "keep-best")
DEFAULT_IF_DIVERGED = "stop"


@dataclass(frozen=True)
class Arm:
    """One way of starting the target network, as the tables, the analysis and the plots treat it."""

    name: str
    #: its result depends on the nodes the rule kept, so every (rule, selection) run trains it
    per_selection: bool
    #: a reference of the transfer literature: selection-free, and compared with every rule
    reference: bool
    #: its colour in every plot
    color: str
    #: its place in the tables (the layer arms, keep-layers:N and the like, come at LAYER_ARMS_RANK)
    table_rank: int


#: Every arm but the layer arms, in the order a run trains them. That order is the order of their random draws and
#: an arm built on another's result comes after it (lp-ft after linear-probe), so it must not change.
ARMS = (
    Arm("transfer", per_selection=True, reference=False, color="tab:blue", table_rank=7),
    Arm("scratch", per_selection=False, reference=True, color="tab:gray", table_rank=0),
    Arm("finetune", per_selection=False, reference=True, color="tab:green", table_rank=1),
    Arm("freeze", per_selection=True, reference=False, color="tab:purple", table_rank=8),
    Arm("random-reset", per_selection=True, reference=False, color="tab:orange", table_rank=9),
    Arm("shrink-perturb", per_selection=False, reference=True, color="tab:brown", table_rank=5),
    Arm("linear-probe", per_selection=False, reference=True, color="darkkhaki", table_rank=2),
    Arm("lp-ft", per_selection=False, reference=True, color="teal", table_rank=3),
    Arm("l2-sp", per_selection=False, reference=True, color="goldenrod", table_rank=4),
)
#: The arms that keep whole hidden layers, named NAME:N (arms.py), and their place in the tables.
LAYER_ARMS = ("keep-layers", "freeze-layers", "self-layers")
LAYER_ARMS_RANK = 6

#: The control arms a transfer run can train beside the transfer arm (besides the layer arms), in training order.
BASELINES = tuple(arm.name for arm in ARMS if arm.name != "transfer")
#: The arms trained in every (rule, selection) run; the others once per replicate.
PER_SELECTION = tuple(arm.name for arm in ARMS if arm.per_selection)
#: The references in training order (the order of their columns in results.csv) ...
SELECTION_FREE = tuple(arm.name for arm in ARMS if arm.reference)
#: ... and in the tables' order (the analysis's families list them so).
REFERENCES = tuple(arm.name for arm in sorted(ARMS, key=lambda arm: arm.table_rank) if arm.reference)
ARM_COLORS = {arm.name: arm.color for arm in ARMS}


#: The families of hypotheses a sweep's analysis tests, each Holm-adjusted on its own (analysis.py).
FAMILIES = ("primary", "secondary", "rule-pairs-pooled", "rule-pairs-per-budget", "references", "layers",
            "reinit-deeper")


def arm_named(name: str) -> Arm:
    return next(arm for arm in ARMS if arm.name == name)


def is_layer_arm(name) -> bool:
    """keep-layers:1 and the like: an arm that keeps whole layers (tables, the analysis and the study tell them so)."""
    return str(name).partition(":")[0] in LAYER_ARMS


def table_rank(name: str) -> int:
    """Where an arm's rows stand in a table: the references, the layer arms, then the per-selection arms."""
    return arm_named(name).table_rank if name in ARM_COLORS else LAYER_ARMS_RANK


def difference_column(arm: str) -> str:
    """results.csv's column of a row's test error minus that of ``arm`` in the same replicate."""
    return f"test_error_minus_{arm.replace('-', '_')}_pp"
