"""What every command shares, below the commands themselves: one map of exit statuses, the argparse parser that
turns a bad flag into one line, flags built from the config dataclasses, and the wrappers that end a command on
an expected error with one line and its status, never a traceback.

The commands (cli.py's scripts, sweep.py, study.py, analysis.py, verdicts.py, compat2015.py's ladder, predict.py)
build on this module; nothing below them imports a command (data's fetch, below them all, keeps its own main).

Exit statuses, for every command: 0 done; 2 bad input (a flag value, a dataset name, a damaged file: one line
on stderr, nothing written); 3 training diverged (NaN or infinite cost); 4 the disk is full (the file that could
not be written is named, the last checkpoint kept); 5 runs failed on a cluster after their retry (a sweep or
study); 130 stopped by SIGINT (Ctrl-C) and 143 by SIGTERM, with what is finished kept.
"""

import argparse
import functools
import gc
import signal
import sys
import typing
from dataclasses import MISSING

from .atomic import DiskFull
from .config import flag
from .train import TrainingDiverged
from .vocab import ConfigError, DataError

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_DISK_FULL = 4
EXIT_RUNS_FAILED = 5
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}


class Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError, so a bad flag is one line and exit 2 like any bad input. A flag must be
    spelled whole: argparse's prefix matching took a typo (--n-epoch 1) for --n-epochs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

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


#: What every command ends on with one line and an exit status, never a traceback.
EXPECTED_ERRORS = (SystemExit, ConfigError, DataError, TrainingDiverged)


def error_exit(prog, err) -> int:
    """Print an expected error as one line and return its exit status (SystemExit: --help)."""
    if isinstance(err, SystemExit):
        return err.code if isinstance(err.code, int) else 0
    print(f"{prog}: error: {err}", file=sys.stderr)
    return EXIT_DIVERGED if isinstance(err, TrainingDiverged) else EXIT_BAD_INPUT


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


def rerun_command(prog: str) -> str:
    """How to start this program again from a shell, as the hints after a stop print it: with the interpreter that
    runs it, since a bare `python` may be another one (a venv not activated has no PyTensor), and a console
    script by the path it was started with."""
    import os
    import shlex

    python = shlex.quote(sys.executable)
    if prog.startswith("python -m "):
        return f"{python} -m {prog.removeprefix('python -m ')}"
    started_as = sys.argv[0] if sys.argv and os.path.basename(sys.argv[0]) == prog else prog
    if prog.endswith(".py"):
        return f"{python} {shlex.quote(started_as)}"
    return shlex.quote(started_as)


def shell_words(argv) -> str:
    import shlex

    return " ".join(shlex.quote(str(a)) for a in argv)


class RunsFailed(Exception):
    """Some runs failed on the cluster even after their retry; the others are recorded."""

    def __init__(self, failures):
        self.failures = failures
        names = ", ".join(str(tag) for tag, _ in failures[:5]) + (" ..." if len(failures) > 5 else "")
        super().__init__(f"{len(failures)} run(s) failed on the cluster after a retry ({names}); the others are "
                         "recorded and tabled")


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: stop dispatching, keep what is recorded."""


def _terminate(signum, frame):
    raise _Terminated


def run_as_command(prog, argv, body) -> int:
    """Run ``body(argv)`` as a long command (a sweep, a study) and return its exit status: bad input is one line
    and 2; SIGINT and SIGTERM stop it with 130 / 143, a full disk with 4, runs that failed on the cluster with 5,
    each printing the command that continues it. ``body`` may append to ``argv`` (a default --out) so that the
    command printed is the one to run again. Ctrl-C is taken even where the process started with SIGINT ignored
    (a shell script's `sweep ... &`), as the single-run scripts do (cli.SignalStop)."""
    argv = list(argv)
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _terminate),
                signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler)}
    try:
        body(argv)
    except EXPECTED_ERRORS as err:
        return error_exit(prog, err)
    except KeyboardInterrupt as stop:
        name = "SIGTERM" if isinstance(stop, _Terminated) else "SIGINT"
        print(f"{prog}: stopped by {name}; finished runs are kept. Continue with: {rerun_command(prog)} "
              f"{shell_words(argv)}", file=sys.stderr)
        return EXIT_SIGNAL[name]
    except RunsFailed as failed:
        print(f"{prog}: error: {failed}. Run the same command again to retry them: {rerun_command(prog)} "
              f"{shell_words(argv)}", file=sys.stderr)
        return EXIT_RUNS_FAILED
    except DiskFull as full:
        print(f"{prog}: error: {full}; finished runs are kept (an interrupted one resumes from its checkpoint). "
              f"Free space, then continue with: {rerun_command(prog)} {shell_words(argv)}", file=sys.stderr)
        return EXIT_DISK_FULL
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
