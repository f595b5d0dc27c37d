"""Seconds per training epoch: our PyTensor trainer against a hand-written NumPy loop, PyTorch and JAX.

    python bench/epoch.py                 # 5 timed epochs per trainer after 1 warm-up, all cases
    python bench/epoch.py --modes --threads   # also other PyTensor modes, and one BLAS thread
    python bench/epoch.py --tiny          # a quick check that the benchmark works (CI runs this)
    python bench/epoch.py --profile --cases c --epochs 1   # where our step's time goes, op by op

PyTorch (torch==2.13.0) and JAX (jax==0.10.2: a jitted step per minibatch, and one jitted call per epoch
with lax.scan) are optional peers, timed when installed (make bench installs them), never dependencies.

Cases (float32, one epoch = the MNIST training set, an update after every minibatch, no shuffling):
  (a) tutorial MLP 784-500-10, lr 0.01, batch 20, L2 1e-4
  (b) transfer default 784-100-100-10, lr 0.1, batch 20, L2 1e-4
  (c) logistic regression 784-10, lr 0.13, batch 600
Every trainer starts from the same weights and sees the same minibatches. "ours" is the real
code path of mlp_transfer.py / logistic_sgd.py: compile_functions() (data in shared variables,
givens slicing) and its compiled train_model(index). The FLOP floor is the time the epoch's
matrix products alone take in NumPy's BLAS at the same shapes on one BLAS thread (our default), measured
in the same run.
Prints a table and writes it as JSON (--json, default bench/results/epoch.json).
"""

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
#: The environment as the user gave it, before importing the package sets its BLAS default (one thread):
#: each trainer's process starts from this, so the NumPy loop and PyTorch keep their own defaults.
USER_ENV = dict(os.environ)

import numpy as np  # noqa: E402

import transfer_learning  # noqa: E402,F401  (PyTensor set-up)
from transfer_learning import backend, blas  # noqa: E402
from transfer_learning.data import Dataset, Split, load_task  # noqa: E402
from transfer_learning.weights import initial_weights  # noqa: E402

CASES = {
    "a": dict(label="(a) MLP 784-500-10", hidden=(500,), lr=0.01, batch=20, l2=1e-4),
    "b": dict(label="(b) MLP 784-100-100-10", hidden=(100, 100), lr=0.1, batch=20, l2=1e-4),
    "c": dict(label="(c) logistic 784-10", hidden=(), lr=0.13, batch=600, l2=0.0),
}


def start_weights(n_in, hidden, n_out, seed=1234):
    """The same starting point for every trainer: the network the scripts would build."""
    return initial_weights(np.random.default_rng(seed), n_in, hidden, n_out)


def layer_names(n_hidden):
    return [(f"hidden{i}_W", f"hidden{i}_b") for i in range(n_hidden)] + [("output_W", "output_b")]


class OursTrainer:
    """The project's compiled PyTensor train function as the scripts build it with --kernels unfused --gemm openblas
    (the tutorial's ops as written; OnednnTrainer is the default step)."""

    name = "ours (PyTensor)"
    kernels = "unfused"
    gemm = "openblas"

    def __init__(self, task, case, weights):
        import pytensor.tensor as pt

        from transfer_learning.model import MLP, LogisticRegression
        from transfer_learning.train import compile_functions

        x, y = pt.matrix("x"), pt.ivector("y")
        if case["hidden"]:
            self.model = MLP(np.random.default_rng(0), x, task.n_in, case["hidden"], task.n_classes, weights=weights,
                             kernels=self.kernels, gemm=self.gemm)
        else:
            self.model = LogisticRegression(x, task.n_in, task.n_classes, W=weights["output_W"], b=weights["output_b"],
                                            kernels=self.kernels, gemm=self.gemm)
        self.compiled = compile_functions(self.model, x, y, task, batch_size=case["batch"],
                                          learning_rate=case["lr"], L2_reg=case["l2"])

    def epoch(self):
        from transfer_learning.train import minibatch_steps

        with minibatch_steps(self.compiled) as step:  # as sgd_early_stopping calls it
            for i in range(self.compiled.n_train_batches):
                step(i)

    def validation_error(self):
        return self.compiled.validation_error()


class FusedTrainer(OursTrainer):
    """The same, compiled with the fused kernels (--kernels fused --gemm openblas; transfer_learning/fused.py)."""

    name = "ours, fused kernels"
    kernels = "fused"


