"""The three scripts' command lines (mlp_transfer.py, mlp_transfer_pictures.py, logistic_sgd.py), built from the
config dataclasses; ``main_*(argv)`` return an exit status (command.py's map: a stop by SIGINT or SIGTERM comes
after the current minibatch, with a checkpoint to ``--resume`` from)."""

import argparse
import json
import signal
import sys
from dataclasses import fields, replace
from pathlib import Path

from .atomic import DiskFull
from .command import (
    EXIT_DISK_FULL,
    EXIT_SIGNAL,
    EXPECTED_ERRORS,
    Parser,
    add_config_flags,
    error_exit,
    rerun_command,
    shell_words,
)
from .config import FLAG_GROUPS, LogisticConfig, TransferConfig, config_fields, flag
from .train import Interrupted
from .vocab import ConfigError, DataError


class SignalStop:
    """Turns SIGINT/SIGTERM into a request the training loop polls after each minibatch.

    A second Ctrl-C while the first is being honoured stops at once (KeyboardInterrupt).
    Handlers are installed for the ``with`` block only and restored after it.
    """

    signals = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.requested = None
        self._previous = {}

    def __call__(self):
        return self.requested

    def _handle(self, signum, frame):
        if self.requested == "SIGINT" and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def __enter__(self):
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def build_parser(config_cls, prog, doc, pictures=True) -> argparse.ArgumentParser:
    """One flag per config field, its default and help text taken from the dataclass."""
    parser = Parser(
        prog=prog,
        description=doc,
        epilog="exit status: 0 done, 2 bad input, 3 training diverged, 4 disk full, 130 / 143 stopped by SIGINT / "
               "SIGTERM (after 4, 130 or 143 a checkpoint is kept: continue with --resume DIR)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--resume", metavar="DIR", default=None,
                        help="continue the interrupted run in DIR with its saved settings (give no other flag)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results of an earlier run in --out instead of refusing")
    chosen = config_fields(config_cls, pictures=pictures)
    if config_cls is not TransferConfig:
        add_config_flags(parser, config_cls, chosen)
        return parser
    grouped = set()
    for title, names in FLAG_GROUPS.items():
        members = sorted((f for f in chosen if f.name in names), key=lambda f: names.index(f.name))
        add_config_flags(parser.add_argument_group(title), config_cls, members)
        grouped.update(f.name for f in members)
    rest = [f for f in chosen if f.name not in grouped]
    if rest:
        add_config_flags(parser.add_argument_group("other settings"), config_cls, rest)
    return parser


def add_compat_flags(parser):
    """--compat 2015 and --fix, the transfer scripts' 2015 mode (compat2015.py)."""
    from .compat2015 import COMPAT_FLAGS, FIXES

    parser.add_argument("--compat", choices=["2015"], default=None,
                        help="compute what the 2015 script computed, defects included (float64, RandomState, "
                             "MNIST -> MNIST, the 2015 lines and files; docs/compat-2015.md); takes only "
                             + ", ".join(sorted(flag(k) for k in COMPAT_FLAGS)) + ", --fix and --overwrite")
    parser.add_argument("--fix", metavar="DEFECTS", default="",
                        help="with --compat 2015, switch these 2015 defects off, comma-separated: "
                             + "; ".join(f"{k} ({v})" for k, v in FIXES.items()))
    return parser


#: Flags that say how to run, not what to compute: they are not settings of a config.
RUN_FLAGS = ("resume", "overwrite", "compat", "fix")


def _settings(args) -> dict:
    """The parsed flags that are settings (everything but RUN_FLAGS)."""
    return {k: v for k, v in vars(args).items() if k not in RUN_FLAGS}


def _config_from_args(config_cls, parser, args):
    """The run's settings: from the flags, or with --resume from the run directory's config.json."""
    values = _settings(args)
    if args.resume is None:
        return config_cls(**values)
    defaults = vars(parser.parse_args([]))
    changed = [flag(k) for k, v in values.items() if v != defaults[k]] + (["--overwrite"] if args.overwrite else [])
    if changed:
        raise ConfigError(f"--resume takes every setting from {args.resume}/config.json; drop {', '.join(changed)}")
    path = f"{args.resume}/config.json"
    try:
        with open(path) as f:
            saved = json.load(f)["config"]
        known = {f.name for f in fields(config_cls)}
        saved = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k in known}
        cfg = config_cls(**saved)
    except FileNotFoundError as err:
        raise ConfigError(f"--resume: {args.resume} holds no config.json, so it is not a run directory") from err
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: not a readable run configuration ({type(err).__name__}: {err})") from err
    return replace(cfg, out=args.resume)


