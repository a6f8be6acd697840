"""Parallel loops whose size is only known at run time are outlined once (codegen_parallel.py):
one ``loop`` function per nest, called directly for small sizes and through the pool's ``body`` for
large ones, with ``noalias`` buffer parameters only when the caller's buffers are distinct objects.
"""
from __future__ import annotations

import re

import llvmlite.ir as ir
import numpy as np

import tensorkiln as tk
from tensorkiln.backends.llvm import tiering
from tensorkiln.backends.llvm.codegen_parallel import _distinct_buffers
from tensorkiln.runtime.compiled_module import compile_graph_module

SRC = """
def chain(x: f32[N, M], y: f32[N, M]) -> f32[N, M] {
    return tanh(x * 1.5 + y) * sigmoid(x)
}
"""


def test_each_nest_is_compiled_once_and_keeps_no_alias_facts():
    graph, _ = tk.parse(SRC)
    mod = compile_graph_module(graph, threads=2, use_cache=False)
    text = mod.ir("chain", "llvm")
    loops = re.findall(r'define internal void @"(chain\.loop[.0-9]*)"\(([^)]*)\)([^{]*)', text)
    bodies = re.findall(r'define internal void @"(chain\.par[.0-9]*)"', text)
    assert loops and len(loops) == len(bodies)
    main = text[text.index('define i32 @"chain"'):]
    main = main[:main.index("\n}")]
    for name, params, attrs in loops:
        assert "noinline" in attrs  # inlined into both callers it would be compiled twice
        assert "ptr noalias" in params and "ptr %" not in params
        assert f'@"{name}"(' in main  # the small-size path calls it directly
    assert "loop_header" not in main  # no inline copy of the nest is left in the entry
    rng = np.random.default_rng(0)
    serial = compile_graph_module(tk.parse(SRC)[0], threads=1, use_cache=False)
    tiering.wait()  # both modules' optimized code (tier 0 differs from it in the last bits)
    for shape in ((3, 5), (700, 300)):  # below and above the threshold for threads
        x, y = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
        np.testing.assert_array_equal(mod.chain(x, y), serial.chain(x, y))


def _entry(n_args: int) -> tuple[ir.IRBuilder, ir.Function]:
    m = ir.Module()
    f = ir.Function(m, ir.FunctionType(ir.VoidType(), [ir.PointerType()] * n_args + [ir.IntType(64)]), name="f")
    for a in f.args[:n_args]:
        a.add_attribute("noalias")
    return ir.IRBuilder(f.append_basic_block()), f


def test_noalias_only_for_distinct_known_buffers():
    b, f = _entry(2)
    p, q, n = f.args
    sub = b.gep(p, [n], inbounds=True, source_etype=ir.FloatType())
    assert _distinct_buffers([p, q, n]) == [0, 1]
    assert _distinct_buffers([p, sub]) == []  # a subview of p: same buffer
    assert _distinct_buffers([p, p]) == []  # a view: the same pointer twice
    loaded = b.load(b.gep(q, [n], inbounds=True, source_etype=ir.PointerType()), typ=ir.PointerType())
    assert _distinct_buffers([p, loaded]) == []  # unknown origin: could be anything
