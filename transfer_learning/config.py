"""Every default and its help text, in one place. The CLI and config.json are built from these."""

from dataclasses import dataclass, field, fields, replace

from .data import RESIZE_MODES, spec_name
from .data.subsets import SUBSET_KINDS
from .rules import CONTROL_RULES, RULES
from .vocab import (
    BASELINES,
    DEFAULT_GEMM,
    DEFAULT_IF_DIVERGED,
    DEFAULT_KERNELS,
    GEMMS,
    IF_DIVERGED,
    KERNELS,
    ConfigError,
    is_layer_arm,
)
from .weights import ACTIVATIONS

_KERNELS_HELP = ("how the training step is compiled: fused (fused C kernels for the softmax loss and tanh) or "
                 "unfused (the tutorial's ops as written: slower, results differ in the last bits; docs/speed.md)")

#: The 2015 threshold, used when neither --threshold nor --keep-fraction is given.
DEFAULT_THRESHOLD = 0.6
#: How the initial weights are drawn: numpy's Generator split from --seed, or the tutorial's RandomState.
INIT_RNGS = ("default", "legacy")


def parse_threshold(value) -> float | str:
    """--threshold: a number >= 0, or "auto"."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"--threshold: expected a number >= 0 or auto, got {value!r}") from err
    if not number >= 0:
        raise ConfigError(f"--threshold: expected a number >= 0 or auto, got {value!r}")
    return number


def _choice(flag_name, options):
    """An argparse-ready parser for a field with fixed options; the error lists them."""

    def parse(value):
        text = str(value).strip().lower()
        if text not in options:
            raise ConfigError(f"{flag_name}: expected one of {', '.join(options)}, got {value!r}")
        return text

    return parse


def parse_fraction(value) -> float:
    """--keep-fraction: a number in [0, 1]."""
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"--keep-fraction: expected a number in [0, 1], got {value!r}") from err
    if not 0 <= number <= 1:
        raise ConfigError(f"--keep-fraction: expected a number in [0, 1], got {value!r}")
    return number


def parse_seeds(value) -> tuple[int, ...]:
    """--seeds: 1,2,3 or 1-20 or a mix (1-5,9)."""
    try:
        seeds = []
        for part in str(value).split(","):
            low, _, high = part.strip().partition("-")
            seeds.extend(range(int(low), int(high or low) + 1))
    except ValueError as err:
        raise ConfigError(f"--seeds: expected integers and ranges like 1,2,3 or 1-20, got {value!r}") from err
    return tuple(seeds)


def parse_valid_size(value) -> int | str:
    """--target-valid-size: a positive number of examples, or "all"."""
    if isinstance(value, str) and value.strip().lower() == "all":
        return "all"
    try:
        number = int(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"--target-valid-size: expected a positive integer or all, got {value!r}") from err
    if number <= 0:
        raise ConfigError(f"--target-valid-size: expected a positive integer or all, got {value!r}")
    return number


def parse_lr_grid(value) -> tuple[float, ...]:
    """--lr-grid: distinct learning rates > 0, comma-separated."""
    try:
        rates = tuple(float(part) for part in (value.split(",") if isinstance(value, str) else value))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"--lr-grid: expected distinct learning rates > 0 like 0.03,0.1,0.3, got {value!r}") from err
    if not rates or not all(r > 0 and r != float("inf") for r in rates) or len(set(rates)) != len(rates):
        raise ConfigError(f"--lr-grid: expected distinct learning rates > 0 like 0.03,0.1,0.3, got {value!r}")
    return rates


def parse_yes_no(value) -> tuple[bool, ...]:
    """--reinit-deeper of a sweep: no, yes or no,yes."""
    words = [w.strip().lower() for w in str(value).split(",")]
    if not words or any(w not in ("no", "yes") for w in words) or len(set(words)) != len(words):
        raise ConfigError(f"--reinit-deeper: expected no, yes or no,yes, got {value!r}")
    return tuple(w == "yes" for w in words)


#: The settings an arm can be given one by one (--arm-settings): the rate and each arm's own knob.
TUNABLE = ("learning_rate", "l2_sp", "shrink", "L2_reg", "n_epochs")


def parse_arm_settings(value) -> dict:
    """--arm-settings: {ARM: {SETTING: number}} as JSON, SETTING among TUNABLE."""
    import json

    try:
        table = json.loads(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"--arm-settings: expected JSON like {{\"scratch\": {{\"learning_rate\": 0.1}}}}, "
                          f"got {value!r}") from err
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise ConfigError(f"--arm-settings: expected an object of objects, got {value!r}")
    for arm, settings in table.items():
        for name, number in settings.items():
            if name not in TUNABLE or isinstance(number, bool) or not isinstance(number, (int, float)):
                raise ConfigError(f"--arm-settings: {arm}: expected settings among {', '.join(TUNABLE)} with numbers, "
                                  f"got {name}={number!r}")
    return table


#: The bound of every numeric setting, checked when a config is made (scikit-learn's _parameter_constraints are the
#: model): "positive" a number > 0 (the counts), (">", b) a value above b, (">=", b) at least b. None passes where
#: None is the setting's "not given".
BOUNDS = {
    "learning_rate": (">", 0), "n_epochs": "positive", "batch_size": "positive", "patience": "positive",
    "patience_increase": (">=", 1), "L1_reg": (">=", 0), "L2_reg": (">=", 0), "apoz_eps": (">=", 0),
    "taylor_l2": (">", 0), "shrink": (">=", 0), "perturb": (">=", 0), "auto_epochs": "positive",
    "probe_size": "positive", "kept_lr_scale": (">=", 0), "target_train_size": "positive", "l2_sp": (">=", 0),
    "ttt_level": (">", 0), "valid_pool": "positive", "test_pool": (">=", 0),
}


def _check_bounds(cfg):
    for name, bound in BOUNDS.items():
        value = getattr(cfg, name, None)
        if value is None:
            continue
        if bound == "positive":
            if not value > 0:
                raise ConfigError(f"{flag(name)}: expected a positive number, got {value}")
        elif not (value > bound[1] if bound[0] == ">" else value >= bound[1]):
            raise ConfigError(f"{flag(name)}: expected a value {bound[0]} {bound[1]}, got {value}")


def _opt(default, help, **extra):
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class LogisticConfig:
    """The deeplearning.net tutorial's logistic regression (logistic_sgd.py)."""

    learning_rate: float = _opt(0.13, "SGD step size")
    n_epochs: int = _opt(1000, "maximum number of passes over the training set")
    batch_size: int = _opt(600, "examples per SGD minibatch")
    patience: int = _opt(5000, "look at this many minibatches at least before stopping early")
    patience_increase: float = _opt(
        2.0, "on a significant improvement, wait this many times the current iteration"
    )
    improvement_threshold: float = _opt(
        0.995, "a validation error below best x this value counts as a significant improvement"
    )
    task: str = _opt("mnist", "dataset to learn: NAME or NAME:classes, e.g. mnist or mnist:0-4", metavar="SPEC")
    dataset: str | None = _opt(
        None, "path of your own mnist.pkl.gz (default: the data folder's, fetched once; docs/install.md, "
        "'Where the data lives', says where that is)", metavar="PATH"
    )
    seed: int = _opt(1234, "seed of every random draw in the run")
    out: str | None = _opt(None, "run directory to write (default: runs/<timestamp>-logistic)", metavar="DIR")
    kernels: str = _opt(DEFAULT_KERNELS, _KERNELS_HELP, metavar="KIND", type=_choice("--kernels", KERNELS))

    def __post_init__(self):
        self.validate()

    def validate(self):
        _check_common(self)
        _choice("--kernels", KERNELS)(self.kernels)


