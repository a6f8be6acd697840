"""The graph front end on its own: the compiler sees only neutral GraphNodes (no graph API), prunes,
unifies unknown dims, orders variable reads and writes, and emits one function per signature."""
from __future__ import annotations

import numpy as np
import pytest

from tensorkiln.compiler.frontend.graph import (
    GraphLoweringError, GraphNode, MissingFeedError, infer_static_types, lower_signature)
from tensorkiln.ir.core import Module
from tensorkiln.ir.dialects.graph import ShapeMismatch
from tensorkiln.ir.printer import print_function
from tensorkiln.ir.types import f32
from tensorkiln.runtime.compiled_module import compile_graph_module


def prim(name, **attrs):
    return lambda ctx, ins: [ctx.b.op(name, *ins, **attrs)]


def placeholder(name, shape):
    return GraphNode(name, "placeholder", [], [(shape, f32)])


def op(name, build, inputs, out, control=()):
    return GraphNode(name, "op", [(n, 0) for n in inputs], [out], list(control), build)


def test_infer_static_types_unifies_unknown_dims():
    add = prim("graph.add")
    assert infer_static_types(add, [((None, 3), f32), ((None, 3), f32)]) == [((None, 3), f32)]
    assert infer_static_types(add, [((None,), f32), ((4,), f32)]) == [((4,), f32)]
    with pytest.raises(ShapeMismatch):
        infer_static_types(add, [((2, 3), f32), ((2, 4), f32)])


def test_prune_feed_and_unify():
    a = placeholder("a", (None, 3))
    b = placeholder("b", (None, 3))
    unused = placeholder("unused", (2,))
    s = op("s", prim("graph.add"), [a, b], ((None, 3), f32))
    op("t", prim("graph.neg"), [unused], ((2,), f32))
    sig = lower_signature("f", [(s, 0)], [], [(a, 0), (b, 0)])
    text = print_function(sig.function)
    assert "%a: tensor<N0x3xf32>, %b: tensor<N0x3xf32>" in text and "unused" not in text
    assert sig.symbol_sources == {"N0": (0, 0)}
    fn = compile_graph_module(Module([sig.function]))[sig.function.name]
    out, = fn.call([np.ones((2, 3), np.float32), np.full((2, 3), 2, np.float32)])
    np.testing.assert_array_equal(out, np.full((2, 3), 3))
    with pytest.raises(MissingFeedError):
        lower_signature("g", [(s, 0)], [], [(a, 0)])


def test_variables_reads_and_writes():
    v = GraphNode("v", "variable", [], [((2,), f32)])
    one = op("one", lambda ctx, ins: [ctx.b.op("graph.constant", value=np.ones(2, np.float32))], [], ((2,), f32))
    inc = GraphNode("inc", "assign", [(v, 0), (one, 0)], [((2,), f32)], attrs={"mode": "add"})
    after = op("after", lambda ctx, ins: [ins[0]], [v], ((2,), f32), control=[inc])  # ordered after inc
    before = op("before", lambda ctx, ins: [ins[0]], [v], ((2,), f32))
    sig = lower_signature("f", [(after, 0), (before, 0)], [], [])
    assert sig.variables == [v] and sig.reads_entry == [True] and sig.writes == [True]
    text = print_function(sig.function)
    assert "graph.assign %v" in text
    fn = compile_graph_module(Module([sig.function]))[sig.function.name]
    buf = np.array([1.0, 2.0], np.float32)
    got_after, got_before = fn.call([buf])
    np.testing.assert_array_equal(got_after, [2, 3])
    np.testing.assert_array_equal(got_before, [1, 2])
    np.testing.assert_array_equal(buf, [2, 3])  # updated in place
    init = GraphNode("init", "assign", [(v, 0), (one, 0)], [((2,), f32)], attrs={"mode": "set"})
    sig2 = lower_signature("g", [], [init], [])
    assert sig2.reads_entry == [False] and sig2.writes == [True]


def test_cycles_and_unknown_rank_feeds_are_reported():
    a = placeholder("a", None)
    y = op("y", prim("graph.neg"), [a], (None, f32))
    with pytest.raises(GraphLoweringError, match="unknown rank"):
        lower_signature("f", [(y, 0)], [], [(a, 0)])
    sig = lower_signature("f", [(y, 0)], [], [(a, 0)], feed_ranks=[2])
    assert "tensor<N0xN1xf32>" in print_function(sig.function)
    p = op("p", prim("graph.neg"), [], ((), f32))
    q = op("q", prim("graph.neg"), [p], ((), f32))
    p.inputs.append((q, 0))
    with pytest.raises(GraphLoweringError, match="cycle"):
        lower_signature("c", [(q, 0)], [], [])
