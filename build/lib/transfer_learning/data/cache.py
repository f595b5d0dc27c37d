"""Where downloaded datasets are kept.

In order: the folder named by the environment variable TRANSFER_LEARNING_DATA; the checkout's
``data/`` when the package runs from a clone (or an editable install); else a per-user cache,
``$XDG_CACHE_HOME/transfer-learning`` (``~/.cache/transfer-learning``). Decided at each call, so
a changed variable takes effect without a restart.
"""

import os
from pathlib import Path

ENV_VAR = "TRANSFER_LEARNING_DATA"
#: The checkout this package sits in, if it sits in one (site-packages has no mlp_transfer.py beside data/).
CHECKOUT = Path(__file__).resolve().parents[2]


def in_checkout() -> bool:
    return (CHECKOUT / "data" / "README.md").is_file() and (CHECKOUT / "mlp_transfer.py").is_file()


def data_dir() -> Path:
    """The folder that holds (or will hold) mnist.pkl.gz and data/fashion-mnist/."""
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        return Path(chosen).expanduser()
    if in_checkout():
        return CHECKOUT / "data"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "transfer-learning"