@dataclass(frozen=True)
class TransferConfig:
    """The 2015 transfer experiment: train on source, probe on target, keep/re-init, retrain."""

    hidden_sizes: tuple[int, ...] = _opt(
        (100, 100), "hidden layer widths, comma-separated: 100,100 (2015) or 500 (tutorial MLP)"
    )
    learning_rate: float = _opt(0.1, "SGD step size, both phases")
    L1_reg: float = _opt(0.0, "weight of the L1 penalty on all weight matrices")
    L2_reg: float = _opt(1e-4, "weight of the squared-L2 penalty on all weight matrices")
    batch_size: int = _opt(20, "examples per SGD minibatch")
    n_epochs: int = _opt(20, "maximum epochs per phase (source, then target)")
    patience: int = _opt(10000, "look at this many minibatches at least before stopping early")
    patience_increase: float = _opt(
        2.0, "on a significant improvement, wait this many times the current iteration"
    )
    improvement_threshold: float = _opt(
        0.995, "a validation error below best x this value counts as a significant improvement"
    )
    activation: str = _opt("tanh", f"hidden-layer nonlinearity: {' or '.join(ACTIVATIONS)} (relu: He-uniform init)",
                           metavar="NAME", type=_choice("--activation", ACTIVATIONS))
    kernels: str = _opt(DEFAULT_KERNELS, _KERNELS_HELP, metavar="KIND", type=_choice("--kernels", KERNELS))
    gemm: str = _opt(DEFAULT_GEMM, "which library computes the training step's larger matrix products: onednn "
                     "(oneDNN's dnnl_sgemm where it beats OpenBLAS, the rest OpenBLAS's; docs/speed.md) or openblas "
                     "(all OpenBLAS's, as every result before 2026-12-07 was made; the results differ in the last "
                     "bits)", metavar="LIB", type=_choice("--gemm", GEMMS))
    if_diverged: str = _opt(DEFAULT_IF_DIVERGED, "when a phase's cost becomes NaN or infinite: stop (the run ends "
                            "with exit 3, its last checkpoint kept) or keep-best (the phase ends there with its "
                            "best-validation weights before it, and results.json marks the arm diverged; a study's "
                            "confirm stage uses it, docs/sweeps.md)", metavar="WHAT",
                            type=_choice("--if-diverged", IF_DIVERGED))
    rule: str = _opt("mean-abs", "how hidden nodes are scored on the probe: " + ", ".join(RULES)
                     + " (mean-abs is 2015's mean |activation|; docs/rules.md defines each)",
                     metavar="NAME", type=_choice("--rule", tuple(RULES)))
    threshold: float | str | None = _opt(
        None, f"keep a node (default: {DEFAULT_THRESHOLD:g}): its incoming weights are kept if its score on the "
        "probe is >= this; auto: chosen among --auto-thresholds by short retrains scored on target validation "
        "data; not with --keep-fraction",
        metavar="X|auto", type=parse_threshold,
    )
    keep_fraction: float | None = _opt(
        None, "instead of a threshold, keep in every hidden layer the round(F x width) nodes with the highest "
        "scores (ties to the lower index): equal budgets for rules whose scores live on different scales",
        metavar="F", type=parse_fraction,
    )
    apoz_eps: float = _opt(0.01, "--rule apoz: an activation counts as zero when |h| < this")
    taylor_l2: float = _opt(0.01, "--rule taylor: L2 penalty of the logistic head fitted on the probe")
    shrink: float = _opt(0.4, "shrink-perturb arm: every source hidden weight is multiplied by this ...")
    perturb: float = _opt(0.1, "... and this times a fresh initial draw is added (Ash & Adams 2020)")
    auto_thresholds: tuple[float, ...] = _opt(
        (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), "--threshold auto: the candidates tried (0 keeps every node, 1 none)"
    )
    auto_epochs: int = _opt(3, "--threshold auto: epochs of the short retrain that scores each candidate")
    probe_size: int = _opt(100, "number of target training images shown to the trained net")
    source: str = _opt("mnist:0-4", "source task: NAME or NAME:classes, NAME one of mnist, fashion-mnist, "
                       "imagefolder:DIR (mnist, mnist:0-4, mnist:0,2,4, fashion-mnist:0-4, imagefolder:letters:0-9)",
                       metavar="SPEC")
    target: str = _opt("mnist:5-9", "target task, same syntax; --source mnist --target mnist is the 2015 run",
                       metavar="SPEC")
    dataset: str | None = _opt(
        None, "path of your own mnist.pkl.gz (default: the data folder's, fetched once; docs/install.md, "
        "'Where the data lives', says where that is)", metavar="PATH"
    )
    source_path: str | None = _opt(
        None, "where the source dataset's files are: the folder of fashion-mnist's IDX files, an image "
        "folder, or an mnist.pkl.gz (default: the dataset's usual place)", metavar="PATH"
    )
    target_path: str | None = _opt(None, "where the target dataset's files are; as --source-path", metavar="PATH")
    invert: bool = _opt(
        False, "invert image-folder images (dark-on-light scans become light-on-dark, like MNIST)"
    )
    resize: str = _opt("fit", "how image-folder images become 28x28: fit (longer side 28, aspect kept, padded with "
                       "the image's border colour) or stretch (to 28x28, as the 2015 resizeHSF1.py did)",
                       metavar="HOW", type=_choice("--resize", RESIZE_MODES))
    labels_from_filename: bool = _opt(
        False, "image folders: a flat folder of NIST HSF_* files labelled by the eighth '_'-separated field of "
        "the file name (case-folded), as the 2015 getHSF.py read them, instead of one sub-folder per class")
    split_seed: int = _opt(0, "seed of an image folder's train/valid/test split, kept apart from --seed so that "
                           "runs with other seeds (and their --source-weights) share one split")
    baselines: str = _opt(
        "scratch",
        "control arms trained on the target beside the transfer, comma-separated: scratch (fresh network), "
        "finetune (keep every hidden weight), freeze (kept weights do not move), random-reset (reset as many "
        "nodes, chosen at random), shrink-perturb (every weight shrunk and perturbed, no selection), linear-probe "
        "(every hidden weight frozen, only the new output layer trains), lp-ft (the linear probe's best weights, "
        "then every weight finetuned; implies linear-probe), l2-sp (finetune pulled toward the source weights, "
        "--l2-sp), keep-layers:N (the first N hidden layers kept whole, the rest re-drawn, all trained), "
        "freeze-layers:N (the same, the kept layers frozen), self-layers:N (the first N layers of a network trained "
        "on the target itself, frozen, the rest re-drawn: the BnB control); or none",
        metavar="ARMS",
    )
    kept_lr_scale: float = _opt(1.0, "kept weights learn at this times the learning rate (0 = frozen, 1 = as in 2015)")
    reinit_deeper: bool = _opt(
        False, "also re-initialize the weights leaving a reset node (its row in the next hidden layer's W)"
    )
    target_train_size: int | None = _opt(
        None, "use only N target training examples (a low-data target): a stratified random sample drawn with "
        "--data-seed, shuffled (or the first N with --subset first)", metavar="N"
    )
    target_valid_size: int | str | None = _opt(
        None, "validate on N target validation examples, a stratified random sample (default: a fifth of "
        "--target-train-size when that is given, as MNIST's 50,000 : 10,000; else all); all: the whole split. "
        "The test split is always used whole", metavar="N|all", type=parse_valid_size)
    data_seed: int | None = _opt(
        None, "seed of the target subsets' draw (default: --seed), kept apart from the seed of the weights, so "
        "data replicates and initializations can be crossed", metavar="N")
    subset: str = _opt(
        "stratified", "how the target subsets are chosen: stratified (random, class proportions of the split, from "
        "--data-seed) or first (the first N examples, the whole validation split unless --target-valid-size: the "
        "protocol of the results committed before data replicates)", metavar="KIND",
        type=_choice("--subset", SUBSET_KINDS))
    lr_grid: tuple[float, ...] | None = _opt(
        None, "train every target arm at each of these learning rates and keep the one with the lowest validation "
        "error (the test split is read once, for the chosen rate), e.g. 0.01,0.03,0.1,0.3; default: "
        "--learning-rate alone", metavar="X,X", type=parse_lr_grid)
    l2_sp: float = _opt(
        0.01, "l2-sp arm: weight of the penalty ||W - W_source||^2 on every hidden weight matrix, added to "
        "finetune's cost (Li et al. 2018; docs/arms-and-metrics.md says why this default)", metavar="X")
    valid_pool: int | None = _opt(
        None, "set aside N of the target's training images as a validation pool before any subset is drawn (one "
        "seeded cut per task, the same for every replicate and arm; docs/sweeps.md, 'Pools'): each arm's error on "
        "it is recorded, the two-stage study tunes on it and the oracle rule reads it", metavar="N")
    test_pool: int = _opt(
        0, "with --valid-pool: set aside N more as an extra test pool; test errors are then counted over the official "
        "test split and this pool together (the official split's error stays a column of its own)", metavar="N")
    pool_seed: int = _opt(0, "seed of the pools' cut (--valid-pool, --test-pool), kept apart from every other seed")
    arm_settings: str | None = _opt(
        None, "per-arm settings as JSON, {ARM: {SETTING: VALUE}}, ARM an arm's name or, for the per-selection "
        "arms, ARM/RULE@FRACTION (transfer/utility@0.25); SETTING one of " + ", ".join(TUNABLE)
        + ": what the two-stage study's confirm stage passes from tuned.json", metavar="JSON")
    protocol: str | None = _opt(
        None, "a note of the protocol that made the run, kept in config.json (the two-stage study writes its stage and "
        "the digests of tuned.json and hypotheses.json here)", metavar="TEXT")
    tune_knobs: bool = _opt(
        False, "with --lr-grid: also try each arm's own knob (docs/sweeps.md, 'Two stages': l2-sp's strength, "
        "shrink-perturb's shrink, the linear probe's L2 penalty and epochs) at every rate")
    source_weights: str | None = _opt(
        None, "start from saved source weights (a run's weights_source.npz) instead of training them", metavar="FILE"
    )
    ttt_level: float = _opt(1.05, "time to threshold: epochs until the validation error is <= this x scratch's best")
    no_transfer: bool = _opt(False, "train the source task only; with --source mnist --hidden-sizes 500 "
                             "--learning-rate 0.01 --n-epochs 1000 --init-rng legacy this is the tutorial's mlp.py, "
                             "its initial draws included (without --init-rng legacy: its model from another draw)")
    seed: int = _opt(1234, "seed of every random draw in the run")
    init_rng: str = _opt("default", "initial weights from numpy's Generator split from --seed (default), or legacy: "
                         "the tutorial's RandomState(--seed) draws in its order (with the tutorial's flags this is "
                         "its mlp.py exactly)", metavar="KIND", type=_choice("--init-rng", INIT_RNGS))
    out: str | None = _opt(None, "run directory to write (default: runs/<timestamp>)", metavar="DIR")
    per_node: bool = _opt(
        False, "also write the 2015 one-image-per-node files (wMapInit<i>.png, ...)", pictures_only=True
    )

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Every setting checked (BOUNDS, the choices, and what settings mean together); a config that exists is a
        valid one, since __post_init__ calls this."""
        _check_common(self)
        if not self.hidden_sizes:
            raise ConfigError("--hidden-sizes: expected at least one layer width, got none")
        for width in self.hidden_sizes:
            if width <= 0:
                raise ConfigError(f"--hidden-sizes: expected positive widths, got {width}")
        if self.threshold is not None:
            parse_threshold(self.threshold)
        if self.threshold is not None and self.keep_fraction is not None:
            raise ConfigError("--threshold and --keep-fraction both given; a run keeps nodes by one of them")
        if self.keep_fraction is not None:
            parse_fraction(self.keep_fraction)
        _choice("--activation", ACTIVATIONS)(self.activation)
        _choice("--kernels", KERNELS)(self.kernels)
        _choice("--gemm", GEMMS)(self.gemm)
        _choice("--if-diverged", IF_DIVERGED)(self.if_diverged)
        _choice("--rule", tuple(RULES))(self.rule)
        _choice("--resize", RESIZE_MODES)(self.resize)
        _choice("--init-rng", INIT_RNGS)(self.init_rng)
        image_folder = "imagefolder" in {spec_name(self.source), spec_name(self.target)}
        for name in ("labels_from_filename",):
            if getattr(self, name) and not image_folder:
                raise ConfigError(f"{flag(name)}: applies to imagefolder datasets only, and neither --source nor "
                                  "--target is one")
        if not self.auto_thresholds or min(self.auto_thresholds) < 0:
            raise ConfigError(f"--auto-thresholds: expected values >= 0, got {self.auto_thresholds}")
        if self.invert and "imagefolder" not in {spec_name(self.source), spec_name(self.target)}:
            raise ConfigError("--invert: applies to imagefolder datasets only, and neither --source nor --target "
                              "is one")
        if self.target_valid_size is not None:
            parse_valid_size(self.target_valid_size)
        if self.data_seed is not None and (not isinstance(self.data_seed, int) or self.data_seed < 0):
            raise ConfigError(f"--data-seed: expected an integer >= 0, got {self.data_seed!r}")
        _choice("--subset", SUBSET_KINDS)(self.subset)
        if self.lr_grid is not None:
            parse_lr_grid(self.lr_grid)
        if self.test_pool and self.valid_pool is None:
            raise ConfigError("--test-pool: needs --valid-pool (the pools are cut together)")
        if self.arm_settings is not None:
            parse_arm_settings(self.arm_settings)
        self.arms  # noqa: B018  (validates --baselines)

    @property
    def selection(self) -> tuple[str, float | str]:
        """How nodes are chosen: ("threshold", value or "auto") or ("keep_fraction", F)."""
        if self.keep_fraction is not None:
            return "keep_fraction", self.keep_fraction
        return "threshold", DEFAULT_THRESHOLD if self.threshold is None else self.threshold

    @property
    def data_seed_used(self) -> int:
        """The seed of the target subsets' draw: --data-seed, else --seed."""
        return self.seed if self.data_seed is None else self.data_seed

    @property
    def valid_size_used(self) -> int | None:
        """Target validation examples to draw (None: the whole split)."""
        if self.target_valid_size == "all":
            return None
        if self.target_valid_size is not None:
            return self.target_valid_size
        if self.target_train_size is not None and self.subset == "stratified":
            return max(1, round(self.target_train_size / 5))
        return None

    @property
    def arms(self) -> tuple[str, ...]:
        """The baseline arms asked for, in a fixed order (lp-ft brings linear-probe, its first phase)."""
        names = [n.strip() for n in self.baselines.split(",") if n.strip()]
        if names == ["none"]:
            return ()
        layers = [n for n in names if is_layer_arm(n)]
        for name in layers:
            n_layers = name.partition(":")[2].strip()
            if not n_layers.isdigit() or not 1 <= int(n_layers) <= len(self.hidden_sizes) - 1:
                raise ConfigError(
                    f"--baselines: {name}: expected {name.partition(':')[0]}:N with N from 1 to the number of hidden "
                    f"layers minus one ({len(self.hidden_sizes) - 1} here; keeping every layer is finetune or "
                    "linear-probe)" if len(self.hidden_sizes) > 1 else
                    f"--baselines: {name}: layer arms need at least two hidden layers")
        unknown = [n for n in names if n not in BASELINES and n not in layers]
        if unknown or not names:
            raise ConfigError(
                f"--baselines: unknown arm {', '.join(unknown) or repr(self.baselines)}; "
                f"expected some of {', '.join(BASELINES)}, or none"
            )
        if "lp-ft" in names:
            names.append("linear-probe")
        return tuple(n for n in BASELINES if n in names) + tuple(sorted(set(layers), key=layers.index))


