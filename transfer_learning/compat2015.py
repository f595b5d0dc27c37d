"""``--compat 2015``: what mlpV3Transfer.py and mlpV3TransferPictures.py computed, defects included.

The 2015 computation step by step, as ../shared/SPEC-2015.md describes it (read from the original
source): float64; one ``numpy.random.RandomState(1234)`` per phase, drawing W1 then W2 and, after
phase 1, the re-initialized columns one node at a time; MNIST as source and target; the first 100
training images as the probe; scores without the bias; hidden layer 2 never trained (defect A); the
final, not the best, phase-1 weights carried over; the layer-2 step scoring a copy of the trained W1
with its score list appended inside the inner loop and then thrown away (defect D); biases reset;
validation and test scored as the mean error of the minibatches of 20; the 2015 printed lines, count
lines and ``out.txt`` / ``outTransfer.txt`` in Python 2's number format; and, from the pictures
script, one Greys figure per node. It writes into the run directory, not the working directory.

Its graph is the 2015 one (T.tanh, softmax then log, the cost with its penalties over every weight
matrix); the training loop is the project's own (train.sgd_early_stopping), which is the tutorial's.

``fixes`` switch the defects off one at a time (``--fix``, and ``python -m transfer_learning.compat2015
--ladder``, which measures the effect of each fix in turn for the README).
"""

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import compile_cache
from .command import as_program, script_name
from .data import load_mnist, mnist_fingerprint
from .data.core import SPLIT_NAMES
from .rundir import RunDir
from .train import CompiledModel, LoopSettings, sgd_early_stopping
from .vocab import DEFAULT_GEMM, GEMMS, ConfigError

#: Each defect of the 2015 script that --fix can switch off, and what fixing it does.
FIXES = {
    "layer2-trained": "hidden layer 2 is trained (2015: W2 and c2 were missing from params)",
    "best-weights": "each phase ends with its best-validation weights (2015: the last minibatch's)",
    "target-probe": "the probe is 100 images drawn at random (seeded) from the target's training set "
                    "(2015: the first 100 source training images)",
    "probe-bias": "scores include the bias, mean |tanh(x W + c)| (2015: mean |tanh(x W)|)",
    "layer2-scored": "layer 2 is scored with its own weights on the trained layer-1 activations and its "
                     "unkept columns re-drawn (2015: a copy of W1, a defective score list, thrown away)",
    "bias-kept": "kept nodes keep their trained bias (2015: every bias restarted at zero)",
}


@dataclass(frozen=True)
class Compat2015Config:
    """test_mlp()'s parameters and the two constants of its transfer step, as in 2015."""

    learning_rate: float = 0.1
    L1_reg: float = 0.0
    L2_reg: float = 0.0001
    n_epochs: int = 20
    batch_size: int = 20
    n_hidden: int = 100
    threshold: float = 0.6
    probe_size: int = 100  # inputSize
    seed: int = 1234  # RandomState(1234)
    dataset: str | None = None
    out: str | None = None
    fixes: tuple = field(default_factory=tuple)


def py2_str(value: float) -> str:
    """Python 2's str() of a float, as the 2015 script wrote it to out.txt: 12 significant digits ('%.12g'), and
    ".0" after a whole number (float_str's Py_DTSF_ADD_DOT_0: str(2.0) was '2.0', str(1e16) '1e+16')."""
    text = "%.12g" % value
    return text + ".0" if text.lstrip("-").isdigit() else text


