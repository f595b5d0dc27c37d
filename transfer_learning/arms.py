"""The arms of a transfer run: the transfer itself and the controls trained beside it on the same target.

Every arm starts from its own initial weights and per-node learning-rate factors, built here from
the trained source network; all arms share the seed, data, architecture, optimizer and budget.

| arm | initial hidden weights | learning rate |
|---|---|---|
| transfer | the rule's kept nodes from the source, the rest re-drawn | --kept-lr-scale on kept nodes |
| scratch | a fresh network (its own generator) | lr |
| finetune | every source hidden weight | lr |
| freeze | as transfer | kept nodes frozen (factor 0) |
| random-reset | as many nodes per layer re-drawn as transfer, chosen at random | as transfer |
| shrink-perturb | shrink x source + perturb x fresh draw, every weight (Ash & Adams 2020) | lr |
| linear-probe | every source hidden weight | hidden layers frozen (factor 0): only the new output layer trains |
| lp-ft | the linear-probe arm's best weights (Kumar et al. 2022) | lr, every weight |
| l2-sp | every source hidden weight | lr; the cost adds --l2-sp x ||W - W_source||^2 per hidden W (Li et al. 2018) |

lp-ft is trained after linear-probe, from its result: its budget is the probe's epochs and then its own.
"""

from dataclasses import dataclass, field

import numpy as np

from .transfer import fresh_output_layer, random_masks, reinitialize, shrink_perturb
from .weights import hidden_names, initial_weights


@dataclass
class Generators:
    """The run's generators, one per purpose, split from --seed (see experiment.spawn_rngs)."""

    init: np.random.Generator
    probe: np.random.Generator
    reinit: np.random.Generator
    scratch: np.random.Generator
    random_reset: np.random.Generator
    shrink_perturb: np.random.Generator
    rule: np.random.Generator

    def as_list(self) -> list:
        return [self.init, self.probe, self.reinit, self.scratch, self.random_reset, self.shrink_perturb, self.rule]


@dataclass
class ArmInputs:
    """What every arm is built from."""

    cfg: object  # TransferConfig
    trained: dict  # trained source weights
    transferred: dict  # the transfer arm's initial weights
    masks: list  # the transfer arm's kept nodes, per hidden layer
    n_in: int
    n_classes: int  # target classes
    rngs: Generators


@dataclass
class ArmStart:
    """Where an arm's target training starts: its weights (or the arm whose trained weights it takes), its
    per-node learning-rate factors (None: all 1) and the weights an L2-SP penalty pulls toward (empty: none)."""

    weights: dict | None
    lr_scales: dict | None = None
    anchors: dict = field(default_factory=dict)
    after: str | None = None  # the arm whose best weights this one starts from (lp-ft: linear-probe)


def lr_scales(masks, kept_scale):
    """Per-node learning-rate factors: ``kept_scale`` for kept nodes, 1 for re-initialized ones (None: all 1)."""
    if kept_scale == 1:
        return None
    scales = {}
    for layer, keep in enumerate(masks):
        factor = np.where(keep, kept_scale, 1.0)
        for name in hidden_names(layer):
            scales[name] = factor
    return scales


def transfer_arm(a: ArmInputs):
    return ArmStart(a.transferred, lr_scales(a.masks, a.cfg.kept_lr_scale))


def scratch(a: ArmInputs):
    return ArmStart(initial_weights(a.rngs.scratch, a.n_in, a.cfg.hidden_sizes, a.n_classes,
                                    activation=a.cfg.activation))


def _source_under_new_output(a: ArmInputs) -> dict:
    return fresh_output_layer({k: v.copy() for k, v in a.trained.items()}, a.n_classes)


def finetune(a: ArmInputs):
    return ArmStart(_source_under_new_output(a))


def freeze(a: ArmInputs):
    return ArmStart(a.transferred, lr_scales(a.masks, 0.0))


def random_reset(a: ArmInputs):
    chosen = random_masks(a.masks, a.rngs.random_reset)
    weights = reinitialize(a.trained, chosen, a.rngs.random_reset, a.cfg.reinit_deeper, a.cfg.activation)
    return ArmStart(fresh_output_layer(weights, a.n_classes), lr_scales(chosen, a.cfg.kept_lr_scale))


def shrink_perturb_arm(a: ArmInputs):
    return ArmStart(shrink_perturb(a.trained, a.n_classes, a.rngs.shrink_perturb, a.cfg.shrink, a.cfg.perturb,
                                   a.cfg.activation))


def linear_probe(a: ArmInputs):
    every_node_kept = [np.ones(len(a.trained[hidden_names(i)[1]]), dtype=bool) for i in range(len(a.cfg.hidden_sizes))]
    return ArmStart(_source_under_new_output(a), lr_scales(every_node_kept, 0.0))


def lp_ft(a: ArmInputs):
    return ArmStart(None, after="linear-probe")


def l2_sp(a: ArmInputs):
    anchors = {hidden_names(i)[0]: a.trained[hidden_names(i)[0]] for i in range(len(a.cfg.hidden_sizes))}
    return ArmStart(_source_under_new_output(a), anchors=anchors)


#: Arm name -> builder (ArmInputs) -> ArmStart.
ARMS = {
    "transfer": transfer_arm,
    "scratch": scratch,
    "finetune": finetune,
    "freeze": freeze,
    "random-reset": random_reset,
    "shrink-perturb": shrink_perturb_arm,
    "linear-probe": linear_probe,
    "lp-ft": lp_ft,
    "l2-sp": l2_sp,
}


def build_arms(a: ArmInputs, names) -> dict:
    """The start of the transfer arm and then of each named baseline, in that order (an arm built on another's
    result, lp-ft, comes after it)."""
    return {name: ARMS[name](a) for name in ("transfer", *names)}