def _check_common(cfg):
    _check_bounds(cfg)
    if not 0 < cfg.improvement_threshold <= 1:
        raise ConfigError(
            f"--improvement-threshold: expected a value in (0, 1], got {cfg.improvement_threshold}"
        )


def flag(name: str) -> str:
    """The command-line flag of a config field: L2_reg -> --l2-reg."""
    return "--" + name.lower().replace("_", "-")


def flag_value(value) -> str:
    """A setting's value as its flag takes it: a list or tuple comma-separated (100,100), anything else as is."""
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


#: --help's sections for the transfer scripts' flags, each a list of TransferConfig fields (a field in none of them
#: is listed under "other settings"; tests/test_cli.py checks that none is).
FLAG_GROUPS = {
    "data": ("source", "target", "dataset", "source_path", "target_path", "invert", "resize", "labels_from_filename",
             "split_seed"),
    "the network and its training": ("hidden_sizes", "activation", "learning_rate", "L1_reg", "L2_reg", "batch_size",
                                     "n_epochs", "patience", "patience_increase", "improvement_threshold", "kernels",
                                     "gemm", "if_diverged", "seed", "init_rng", "no_transfer", "source_weights"),
    "which nodes are kept": ("rule", "threshold", "keep_fraction", "probe_size", "apoz_eps", "taylor_l2",
                             "auto_thresholds", "auto_epochs", "reinit_deeper", "kept_lr_scale"),
    "arms and protocol": ("baselines", "shrink", "perturb", "l2_sp", "target_train_size", "target_valid_size",
                          "data_seed", "subset", "lr_grid", "ttt_level", "valid_pool", "test_pool", "pool_seed",
                          "arm_settings", "tune_knobs", "protocol"),
    "output": ("out", "per_node"),
}