class OnednnTrainer(OursTrainer):
    """The default step: the fused kernels and oneDNN's products where they are the faster (--gemm onednn;
    transfer_learning/onednn.py)."""

    name = "ours, fused + oneDNN"
    kernels = "fused"
    gemm = "onednn"


class NumpyTrainer:
    """Forward and backward written by hand with NumPy: tanh layers, softmax, NLL, L2, plain SGD."""

    name = "hand-written NumPy"

    def __init__(self, task, case, weights):
        self.x, self.y = task.train.x, task.train.y
        self.valid = task.valid
        self.batch, self.lr, self.l2 = case["batch"], np.float32(case["lr"]), np.float32(case["l2"])
        self.names = layer_names(len(case["hidden"]))
        self.params = [(weights[w].copy(), weights[b].copy()) for w, b in self.names]

    def forward(self, x):
        acts = [x]
        for W, b in self.params[:-1]:
            x = np.tanh(x @ W + b)
            acts.append(x)
        W, b = self.params[-1]
        return acts, x @ W + b

    def epoch(self):
        bs, lr, l2 = self.batch, self.lr, self.l2
        for i in range(len(self.x) // bs):
            x, y = self.x[i * bs:(i + 1) * bs], self.y[i * bs:(i + 1) * bs]
            acts, z = self.forward(x)
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(bs), y] -= 1
            delta = p / np.float32(bs)
            for layer in reversed(range(len(self.params))):
                W, b = self.params[layer]
                gW = acts[layer].T @ delta
                if l2:
                    gW += (2 * l2) * W
                gb = delta.sum(axis=0)
                if layer:
                    delta = (delta @ W.T) * (1 - acts[layer] ** 2)
                W -= lr * gW
                b -= lr * gb

    def validation_error(self):
        return float(np.mean(self.forward(self.valid.x)[1].argmax(axis=1) != self.valid.y))


class TorchTrainer:
    """PyTorch eager on the CPU, the same layers, init, data order and update rule."""

    name = "PyTorch CPU eager"

    def __init__(self, task, case, weights):
        import torch

        self.torch = torch
        self.x, self.y = torch.from_numpy(task.train.x), torch.from_numpy(task.train.y.astype(np.int64))
        self.vx, self.vy = torch.from_numpy(task.valid.x), torch.from_numpy(task.valid.y.astype(np.int64))
        self.batch, self.lr, self.l2 = case["batch"], case["lr"], case["l2"]
        self.params = [torch.tensor(weights[n], requires_grad=True) for pair in layer_names(len(case["hidden"]))
                       for n in pair]

    def logits(self, x):
        for i in range(0, len(self.params) - 2, 2):
            x = self.torch.tanh(x @ self.params[i] + self.params[i + 1])
        return x @ self.params[-2] + self.params[-1]

    def epoch(self):
        torch, bs = self.torch, self.batch
        nll = torch.nn.functional.cross_entropy
        for i in range(len(self.x) // bs):
            loss = nll(self.logits(self.x[i * bs:(i + 1) * bs]), self.y[i * bs:(i + 1) * bs])
            if self.l2:
                loss = loss + self.l2 * sum((W ** 2).sum() for W in self.params[0::2])
            grads = torch.autograd.grad(loss, self.params)
            with torch.no_grad():
                for p, g in zip(self.params, grads, strict=True):
                    p -= self.lr * g

    def validation_error(self):
        with self.torch.no_grad():
            return float((self.logits(self.vx).argmax(1) != self.vy).float().mean())


class JaxStepTrainer:
    """JAX on the CPU (optional peer, never a dependency): one jitted SGD step called per minibatch."""

    name = "JAX jit step"

    def __init__(self, task, case, weights):
        import jax
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp
        self.x, self.y = jnp.asarray(task.train.x), jnp.asarray(task.train.y)
        self.vx, self.vy = jnp.asarray(task.valid.x), np.asarray(task.valid.y)
        self.batch, self.n = case["batch"], len(task.train.x) // case["batch"]
        lr, l2, bs = np.float32(case["lr"]), np.float32(case["l2"]), case["batch"]
        self.params = [(jnp.asarray(weights[w]), jnp.asarray(weights[b])) for w, b in layer_names(len(case["hidden"]))]

        def loss(params, x, y):
            h = x
            for W, b in params[:-1]:
                h = jnp.tanh(h @ W + b)
            W, b = params[-1]
            logp = jax.nn.log_softmax(h @ W + b)
            nll = -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))
            return nll + l2 * sum((W ** 2).sum() for W, _ in params) if l2 else nll

        def step(params, x, y, i):
            xb = jax.lax.dynamic_slice_in_dim(x, i * bs, bs)
            yb = jax.lax.dynamic_slice_in_dim(y, i * bs, bs)
            grads = jax.grad(loss)(params, xb, yb)
            return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)

        self.step = jax.jit(step)
        self.step_fn = step

    def epoch(self):
        params = self.params
        for i in range(self.n):
            params = self.step(params, self.x, self.y, i)
        self.params = self.jax.block_until_ready(params)

    def validation_error(self):
        h = self.vx
        for W, b in self.params[:-1]:
            h = self.jnp.tanh(h @ W + b)
        W, b = self.params[-1]
        return float(np.mean(np.asarray((h @ W + b).argmax(axis=1)) != self.vy))