class Net2015:
    """mlpV3Transfer.py's MLP in float64: two tanh hidden layers and the tutorial's LogisticRegression.

    ``trained`` are the parameters SGD updates: 2015's [W1, c1, W, b], or with the layer2-trained fix
    [W1, c1, W2, c2, W, b]. get_weights()/set_weights() use the project's names.
    """

    names = ("hidden0_W", "hidden0_b", "hidden1_W", "hidden1_b", "output_W", "output_b")

    def __init__(self, weights: dict, train_layer2: bool):
        import pytensor
        import pytensor.tensor as pt

        self.x, self.y = pt.dmatrix("x"), pt.ivector("y")
        self.shared = {name: pytensor.shared(np.array(weights[name], dtype=np.float64), name=name, borrow=True)
                       for name in self.names}
        W1, c1, W2, c2, W, b = (self.shared[n] for n in self.names)
        h1 = pt.tanh(pt.dot(self.x, W1) + c1)
        h2 = pt.tanh(pt.dot(h1, W2) + c2)
        self.p_y_given_x = pt.special.softmax(pt.dot(h2, W) + b, axis=-1)
        self.y_pred = pt.argmax(self.p_y_given_x, axis=1)
        self.nll = -pt.mean(pt.log(self.p_y_given_x)[pt.arange(self.y.shape[0]), self.y])
        self.L1 = abs(W1).sum() + abs(W2).sum() + abs(W).sum()
        self.L2_sqr = (W1 ** 2).sum() + (W2 ** 2).sum() + (W ** 2).sum()
        self.params = [W1, c1, *([W2, c2] if train_layer2 else []), W, b]

    def get_weights(self) -> dict:
        return {name: self.shared[name].get_value(borrow=False) for name in self.names}

    def set_weights(self, weights: dict) -> None:
        for name in self.names:
            self.shared[name].set_value(np.array(weights[name], dtype=np.float64), borrow=True)

    def compile(self, splits, cfg) -> CompiledModel:
        """The 2015 train_model (returns the penalized cost) and error counters over the shared data."""
        import pytensor
        import pytensor.tensor as pt

        data = {}
        for part, split in zip(SPLIT_NAMES, splits, strict=True):
            data[part] = (pytensor.shared(np.asarray(split.x, dtype=np.float64), borrow=True),
                          pt.cast(pytensor.shared(np.asarray(split.y, dtype=np.float64), borrow=True), "int32"))
        cost = self.nll + cfg.L1_reg * self.L1 + cfg.L2_reg * self.L2_sqr
        updates = [(p, p - cfg.learning_rate * pt.grad(cost, p)) for p in self.params]
        index, start, stop = pt.lscalar("index"), pt.lscalar("start"), pt.lscalar("stop")
        bs = cfg.batch_size
        train_x, train_y = data["train"]
        compile_cache.reuse_march_flags()
        train_model = pytensor.function([index], cost, updates=updates, givens={
            self.x: train_x[index * bs:(index + 1) * bs], self.y: train_y[index * bs:(index + 1) * bs]})
        n_errors = pt.sum(pt.neq(self.y_pred, self.y))  # / batch_size in float64 = 2015's T.mean(T.neq(...))

        def counter(part):
            set_x, set_y = data[part]
            givens = {self.x: set_x[start:stop], self.y: set_y[start:stop]}
            return pytensor.function([start, stop], n_errors, givens=givens)

        return CompiledModel(train_model, counter("valid"), counter("test"), splits[0].x.shape[0] // bs,
                             splits[1].x.shape[0], splits[2].x.shape[0], bs, "minibatch")


def bounds_2015(n_in, n_hidden) -> tuple[float, float]:
    """HiddenLayer's uniform bounds for W1 and W2, sqrt(6 / (fan_in + fan_out)), in float64."""
    return np.sqrt(6. / (n_in + n_hidden)), np.sqrt(6. / (n_hidden + n_hidden))


def initial_weights_2015(rng, n_in, n_hidden, n_out) -> dict:
    """HiddenLayer's draws in MLP's order, W1 then W2, each rng.uniform(low, high, size=(n_in, n_out))."""
    b1, b2 = bounds_2015(n_in, n_hidden)
    return {
        "hidden0_W": np.asarray(rng.uniform(low=-b1, high=b1, size=(n_in, n_hidden)), dtype=np.float64),
        "hidden0_b": np.zeros(n_hidden),
        "hidden1_W": np.asarray(rng.uniform(low=-b2, high=b2, size=(n_hidden, n_hidden)), dtype=np.float64),
        "hidden1_b": np.zeros(n_hidden),
        "output_W": np.zeros((n_hidden, n_out)),
        "output_b": np.zeros(n_out),
    }


def layer1_scores(inputs, W1, probe_size, n_hidden, c1=None) -> list:
    """aveList of the layer-1 step: for each node, the running sum over the probe images of
    |tanh(tensordot(image, column))|, divided by inputSize, exactly in the 2015 loop order."""
    scores = []
    for i in range(n_hidden):
        x = 0
        for j in range(probe_size):
            z = np.tensordot(inputs[j, :], W1[:, i], axes=1)
            x += abs(np.tanh(z if c1 is None else z + c1[i]))
        scores.append(x / probe_size)
    return scores


