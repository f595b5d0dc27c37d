"""Every default and its help text, in one place. The CLI and config.json are built from these."""

from dataclasses import dataclass, field, fields, replace

from .data import spec_name


#: The control arms a transfer run can train beside the threshold transfer.
BASELINES = ("scratch", "finetune", "freeze", "random-reset")


class ConfigError(ValueError):
    """A setting has a value the run cannot use; the message names the flag and the value."""


def parse_threshold(value) -> float | str:
    """--threshold: a number >= 0, or "auto"."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"--threshold: expected a number >= 0 or auto, got {value!r}")
    if not number >= 0:
        raise ConfigError(f"--threshold: expected a number >= 0 or auto, got {value!r}")
    return number


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
        None, "path of your own mnist.pkl.gz (default: data/mnist.pkl.gz, fetched once)", metavar="PATH"
    )
    seed: int = _opt(1234, "seed of every random draw in the run")
    out: str | None = _opt(None, "run directory to write (default: runs/<timestamp>-logistic)", metavar="DIR")

    def validate(self):
        _check_common(self)


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
    threshold: float | str = _opt(
        0.6, "keep a hidden node's incoming weights if its mean |activation| on the probe is >= this; "
        "auto: choose it among --auto-thresholds by short retrains scored on target validation data",
        metavar="X|auto", type=parse_threshold,
    )
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
        None, "path of your own mnist.pkl.gz (default: data/mnist.pkl.gz, fetched once)", metavar="PATH"
    )
    source_path: str | None = _opt(
        None, "where the source dataset's files are: the folder of fashion-mnist's IDX files, an image "
        "folder, or an mnist.pkl.gz (default: the dataset's usual place)", metavar="PATH"
    )
    target_path: str | None = _opt(None, "where the target dataset's files are; as --source-path", metavar="PATH")
    invert: bool = _opt(
        False, "invert image-folder images (dark-on-light scans become light-on-dark, like MNIST)"
    )
    baselines: str = _opt(
        "scratch",
        "control arms trained on the target beside the transfer, comma-separated: scratch (fresh network), "
        "finetune (keep every hidden weight), freeze (kept weights do not move), random-reset (reset as many "
        "nodes, chosen at random); or none",
        metavar="ARMS",
    )
    kept_lr_scale: float = _opt(1.0, "kept weights learn at this times the learning rate (0 = frozen, 1 = as in 2015)")
    reinit_deeper: bool = _opt(
        False, "also re-initialize the weights leaving a reset node (its row in the next hidden layer's W)"
    )
    target_train_size: int | None = _opt(
        None, "use only the first N target training examples (a low-data target)", metavar="N"
    )
    source_weights: str | None = _opt(
        None, "start from saved source weights (a run's weights_source.npz) instead of training them", metavar="FILE"
    )
    ttt_level: float = _opt(1.05, "time to threshold: epochs until the validation error is <= this x scratch's best")
    no_transfer: bool = _opt(False, "train the source task only; with --source mnist --hidden-sizes 500 --learning-rate 0.01 "
        "--n-epochs 1000 this is the tutorial's mlp.py")
    seed: int = _opt(1234, "seed of every random draw in the run")
    out: str | None = _opt(None, "run directory to write (default: runs/<timestamp>)", metavar="DIR")
    per_node: bool = _opt(
        False, "also write the 2015 one-image-per-node files (wMapInit<i>.png, ...)", pictures_only=True
    )

    def validate(self):
        _check_common(self)
        if not self.hidden_sizes:
            raise ConfigError("--hidden-sizes: expected at least one layer width, got none")
        for width in self.hidden_sizes:
            if width <= 0:
                raise ConfigError(f"--hidden-sizes: expected positive widths, got {width}")
        for name in ("L1_reg", "L2_reg"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{flag(name)}: expected a value >= 0, got {getattr(self, name)}")
        parse_threshold(self.threshold)
        if not self.auto_thresholds or min(self.auto_thresholds) < 0:
            raise ConfigError(f"--auto-thresholds: expected values >= 0, got {self.auto_thresholds}")
        if self.auto_epochs <= 0:
            raise ConfigError(f"--auto-epochs: expected a positive number, got {self.auto_epochs}")
        if self.invert and "imagefolder" not in {spec_name(self.source), spec_name(self.target)}:
            raise ConfigError("--invert: applies to imagefolder datasets only, and neither --source nor --target is one")
        if self.probe_size <= 0:
            raise ConfigError(f"--probe-size: expected a positive number, got {self.probe_size}")
        if self.kept_lr_scale < 0:
            raise ConfigError(f"--kept-lr-scale: expected a value >= 0, got {self.kept_lr_scale}")
        if self.target_train_size is not None and self.target_train_size <= 0:
            raise ConfigError(f"--target-train-size: expected a positive number, got {self.target_train_size}")
        if not self.ttt_level > 0:
            raise ConfigError(f"--ttt-level: expected a value > 0, got {self.ttt_level}")
        self.arms  # noqa: B018  (validates --baselines)

    @property
    def arms(self) -> tuple[str, ...]:
        """The baseline arms asked for, in a fixed order."""
        names = [n.strip() for n in self.baselines.split(",") if n.strip()]
        if names == ["none"]:
            return ()
        unknown = [n for n in names if n not in BASELINES]
        if unknown or not names:
            raise ConfigError(
                f"--baselines: unknown arm {', '.join(unknown) or repr(self.baselines)}; "
                f"expected some of {', '.join(BASELINES)}, or none"
            )
        return tuple(n for n in BASELINES if n in names)


def _check_common(cfg):
    if not cfg.learning_rate > 0:
        raise ConfigError(f"--learning-rate: expected a value > 0, got {cfg.learning_rate}")
    for name in ("n_epochs", "batch_size", "patience"):
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"{flag(name)}: expected a positive number, got {getattr(cfg, name)}")
    if not cfg.patience_increase >= 1:
        raise ConfigError(f"--patience-increase: expected a value >= 1, got {cfg.patience_increase}")
    if not 0 < cfg.improvement_threshold <= 1:
        raise ConfigError(
            f"--improvement-threshold: expected a value in (0, 1], got {cfg.improvement_threshold}"
        )


def flag(name: str) -> str:
    """The command-line flag of a config field: L2_reg -> --l2-reg."""
    return "--" + name.lower().replace("_", "-")


def config_fields(config_cls, pictures: bool = True):
    """The fields a script exposes; picture-only ones are left out of plain runs."""
    return [f for f in fields(config_cls) if pictures or not f.metadata.get("pictures_only")]


#: The tutorial's mlp.py: one hidden layer of 500, lr 0.01, up to 1000 epochs, source only.
TUTORIAL_MLP = TransferConfig(
    hidden_sizes=(500,), learning_rate=0.01, n_epochs=1000, source="mnist", no_transfer=True
)

#: The 2015 run: the same database as source and target.
ORIGINAL_2015 = replace(TransferConfig(), source="mnist", target="mnist")


#: Fields of TransferConfig a sweep sets itself, per run, so they are not flags of the sweep.
SWEEP_OWNS = ("threshold", "auto_thresholds", "auto_epochs", "seed", "out", "no_transfer", "source_weights",
              "per_node")
#: The sweep's default arms: scratch and finetune as bands, random-reset as the control for the rule.
SWEEP_BASELINES = "scratch,finetune,random-reset"


@dataclass(frozen=True)
class SweepConfig:
    """A grid of thresholds x seeds for one source/target pair; every other setting is a TransferConfig's."""

    thresholds: tuple[float, ...] = _opt((0.0, 0.2, 0.4, 0.6, 0.8, 1.0), "thresholds to run (0 keeps every node, "
                                         "1 none: mean |tanh| < 1)")
    seeds: tuple[int, ...] = _opt((1, 2, 3, 4, 5), "seeds; every arm and threshold of one seed shares its source "
                                  "network, probe and data, so comparisons are paired by seed")
    jobs: int = _opt(-1, "worker processes on this machine (-1: one per CPU core)")
    scheduler: str | None = _opt(
        None, "address of a running Dask distributed scheduler (e.g. tcp://10.0.0.5:8786) to send the runs to "
        "instead of local processes; its workers need this package, the datasets and the sweep folder", metavar="ADDRESS")
    out: str | None = _opt(None, "sweep directory (default: sweeps/<timestamp>); run the same command with the same "
                           "--out again to continue an interrupted sweep", metavar="DIR")

    def validate(self):
        if not self.thresholds or min(self.thresholds) < 0:
            raise ConfigError(f"--thresholds: expected values >= 0, got {','.join(map(str, self.thresholds))}")
        if len(set(self.thresholds)) != len(self.thresholds):
            raise ConfigError("--thresholds: a threshold is listed twice")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError("--seeds: expected distinct seeds, at least one")
        if self.jobs == 0 or self.jobs < -1:
            raise ConfigError(f"--jobs: expected a positive number or -1, got {self.jobs}")
