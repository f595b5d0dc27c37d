"""Command lines built from the config dataclasses; ``main_*(argv)`` return an exit code.

Bad input of any kind (a flag value, a dataset name, a damaged file) ends with one line on
stderr and exit status 2, never a traceback.
"""

import argparse
import sys
import typing
from dataclasses import MISSING

from .config import ConfigError, LogisticConfig, TransferConfig, config_fields, flag
from .data import DataError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ConfigError(message)


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 100,100, got {text!r}")


def _argument_type(tp):
    if tp in (int, float, str):
        return tp
    if typing.get_origin(tp) is tuple:
        return _int_list
    if str in typing.get_args(tp):  # str | None
        return str
    raise TypeError(f"no command-line type for {tp}")


def build_parser(config_cls, prog, doc, pictures=True) -> argparse.ArgumentParser:
    """One flag per config field, its default and help text taken from the dataclass."""
    parser = _Parser(
        prog=prog,
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hints = typing.get_type_hints(config_cls)
    for f in config_fields(config_cls, pictures=pictures):
        default = f.default if f.default is not MISSING else None
        help_text = f.metadata["help"]
        if hints[f.name] is bool:
            parser.add_argument(flag(f.name), dest=f.name, action="store_true", help=help_text)
            continue
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        parser.add_argument(
            flag(f.name),
            dest=f.name,
            type=_argument_type(hints[f.name]),
            default=default,
            metavar=f.name.upper(),
            help=f"{help_text} (default: {shown})",
        )
    return parser


def _run(prog, body) -> int:
    try:
        body()
    except SystemExit as stop:  # --help
        return stop.code if isinstance(stop.code, int) else 0
    except (ConfigError, DataError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def main_logistic(argv=None, doc=None, prog="logistic_sgd.py") -> int:
    """``python logistic_sgd.py``: the tutorial's logistic regression on MNIST."""

    def body():
        from .experiment import run_logistic

        args = build_parser(LogisticConfig, prog, doc).parse_args(argv)
        run_logistic(LogisticConfig(**vars(args)), script=prog)

    return _run(prog, body)


def main_transfer(argv=None, doc=None, pictures=False, prog=None) -> int:
    """``python mlp_transfer.py`` (or the pictures script, ``pictures=True``)."""
    prog = prog or ("mlp_transfer_pictures.py" if pictures else "mlp_transfer.py")

    def body():
        from .experiment import run_transfer

        args = build_parser(TransferConfig, prog, doc, pictures=pictures).parse_args(argv)
        run_transfer(TransferConfig(**vars(args)), pictures=pictures, script=prog)

    return _run(prog, body)
