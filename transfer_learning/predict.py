"""Use a trained network: classify image files with a run's weights.

    python -m transfer_learning.predict RUN_DIR IMAGE_OR_FOLDER...      # or the console script transfer-predict
    python -m transfer_learning.predict runs/t1 my-digits/ --probabilities

The run directory says what its network is (config.json), what its outputs mean and how images became its
inputs (results.json: ``labels`` and ``preprocessing``). A transfer run classifies into its target task's classes
with its transfer arm's final weights (weights_final.npz); a ``--no-transfer`` run into its source task's classes
(weights_source.npz); a logistic_sgd.py run into its task's (best_model.npz). Images are read as an image-folder
run reads them (grayscale, inverted if the run inverted, fitted or stretched to 28 x 28, pixel / 256); an MNIST
network expects light strokes on a dark background, so give ``--invert`` for dark-on-light scans. The forward pass
is NumPy's, in float64.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .command import as_program, error_exit, script_name
from .data.imagefolder import IMAGE_EXTENSIONS, image_files, read_image
from .vocab import ConfigError, DataError
from .weights import ACTIVATIONS, OUTPUT_NAMES, hidden_layers, hidden_names, n_hidden


@dataclass(frozen=True)
class Network:
    """A trained network and what its inputs and outputs are."""

    weights: dict
    activation: str
    names: tuple  # the class name of each output
    invert: bool
    resize: str


@dataclass(frozen=True)
class Prediction:
    path: Path
    name: str  # the most probable class
    probabilities: dict  # class name -> probability, in output order


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as err:
        raise DataError(f"{path.parent}: holds no {path.name}, so it is not a finished run directory") from err
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not readable ({err})") from err


def load(run_dir) -> Network:
    """The network a finished run directory holds, with its label map and preprocessing."""
    run_dir = Path(run_dir)
    config, results = _read_json(run_dir / "config.json"), _read_json(run_dir / "results.json")
    if config.get("compat"):
        raise ConfigError(f"{run_dir}: a --compat 2015 run records the 2015 files only; classify with a run of the "
                          "default path (mlp_transfer.py without --compat)")
    if "labels" not in results:
        raise DataError(f"{run_dir}: results.json records no label map (a run from before it was recorded); run it "
                        "again to classify with it")
    settings = config["config"]
    if "task" in results["labels"]:  # logistic_sgd.py
        labels, file, activation = results["labels"]["task"], "best_model.npz", "tanh"
    elif "target" in results["labels"]:
        labels, file, activation = results["labels"]["target"], "weights_final.npz", settings["activation"]
    else:  # --no-transfer: the source network is the run's network
        labels, file, activation = results["labels"]["source"], "weights_source.npz", settings["activation"]
    if activation not in ACTIVATIONS:
        raise DataError(f"{run_dir}/config.json: unknown activation {activation!r}")
    try:
        with np.load(run_dir / file) as saved:
            weights = {k: saved[k].astype(np.float64) for k in saved.files}
    except (OSError, ValueError) as err:
        raise DataError(f"{run_dir / file}: not a readable weight file ({err})") from err
    preprocessing = results.get("preprocessing", {})
    return Network(weights, activation, tuple(labels["names"]), bool(preprocessing.get("invert", False)),
                   preprocessing.get("resize", "fit"))


def probabilities(network: Network, x: np.ndarray) -> np.ndarray:
    """softmax of the network's outputs for the rows of ``x`` ([n, 784] in [0, 1)), in float64."""
    x = np.asarray(x, dtype=np.float64)
    first = network.weights[hidden_names(0)[0] if n_hidden(network.weights) else OUTPUT_NAMES[0]]
    if x.shape[1] != first.shape[0]:
        raise DataError(f"the network takes {first.shape[0]} inputs; these images have {x.shape[1]} pixels")
    hidden = hidden_layers(network.weights, x, network.activation)  # the metrics' NumPy pass
    z = (hidden[-1] if hidden else x) @ network.weights[OUTPUT_NAMES[0]] + network.weights[OUTPUT_NAMES[1]]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def image_paths(given) -> list[Path]:
    """The image files named, a folder standing for every image file in it (IMAGE_EXTENSIONS, nested ones too)."""
    paths = []
    for item in map(Path, given):
        if item.is_dir():
            found = image_files(item)  # as an image folder's class is read
            if not found:
                raise DataError(f"{item}: holds no image files ({' '.join(IMAGE_EXTENSIONS)})")
            paths += found
        elif item.is_file():
            paths.append(item)
        else:
            raise DataError(f"{item}: no such file or folder")
    return paths


def classify(run_dir, images, invert: bool | None = None) -> list[Prediction]:
    """Each image's most probable class, and every class's probability, under a run's network. ``invert``
    overrides the run's own (None: as the run read its images)."""
    network = load(run_dir)
    paths = image_paths(images)
    inverted = network.invert if invert is None else invert
    x = np.stack([read_image(p, inverted, network.resize).reshape(-1) for p in paths])
    p = probabilities(network, x)
    return [Prediction(path, network.names[int(row.argmax())], dict(zip(network.names, map(float, row), strict=True)))
            for path, row in zip(paths, p, strict=True)]


def main(argv=None) -> int:
    """``python -m transfer_learning.predict RUN_DIR IMAGE...`` and ``transfer-predict``: a line per image,
    ``path<TAB>class`` (with ``--probabilities``, each class's probability after it)."""
    import argparse

    from .command import Parser

    prog = script_name("transfer-predict", "python -m transfer_learning.predict")
    parser = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="exit status: 0 done, 2 bad input (one line on stderr)")
    parser.add_argument("run", metavar="RUN_DIR", help="a finished run directory (mlp_transfer.py, logistic_sgd.py)")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files, or folders of them")
    parser.add_argument("--probabilities", action="store_true", help="also print every class's probability")
    parser.add_argument("--invert", action=argparse.BooleanOptionalAction, default=None,
                        help="invert the images (dark-on-light scans for an MNIST network); default: as the run did")
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        for found in classify(args.run, args.images, args.invert):
            extra = ("\t" + " ".join(f"{name}:{p:.4f}" for name, p in found.probabilities.items())
                     if args.probabilities else "")
            print(f"{found.path}\t{found.name}{extra}")
    except (SystemExit, ConfigError, DataError) as err:
        return error_exit(prog, err)
    return 0


#: The console script ``transfer-predict`` and ``python -m transfer_learning.predict``.
program = as_program(main)

if __name__ == "__main__":
    raise SystemExit(program())
