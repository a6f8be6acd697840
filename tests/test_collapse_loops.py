"""Collapsed loop nests (compiler/passes/collapse_loops.py) compute what the nests did.

Elementwise functions over contiguous tensors of ranks 2-4 (static and symbolic dims, sizes on both
sides of the parallel-loop threshold, one and two threads) are compared with numpy; mixed functions
(broadcast operands, which must not collapse) alongside. The `loops` stage is checked for the
single flat loop. Tolerances: f32 rtol 2e-6 / atol 1e-7 (exp/tanh are within a few ulp).
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.runtime.compiled_module import compile_graph_module

SRC = """
def ew(x: f32[N, 4, 3], y: f32[N, 4, 3]) -> f32[N, 4, 3] {
    return exp(x) * y + 1.0
}
def mixed(x: f32[N, 10], b: f32[10], w: f32[784, 10]) -> (f32[N, 10], f32[784, 10]) {
    return tanh(x + b), w * 0.5 - 1.0
}
def rank4(x: f32[A, B, C, D]) -> f32[A, B, C, D] {
    return x * x - x
}
"""


def _module(threads: int):
    return compile_graph_module(tk.parse(SRC)[0], threads=threads)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n", [0, 1, 7, 6000])  # 6000 * 12 elements: above the parallel threshold
def test_elementwise_rank3(threads: int, n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 4, 3)).astype(np.float32)
    y = rng.standard_normal((n, 4, 3)).astype(np.float32)
    got = _module(threads)["ew"](x, y)
    want = np.exp(x.astype(np.float64)) * y + 1.0
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("threads", [1, 2])
def test_mixed_broadcast_and_static(threads: int) -> None:
    rng = np.random.default_rng(3)
    x, b = rng.standard_normal((100, 10)).astype(np.float32), rng.standard_normal(10).astype(np.float32)
    w = rng.standard_normal((784, 10)).astype(np.float32)
    t, u = _module(threads)["mixed"](x, b, w)
    np.testing.assert_allclose(t, np.tanh(x.astype(np.float64) + b), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(u, w.astype(np.float64) * 0.5 - 1.0, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 1, 1, 1), (3, 0, 2, 2), (64, 33, 9, 5)])
def test_rank4_symbolic(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    got = _module(2)["rank4"](x)
    np.testing.assert_allclose(got, x.astype(np.float64) ** 2 - x, rtol=2e-6, atol=1e-7)


def test_loops_stage_has_one_flat_loop() -> None:
    m = tk.compile(SRC)
    ew = m.ir("ew", "loops")
    assert len(re.findall(r"loops\.for", ew)) == 1, ew
    assert "memref<(12*N)xf32>" in ew
    mixed = m.ir("mixed", "loops")
    # tanh(x + b) keeps its nest (b is broadcast along rows); the static update is one loop of 7840
    assert "memref<7840xf32>" in mixed and len(re.findall(r"loops\.for", mixed)) == 3, mixed
    assert len(re.findall(r"loops\.for", m.ir("rank4", "loops"))) == 1