def config_fields(config_cls, pictures: bool = True):
    """The fields a script exposes; picture-only ones are left out of plain runs."""
    return [f for f in fields(config_cls) if pictures or not f.metadata.get("pictures_only")]


#: The tutorial's mlp.py: one hidden layer of 500, lr 0.01, up to 1000 epochs, source only, its RandomState draws.
TUTORIAL_MLP = TransferConfig(
    hidden_sizes=(500,), learning_rate=0.01, n_epochs=1000, source="mnist", no_transfer=True, init_rng="legacy"
)

#: The 2015 run: the same database as source and target.
ORIGINAL_2015 = replace(TransferConfig(), source="mnist", target="mnist")


#: Fields of TransferConfig a sweep sets itself, per run, so they are not flags of the sweep.
SWEEP_OWNS = ("threshold", "keep_fraction", "rule", "auto_thresholds", "auto_epochs", "seed", "out", "no_transfer",
              "source_weights", "per_node", "data_seed", "reinit_deeper")
#: The sweep's default arms: scratch and finetune as bands, random-reset as the control for the rule.
SWEEP_BASELINES = "scratch,finetune,random-reset"
#: The thresholds a sweep runs when given neither --thresholds nor --keep-fractions.
SWEEP_THRESHOLDS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class SweepConfig:
    """A grid of rules x (thresholds or keep fractions) x seeds for one source/target pair; every other
    setting is a TransferConfig's."""

    rules: str = _opt("mean-abs", "selection rules to compare, comma-separated (" + ", ".join(RULES) + "), or all",
                      metavar="NAMES")
    thresholds: tuple[float, ...] | None = _opt(
        None, "thresholds to run (0 keeps every node; mean |tanh| < 1, so 1 keeps none); default "
        + ",".join(f"{t:g}" for t in SWEEP_THRESHOLDS) + " unless --keep-fractions is given", metavar="X,X")
    keep_fractions: tuple[float, ...] | None = _opt(
        None, "keep fractions to run (equal budgets across rules: each layer keeps its round(F x width) "
        "highest-scoring nodes), e.g. 0.1,0.25,0.5,0.75", metavar="F,F")
    seeds: tuple[int, ...] = _opt((1, 2, 3, 4, 5), "seeds, comma-separated or a range (1-20); every arm, rule and "
                                  "selection of one seed shares its source network, probe and data, so comparisons "
                                  "are paired by seed", metavar="N,N", type=parse_seeds)
    data_seeds: tuple[int, ...] | None = _opt(
        None, "cross these data seeds with --seeds: every (seed, data seed) pair is a replicate, and summary.md "
        "splits the spread of each paired difference into data, initialization and residual parts (default: "
        "each seed draws its own target subsets with its own number)", metavar="N,N", type=parse_seeds)
    reinit_deeper: tuple[bool, ...] = _opt(
        (False,), "run the selective arms without (no) and/or with (yes) the re-drawing of the weights leaving a "
        "reset node (--reinit-deeper of mlp_transfer.py), paired by replicate: no, yes or no,yes",
        metavar="no,yes", type=parse_yes_no)
    equivalence_margin: float = _opt(
        0.25, "margin of the equivalence tests (TOST), in percentage points of test error: two arms are called "
        "equivalent only where the difference is shown to lie within +-this", metavar="PP")
    jobs: int = _opt(-1, "worker processes on this machine (-1: one per CPU core)")
    scheduler: str | None = _opt(
        None, "address of a running Dask distributed scheduler (e.g. tcp://10.0.0.5:8786) to send the runs to "
        "instead of local processes; its workers need this package and the datasets", metavar="ADDRESS")
    run_curves: bool = _opt(False, "also draw each run's own curves.png (the sweep's sweep.png is always drawn)")
    out: str | None = _opt(None, "sweep directory (default: sweeps/<timestamp>); run the same command with the same "
                           "--out again to continue an interrupted sweep", metavar="DIR")

    @property
    def rule_names(self) -> tuple[str, ...]:
        names = [n.strip() for n in self.rules.split(",") if n.strip()]
        if names == ["all"]:
            return tuple(r for r in RULES if r not in CONTROL_RULES)  # what "all" meant before the controls
        unknown = [n for n in names if n not in RULES]
        if unknown or not names or len(set(names)) != len(names):
            raise ConfigError(f"--rules: expected distinct names among {', '.join(RULES)} (or all: every rule but "
                              f"{' and '.join(CONTROL_RULES)}), got {self.rules!r}")
        return tuple(names)

    @property
    def selections(self) -> tuple[tuple[str, float], ...]:
        """Every (kind, value) a rule is run at: thresholds first, then keep fractions."""
        thresholds = self.thresholds
        if thresholds is None and self.keep_fractions is None:
            thresholds = SWEEP_THRESHOLDS
        return (tuple(("threshold", t) for t in thresholds or ())
                + tuple(("keep_fraction", f) for f in self.keep_fractions or ()))

    def __post_init__(self):
        self.validate()

    def validate(self):
        self.rule_names  # noqa: B018  (validates --rules)
        if self.thresholds is not None and (not self.thresholds or min(self.thresholds) < 0):
            raise ConfigError(f"--thresholds: expected values >= 0, got {','.join(map(str, self.thresholds))}")
        if self.thresholds is not None and len(set(self.thresholds)) != len(self.thresholds):
            raise ConfigError("--thresholds: a threshold is listed twice")
        if self.keep_fractions is not None:
            if not self.keep_fractions or not all(0 <= f <= 1 for f in self.keep_fractions):
                raise ConfigError("--keep-fractions: expected values in [0, 1], got "
                                  f"{','.join(map(str, self.keep_fractions))}")
            if len(set(self.keep_fractions)) != len(self.keep_fractions):
                raise ConfigError("--keep-fractions: a fraction is listed twice")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError("--seeds: expected distinct seeds, at least one")
        if self.data_seeds is not None and (not self.data_seeds or len(set(self.data_seeds)) != len(self.data_seeds)
                                            or min(self.data_seeds) < 0):
            raise ConfigError("--data-seeds: expected distinct seeds >= 0, at least one")
        if not self.equivalence_margin > 0:
            raise ConfigError(f"--equivalence-margin: expected a value > 0, got {self.equivalence_margin}")
        if not self.reinit_deeper or len(set(self.reinit_deeper)) != len(self.reinit_deeper):
            raise ConfigError("--reinit-deeper: expected no, yes or no,yes")
        if self.jobs == 0 or self.jobs < -1:
            raise ConfigError(f"--jobs: expected a positive number or -1, got {self.jobs}")
    @property
    def replicates(self) -> tuple[tuple[int, int], ...]:
        """(seed, data seed) of every replicate: each seed with its own number, or --seeds x --data-seeds."""
        if self.data_seeds is None:
            return tuple((s, s) for s in self.seeds)
        return tuple((s, d) for s in self.seeds for d in self.data_seeds)