class JaxScanTrainer(JaxStepTrainer):
    """JAX: one jitted call per epoch, lax.scan over the minibatch indices."""

    name = "JAX jit scan"

    def __init__(self, task, case, weights):
        super().__init__(task, case, weights)
        jax, jnp = self.jax, self.jnp

        def epoch(params, x, y):
            return jax.lax.scan(lambda p, i: (self.step_fn(p, x, y, i), None), params, jnp.arange(self.n))[0]

        self.run_epoch = jax.jit(epoch)

    def epoch(self):
        self.params = self.jax.block_until_ready(self.run_epoch(self.params, self.x, self.y))


def gemm_floor(task, case, repeats):
    """Seconds and FLOPs of one epoch's matrix products alone (forward, weight and input grads)."""
    widths = [task.n_in, *case["hidden"], task.n_classes]
    bs = case["batch"]
    n_batches = task.train.x.shape[0] // bs
    rng = np.random.default_rng(0)
    products, flops = [], 0
    for layer, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        x, W, d = (rng.standard_normal(s).astype(np.float32) for s in ((bs, a), (a, b), (bs, b)))
        products += [(x, W), (x.T, d)] + ([(d, W.T)] if layer else [])
        flops += 2 * bs * a * b * (3 if layer else 2)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n_batches):
            for left, right in products:
                left @ right
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return seconds, flops * n_batches


def gemm_floor_chosen(task, case, repeats):
    """Seconds of one epoch's matrix products alone, each by the library --gemm onednn gives it (onednn.py: oneDNN's
    dnnl_sgemm, called through ctypes with its arguments made once, where it is the faster; NumPy's OpenBLAS
    elsewhere, as gemm_floor calls it)."""
    import ctypes

    from transfer_learning import onednn

    lib = ctypes.CDLL(str(onednn.library_dir() / "libdnnl.so.3"))
    lib.dnnl_sgemm.argtypes = [ctypes.c_char, ctypes.c_char, *[ctypes.c_int64] * 3, ctypes.c_float, ctypes.c_void_p,
                               ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_void_p,
                               ctypes.c_int64]
    widths = [task.n_in, *case["hidden"], task.n_classes]
    bs = case["batch"]
    n_batches = task.train.x.shape[0] // bs
    rng = np.random.default_rng(0)
    calls, keep = [], []
    for layer, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        x, W, d = (rng.standard_normal(s).astype(np.float32) for s in ((bs, a), (a, b), (bs, b)))
        out_f, out_b = np.empty((bs, b), np.float32), np.empty((bs, a), np.float32)
        keep += [x, W, d, out_f, out_b]
        if onednn.prefers_onednn(a, b):
            args = (b"N", b"N", bs, b, a, 1.0, x.ctypes.data, a, W.ctypes.data, b, 0.0, out_f.ctypes.data, b)
            calls.append(lambda args=args: lib.dnnl_sgemm(*args))
        else:
            calls.append(lambda x=x, W=W: x @ W)
        calls.append(lambda x=x, d=d: x.T @ d)  # the weight update's product stays OpenBLAS's
        if layer and onednn.prefers_onednn(b, a):
            args = (b"N", b"T", bs, a, b, 1.0, d.ctypes.data, b, W.ctypes.data, b, 0.0, out_b.ctypes.data, a)
            calls.append(lambda args=args: lib.dnnl_sgemm(*args))
        elif layer:
            calls.append(lambda d=d, W=W: d @ W.T)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n_batches):
            for call in calls:
                call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_trainer(trainer, warmup, epochs):
    for _ in range(warmup):
        trainer.epoch()
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        trainer.epoch()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "epochs": epochs, "validation_error": trainer.validation_error()}


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def probe_seconds(n_images=10_000, hidden=(500, 500), repeats=3):
    """Scoring n_images probe images through a 784-500-500 network (the vectorized transfer step)."""
    from transfer_learning.transfer import hidden_activity

    rng = np.random.default_rng(0)
    weights = start_weights(784, hidden, 10)
    images = rng.uniform(size=(n_images, 784)).astype(np.float32)
    return min(timed(lambda: hidden_activity(weights, images)) for _ in range(repeats))


