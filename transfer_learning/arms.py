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
| keep-layers:N | the first N hidden layers whole from the source, the rest re-drawn (AnB+) | lr |
| freeze-layers:N | as keep-layers:N | the first N layers frozen (AnB) |
| self-layers:N | the first N layers of a network trained on the target subset, the rest re-drawn (BnB) | as AnB |

(AnB, AnB+, BnB: Yosinski, Clune, Bengio and Lipson, NIPS 2014.)

lp-ft is trained after linear-probe, from its result: its budget is the probe's epochs and then its own.
self-layers:N is trained after its own source network ("self-source", one per run, trained on the target
subset as the source phase is trained on the source task); it never reads the source task.
"""

import copy
import typing
from dataclasses import dataclass, field, replace

import numpy as np

from .transfer import fresh_hidden_draws, fresh_output_layer, random_masks, reinitialize, shrunk_and_perturbed
from .vocab import LAYER_ARMS
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
    layers: np.random.Generator  # the re-drawn deeper layers of the layer arms (each arm draws from a copy)
    self_source: np.random.Generator  # the initial weights of self-layers' own source network

    def as_list(self) -> list:
        return [self.init, self.probe, self.reinit, self.scratch, self.random_reset, self.shrink_perturb, self.rule,
                self.layers, self.self_source]


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
    after: str | None = None  # the arm (or self-source) whose best weights this one starts from
    from_result: typing.Callable | None = None  # those weights -> this arm's start (default: as they are)
    kept_layers: int | None = None  # layer arms: how many hidden layers were kept whole
    variant: typing.Callable | None = None  # settings -> the start under them, for an arm whose knob shapes its start

    def resolve(self, result: dict) -> "ArmStart":
        """The start of an arm built on another's result, once that result exists."""
        weights = self.from_result(result) if self.from_result else {k: v.copy() for k, v in result.items()}
        return replace(self, weights=weights, after=None, from_result=None)


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
    fresh = fresh_hidden_draws(a.trained, a.rngs.shrink_perturb, a.cfg.activation)

    def with_settings(cfg):
        return shrunk_and_perturbed(a.trained, fresh, a.n_classes, cfg.shrink, cfg.perturb)

    return ArmStart(with_settings(a.cfg), variant=with_settings)


def linear_probe(a: ArmInputs):
    every_node_kept = [np.ones(len(a.trained[hidden_names(i)[1]]), dtype=bool) for i in range(len(a.cfg.hidden_sizes))]
    return ArmStart(_source_under_new_output(a), lr_scales(every_node_kept, 0.0))


def lp_ft(a: ArmInputs):
    return ArmStart(None, after="linear-probe")


def l2_sp(a: ArmInputs):
    anchors = {hidden_names(i)[0]: a.trained[hidden_names(i)[0]] for i in range(len(a.cfg.hidden_sizes))}
    return ArmStart(_source_under_new_output(a), anchors=anchors)


def layer_arm(name: str) -> tuple[str, int] | None:
    """("keep-layers", 1) for "keep-layers:1"; None for an arm that is not a layer arm."""
    kind, colon, count = name.partition(":")
    if kind not in LAYER_ARMS:
        return None
    if not colon or not count.strip().isdigit():
        raise ValueError(f"{name!r}: expected {kind}:N with N a whole number of hidden layers")
    return kind, int(count)


def keep_first_layers(weights: dict, n_layers: int, rng: np.random.Generator, n_classes: int,
                      activation: str) -> dict:
    """``weights`` with its first ``n_layers`` hidden layers kept bit for bit and the deeper ones re-drawn from
    ``rng`` (columns as a full reset of the layer draws them, biases 0), under a new output layer."""
    n_hidden = sum(name.startswith("hidden") and name.endswith("_W") for name in weights)
    masks = [np.full(len(weights[hidden_names(i)[1]]), i < n_layers) for i in range(n_hidden)]
    return fresh_output_layer(reinitialize(weights, masks, rng, False, activation), n_classes)


def frozen_layers(weights: dict, n_layers: int) -> dict:
    """Learning-rate factors that freeze the first ``n_layers`` hidden layers (the deeper ones learn)."""
    n_hidden = sum(name.startswith("hidden") and name.endswith("_W") for name in weights)
    return lr_scales([np.full(len(weights[hidden_names(i)[1]]), i < n_layers) for i in range(n_hidden)], 0.0)


def layers_arm(a: ArmInputs, kind: str, n_layers: int) -> ArmStart:
    rng = copy.deepcopy(a.rngs.layers)  # every layer arm of a run re-draws the same deeper weights
    if kind == "self-layers":
        return ArmStart(None, after="self-source", kept_layers=n_layers,
                        from_result=lambda own: keep_first_layers(own, n_layers, rng, a.n_classes, a.cfg.activation),
                        lr_scales=frozen_layers(a.trained, n_layers))
    weights = keep_first_layers(a.trained, n_layers, rng, a.n_classes, a.cfg.activation)
    scales = frozen_layers(weights, n_layers) if kind == "freeze-layers" else None
    return ArmStart(weights, scales, kept_layers=n_layers)


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
    return {name: ARMS[name](a) if layer_arm(name) is None else layers_arm(a, *layer_arm(name))
            for name in ("transfer", *names)}
