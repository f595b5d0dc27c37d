"""A config that exists is a valid one: every bound and choice is checked when it is made (or replaced)."""

from dataclasses import replace

import pytest

from transfer_learning.config import BOUNDS, LogisticConfig, TransferConfig, flag
from transfer_learning.vocab import ConfigError

#: A value just outside each kind of bound, and the message's words for it.
OUTSIDE = {"positive": (0, "expected a positive number, got 0"), (">", 0): (0.0, "expected a value > 0, got 0.0"),
           (">=", 0): (-0.5, "expected a value >= 0, got -0.5"), (">=", 1): (0.5, "expected a value >= 1, got 0.5")}


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_every_bound_is_checked_when_a_config_is_made_and_replaced(name):
    value, words = OUTSIDE[BOUNDS[name]]
    with pytest.raises(ConfigError) as made:
        TransferConfig(**{name: value})
    assert str(made.value) == f"{flag(name)}: {words}"
    with pytest.raises(ConfigError, match="^" + flag(name)):
        replace(TransferConfig(), **{name: value})
    inside = {"positive": 1, (">", 0): 0.5, (">=", 0): 0.0, (">=", 1): 1.0}[BOUNDS[name]]
    assert getattr(TransferConfig(**{name: inside}), name) == inside  # the bound itself is allowed where >= says so


def test_the_logistic_config_is_checked_when_made_too():
    with pytest.raises(ConfigError, match="^--batch-size: expected a positive number, got -1$"):
        LogisticConfig(batch_size=-1)
    with pytest.raises(ConfigError, match=r"^--improvement-threshold: expected a value in \(0, 1\], got 1.5$"):
        LogisticConfig(improvement_threshold=1.5)


@pytest.mark.parametrize("settings, message", [
    ({"kernels": "quick"}, "--kernels: expected one of fused, unfused"),
    ({"threshold": 0.5, "keep_fraction": 0.25}, "--threshold and --keep-fraction both given"),
    ({"invert": True}, "--invert: applies to imagefolder datasets only"),
    ({"baselines": "scratch,nope"}, "--baselines: unknown arm nope"),
    ({"hidden_sizes": ()}, "--hidden-sizes: expected at least one layer width, got none"),
])
def test_settings_that_cannot_go_together_cannot_make_a_config(settings, message):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(")):
        TransferConfig(**settings)
