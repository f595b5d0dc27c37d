"""Would training a seed's arms in lockstep pay? A measurement, not a feature.

    python bench/lockstep.py --arms 12 --epochs 2

The arms of one seed see the same minibatches in the same order, so K arms can be one compiled step:
the first layer one wide GEMM, x [20, 784] times [W1 of arm 1 | ... | W1 of arm K] [784, 100 K], the
deeper layers batched products over the arms. This script times K arms trained one at a time with the
project's compiled step (each arm its own weights) against the same K arms in one lockstep step, on
MNIST -> Fashion-MNIST's full target shape (784-100-100-10, batch 20, 50,000 images), from the same
initial weights, and reports arm-epochs per second and how far each arm's validation error moved
from its one-at-a-time twin. Timings vary on a shared machine: compare the rows of one run.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import transfer_learning  # noqa: E402,F401  (PyTensor set-up)
from transfer_learning import backend  # noqa: E402
from transfer_learning.data import load_task  # noqa: E402
from transfer_learning.weights import initial_weights  # noqa: E402

HIDDEN, BATCH, LR, L2 = (100, 100), 20, 0.1, 1e-4


def one_at_a_time(task, starts):
    """The project's path: one compiled step per graph shape, each arm's weights set in turn."""
    import pytensor.tensor as pt

    from transfer_learning.model import MLP
    from transfer_learning.train import compile_functions, minibatch_steps

    x, y = pt.matrix("x"), pt.ivector("y")
    model = MLP(None, x, task.n_in, HIDDEN, task.n_classes, weights=starts[0])
    compiled = compile_functions(model, x, y, task, batch_size=BATCH, learning_rate=LR, L2_reg=L2)
    weights = [dict(w) for w in starts]

    def epoch():
        for k, w in enumerate(weights):
            model.set_weights(w)
            with minibatch_steps(compiled) as step:  # as sgd_early_stopping calls it
                for i in range(compiled.n_train_batches):
                    step(i)
            weights[k] = model.get_weights()

    def errors():
        out = []
        for w in weights:
            model.set_weights(w)
            out.append(compiled.validation_error())
        return out

    return epoch, errors


def lockstep(task, starts):
    """K arms in one compiled step: a wide first GEMM and batched deeper products; per-arm losses summed."""
    import pytensor
    import pytensor.tensor as pt

    K = len(starts)
    floatX = pytensor.config.floatX
    stack = {name: pytensor.shared(np.stack([w[name] for w in starts]).astype(floatX), name=name)
             for name in starts[0] if name != "hidden0_W"}
    # the first layer stored wide, [784, K*100], arm k's columns k*100..(k+1)*100: no copy per step
    stack["hidden0_W"] = pytensor.shared(np.concatenate([w["hidden0_W"] for w in starts], axis=1).astype(floatX),
                                         name="hidden0_W")
    train_x = pytensor.shared(task.train.x.astype(floatX))
    train_y = pytensor.shared(task.train.y.astype("int32"))
    index = pt.lscalar("index")
    xb = train_x[index * BATCH:(index + 1) * BATCH]
    yb = train_y[index * BATCH:(index + 1) * BATCH]

    def forward(x, n):
        h = 2 * pt.sigmoid(2 * (pt.dot(x, stack["hidden0_W"]).reshape((n, K, HIDDEN[0])).dimshuffle(1, 0, 2)
                                + stack["hidden0_b"].dimshuffle(0, "x", 1))) - 1       # [K, n, 100]
        h = 2 * pt.sigmoid(2 * (pt.batched_dot(h, stack["hidden1_W"]) + stack["hidden1_b"].dimshuffle(0, "x", 1))) - 1
        return pt.batched_dot(h, stack["output_W"]) + stack["output_b"].dimshuffle(0, "x", 1)  # [K, n, 10]

    logits = forward(xb, BATCH)
    shifted = logits - pt.max(logits, axis=2, keepdims=True)
    log_p = shifted - pt.log(pt.sum(pt.exp(shifted), axis=2, keepdims=True))
    one_hot = pt.eq(yb.dimshuffle("x", 0, "x"), pt.arange(task.n_classes).dimshuffle("x", "x", 0))
    nll = -pt.sum(pt.switch(one_hot, log_p, 0)) / BATCH  # the sum over arms of each arm's mean NLL
    cost = nll + L2 * sum((stack[n] ** 2).sum() for n in ("hidden0_W", "hidden1_W", "output_W"))
    params = list(stack.values())
    updates = [(p, p - LR * g) for p, g in zip(params, pt.grad(cost, params), strict=True)]
    step = pytensor.function([index], nll, updates=updates, mode=backend.compile_mode())
    valid_x = pytensor.shared(task.valid.x.astype(floatX))
    predict = pytensor.function([], pt.argmax(forward(valid_x, task.valid.x.shape[0]), axis=2),
                                mode=backend.compile_mode())
    n_batches = task.train.x.shape[0] // BATCH

    def epoch():
        for i in range(n_batches):
            step(i)

    def errors():
        return [float(np.mean(row != task.valid.y)) for row in predict()]

    return epoch, errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arms", type=int, default=12, help="arms of one seed (default: 12)")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs (default: 2)")
    parser.add_argument("--train-size", type=int, default=50_000, help="training images (default: all 50,000)")
    args = parser.parse_args(argv)
    task = load_task("fashion-mnist")
    from dataclasses import replace

    from transfer_learning.data import Split

    task = replace(task, train=Split(task.train.x[:args.train_size], task.train.y[:args.train_size]))
    starts = [initial_weights(np.random.default_rng(k), task.n_in, HIDDEN, task.n_classes) for k in range(args.arms)]
    rows = {}
    for name, build in (("one at a time", one_at_a_time), ("lockstep", lockstep)):
        epoch, errors = build(task, starts)
        times = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            epoch()
            times.append(time.perf_counter() - start)
        rows[name] = (times, errors())
        print(f"[lockstep] {name}: {statistics.median(times):.2f} s per epoch of {args.arms} arms", file=sys.stderr)
    base = rows["one at a time"]
    print(f"| trainer | s per epoch of {args.arms} arms (median [min-max]) | arm-epochs per second | speed-up |"
          " largest validation-error difference to one at a time (pp) |")
    print("|---|---|---|---|---|")
    for name, (times, errs) in rows.items():
        median = statistics.median(times)
        diff = max(abs(a - b) for a, b in zip(errs, base[1], strict=True)) * 100
        print(f"| {name} | {median:.2f} [{min(times):.2f}-{max(times):.2f}] | {args.arms / median:.2f} | "
              f"{statistics.median(base[0]) / median:.2f} | {diff:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
