"""The deeplearning.net tutorial's logistic regression on MNIST, on PyTensor.

    python logistic_sgd.py          # zero init, lr 0.13, batch 600, up to 1000 epochs, early stopping

Prints the tutorial's lines, scored the tutorial's way (the mean error of the whole minibatches of
600, the last 400 images of each set not counted), so its defaults end on the tutorial's published
"best validation score of 7.500000 %,with test performance 7.489583 %"; results.json also holds the
errors over every example. Saves the best model as best_model.npz in the run directory (--out,
default runs/<timestamp>-logistic).

The tutorial's API works as it did: ``from logistic_sgd import LogisticRegression, load_data,
sgd_optimization_mnist, predict``; ``load_data('mnist.pkl.gz')`` finds the project's MNIST when there
is no such file in the working directory; the MLP's output layer is this LogisticRegression.
"""

from pathlib import Path

from transfer_learning import cli, command
from transfer_learning.config import LogisticConfig
from transfer_learning.data import load_data
from transfer_learning.model import LogisticRegression

__all__ = ["LogisticRegression", "load_data", "predict", "sgd_optimization_mnist"]


def _dataset_settings(dataset) -> dict:
    """'mnist.pkl.gz' as the tutorial meant it: that file if it is here, else the project's MNIST."""
    path = Path(str(dataset)).expanduser()
    if path.is_file():
        return {"dataset": str(path)}
    if path.name == "mnist.pkl.gz":
        return {}
    if path.name.endswith((".pkl.gz", ".pkl")):
        return {"dataset": str(path)}  # refused with the usual "no such file" line
    return {"task": str(dataset)}


def sgd_optimization_mnist(learning_rate=0.13, n_epochs=1000, dataset="mnist.pkl.gz", batch_size=600, out=None):
    """The tutorial's entry point, keyword for keyword; returns the run's results dict.

    ``dataset`` is a tutorial-format pickle or a dataset spec such as 'mnist:0-4'; ``out`` the run directory.
    """
    from transfer_learning.experiment import run_logistic

    cfg = LogisticConfig(learning_rate=learning_rate, n_epochs=n_epochs, batch_size=batch_size, out=out,
                         **_dataset_settings(dataset))
    return run_logistic(cfg)


def predict(model_file=None, dataset="mnist.pkl.gz", n=10):
    """The tutorial's predict(): the best saved model's labels for the first ``n`` test images.

    ``model_file`` is a best_model.npz; by default the newest one under runs/ (where
    sgd_optimization_mnist writes).
    """
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    if model_file is None:
        saved = sorted(Path("runs").glob("*/best_model.npz"), key=lambda p: p.stat().st_mtime)
        if not saved:
            raise FileNotFoundError("no runs/*/best_model.npz here: run sgd_optimization_mnist() first, "
                                    "or pass model_file")
        model_file = saved[-1]
    with np.load(model_file) as best:
        W, b = best["output_W"], best["output_b"]
    x = pt.matrix("x")
    classifier = LogisticRegression(input=x, n_in=W.shape[0], n_out=W.shape[1], W=W, b=b)
    predict_model = pytensor.function(inputs=[classifier.input], outputs=classifier.y_pred)
    test_set_x = load_data(dataset)[2][0].get_value()
    predicted_values = predict_model(test_set_x[:n])
    print(f"Predicted values for the first {n} examples in test set:")
    print(predicted_values)
    return predicted_values


def main(argv=None) -> int:
    """The script's entry point, also the console script ``logistic-sgd``; returns the exit status."""
    return cli.main_logistic(argv, doc=__doc__, prog=command.script_name("logistic-sgd", "logistic_sgd.py"))


program = command.as_program(main)

if __name__ == "__main__":
    raise SystemExit(program())
