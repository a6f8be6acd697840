"""Threaded kernels give the single-thread results: big parallel loops and GEMMs split across
threads (TENSORKILN_NUM_THREADS / the `threads` argument) compute the same numbers."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.backends.llvm import tiering
from tensorkiln.runtime.compiled_module import compile_graph_module

SRC = """
def chain(x: f32[N, M]) -> f32[N, M] {
    return tanh(x * 1.5 + 0.25) * sigmoid(x) + x * x
}
def mm(a: f32[M, K], b: f32[K, N]) -> f32[M, N] {
    return a @ b
}
def rows(x: f32[N, M]) -> f32[N] {
    return sum(exp(x - max(x, axis=1)), axis=1)
}
"""


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threaded_results_match_serial(threads):
    graph, _ = tk.parse(SRC)
    serial = compile_graph_module(graph, threads=1, use_cache=False)
    graph2, _ = tk.parse(SRC)
    par = compile_graph_module(graph2, threads=threads, use_cache=False)
    tiering.wait()  # both modules' optimized code (tier 0 differs from it in the last bits)
    rng = np.random.default_rng(threads)
    x = rng.standard_normal((1031, 517)).astype(np.float32)  # above the parallel threshold, odd sizes
    np.testing.assert_array_equal(par.chain(x), serial.chain(x))
    np.testing.assert_allclose(par.rows(x), serial.rows(x), rtol=1e-6)
    a = rng.standard_normal((300, 257)).astype(np.float32)
    b = rng.standard_normal((257, 301)).astype(np.float32)
    np.testing.assert_allclose(par.mm(a, b), a @ b, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(par.mm(a, b), serial.mm(a, b))
    # small inputs stay on one thread and are still right
    np.testing.assert_array_equal(par.chain(x[:3, :5]), serial.chain(x[:3, :5]))