def layer2_defective_scores(inputs, W1_copy, probe_size, n_hidden) -> list:
    """Defect D: the layer-2 list. The 2015 loop scored a copy of the trained W1 (not W2) and appended
    inside the inner loop: n_hidden x n_hidden running means, of which entry i (i < n_hidden) is
    read as node i's score: the partial mean of node 0 over the first i + 1 probe images."""
    scores = []
    for i in range(n_hidden):
        x = 0
        for j in range(n_hidden):
            x += abs(np.tanh(np.tensordot(inputs[j, :], W1_copy[:, i], axes=1)))
            scores.append(x / probe_size)
    return scores


def save_pictures(columns, directory, prefix):
    """The pictures script's per-node files: one Greys figure per column, imshow with nearest
    interpolation and equal aspect, as savefig(prefix + str(i), format='png') made them (here the
    file names end in .png)."""
    from .atomic import write_atomically
    from .plots import pyplot

    plt = pyplot()
    fig = plt.figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.set_aspect("equal")
    side = int(round(np.sqrt(columns.shape[0])))
    for i in range(columns.shape[1]):
        image = ax.imshow(np.asarray(columns[:, i]).reshape(side, side), interpolation="nearest", cmap=plt.cm.Greys)
        write_atomically(directory / f"{prefix}{i}.png", lambda f: fig.savefig(f, format="png"))
        image.remove()
    plt.close(fig)


def _print(*lines, out=None):
    for line in lines:
        print(line, file=out or sys.stdout)


