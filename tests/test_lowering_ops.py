"""Every graph op, compiled to native code, against the reference interpreter (and so numpy).

Each case builds a one-op function with the IR builder, compiles it through the whole pipeline
(graph → optimized → loops → LLVM → JIT) and compares with `run_function` of the reference
interpreter. Tolerances: f32 rtol 2e-5 / atol 1e-6 (a few ulp of vector math), f64 1e-12, ints exact.
"""
from __future__ import annotations

import numpy as np
import pytest

from tensorkiln.backends.reference.interpreter import run_function
from tensorkiln.ir.core import Builder, Function, Module
from tensorkiln.ir.dialects.graph import UNARY_OPS
from tensorkiln.ir.types import DTYPES, SymDim, TensorType
from tensorkiln.runtime.compiled_module import compile_graph_module

RNG = np.random.default_rng(1234)


def tt(shape, dt="f32"):
    return TensorType(tuple(SymDim.sym(d) if isinstance(d, str) else d for d in shape), DTYPES[dt])


def build(name, arg_types, fn):
    f = Function(name, arg_types, [], [f"a{i}" for i in range(len(arg_types))])
    b = Builder(f.body)
    outs = fn(b, *f.args)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    b.create("return", outs)
    f.result_types = [v.type for v in outs]
    return f


def check(f, arrays, rtol=None, atol=None):
    want = run_function(f, arrays)
    # the reference run must not see the compiler's mutations of the module
    cm = compile_graph_module(Module([f]))
    got = cm[f.name].call([np.ascontiguousarray(a) for a in arrays])
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        if w.dtype.kind == "f":
            r = rtol if rtol is not None else (2e-5 if w.dtype == np.float32 else 1e-12)
            a = atol if atol is not None else (1e-6 if w.dtype == np.float32 else 1e-12)
            np.testing.assert_allclose(g, w, rtol=r, atol=a)
        else:
            np.testing.assert_array_equal(g, w)
    return got


def data(shape, dt="f32", lo=-3.0, hi=3.0):
    npdt = DTYPES[dt].np_dtype
    if npdt.kind == "f":
        return RNG.uniform(lo, hi, size=shape).astype(npdt)
    if npdt.kind == "b":
        return RNG.random(size=shape) < 0.5
    return RNG.integers(int(lo) * 3, int(hi) * 3 + 1, size=shape).astype(npdt)


FLOAT_UNARY = [n for n, k in UNARY_OPS.items() if k == "float"]
NUMERIC_UNARY = [n for n, k in UNARY_OPS.items() if k == "numeric"]


@pytest.mark.parametrize("dt", ["f32", "f64"])
@pytest.mark.parametrize("op", FLOAT_UNARY + NUMERIC_UNARY)
def test_unary_float(op, dt):
    lo, hi = (0.05, 4.0) if op in ("log", "sqrt", "rsqrt", "log1p") else (-4.0, 4.0)
    f = build(op, [tt(["N", 7], dt)], lambda b, x: b.op(f"graph.{op}", x))
    check(f, [data((5, 7), dt, lo, hi)])


@pytest.mark.parametrize("dt", ["i32", "i64"])
@pytest.mark.parametrize("op", NUMERIC_UNARY)
def test_unary_int(op, dt):
    f = build(op, [tt(["N"], dt)], lambda b, x: b.op(f"graph.{op}", x))
    check(f, [data((11,), dt)])


BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "floordiv", "mod",
          "eq", "ne", "lt", "le", "gt", "ge"]


@pytest.mark.parametrize("dt", ["f32", "f64", "i32", "i64"])
@pytest.mark.parametrize("op", BINARY)
def test_binary_broadcast(op, dt):
    if op == "pow" and dt in ("f32", "f64"):
        a, c = data((4, 1, 3), dt, 0.1, 3.0), data((5, 3), dt, -2.0, 2.0)
    elif op == "pow":
        a, c = data((4, 1, 3), dt, -2, 2), data((5, 3), dt, 0, 1)
    else:
        a, c = data((4, 1, 3), dt), data((5, 3), dt)
        if op in ("div", "floordiv", "mod"):
            c[c == 0] = 1  # numpy warns and differs by platform on division by zero
    f = build(op, [tt(["B", 1, 3], dt), tt([5, 3], dt)], lambda b, x, y: b.op(f"graph.{op}", x, y))
    check(f, [a, c], rtol=1e-5 if op == "pow" else None)


def test_logical_ops():
    f = build("logic", [tt([6], "i1"), tt([6], "i1")], lambda b, x, y: [
        b.op("graph.logical_and", x, y), b.op("graph.logical_or", x, y), b.op("graph.logical_xor", x, y),
        b.op("graph.logical_not", x)])
    check(f, [data((6,), "i1"), data((6,), "i1")])


def test_where_and_cast():
    def body(b, c, x, y):
        w = b.op("graph.where", c, x, y)
        return [w, b.op("graph.cast", w, dtype=DTYPES["i32"]), b.op("graph.cast", w, dtype=DTYPES["f64"]),
                b.op("graph.cast", w, dtype=DTYPES["i1"]), b.op("graph.cast", c, dtype=DTYPES["f32"])]
    f = build("where", [tt(["N", 1], "i1"), tt(["N", 4]), tt([4])], body)
    check(f, [data((3, 1), "i1"), data((3, 4)), data((4,))])