#: The study's task pairs: near (digits to digits), near in another domain (clothes to clothes), far (digits to
#: clothes), each SOURCE>TARGET.
STUDY_PAIRS = ("mnist:0-4>mnist:5-9", "fashion-mnist:0-4>fashion-mnist:5-9", "mnist>fashion-mnist")
#: What a study runs in every cell unless told otherwise: the rules the rule sweeps found distinct, two budgets, the
#: references and the layer arms, and a learning-rate grid.
STUDY_DEFAULTS = {"rules": "mean-abs,utility,centered,taylor,random", "keep_fractions": (0.25, 0.5),
                  "baselines": "scratch,finetune,linear-probe,lp-ft,l2-sp,shrink-perturb,keep-layers:1,"
                               "freeze-layers:1,self-layers:1",
                  "lr_grid": (0.01, 0.03, 0.1, 0.3, 1.0)}


def parse_pairs(value) -> tuple[tuple[str, str], ...]:
    """--pairs: SOURCE>TARGET,SOURCE>TARGET (mnist:0-4>mnist:5-9,mnist>fashion-mnist)."""
    pairs = []
    for part in str(value).split(","):
        source, arrow, target = part.strip().partition(">")
        if not arrow or not source.strip() or not target.strip():
            raise ConfigError(f"--pairs: expected SOURCE>TARGET pairs, comma-separated, got {value!r}")
        pairs.append((source.strip(), target.strip()))
    return tuple(pairs)