def tiny_task(task, n_train=2000, n_valid=1000):
    cut = lambda s, n: Split(s.x[:n], s.y[:n])  # noqa: E731
    return Dataset(task.name, cut(task.train, n_train), cut(task.valid, n_valid), task.test,
                   task.n_classes, task.classes)


TRAINERS = {"ours": OursTrainer, "ours-fused": FusedTrainer, "ours-onednn": OnednnTrainer, "numpy": NumpyTrainer,
            "torch": TorchTrainer, "jax-step": JaxStepTrainer, "jax-scan": JaxScanTrainer}
#: Other PyTensor modes the same trainer can be timed in (--modes), to show why backend.py picks C.
MODES = {"ours-numba": "NUMBA", "ours-cvm": "CVM"}
#: Variants with another thread count (--threads): ours with two BLAS threads (the project's default is
#: one, see backend.py), the NumPy loop with one BLAS thread (its default is one per core), and JAX's
#: trainers on one thread (XLA's default is a thread pool over every core), pinned to one CPU as well:
#: the comparison at equal threads with our default.
THREADS = {"ours-2threads": ("ours", "2"), "numpy-1thread": ("numpy", "1"),
           "jax-step-1thread": ("jax-step", "1"), "jax-scan-1thread": ("jax-scan", "1")}
#: XLA's flags for one CPU thread.
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def worker(args):
    """One trainer (or the GEMM floor) on one case, in a process of its own; prints JSON."""
    task = load_task("mnist")
    if args.tiny:
        task = tiny_task(task)
    case = CASES[args.case]
    if args.profile:
        return print_profile(task, case, args)
    if args.trainer == "floor":
        floor_s, flops = gemm_floor(task, case, repeats=max(3, args.epochs))
        result = {"floor_s": floor_s, "flops": flops,
                  "chosen_floor_s": gemm_floor_chosen(task, case, repeats=max(3, args.epochs))}
    else:
        base = "ours" if args.trainer in MODES else THREADS.get(args.trainer, (args.trainer,))[0]
        trainer_class = TRAINERS[base]
        trainer = trainer_class(task, case, start_weights(task.n_in, case["hidden"], task.n_classes))
        result = time_trainer(trainer, args.warmup, args.epochs)
        if args.trainer.startswith("ours"):
            result["validation_pass_s"] = min(timed(trainer.validation_error) for _ in range(3))
    print(json.dumps(result))
    return 0


def print_profile(task, case, args):
    """PyTensor's per-op profile of our compiled step over --warmup + --epochs epochs (the worker runs in
    the CVM linker, which times each op; the C linker runs the step as one routine)."""
    import pytensor

    pytensor.config.profile = True
    trainer = TRAINERS[args.trainer](task, case, start_weights(task.n_in, case["hidden"], task.n_classes))
    pytensor.config.profile = False  # only the step's profile, printed here, not every function's at exit
    for _ in range(args.warmup + args.epochs):
        trainer.epoch()
    print(f"{case['label']}, {trainer.name}: {trainer.compiled.n_train_batches} steps per epoch", flush=True)
    trainer.compiled.train_model.profile.summary(file=sys.stdout, n_ops_to_print=15, n_apply_to_print=15)
    return 0


