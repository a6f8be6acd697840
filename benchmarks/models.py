"""Model-level benchmark rows: train steps (softmax regression, MLP, the TF-tutorial convnet), the
per-call cost of `Session.run`, and build + compile + first step (cold, and from the disk cache in a
new process). Each row times tensorkiln and, in the same run and in alternating rounds
(``timing.py``), numpy by hand (softmax, MLP) and JAX / TensorFlow 1.x when importable; the train
rows also time the machine probe (``capacity.py``: the cores' FMA peak and round trip) in their
rounds and print it per round beside tensorkiln's time. Batches are Fashion-MNIST-shaped random
data (timing does not depend on it).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from typing import Callable

import numpy as np

import peers
import tensorkiln as tk
from capacity import MachineProbe
from tensorkiln.backends.llvm import tiering
from tensorkiln.backends.llvm.codegen import default_threads
from timing import interleaved_medians

PROBE = "machine probe"

B, H = 100, 256


SETTLE_S = 0.3


def median_us(fn: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    """One contender alone (``step_medians.py``); the rows use ``timing.interleaved_medians``."""
    # Let the previous contender's idle threads (OpenBLAS spins for a while after a call; our
    # pool's workers for ~0.2 ms) go to sleep, so each is timed on a machine the other left idle.
    time.sleep(SETTLE_S)
    for _ in range(warmup):
        fn()
    tiering.wait()  # steady state: a cold module's optimized code is in place (see tiering.py)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e6


def _data(rng):
    x = rng.random((B, 784), dtype=np.float32)
    y = rng.integers(0, 10, B)
    return x, y, np.eye(10, dtype=np.float32)[y]


def tk_step(model: str, lr: float):
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [None, 784])
        y = tk.placeholder(tk.int64, [None])
        if model == "softmax":
            logits = tk.matmul(x, tk.Variable(tk.zeros([784, 10]))) + tk.Variable(tk.zeros([10]))
        elif model == "mlp":
            w1 = tk.Variable(tk.random_normal([784, H], stddev=np.sqrt(2 / 784), seed=1))
            w2 = tk.Variable(tk.random_normal([H, 10], stddev=np.sqrt(2 / H), seed=2))
            h = tk.nn.relu(tk.matmul(x, w1) + tk.Variable(tk.zeros([H])))
            logits = tk.matmul(h, w2) + tk.Variable(tk.zeros([10]))
        else:
            img = tk.reshape(x, [-1, 28, 28, 1])
            c1 = tk.layers.max_pooling2d(tk.layers.conv2d(img, 32, 5, padding="same", activation=tk.nn.relu), 2, 2)
            c2 = tk.layers.max_pooling2d(tk.layers.conv2d(c1, 64, 5, padding="same", activation=tk.nn.relu), 2, 2)
            d = tk.layers.dense(tk.reshape(c2, [-1, 7 * 7 * 64]), 1024, activation=tk.nn.relu)
            logits = tk.layers.dense(d, 10)
        loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train = tk.train.GradientDescentOptimizer(lr).minimize(loss)
        sess = tk.Session(graph=g)
        sess.run(tk.global_variables_initializer())
    return sess, train, x, y


def numpy_step(model: str, lr: float, rng):
    P = [np.zeros((784, 10), np.float32), np.zeros(10, np.float32)] if model == "softmax" else [
        (rng.standard_normal((784, H)) * np.sqrt(2 / 784)).astype(np.float32), np.zeros(H, np.float32),
        (rng.standard_normal((H, 10)) * np.sqrt(2 / H)).astype(np.float32), np.zeros(10, np.float32)]

    def step(x, y1h):
        if model == "softmax":
            z, h = x @ P[0] + P[1], None
        else:
            h = np.maximum(x @ P[0] + P[1], 0)
            z = h @ P[2] + P[3]
        z = z - z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        gr = (p - y1h) / len(x)
        if model == "softmax":
            P[0] -= lr * (x.T @ gr)
            P[1] -= lr * gr.sum(0)
        else:
            gh = (gr @ P[2].T) * (h > 0)
            P[2] -= lr * (h.T @ gr)
            P[3] -= lr * gr.sum(0)
            P[0] -= lr * (x.T @ gh)
            P[1] -= lr * gh.sum(0)
    return step


def jax_step(model: str, lr: float, rng):
    import jax
    import jax.numpy as jnp

    P = [jnp.zeros((784, 10)), jnp.zeros(10)] if model == "softmax" else [
        jnp.asarray(rng.standard_normal((784, H)) * np.sqrt(2 / 784), jnp.float32), jnp.zeros(H),
        jnp.asarray(rng.standard_normal((H, 10)) * np.sqrt(2 / H), jnp.float32), jnp.zeros(10)]

    def logits(P, x):
        return x @ P[0] + P[1] if model == "softmax" else jax.nn.relu(x @ P[0] + P[1]) @ P[2] + P[3]

    @jax.jit
    def step(P, x, y):
        g = jax.grad(lambda P: -jnp.mean(jnp.sum(y * jax.nn.log_softmax(logits(P, x)), 1)))(P)
        return [p - lr * gp for p, gp in zip(P, g)]
    box = [P]

    def run(x, y1h):
        box[0] = step(box[0], x, y1h)
        box[0][0].block_until_ready()
    return run


def step_flops(model: str) -> float:
    """The multiply-adds (×2) of one train step's products, batch ``B``: forward, weight gradients
    and input gradients (not the image's); the work a roofline at the FMA peak bounds."""
    def product(m: int, k: int, n: int, input_grad: bool = True) -> float:
        return 2.0 * m * k * n * (3 if input_grad else 2)
    if model == "softmax":
        return product(B, 784, 10, False)
    if model == "mlp":
        return product(B, 784, H, False) + product(B, H, 10)
    # conv2d as its im2col product: (images × output pixels) × (taps × in channels) × out channels
    return (product(B * 28 * 28, 25, 32, False) + product(B * 14 * 14, 25 * 32, 64)
            + product(B, 7 * 7 * 64, 1024) + product(B, 1024, 10))


def train_rows(have: dict, quick: bool) -> list[tuple[str, dict[str, float], list[str]]]:
    """Each row: its title, the contenders' median µs per step and notes (the machine probe's lines)."""
    rng = np.random.default_rng(0)
    x, y, y1h = _data(rng)
    rows = []
    for model, lr in (("softmax", 0.5), ("mlp", 0.1), ("convnet", 0.01)):
        if quick and model == "convnet":
            continue
        reps = 5 if model == "convnet" else (20 if quick else 300)
        sess, train, px, py = tk_step(model, lr)
        fns: dict[str, Callable[[], object]] = {"tensorkiln": lambda: sess.run(train, {px: x, py: y})}
        if model != "convnet":
            fns["numpy"] = partial(numpy_step(model, lr, rng), x, y1h)
            if "jax" in have:
                fns["jax"] = partial(jax_step(model, lr, rng), x, y1h)
        if "tensorflow" in have:
            fns["tf1"] = peers.tf1_train_step(model, lr, x, y)
        # The machine probe runs in the same rounds, so a slow round shows its cause (capacity.py).
        probe = fns[PROBE] = MachineProbe(default_threads())
        blocks: dict[str, list[tuple[float, float, float]]] = {}
        t = interleaved_medians(fns, reps, warmup=3, blocks=blocks)
        del t[PROBE]
        peak, flops = statistics.median(probe.rates), step_flops(model)
        per_round = [probe.between(b0, b1) for b0, b1, _ in blocks[PROBE]]
        ours = " ".join(f"{m * 1e6:.0f}" for _, _, m in blocks["tensorkiln"])
        notes = [f"  machine, probed in the same rounds: {probe.summary()}; the step's products "
                 f"({flops / 1e6:.1f} MFLOP) need {flops / peak / 1e3:.1f} us at that peak",
                 f"  per round: tensorkiln {ours} us; peak " + " ".join(f"{p:.0f}" for p, _ in per_round)
                 + " GFLOP/s; round trip " + " ".join(f"{r:.0f}" for _, r in per_round) + " ns"]
        rows.append((f"{model} train step, batch {B}", {k: v * 1e6 for k, v in t.items()}, notes))
    return rows


def tiny_run_row(have: dict, quick: bool) -> tuple[str, dict[str, float]]:
    g = tk.Graph()
    with g.as_default():
        a = tk.placeholder(tk.float32, [4])
        out = a + 1.0
        sess = tk.Session(graph=g)
    v = np.ones(4, np.float32)
    reps = 200 if quick else 5000
    fns: dict[str, Callable[[], object]] = {"tensorkiln": lambda: sess.run(out, {a: v})}
    if "jax" in have:
        fns["jax"] = peers.jax_tiny()
    if "tensorflow" in have:
        fns["tf1"] = peers.tf1_tiny()
    t = interleaved_medians(fns, reps, warmup=3)
    return ("Session.run of `a + 1` on 4 floats (JAX: a jitted call; TF1: Session.run)", {k: v * 1e6 for k, v in t.items()})


# Prints, in seconds: import, graph building, initializer run (compile + run), first train step.
COLD = """
import sys, time, numpy as np
t0 = time.perf_counter()
import tensorkiln as tk
ti = time.perf_counter()
x = tk.placeholder(tk.float32, [None, 784]); y = tk.placeholder(tk.int64, [None])
logits = tk.matmul(x, tk.Variable(tk.zeros([784, 10]))) + tk.Variable(tk.zeros([10]))
loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
train = tk.train.GradientDescentOptimizer(0.5).minimize(loss)
tb = time.perf_counter()
sess = tk.Session(); sess.run(tk.global_variables_initializer())
t1 = time.perf_counter()
sess.run(train, {x: np.zeros((100, 784), np.float32), y: np.zeros(100, np.int64)})
t2 = time.perf_counter()
print(f"{ti - t0:.5f} {tb - ti:.5f} {t1 - tb:.5f} {t2 - t1:.5f}")
"""


PROCESSES = 3  # fresh processes per start-up figure (the median is reported)

KERNELS_ONLY = "import tensorkiln\nfrom tensorkiln.backends.llvm.kernels import ensure_kernels\n" \
    "from tensorkiln.runtime.cache import DiskCache\nensure_kernels(['f32'], DiskCache())\n"


def compile_rows(have: dict) -> list[tuple[str, dict[str, float]]]:
    """Fresh processes (each figure the median of ``PROCESSES``) with Python's bytecode cached, as
    in an installed package (this machine's environment sets PYTHONDONTWRITEBYTECODE, which would
    add ~0.1 s of compiling tensorkiln's own sources to every process): empty disk cache; only the
    kernel libraries cached; everything cached.
    benchmarks/compile_profile.py splits these figures by stage."""
    with tempfile.TemporaryDirectory() as pyc, tempfile.TemporaryDirectory() as d:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPYCACHEPREFIX=pyc, TENSORKILN_CACHE_DIR=d)

        def run(code: str = COLD) -> tuple[float, ...]:
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
            return tuple(float(v) for v in r.stdout.split())

        def clear() -> None:
            for p in os.listdir(d):
                os.unlink(os.path.join(d, p))

        def median(samples: list[tuple[float, ...]]) -> tuple[float, ...]:
            return tuple(float(np.median(col)) for col in zip(*samples))

        # A whole cold run first writes the .pyc files, the lazily imported compiler's included
        # (an installed package has them all; compiling them is Python's cost, ~0.07 s, not ours).
        run()
        # Each figure is the median of PROCESSES processes (one process's start-up varies by
        # 10-30% on this VM); a cold process is always followed by a warm one on its cache.
        colds, warms = [], []
        for _ in range(PROCESSES):
            clear()
            colds.append(run())
            warms.append(run())
        cold, warm = median(colds), median(warms)
        kernels_cached = []
        for _ in range(PROCESSES):
            clear()
            run(KERNELS_ONLY)
            kernels_cached.append(run())
        model = median(kernels_cached)
        jax_cold = median([run(peers.JAX_COLD) for _ in range(PROCESSES)]) if "jax" in have else None
    # COLD prints: import, build the graph, initializer run (compile + run), first train step.
    first_step = {"tensorkiln": cold[3] * 1e6}
    if jax_cold is not None:
        first_step["jax"] = jax_cold[0] * 1e6
    return [("import tensorkiln (s)", {"tensorkiln": cold[0] * 1e6}),
            ("build + compile + first step (init and train), empty cache (s)", {"tensorkiln": sum(cold[1:4]) * 1e6}),
            ("  of which compile + first train step (s) (JAX: first call of the jitted step)", first_step),
            ("build + compile + first step, kernel libraries cached, model not (s)", {"tensorkiln": sum(model[1:4]) * 1e6}),
            ("build + compile + first step, disk cache, new process (s)", {"tensorkiln": sum(warm[1:4]) * 1e6}),
            ("  of which compile + first train step (s)", {"tensorkiln": warm[3] * 1e6})]
