"""Resource use: 20,000 Session.run calls do not grow RSS (< 5 MB), and 150 distinct compiles grow it
by a bounded amount. The bound is not zero: llvmlite's new pass manager keeps ~60 KB per
optimization run (reproduced with llvmlite alone), so the test allows 200 KB per compile."""
from __future__ import annotations

import gc
import os

import numpy as np

import tensorkiln as tk
from tensorkiln.backends.llvm import tiering
from tensorkiln.ir.core import Module
from tensorkiln.runtime.compiled_module import compile_graph_module


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_20000_runs_do_not_grow_memory():
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [None, 784])
        y = tk.placeholder(tk.int64, [None])
        W = tk.Variable(tk.zeros([784, 10]))
        b = tk.Variable(tk.zeros([10]))
        loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=tk.matmul(x, W) + b))
        train = tk.train.GradientDescentOptimizer(0.1).minimize(loss)
        sess = tk.Session(graph=g)
        sess.run(tk.global_variables_initializer())
    X = np.random.default_rng(0).random((32, 784), dtype=np.float32)
    Y = np.arange(32) % 10
    for _ in range(500):
        sess.run([train, loss], {x: X, y: Y})
    tiering.wait()  # the optimized code compiled (LLVM's memory for it) before measuring, not during
    gc.collect()
    before = rss_mb()
    for _ in range(20000):
        sess.run([train, loss], {x: X, y: Y})
    gc.collect()
    assert rss_mb() - before < 5.0


def test_150_compiles_grow_memory_by_a_bounded_amount():
    xs = np.ones(8, np.float32)

    def compile_one(i: int) -> None:
        m, _ = tk.parse(f"def f(x: f32[N]) -> f32[N] {{\n    return exp(x * {i}.5) + 1.0\n}}")
        cm = compile_graph_module(m, use_cache=False)
        cm.f(xs)

    for i in range(20):
        compile_one(i)
    gc.collect()
    before = rss_mb()
    for i in range(20, 170):
        compile_one(i)
    gc.collect()
    grown = rss_mb() - before
    assert grown < 150 * 0.2, f"{grown:.1f} MB for 150 compiles"