def _run(prog, body) -> int:
    try:
        with SignalStop() as stop:
            body(stop)
    except EXPECTED_ERRORS as err:
        return error_exit(prog, err)
    except Interrupted as stop:
        resume = f"{rerun_command(prog)} {shell_words(['--resume', stop.run_dir])}"
        print(f"{prog}: stopped by {stop.signal_name} after the current minibatch; checkpoint and partial "
              f"results are in {stop.run_dir}. Resume with: {resume}", file=sys.stderr)
        return EXIT_SIGNAL[stop.signal_name]
    except KeyboardInterrupt:
        print(f"{prog}: interrupted at once (second Ctrl-C); the last checkpoint is kept", file=sys.stderr)
        return EXIT_SIGNAL["SIGINT"]
    except DiskFull as full:
        print(f"{prog}: error: {full}; {disk_full_advice(prog, full)}", file=sys.stderr)
        return EXIT_DISK_FULL
    return 0


def disk_full_advice(prog, full: DiskFull) -> str:
    """What to do after a full disk: resume the run whose file could not be written, or start again."""
    from pathlib import Path

    for folder in Path(full.path).parents:
        config = folder / "config.json"
        if config.is_file():
            try:
                compat = json.loads(config.read_text()).get("compat")
            except (OSError, ValueError):
                compat = None
            if compat:
                return f"free space, then run it again with --out {folder} --overwrite (2015 mode keeps no checkpoints)"
            return (f"the last checkpoint is kept; free space, then resume with: {rerun_command(prog)} "
                    f"{shell_words(['--resume', folder])}")
    return "nothing was started; free space, then run the same command again"


def _given_flags(parser, argv) -> set:
    """The settings named on the command line (even when given their default value)."""
    import copy

    probe = copy.deepcopy(parser)
    for action in probe._actions:
        action.default = argparse.SUPPRESS
    return set(vars(probe.parse_args(argv)))


def _compat_2015(parser, args, argv, pictures, prog):
    """--compat 2015: the 2015 computation (compat2015.py), refusing flags that mean nothing there."""
    from . import compat2015

    if not args.compat:
        raise ConfigError("--fix: applies to --compat 2015 only")
    if args.resume is not None:
        raise ConfigError("--compat 2015: --resume has no meaning in 2015 mode (the 2015 script kept no checkpoints)")
    values = _settings(args)
    fixes = tuple(f.strip() for f in args.fix.split(",") if f.strip())
    cfg = compat2015.config_from_args(values, _given_flags(parser, argv), fixes)
    compat2015.run(cfg, pictures=pictures, script=prog, overwrite=args.overwrite)


def main_logistic(argv=None, doc=None, prog="logistic_sgd.py") -> int:
    """``python logistic_sgd.py``: the tutorial's logistic regression on MNIST."""

    def body(stop):
        from .experiment import run_logistic

        parser = build_parser(LogisticConfig, prog, doc)
        args = parser.parse_args(argv)
        cfg = _config_from_args(LogisticConfig, parser, args)
        if _finished_already(args.resume):
            return
        run_logistic(cfg, script=prog, stop_requested=stop, resume=args.resume is not None,
                     overwrite=args.overwrite)

    return _run(prog, body)


def _finished_already(resume) -> bool:
    """--resume of a run that finished: its results stand and its checkpoints are gone, so there is nothing to resume
    (said on one line; the exit status is 0)."""
    if resume is None or not (Path(resume) / "results.json").is_file():
        return False
    print(f"--resume: {resume} finished already; its results are in {Path(resume) / 'results.json'} (a finished "
          "run keeps no checkpoints; to run it again, give the same flags and a new --out)", file=sys.stderr)
    return True


def main_transfer(argv=None, doc=None, pictures=False, prog=None) -> int:
    """``python mlp_transfer.py`` (or the pictures script, ``pictures=True``)."""
    prog = prog or ("mlp_transfer_pictures.py" if pictures else "mlp_transfer.py")

    def body(stop):
        from .experiment import run_transfer

        parser = add_compat_flags(build_parser(TransferConfig, prog, doc, pictures=pictures))
        args = parser.parse_args(argv)
        if args.compat or args.fix:
            return _compat_2015(parser, args, argv, pictures, prog)
        cfg = _config_from_args(TransferConfig, parser, args)
        if _finished_already(args.resume):
            return
        run_transfer(cfg, pictures=pictures, script=prog, stop_requested=stop, resume=args.resume is not None,
                     overwrite=args.overwrite)

    return _run(prog, body)