def trainer_label(name):
    if name in THREADS:
        base, threads = THREADS[name]
        kind = "thread" if base.startswith("jax") else "BLAS thread"
        return f"{TRAINERS[base].name.split(' (')[0]}, {threads} {kind}{'s' if threads != '1' else ''}"
    return f"ours, mode={MODES[name]}" if name in MODES else TRAINERS[name].name


def run_worker(case, trainer, args):
    """Each measurement runs in a fresh process: two OpenBLAS thread pools (NumPy's and the one
    PyTensor links) spinning in one process slow each other down and would bias the comparison."""
    cmd = [sys.executable, __file__, "--worker", "--case", case, "--trainer", trainer,
           "--epochs", str(args.epochs), "--warmup", str(args.warmup)] + (["--tiny"] if args.tiny else [])
    env = dict(USER_ENV)
    if trainer in MODES:
        env["PYTENSOR_FLAGS"] = f"mode={MODES[trainer]}"
    pin = None
    if trainer == "floor":  # the floor of our step, which runs on one BLAS thread (backend.py) and one oneDNN one
        env["OPENBLAS_NUM_THREADS"] = "1"
        env["OMP_NUM_THREADS"] = "1"
    if trainer in THREADS:
        base, threads = THREADS[trainer]
        env["OPENBLAS_NUM_THREADS"] = threads
        if base.startswith("jax") and threads == "1":
            env["XLA_FLAGS"] = " ".join(filter(None, [env.get("XLA_FLAGS"), XLA_ONE_THREAD]))
            pin = min(os.sched_getaffinity(0))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          preexec_fn=None if pin is None else lambda: os.sched_setaffinity(0, {pin}))
    if done.returncode != 0:
        raise SystemExit(f"bench worker {case}/{trainer} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="abc", help="which cases to run, e.g. ab (default: abc)")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per trainer (default: 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs first (default: 1)")
    parser.add_argument("--tiny", action="store_true", help="2,000 training images, 1 epoch: proves it runs")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    parser.add_argument("--modes", action="store_true",
                        help="also time our trainer in PyTensor's NUMBA mode and its plain C linker")
    parser.add_argument("--threads", action="store_true",
                        help="also time ours with two BLAS threads, the NumPy loop with one and JAX on one thread")
    parser.add_argument("--no-jax", action="store_true", help="skip JAX even if it is installed")
    parser.add_argument("--profile", action="store_true",
                        help="instead of timing, print PyTensor's per-op profile of our step on each case "
                             "(CVM linker, --warmup + --epochs epochs)")
    parser.add_argument("--json", default="bench/results/epoch.json", help="where to write the table")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--trainer", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tiny:
        args.epochs, args.warmup = 1, 0
    if args.worker:
        return worker(args)
    if args.profile:
        flags = ",".join(filter(None, [USER_ENV.get("PYTENSOR_FLAGS"), "mode=CVM"]))
        for key in args.cases:
            for trainer in ("ours", "ours-fused", "ours-onednn"):
                subprocess.run([sys.executable, __file__, "--worker", "--profile", "--case", key, "--trainer", trainer,
                                "--epochs", str(args.epochs), "--warmup", str(args.warmup)]
                               + (["--tiny"] if args.tiny else []), env={**USER_ENV, "PYTENSOR_FLAGS": flags},
                               check=True)
        return 0

    threads = [name for name in THREADS if args.threads and not name.startswith("jax")]
    trainers = ["ours", "ours-fused", "ours-onednn", *(MODES if args.modes else []), "numpy", *threads]
    results = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
               "pytensor": backend.describe(), "blas": blas.facts(), "numpy": np.__version__,
               "train_images": 2000 if args.tiny else 50000, "epochs_timed": args.epochs, "cases": {}}
    if not args.no_torch:
        if importlib.util.find_spec("torch") is None:
            print("PyTorch is not installed: its column is skipped (pip install torch==2.13.0)", file=sys.stderr)
        else:
            trainers.append("torch")
            results["torch"] = importlib.metadata.version("torch")
    if not args.no_jax:
        if importlib.util.find_spec("jax") is None:
            print("JAX is not installed: its rows are skipped (pip install jax==0.10.2)", file=sys.stderr)
        else:
            trainers += ["jax-step", "jax-scan", *(name for name in THREADS if args.threads and name.startswith("jax"))]
            results["jax"] = importlib.metadata.version("jax")
    for key in args.cases:
        case = CASES[key]
        print(f"{case['label']}: GEMM floor ...", file=sys.stderr, flush=True)
        floor = run_worker(key, "floor", args)
        row = {"label": case["label"], "flops_per_epoch": floor["flops"],
               "gemm_gflops": floor["flops"] / floor["floor_s"] / 1e9, "floor_s": floor["floor_s"],
               "chosen_floor_s": floor["chosen_floor_s"], "trainers": {}}
        for name in trainers:
            label = trainer_label(name)
            print(f"{case['label']}: timing {label} ...", file=sys.stderr, flush=True)
            row["trainers"][label] = run_worker(key, name, args)
        ours = row["trainers"][OursTrainer.name]["median_s"]
        for stats in row["trainers"].values():
            stats["ratio_to_ours"] = stats["median_s"] / ours
        row["ours_vs_numpy"] = ours / row["trainers"][NumpyTrainer.name]["median_s"]
        row["ours_vs_floor"] = ours / floor["floor_s"]
        results["cases"][key] = row

    n_probe = 1000 if args.tiny else 10_000
    results["probe"] = {"images": n_probe, "network": "784-500-500", "seconds": probe_seconds(n_probe)}
    print(format_table(results))
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {path}", file=sys.stderr)
    return 0