@pytest.mark.parametrize("op", ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"])
@pytest.mark.parametrize("axes,keep", [(None, False), ((0,), True), ((1,), False), ((0, 2), False), ((-1,), True)])
def test_reductions(op, axes, keep):
    attrs = {"keepdims": keep} | ({"axes": axes} if axes is not None else {})
    f = build(op, [tt(["N", 4, 3])], lambda b, x: b.op(f"graph.{op}", x, **attrs))
    check(f, [data((5, 4, 3), "f32", 0.5, 1.5)], rtol=1e-5)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_arg_reductions(op, axis):
    f = build(op, [tt(["N", 6])], lambda b, x: [b.op(f"graph.{op}", x, axis=axis),
                                                  b.op(f"graph.{op}", x, axis=axis, dtype=DTYPES["i32"])])
    check(f, [data((5, 6))])


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul(ta, tb):
    sa = (7, "N") if ta else ("N", 7)
    sb = (3, 7) if tb else (7, 3)
    f = build("mm", [tt(sa), tt(sb)], lambda b, x, y: b.op("graph.matmul", x, y, transpose_a=ta, transpose_b=tb))
    check(f, [data((7, 5) if ta else (5, 7)), data(sb)], rtol=1e-5, atol=1e-5)


def test_batched_matmul_broadcast():
    f = build("bmm", [tt(["B", 1, 4, 5], "f64"), tt([3, 5, 2], "f64")], lambda b, x, y: b.op("graph.matmul", x, y))
    check(f, [data((2, 1, 4, 5), "f64"), data((3, 5, 2), "f64")])


def test_shape_ops():
    def body(b, x, y):
        t = b.op("graph.transpose", x, perm=(2, 0, 1))
        r = b.op("graph.reshape", x, shape=(-1, 6))
        c = b.op("graph.concat", x, y, axis=1)
        s = b.op("graph.slice", x, begin=(1, 0, 0), size=(-1, 2, 2), strides=(1, 1, 2))
        bt = b.op("graph.broadcast_to", y, shape=(2, SymDim.sym("N"), 1, 3))
        return [t, r, c, s, bt]
    f = build("shape", [tt(["N", 2, 3]), tt(["N", 1, 3])], body)
    check(f, [data((4, 2, 3)), data((4, 1, 3))])


def test_one_hot_gather_constant():
    def body(b, ix, gi, p):
        oh = b.op("graph.one_hot", ix, depth=5, on_value=2.0, off_value=-1.0)
        oh0 = b.op("graph.one_hot", ix, depth=4, axis=0, dtype=DTYPES["f64"])
        g = b.op("graph.gather", p, gi, axis=0)
        g1 = b.op("graph.gather", p, b.op("graph.constant", value=np.array([[0, 2], [1, 1]], np.int64)), axis=1)
        k = b.op("graph.constant", value=np.arange(12, dtype=np.float32).reshape(4, 3))
        return [oh, oh0, g, g1, b.op("graph.add", g, b.op("graph.reduce_sum", k, axes=[0])), k]
    f = build("misc", [tt(["N"], "i64"), tt(["M"], "i32"), tt([5, 3])], body)
    check(f, [np.array([0, 4, 2, 7, -1], np.int64), np.array([4, 0, 0, 2], np.int32), data((5, 3))])


def test_softmax_log_softmax():
    f = build("sm", [tt(["N", 10])], lambda b, x: [b.op("graph.softmax", x), b.op("graph.log_softmax", x, axis=0)])
    check(f, [data((6, 10), "f32", -20, 20)], rtol=1e-5, atol=1e-6)


def test_assign_updates_argument_in_place():
    def body(b, x, v):
        y = b.op("graph.mul", x, v)
        b.create("graph.assign", [v, b.op("graph.add", v, x)])
        return y
    f = build("upd", [tt([3]), tt([3])], body)
    cm = compile_graph_module(Module([f]))
    x, v = np.array([1, 2, 3], np.float32), np.array([10, 20, 30], np.float32)
    (y,) = cm["upd"].call([x, v])
    np.testing.assert_array_equal(y, [10, 40, 90])  # computed from the entry value of v
    np.testing.assert_array_equal(v, [11, 22, 33])  # then v was updated in place


def test_symbolic_dims_bind_without_recompiling():
    f = build("scale", [tt(["N", "M"])], lambda b, x: b.op("graph.reduce_sum", b.op("graph.exp", x), axes=[1]))
    cm = compile_graph_module(Module([f]))
    fn = cm["scale"]
    for shape in [(1, 1), (3, 17), (64, 5), (0, 4)]:
        x = data(shape)
        np.testing.assert_allclose(fn(x), np.exp(x).sum(axis=1), rtol=1e-5)


def test_shape_mismatch_is_reported_before_native_call():
    f = build("add2", [tt(["N", 3]), tt(["N", 3])], lambda b, x, y: b.op("graph.add", x, y))
    fn = compile_graph_module(Module([f]))["add2"]
    with pytest.raises(ValueError, match=r"a1.*\(4, 3\).*N was bound to 2"):
        fn(data((2, 3)), data((4, 3)))
    with pytest.raises(ValueError, match=r"a0.*expects shape \(N, 3\).*\(2, 5\)"):
        fn(data((2, 5)), data((2, 3)))
    with pytest.raises(TypeError, match="a0.*f32.*float64"):
        fn(np.zeros((2, 3)), data((2, 3)))