def parse_widths(value) -> tuple[tuple[int, ...], ...]:
    """--widths: networks' hidden sizes separated by '/': 100,100/500,500."""
    try:
        widths = tuple(tuple(int(w) for w in part.split(",")) for part in str(value).split("/"))
    except ValueError as err:
        raise ConfigError(f"--widths: expected hidden sizes like 100,100/500,500, got {value!r}") from err
    if not widths or any(not w or min(w) <= 0 for w in widths):
        raise ConfigError(f"--widths: expected positive hidden sizes like 100,100/500,500, got {value!r}")
    return widths


#: The two-stage study's stages (stages.py).
STAGES = ("tune", "plan", "confirm")
#: The two stages' replicate seeds, disjoint from each other and from every committed sweep's and map's (1-20): the
#: tuning replicates are seeds 1001.., the confirmation replicates 2001.. (so up to 1,000 of each).
TUNE_SEEDS_FROM, CONFIRM_SEEDS_FROM = 1001, 2001
#: What the two stages set aside where --valid-pool is not given: a validation pool of 2,000 target training images
#: and an extra test pool of 10,000 (for digits 5-9 that leaves a draw pool of about 12,500).
STAGE_POOLS = {"valid_pool": 2000, "test_pool": 10000}
#: The two-stage study's defaults where they differ from the map's: the arms of the confirmation study.
STAGE_DEFAULTS = {"rules": "mean-abs,utility,random,oracle,scale-matched",
                  "baselines": "scratch,finetune,linear-probe,lp-ft,l2-sp,keep-layers:1"}


