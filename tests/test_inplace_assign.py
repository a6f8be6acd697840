"""Assignments computed straight into their variable (compiler/passes/inplace_assign.py).

Each case builds a graph function with assignments, asks the analysis which values it would compute
in place, then compiles it through the whole pipeline and compares the outputs and the updated
arguments with the reference interpreter (which lands every assignment at the end, from the entry
values) on copies of the same arrays. Tolerances: f32 rtol 2e-5 / atol 1e-6.
"""
from __future__ import annotations

import numpy as np
import pytest

from tensorkiln.backends.reference.interpreter import run_function
from tensorkiln.compiler.passes.inplace_assign import inplace_assignments
from tensorkiln.ir.core import Builder, Function, Module
from tensorkiln.ir.types import DTYPES, TensorType
from tensorkiln.runtime.compiled_module import compile_graph_module

RNG = np.random.default_rng(7)


def tt(*shape: int) -> TensorType:
    return TensorType(tuple(shape), DTYPES["f32"])


def build(name, arg_types, fn) -> Function:
    f = Function(name, arg_types, [], [f"a{i}" for i in range(len(arg_types))])
    b = Builder(f.body)
    outs = fn(b, *f.args)
    b.create("return", outs)
    f.result_types = [v.type for v in outs]
    return f


def run_both(make, arg_types) -> list[str]:
    """The arguments the analysis assigns in place, after checking the compiled outputs and updated
    arguments against the reference interpreter's."""
    f = make()
    names = [f.args.index(t) for t in inplace_assignments(f).values()]
    arrays = [RNG.uniform(-2, 2, size=[int(d) for d in t.shape]).astype(np.float32) for t in arg_types]
    ref_args = [a.copy() for a in arrays]
    want = run_function(make(), ref_args)
    got_args = [a.copy() for a in arrays]
    got = compile_graph_module(Module([f]))[f.name].call(got_args)
    for g, w in zip(list(got) + got_args, list(want) + ref_args):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=1e-6)
    return sorted(f"a{i}" for i in names)


def test_sgd_update_is_in_place() -> None:
    types = [tt(8, 5), tt(8, 5), tt(5)]

    def make():
        def body(b, g, w, v):
            col = b.op("graph.reduce_sum", g, axes=[0])  # a temporary: computed before the updates
            upd = b.op("graph.sub", w, b.op("graph.mul", g, b.op("graph.constant", value=np.array(0.5, np.float32))))
            bias = b.op("graph.sub", v, col)
            b.create("graph.assign", [w, upd])
            b.create("graph.assign", [v, bias])
            return [b.op("graph.reduce_sum", g, axes=[1])]
        return build("sgd", types, body)

    inplace = run_both(make, types)
    assert inplace == ["a1", "a2"]


def test_read_after_the_update_keeps_the_copy() -> None:
    types = [tt(4, 6), tt(4, 6)]

    def make():
        def body(b, x, w):
            upd = b.op("graph.add", w, x)
            later = b.op("graph.mul", w, x)  # reads the entry value of w after upd is computed
            b.create("graph.assign", [w, upd])
            return [later]
        return build("late", types, body)

    inplace = run_both(make, types)
    assert inplace == []


def test_view_read_after_the_update_keeps_the_copy() -> None:
    types = [tt(4, 6), tt(4, 6)]

    def make():
        def body(b, x, w):
            flat = b.op("graph.reshape", w, shape=[24])  # a view: read when its consumer runs
            upd = b.op("graph.sub", w, x)
            later = b.op("graph.exp", flat)
            b.create("graph.assign", [w, upd])
            return [later]
        return build("view", types, body)

    inplace = run_both(make, types)
    assert inplace == []


def test_nothing_that_can_fail_runs_after_an_in_place_update() -> None:
    # The row sums below are a temporary allocated after w's update: were that allocation to fail,
    # w would be half-updated by a run that reports an error. So w's update stays a copy at the end.
    types = [tt(6, 4), tt(6, 4), tt(4)]

    def make():
        def body(b, g, w, v):
            upd = b.op("graph.sub", w, g)
            rows = b.op("graph.reduce_sum", b.op("graph.exp", g), axes=[1], keepdims=True)
            b.create("graph.assign", [w, upd])
            return [b.op("graph.div", g, rows)]
        return build("fail_after", types, body)

    inplace = run_both(make, types)
    assert inplace == []


@pytest.mark.parametrize("case", ["transpose", "reduction", "returned-variable", "returned-value", "twice", "swap"])
def test_unsafe_shapes_of_update_are_not_in_place(case: str) -> None:
    types = [tt(5, 5), tt(5, 5)]

    def make():
        def body(b, x, w):
            outs = [b.op("graph.reduce_sum", x, axes=[0])]
            if case == "transpose":  # w[i, j] := w[j, i] + x: reads w at another index
                b.create("graph.assign", [w, b.op("graph.add", b.op("graph.transpose", w, perm=[1, 0]), x)])
            elif case == "reduction":
                b.create("graph.assign", [w, b.op("graph.sub", w, b.op("graph.reduce_max", w, axes=[1], keepdims=True))])
            elif case == "returned-variable":  # the function returns the entry value of w
                b.create("graph.assign", [w, b.op("graph.add", w, x)])
                outs.append(w)
            elif case == "returned-value":
                upd = b.op("graph.mul", w, x)
                b.create("graph.assign", [w, upd])
                outs.append(upd)
            elif case == "twice":
                b.create("graph.assign", [w, b.op("graph.add", w, x)])
                b.create("graph.assign", [w, b.op("graph.sub", w, x)])
            else:  # x := w + 1 (w's entry value) and w := x * 2 (x's entry value)
                one = b.op("graph.constant", value=np.array(1.0, np.float32))
                b.create("graph.assign", [x, b.op("graph.add", w, one)])
                b.create("graph.assign", [w, b.op("graph.mul", x, b.op("graph.constant", value=np.array(2.0, np.float32)))])
            return outs
        return build("unsafe", types, body)

    inplace = run_both(make, types)
    if case == "transpose":
        # the transpose is its own op, materialized before the add, which then reads w in place
        assert inplace == ["a1"]
    elif case == "reduction":
        assert inplace == ["a1"]  # the row max is computed first; the subtraction is elementwise
    elif case == "swap":
        assert inplace == ["a1"]  # x's update reads w later, so only w (last) is in place
    else:
        assert inplace == []