def _phase(cfg, weights, splits, log_name, rundir, pictures, first, out, script):
    """One call of test_mlp(): build, compile, train with the tutorial's loop; returns (history, net)."""
    _print("... loading data", out=out)
    if not pictures:
        _print("This is the vector size of the inputs", str(tuple(splits[0].x.shape)),
               str(splits[0].x.shape[0] // cfg.batch_size), out=out)
    _print("... building the model", out=out)
    net = Net2015(weights, "layer2-trained" in cfg.fixes)
    compiled = net.compile(splits, cfg)
    if pictures:
        _print("...printing input images", out=out)
        if first:
            save_pictures(splits[0].x[:cfg.probe_size].T, rundir.path, "inputImage")
            save_pictures(weights["hidden0_W"], rundir.path, "wMapInit")
    _print("... training", out=out)
    history = sgd_early_stopping(
        compiled, net, LoopSettings(n_epochs=cfg.n_epochs, restore_best="best-weights" in cfg.fixes),
        phase="source" if first else "target", out=out, progress=False,
        on_checkpoint=lambda h: rundir.write_text(log_name, "".join(
            py2_str(c.validation_error * 100) + "\n" for c in h.checks)),
    )
    _print("Optimization complete. Best validation score of %f %% obtained at iteration %i, with test "
           "performance %f %%" % (history.best_validation_error * 100., history.best_iter + 1,
                                  history.test_error * 100.), out=out)
    print("The code for file " + os.path.split(script)[1] + " ran for %.2fm" % (history.seconds / 60.),
          file=sys.stderr)
    return history, net


def run(cfg: Compat2015Config, pictures=False, out=None, script="mlp_transfer.py", overwrite=False) -> dict:
    """The whole 2015 run: phase 1 on MNIST, the transfer step, phase 2 on MNIST."""
    import pytensor

    out = out or sys.stdout
    unknown = [f for f in cfg.fixes if f not in FIXES]
    if unknown:
        raise ConfigError(f"--fix: unknown {', '.join(unknown)}; expected some of {', '.join(FIXES)}")
    splits = load_mnist(cfg.dataset)  # its messages (fetching, a cache not written) go to stderr
    if cfg.probe_size > splits[0].x.shape[0] or cfg.batch_size > splits[0].x.shape[0]:
        raise ConfigError(f"--probe-size / --batch-size: larger than the {splits[0].x.shape[0]} training images")
    rundir = RunDir.create(cfg.out, "-compat2015", overwrite=overwrite)
    from . import blas
    from .inputs import versions

    rundir.write_json("config.json", {"script": script, "compat": "2015", "config": asdict(cfg),
                                      "versions": versions(), "arithmetic": blas.facts(),
                                      "inputs": {"mnist": mnist_fingerprint(cfg.dataset)}})
    n_in, n_out, n_hidden = splits[0].x.shape[1], int(splits[0].y.max()) + 1, cfg.n_hidden
    with pytensor.config.change_flags(floatX="float64"):
        rng = np.random.RandomState(cfg.seed)
        initial = initial_weights_2015(rng, n_in, n_hidden, n_out)
        history1, net = _phase(cfg, initial, splits, "out.txt", rundir, pictures, True, out, script)
        trained = net.get_weights()
        rundir.write_weights("weights_source.npz", trained)
        if pictures:
            _print("...printing weight maps of H1 (hidden nodes in layer 1) after training", out=out)
            save_pictures(trained["hidden0_W"], rundir.path, "wMapTrained")
        transferred, report = transfer_step(cfg, trained, splits, rng, out, pictures)
        rundir.write_weights("weights_transferred.npz", transferred)
        rundir.write_json("transfer.json", report)
        if pictures:
            _print("...printing H1 weight maps after transfering learning", out=out)
            save_pictures(transferred["hidden0_W"], rundir.path, "wMapTransfer")
        # phase 2: 2015 created RandomState(1234) again, but it drew nothing (both hidden W are given)
        history2, net = _phase(cfg, transferred, splits, "outTransfer.txt", rundir, pictures, False, out, script)
        rundir.write_weights("weights_final.npz", net.get_weights())
    _print(*_closing_lines(pictures), out=out)
    results = {
        "compat": "2015", "fixes": list(cfg.fixes),
        "source_test_error": history1.test_error, "source_best_validation_error": history1.best_validation_error,
        "source_best_iteration": history1.best_iter + 1, "source_epochs_run": history1.epochs_run,
        "target_test_error": history2.test_error, "target_best_validation_error": history2.best_validation_error,
        "target_best_iteration": history2.best_iter + 1, "target_epochs_run": history2.epochs_run,
        "nodes_kept": [report["layers"][0]["n_kept"], report["layers"][1]["n_kept"]],
        "scoring": "2015's: the mean error of the minibatches of batch_size; the test error is that of the "
                   "best-validation check, the weights carried on are the last minibatch's unless fixed",
        "seconds": history1.seconds + history2.seconds,
    }
    rundir.write_json("results.json", results)
    return {**results, "run_dir": str(rundir.path)}


def redraw_unkept(W, scores, threshold, rng, bound) -> list:
    """For i = 0..columns-1 in order: a node scoring below ``threshold`` gets column i of ``W`` re-drawn in
    place, ``rng.uniform(low=-bound, high=bound, size=(rows, 1)).flatten()`` as 2015 drew it; returns the kept."""
    kept = []
    for i in range(W.shape[1]):
        if scores[i] < threshold:
            W[:, i] = np.asarray(rng.uniform(low=-bound, high=bound, size=(W.shape[0], 1)), dtype=np.float64).flatten()
        else:
            kept.append(i)
    return kept


def transfer_step(cfg, trained, splits, rng, out, pictures):
    """Score, keep or re-draw, as 2015 did (each --fix changes one part); returns phase 2's start and a report."""
    n_in, n_hidden = trained["hidden0_W"].shape
    fixes = set(cfg.fixes)
    if "target-probe" in fixes:
        probe_index = np.random.default_rng(cfg.seed).choice(splits[0].x.shape[0], cfg.probe_size, replace=False)
    else:
        probe_index = np.arange(cfg.probe_size)  # inputs[j, :] for j < inputSize: the first training images
    inputs = np.asarray(splits[0].x[probe_index], dtype=np.float64)
    b1, b2 = bounds_2015(n_in, n_hidden)

    _print("starting transfer calculations", out=out)
    hidden1W = trained["hidden0_W"].copy()
    scores1 = layer1_scores(inputs, hidden1W, cfg.probe_size, n_hidden,
                            trained["hidden0_b"] if "probe-bias" in fixes else None)
    _print("ending calculation", out=out)
    kept1 = redraw_unkept(hidden1W, scores1, cfg.threshold, rng, b1)
    _print("A total number of " + str(len(kept1)) + " H1 nodes passed the threshold", out=out)

    _print("starting next hidden layer calculation", out=out)
    if "layer2-scored" in fixes:
        z1 = inputs @ trained["hidden0_W"] + (trained["hidden0_b"] if "probe-bias" in fixes else 0)
        h1 = np.tanh(z1)
        hidden2W = trained["hidden1_W"].copy()
        scores2 = layer1_scores(h1, hidden2W, cfg.probe_size, n_hidden,
                                trained["hidden1_b"] if "probe-bias" in fixes else None)
    else:
        hidden2W = trained["hidden0_W"].copy()  # defect D: a copy of the trained W1
        scores2 = layer2_defective_scores(inputs, hidden2W, cfg.probe_size, n_hidden)
    _print("ending hidden layer 2 calculation" if pictures else "ending hidden 2 calculation", out=out)
    kept2 = redraw_unkept(hidden2W, scores2, cfg.threshold, rng, b2)
    _print("A total number of " + str(len(kept2)) + " H2 nodes passed the threshold", out=out)

    keep_bias = "bias-kept" in fixes
    transferred = {
        "hidden0_W": hidden1W,
        "hidden0_b": np.where(np.isin(np.arange(n_hidden), kept1), trained["hidden0_b"], 0.0) if keep_bias
        else np.zeros(n_hidden),
        # 2015 carried the initial W2 (never trained; with layer2-trained, the trained one); the layer-2 step's
        # result was thrown away unless layer2-scored
        "hidden1_W": hidden2W if "layer2-scored" in fixes else trained["hidden1_W"].copy(),
        "hidden1_b": (np.where(np.isin(np.arange(n_hidden), kept2), trained["hidden1_b"], 0.0)
                      if keep_bias and "layer2-scored" in fixes else np.zeros(n_hidden)),
        "output_W": np.zeros_like(trained["output_W"]),
        "output_b": np.zeros_like(trained["output_b"]),
    }
    report = {
        "compat": "2015", "fixes": sorted(fixes), "threshold": cfg.threshold, "probe_size": cfg.probe_size,
        "probe_indices": [int(i) for i in probe_index],
        "layers": [
            {"layer": 0, "scores": [float(s) for s in scores1], "kept": kept1, "n_kept": len(kept1),
             "n_nodes": n_hidden},
            {"layer": 1, "scores": [float(s) for s in scores2[:n_hidden]], "kept": kept2, "n_kept": len(kept2),
             "n_nodes": n_hidden, "score_list_length": len(scores2),
             "used_by_phase_2": "layer2-scored" in fixes},
        ],
    }
    if "layer2-scored" not in fixes:
        report["layers"][1]["note"] = ("2015's layer-2 list: entry i is the running mean of node 0 of a copy of W1 "
                                       "over the first i + 1 probe images; the re-drawn copy was thrown away")
    return transferred, report


def _closing_lines(pictures):
    lines = ["Thank you for running this transfer program", "Below are descriptions of files that have been created",
             "out.txt         - validation error while training"]
    if not pictures:
        return [*lines, "outTransfer.txt - validation error while traning after transfer learning"]
    return [*lines, "outTransfer.txt - validation error while training after transfer learning", "",
            "wMapInit group    -  weight maps after initialization",
            "wMapTrained group -  weight maps after training",
            "wMapTransfer group    -  weight maps after transfering",
            "     relevant weight maps to activated nodes are identical to wMapTrained",
            "     non relevant weight maps are re-initialized"]


#: The flags of mlp_transfer.py that mean something in 2015 mode: test_mlp()'s parameters, the two
#: constants of its transfer step, and where to read and write.
COMPAT_FLAGS = {"learning_rate", "L1_reg", "L2_reg", "n_epochs", "batch_size", "hidden_sizes", "threshold",
                "probe_size", "seed", "dataset", "out"}


def config_from_args(values: dict, given: set, fixes) -> Compat2015Config:
    """A Compat2015Config from parsed flags (``given``: the names on the command line); a flag with no
    meaning in 2015 mode is refused with one line."""
    refused = sorted(k for k in given if k in values and k not in COMPAT_FLAGS)
    if refused:
        from .config import flag

        raise ConfigError(f"--compat 2015: {', '.join(flag(k) for k in refused)} has no meaning in 2015 mode (it "
                          f"takes {', '.join(sorted(flag(k) for k in COMPAT_FLAGS))}, --fix and --overwrite)")
    values = {k: v for k, v in values.items() if k in given}
    hidden = values.get("hidden_sizes", (100, 100))
    if len(set(hidden)) != 1 or len(hidden) > 2:
        raise ConfigError(f"--compat 2015: --hidden-sizes must be one width (2015's n_hidden, used for both layers), "
                          f"got {','.join(map(str, hidden))}")
    threshold = values.get("threshold")
    if threshold == "auto":
        raise ConfigError("--compat 2015: --threshold auto has no meaning in 2015 mode (give a number)")
    chosen = {k: values[k] for k in ("learning_rate", "L1_reg", "L2_reg", "n_epochs", "batch_size", "probe_size",
                                     "seed", "dataset", "out") if k in values}
    return Compat2015Config(**chosen, n_hidden=hidden[0], fixes=tuple(fixes),
                            **({} if threshold is None else {"threshold": float(threshold)}))


# --- the README's table: the effect of fixing each defect in turn ------------------------------------

LADDER = ("layer2-trained", "best-weights", "target-probe", "probe-bias", "layer2-scored", "bias-kept")


def ladder(out_dir, dataset, n_epochs, gemm=DEFAULT_GEMM) -> str:
    """Run 2015 mode with the fixes switched on one at a time (cumulatively), then the default port on
    MNIST -> MNIST, and return the Markdown table (also written to <out_dir>/ladder.md). ``dataset`` None is the
    data folder's MNIST; main() holds the default number of epochs, 2015's 20."""
    from pathlib import Path

    from .config import TransferConfig
    from .experiment import run_transfer

    out_dir = Path(out_dir)
    rows = []
    for k in range(len(LADDER) + 1):
        fixes = LADDER[:k]
        name = "2015" if not fixes else "+" + fixes[-1]
        run_dir = out_dir / f"{k}-{name.lstrip('+')}"
        cfg = Compat2015Config(n_epochs=n_epochs, dataset=dataset, out=str(run_dir), fixes=fixes)
        done = run_dir / "results.json"
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            result = json.loads(done.read_text()) if done.is_file() else run(cfg, out=quiet, overwrite=True)
        rows.append((f"`--compat 2015{' --fix ' + ','.join(fixes) if fixes else ''}`",
                     "2015" if not fixes else f"+ {fixes[-1]}: {FIXES[fixes[-1]]}", result))
        print(f"[ladder] {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    port_dir = out_dir / "port"
    done = port_dir / "results.json"
    with open(os.devnull, "w") as quiet:
        port = json.loads(done.read_text()) if done.is_file() else run_transfer(
            TransferConfig(source="mnist", target="mnist", n_epochs=n_epochs, baselines="none", dataset=dataset,
                           gemm=gemm, out=str(port_dir)),
            out=quiet, overwrite=True)
    rows.append(("`mlp_transfer.py --source mnist --target mnist`", "the port's default: every fix, float32, "
                 "numpy's Generator, every example scored", port))
    lines = ["| run | what changes | nodes kept (H1, H2) | source test error % | target test error % |",
             "|---|---|---|---|---|"]
    for command, what, r in rows:
        kept = ", ".join(str(k) for k in r["nodes_kept"])
        what = what.replace("|", "\\|")  # the formulas' absolute values must not end a Markdown cell
        lines.append(f"| {command} | {what} | {kept} | {r['source_test_error'] * 100:.2f} | "
                     f"{r['target_test_error'] * 100:.2f} |")
    table = "\n".join(lines) + "\n"
    (out_dir / "ladder.md").write_text(table)
    return table


def main(argv=None) -> int:
    """``python -m transfer_learning.compat2015 --ladder DIR``: the README's table of fixes."""
    import argparse

    prog = script_name("transfer-compat-ladder", "python -m transfer_learning.compat2015")
    parser = argparse.ArgumentParser(prog=prog, description=main.__doc__)
    parser.add_argument("--ladder", metavar="DIR", required=True, help="folder for the runs and ladder.md")
    parser.add_argument("--dataset", metavar="PATH", help="your own mnist.pkl.gz (default: the data folder's)")
    parser.add_argument("--n-epochs", type=int, default=20, help="epochs per phase (default: 20, as in 2015)")
    parser.add_argument("--gemm", choices=GEMMS, default=DEFAULT_GEMM,
                        help="the last row's (the port's float32 default run) matrix products: onednn or openblas, as "
                             "the committed table was made (default: onednn, the port's default)")
    args = parser.parse_args(argv)
    print(ladder(args.ladder, args.dataset, args.n_epochs, args.gemm))
    return 0


#: The console script ``transfer-compat-ladder`` and ``python -m transfer_learning.compat2015``.
program = as_program(main)

if __name__ == "__main__":
    raise SystemExit(program())