def format_table(results):
    lines = [f"seconds per epoch ({results['train_images']} training images), median [min-max] of timed epochs; "
             f"BLAS: {blas.describe(results.get('blas'))}",
             "| case | trainer | median s | min-max s | time / ours | valid. error |",
             "|---|---|---|---|---|---|"]
    for row in results["cases"].values():
        for name, s in row["trainers"].items():
            lines.append(f"| {row['label']} | {name} | {s['median_s']:.3f} | {s['min_s']:.3f}-{s['max_s']:.3f} "
                         f"| {s['ratio_to_ours']:.2f} | {s['validation_error'] * 100:.2f} % |")
        lines.append(f"| {row['label']} | GEMM floor ({row['gemm_gflops']:.0f} GFLOP/s, "
                     f"{row['flops_per_epoch'] / 1e9:.1f} GFLOP) | {row['floor_s']:.3f} | | "
                     f"{row['floor_s'] / row['trainers']['ours (PyTensor)']['median_s']:.2f} | |")
        if "chosen_floor_s" in row:
            chosen = row["chosen_floor_s"]
            lines.append(f"| {row['label']} | GEMM floor, oneDNN where faster ("
                         f"{row['flops_per_epoch'] / chosen / 1e9:.0f} GFLOP/s) | {chosen:.3f} | | "
                         f"{chosen / row['trainers']['ours (PyTensor)']['median_s']:.2f} | |")
    lines.append("")
    for row in results["cases"].values():
        ours = row["trainers"]["ours (PyTensor)"]
        lines.append(f"{row['label']}: ours / NumPy = {row['ours_vs_numpy']:.2f}, ours / floor = "
                     f"{row['ours_vs_floor']:.2f}, a validation pass = {ours['validation_pass_s']:.3f} s "
                     f"({ours['validation_pass_s'] / ours['median_s'] * 100:.1f} % of an epoch)")
        peers = [(name, row["trainers"][name]["median_s"]) for name in ("JAX jit scan, 1 thread", "JAX jit scan")
                 if name in row["trainers"]]
        quick = row["trainers"].get(FusedTrainer.name)
        if quick:
            lines.append(f"{row['label']}: fused / unfused = {quick['median_s'] / ours['median_s']:.2f}, "
                         f"fused / floor = {quick['median_s'] / row['floor_s']:.2f}"
                         + "".join(f", fused / {name} = {quick['median_s'] / t:.2f}" for name, t in peers))
        default = row["trainers"].get(OnednnTrainer.name)
        if default and quick:
            floor = min(row["floor_s"], row.get("chosen_floor_s", row["floor_s"]))
            lines.append(f"{row['label']}: fused + oneDNN / fused = {default['median_s'] / quick['median_s']:.2f}, "
                         f"/ the faster floor = {default['median_s'] / floor:.2f}"
                         + "".join(f", / {name} = {default['median_s'] / t:.2f}" for name, t in peers))
    probe = results["probe"]
    lines.append(f"probe scores of {probe['images']} images through {probe['network']}: {probe['seconds']:.3f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
