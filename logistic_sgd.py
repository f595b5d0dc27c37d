"""The deeplearning.net tutorial's logistic regression on MNIST, on PyTensor.

    python logistic_sgd.py          # zero init, lr 0.13, batch 600, up to 1000 epochs, early stopping

Prints the tutorial's lines and saves the best model as best_model.npz in the run directory
(--out, default runs/<timestamp>-logistic). ``from logistic_sgd import LogisticRegression,
load_data`` keeps working: the MLP's output layer is this LogisticRegression.
"""

from transfer_learning import cli
from transfer_learning.config import LogisticConfig
from transfer_learning.data import load_data
from transfer_learning.model import LogisticRegression

__all__ = ["LogisticRegression", "load_data", "sgd_optimization_mnist"]


def sgd_optimization_mnist(learning_rate=0.13, n_epochs=1000, dataset="mnist", batch_size=600, out=None):
    """The tutorial's entry point, keyword for keyword; returns the run's results dict."""
    from transfer_learning.experiment import run_logistic

    cfg = LogisticConfig(learning_rate=learning_rate, n_epochs=n_epochs, batch_size=batch_size, out=out,
                         **({"dataset": dataset} if str(dataset).endswith(".gz") else {"task": dataset}))
    return run_logistic(cfg)


def main(argv=None) -> int:
    """The script's entry point, also the console script ``logistic-sgd``; returns the exit status."""
    return cli.main_logistic(argv, doc=__doc__, prog=cli.script_name("logistic-sgd", "logistic_sgd.py"))


if __name__ == "__main__":
    raise SystemExit(main())
