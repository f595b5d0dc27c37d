"""command.py on its own: one exit status per kind of ending, each with its one line, whatever the command."""

import signal
import sys

import pytest

from transfer_learning import command
from transfer_learning.atomic import DiskFull
from transfer_learning.command import (
    EXIT_BAD_INPUT,
    EXIT_DISK_FULL,
    EXIT_DIVERGED,
    EXIT_RUNS_FAILED,
    EXIT_SIGNAL,
    Parser,
    RunsFailed,
    error_exit,
    run_as_command,
)
from transfer_learning.train import TrainingDiverged
from transfer_learning.vocab import ConfigError, DataError


def _raising(error):
    def body(argv):
        raise error

    return body


@pytest.mark.parametrize("error, status", [
    (ConfigError("--jobs: must be at least 1"), EXIT_BAD_INPUT),
    (DataError("a.pkl.gz: not a pickle"), EXIT_BAD_INPUT),
    (TrainingDiverged("the cost is NaN at epoch 3"), EXIT_DIVERGED),
    (command._Terminated(), EXIT_SIGNAL["SIGTERM"]),
    (KeyboardInterrupt(), EXIT_SIGNAL["SIGINT"]),
    (RunsFailed([(("seed", i), "boom") for i in range(7)]), EXIT_RUNS_FAILED),
    (DiskFull("/out/a.json", 100, 0), EXIT_DISK_FULL),
])
def test_each_ending_has_its_status_and_one_line(capsys, error, status):
    assert run_as_command("sweep", ["--out", "x y"], _raising(error)) == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sweep: ")
    if status in (EXIT_BAD_INPUT, EXIT_DIVERGED):
        assert err == f"sweep: error: {error}\n"
    else:  # the command that continues, with the arguments quoted for a shell
        assert err.rstrip().endswith("sweep --out 'x y'")


def test_a_finished_command_is_0_and_the_signal_handlers_are_restored(capsys):
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    seen = []
    assert run_as_command("study", [], lambda argv: seen.append(signal.getsignal(signal.SIGTERM))) == 0
    assert seen == [command._terminate]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert capsys.readouterr().err == ""


def test_the_continue_line_has_what_the_body_added_to_argv(capsys):
    def body(argv):
        argv += ["--out", "/runs/default"]
        raise KeyboardInterrupt

    run_as_command("python -m transfer_learning.sweep", ["--jobs", "2"], body)
    err = capsys.readouterr().err
    assert err.endswith(f"Continue with: {sys.executable} -m transfer_learning.sweep --jobs 2 --out /runs/default\n")


def test_runs_failed_names_at_most_five_runs():
    message = str(RunsFailed([(f"run{i}", "boom") for i in range(7)]))
    assert message.startswith("7 run(s) failed on the cluster after a retry (run0, run1, run2, run3, run4 ...)")
    assert "run5" not in message


def test_help_is_its_own_status_and_prints_no_error(capsys):
    assert error_exit("mlp-transfer", SystemExit(0)) == 0
    assert error_exit("mlp-transfer", SystemExit(None)) == 0
    assert capsys.readouterr().err == ""


def test_a_bad_or_abbreviated_flag_is_a_config_error():
    parser = Parser(prog="x")
    parser.add_argument("--n-epochs", type=int)
    with pytest.raises(ConfigError, match="unrecognized arguments: --n-epoch"):
        parser.parse_args(["--n-epoch", "1"])
    with pytest.raises(ConfigError, match="invalid int value"):
        parser.parse_args(["--n-epochs", "one"])
    assert parser.parse_args(["--n-epochs", "3"]).n_epochs == 3


def test_list_flags_say_what_they_expected():
    assert command._int_list("100,100") == (100, 100)
    assert command._float_list("0,0.5,1") == (0.0, 0.5, 1.0)
    with pytest.raises(Exception, match="expected comma-separated integers like 100,100, got '100,x'"):
        command._int_list("100,x")
    with pytest.raises(Exception, match="expected comma-separated numbers like 0,0.5,1, got 'a'"):
        command._float_list("a")


def test_a_config_parsers_message_is_the_flags_message():
    def parse(text):
        raise ConfigError(f"--rules: unknown rule {text!r}")

    with pytest.raises(Exception, match=r"^unknown rule 'x'$"):
        command._checked(parse)("x")
