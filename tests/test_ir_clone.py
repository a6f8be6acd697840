"""The structural IR copy: prints as the text round trip does, and is independent of its source."""
from __future__ import annotations

import numpy as np

import tensorkiln as tk
from tensorkiln.compiler.pipeline import run_to_stages
from tensorkiln.ir.clone import clone_module
from tensorkiln.ir.core import Function, Module, Operation
from tensorkiln.ir.parser import parse_module
from tensorkiln.ir.printer import print_module
from tensorkiln.ir.types import DTYPES, TensorType

SRC = """
def f(x: f32[N, 4], w: f32[4, 3]) -> f32[N, 3] {
    return tanh(x @ w + 0.5) * sum(x, axis=1, keepdims=True)
}
def g(a: f32[8]) -> f32[8] {
    return exp(a) - a * 2.0
}
"""


def _text_round_trip(m: Module) -> str:
    return print_module(parse_module(print_module(m)))


def test_clone_prints_like_the_text_round_trip_at_every_stage():
    graph, _ = tk.parse(SRC)
    stages = run_to_stages(graph)
    for name in ("graph", "optimized", "loops"):  # regions (fused ops, loop nests) included
        m = stages[name]
        assert print_module(clone_module(m)) == _text_round_trip(m) == print_module(m), name


def test_clone_is_independent_of_the_original():
    graph, _ = tk.parse(SRC)
    before = print_module(graph)
    dup = clone_module(graph)
    f = dup["g"]
    # Rewrite the copy: drop every op but the return, returning the argument itself.
    ret = f.return_op
    ret.set_operand(0, f.args[0])
    for op in reversed(f.body.ops[:-1]):
        op.erase()
    assert print_module(graph) == before
    assert len(graph["g"].body.ops) > 1 and all(u[0].parent is not None for a in graph["g"].args for u in a.uses)
    # Use-lists of the original values never mention the copy's ops.
    copy_ops = {id(op) for fn in dup for op in fn.walk()}
    assert not any(id(user) in copy_ops for fn in graph for op in fn.walk() for r in op.results for user, _ in r.uses)


def test_dense_attributes_are_copied_not_shared_and_bad_names_normalised():
    graph, _ = tk.parse("def h(x: f32[3]) -> f32[3] {\n    return x + 1.0\n}\n")
    const = next(op for op in graph["h"].walk() if op.name == "graph.constant")
    dup = clone_module(graph)
    dconst = next(op for op in dup["h"].walk() if op.name == "graph.constant")
    assert dconst.attributes["value"] is not const.attributes["value"]
    np.testing.assert_array_equal(dconst.attributes["value"], const.attributes["value"])
    # Parameter names the printer would not keep (duplicates, non-identifiers) are renamed as a parse would.
    t = TensorType((2,), DTYPES["f32"])
    fn = Function("k", [t, t, t], [t], ["a", "a", "not ok"])
    fn.body.append(Operation("return", [fn.args[0]]))
    m = Module([fn])
    assert [a.name_hint for a in clone_module(m)["k"].args] == [a.name_hint for a in parse_module(print_module(m))["k"].args]
