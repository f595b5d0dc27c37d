"""Command lines built from the config dataclasses; ``main_*(argv)`` return an exit code.

Exit statuses: 0 done; 2 bad input (a flag value, a dataset name, a damaged file: one line on
stderr, never a traceback, nothing written); 3 training diverged (NaN or infinite cost); 4 the
disk is full (the file that could not be written is named, the last checkpoint kept); 130 stopped
by SIGINT (Ctrl-C) and 143 by SIGTERM, after the current minibatch, with a checkpoint to
``--resume`` from.
"""

import argparse
import functools
import gc
import json
import signal
import sys
import typing
from dataclasses import MISSING, fields, replace

from .atomic import DiskFull
from .config import LogisticConfig, TransferConfig, config_fields, flag
from .train import Interrupted, TrainingDiverged
from .vocab import ConfigError, DataError

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_DISK_FULL = 4
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}


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


class Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError, so a bad flag is one line and exit 2 like any bad input."""

    def error(self, message):
        raise ConfigError(message)


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 100,100, got {text!r}") from err


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 0,0.5,1, got {text!r}") from err


def _checked(parse):
    """An argparse type from a config parser: its ConfigError message, not "invalid value"."""

    def convert(text):
        try:
            return parse(text)
        except ConfigError as err:
            raise argparse.ArgumentTypeError(str(err).split(": ", 1)[-1]) from err

    return convert


def _argument_type(tp):
    if tp in (int, float, str):
        return tp
    if tp == tuple[float, ...]:
        return _float_list
    if typing.get_origin(tp) is tuple:
        return _int_list
    options = [t for t in typing.get_args(tp) if t is not type(None)]
    if len(options) == 1:  # str | None, int | None, tuple[float, ...] | None
        return _argument_type(options[0])
    raise TypeError(f"no command-line type for {tp}")


_METAVARS = {int: "N", float: "X", tuple[int, ...]: "N,N", tuple[float, ...]: "X,X", int | None: "N",
             float | None: "X"}


def add_config_flags(parser, config_cls, chosen_fields, defaults=None):
    """One flag per field of ``config_cls``, its default and help text taken from the dataclass
    (or from ``defaults``, a field name -> value map for a command with other defaults)."""
    hints = typing.get_type_hints(config_cls)
    for f in chosen_fields:
        default = f.default if f.default is not MISSING else None
        default = (defaults or {}).get(f.name, default)
        help_text = f.metadata["help"]
        if hints[f.name] is bool:
            parser.add_argument(flag(f.name), dest=f.name, action="store_true", help=help_text)
            continue
        shown = (",".join({True: "yes", False: "no"}.get(v, str(v)) if isinstance(v, bool) else str(v) for v in default)
                 if isinstance(default, tuple) else default)
        shown = f.metadata.get("default_text", shown)
        parser.add_argument(
            flag(f.name),
            dest=f.name,
            type=_checked(f.metadata["type"]) if "type" in f.metadata else _argument_type(hints[f.name]),
            default=default,
            metavar=f.metadata.get("metavar") or _METAVARS.get(hints[f.name], "TEXT"),
            help=help_text if default is None else f"{help_text} (default: {shown})",
        )


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
    add_config_flags(parser, config_cls, config_fields(config_cls, pictures=pictures))
    return parser


def add_compat_flags(parser):
    """--compat 2015 and --fix, the transfer scripts' 2015 mode (compat2015.py)."""
    from .compat2015 import COMPAT_FLAGS, FIXES

    parser.add_argument("--compat", choices=["2015"], default=None,
                        help="compute what the 2015 script computed, defects included (float64, RandomState, "
                             "MNIST -> MNIST, the 2015 lines and files; see the README); takes only "
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


#: What every command ends on with one line and an exit status, never a traceback.
EXPECTED_ERRORS = (SystemExit, ConfigError, DataError, TrainingDiverged)


def error_exit(prog, err) -> int:
    """Print an expected error as one line and return its exit status (SystemExit: --help)."""
    if isinstance(err, SystemExit):
        return err.code if isinstance(err.code, int) else 0
    print(f"{prog}: error: {err}", file=sys.stderr)
    return EXIT_DIVERGED if isinstance(err, TrainingDiverged) else EXIT_BAD_INPUT


def _run(prog, body) -> int:
    try:
        with SignalStop() as stop:
            body(stop)
    except EXPECTED_ERRORS as err:
        return error_exit(prog, err)
    except Interrupted as stop:
        command = f"python {prog}" if prog.endswith(".py") else prog
        print(f"{prog}: stopped by {stop.signal_name} after the current minibatch; checkpoint and partial "
              f"results are in {stop.run_dir}. Resume with: {command} --resume {stop.run_dir}", file=sys.stderr)
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

    command = f"python {prog}" if prog.endswith(".py") else prog
    for folder in Path(full.path).parents:
        config = folder / "config.json"
        if config.is_file():
            try:
                compat = json.loads(config.read_text()).get("compat")
            except (OSError, ValueError):
                compat = None
            if compat:
                return f"free space, then run it again with --out {folder} --overwrite (2015 mode keeps no checkpoints)"
            return f"the last checkpoint is kept; free space, then resume with: {command} --resume {folder}"
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


def as_program(main):
    """``main`` as the process's program (a console script, ``python script.py``): its exit status, after
    ``gc.freeze()``. The process ends right after, and Python's cycle collections at exit would otherwise walk
    every object a run made (most of a second after a small sweep); the operating system takes the memory back.
    Tests call ``main`` itself, whose garbage must still be collected."""

    @functools.wraps(main)
    def program() -> int:
        status = main()
        gc.freeze()
        return status

    return program


def script_name(console_name: str, script: str) -> str:
    """How the user started us: the console script's name (mlp-transfer) or the script's (mlp_transfer.py)."""
    import os

    invoked = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return console_name if invoked == console_name else script


def main_logistic(argv=None, doc=None, prog="logistic_sgd.py") -> int:
    """``python logistic_sgd.py``: the tutorial's logistic regression on MNIST."""

    def body(stop):
        from .experiment import run_logistic

        parser = build_parser(LogisticConfig, prog, doc)
        args = parser.parse_args(argv)
        cfg = _config_from_args(LogisticConfig, parser, args)
        run_logistic(cfg, script=prog, stop_requested=stop, resume=args.resume is not None,
                     overwrite=args.overwrite)

    return _run(prog, body)


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
        run_transfer(cfg, pictures=pictures, script=prog, stop_requested=stop, resume=args.resume is not None,
                     overwrite=args.overwrite)

    return _run(prog, body)