def parse_names(value, flag_name) -> tuple[str, ...]:
    names = tuple(n.strip() for n in str(value).split(",") if n.strip())
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"{flag_name}: expected distinct names, comma-separated, got {value!r}")
    return names


@dataclass(frozen=True)
class StudyConfig:
    """A grid of sweeps, one per cell (task pair x network width x target size), every cell with the same replicates
    and arms; the rest of the settings are a sweep's."""

    pairs: tuple[tuple[str, str], ...] = _opt(
        tuple(parse_pairs(",".join(STUDY_PAIRS))), "task pairs SOURCE>TARGET, comma-separated", metavar="S>T,S>T",
        type=parse_pairs, default_text=",".join(STUDY_PAIRS))
    widths: tuple[tuple[int, ...], ...] = _opt(
        ((100, 100), (500, 500)), "networks, their hidden sizes separated by '/'", metavar="W,W/W,W",
        type=parse_widths, default_text="100,100/500,500")
    sizes: tuple[int, ...] = _opt(
        (100, 300, 1000, 3000), "target training sizes, each with a fifth as many validation examples (stratified)",
        metavar="N,N")
    replicates: int = _opt(10, "replicates per cell: seeds 1..N (with --stage confirm: the confirmation seeds, "
                           f"{CONFIRM_SEEDS_FROM}..), each drawing its own data subsets; a replicate is paired across "
                           "the arms and rules of its cell")
    activations: tuple[str, ...] | None = _opt(
        None, "hidden-layer nonlinearities as one more dimension of the grid (tanh,relu); default: --activation alone, "
        "and the cell folders keep their names", metavar="NAME,NAME", type=lambda v: parse_names(v, "--activations"))
    stage: str | None = _opt(
        None, "the two-stage protocol (docs/sweeps.md, 'Two stages'): tune (tuning replicates, every arm's rate and "
        "knob chosen on the validation pool, tuned.json), plan (prints, from tuned.json, what --replicates would let "
        "the primary tests detect, writing nothing), then confirm (fresh replicates at the tuned settings, "
        "hypotheses.json declared before the first run, primary.json and primary.md); default: the one-stage map",
        metavar="STAGE", type=_choice("--stage", STAGES))
    tune_replicates: int = _opt(3, f"--stage tune: replicates per cell (seeds {TUNE_SEEDS_FROM}..)", metavar="N")
    primary_sizes: tuple[int, ...] = _opt(
        (1000, 3000), "--stage confirm: the target sizes of the primary family (the other sizes are descriptive)",
        metavar="N,N")
    primary_rules: str = _opt(
        "mean-abs,utility,oracle", "--stage confirm: the rules tested against random in the primary family",
        metavar="NAMES")
    cut_cells: tuple[str, ...] | None = _opt(
        None, "cells left out of the grid, as patterns of their folder names, comma-separated (*_n300_*, "
        "mnist-fashion-mnist_500-500_*): to fit a budget; with --stage confirm, cells tuned but cut before the first "
        "confirmation run, named in hypotheses.json", metavar="PATTERNS",
        type=lambda v: parse_names(v, "--cut-cells"))
    jobs: int = _opt(-1, "worker processes on this machine (-1: one per CPU core)")
    scheduler: str | None = _opt(
        None, "address of a running Dask distributed scheduler to send the runs to", metavar="ADDRESS")
    out: str | None = _opt(None, "study directory (default: studies/<timestamp>); run the same command with the same "
                           "--out again to continue", metavar="DIR")

    def __post_init__(self):
        self.validate()

    def validate(self):
        if not self.sizes or min(self.sizes) <= 0 or len(set(self.sizes)) != len(self.sizes):
            raise ConfigError("--sizes: expected distinct positive sizes")
        if self.replicates < 2:
            raise ConfigError(f"--replicates: expected at least 2 (paired tests need them), got {self.replicates}")
        if self.jobs == 0 or self.jobs < -1:
            raise ConfigError(f"--jobs: expected a positive number or -1, got {self.jobs}")
        if self.activations is not None:
            for name in self.activations:
                _choice("--activations", ACTIVATIONS)(name)
        if self.stage is not None:
            _choice("--stage", STAGES)(self.stage)
        if self.tune_replicates < 2:
            raise ConfigError(f"--tune-replicates: expected at least 2, got {self.tune_replicates}")
        if self.stage is not None and not set(self.primary_sizes) <= set(self.sizes):
            raise ConfigError(f"--primary-sizes: {','.join(map(str, self.primary_sizes))} are not all among --sizes "
                              f"{','.join(map(str, self.sizes))}")
        unknown = [r for r in self.primary_rule_names if r not in RULES or r == "random"]
        if unknown:
            raise ConfigError(f"--primary-rules: {', '.join(unknown)}: expected rules other than random")

    @property
    def tune_seeds(self) -> tuple[int, ...]:
        return tuple(range(TUNE_SEEDS_FROM, TUNE_SEEDS_FROM + self.tune_replicates))

    @property
    def confirm_seeds(self) -> tuple[int, ...]:
        return tuple(range(CONFIRM_SEEDS_FROM, CONFIRM_SEEDS_FROM + self.replicates))

    @property
    def primary_rule_names(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.primary_rules.split(",") if n.strip())
