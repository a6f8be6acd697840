"""Every gradient rule against central finite differences in f64, through compiled code.

For an op f and random weights w, the test differentiates L(x…) = sum(f(x…) * w) with the IR autodiff
(`tensorkiln.compiler.autodiff.gradients`), compiles the forward and backward functions, and compares
each adjoint with (L(x + h e_i) - L(x - h e_i)) / 2h, h = 1e-6. Tolerance: rtol 1e-5, atol 1e-7.
Shapes (including broadcasting and symbolic batch dims) are drawn by hypothesis.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorkiln.compiler.autodiff import gradients
from tensorkiln.ir.core import Builder, Function, Module
from tensorkiln.ir.types import DTYPES, SymDim, TensorType, f64, i64
from tensorkiln.runtime.compiled_module import compile_graph_module


def tt(shape, dt=f64):
    return TensorType(tuple(SymDim.sym(d) if isinstance(d, str) else d for d in shape), dt)


def _build(name, arg_types, body, with_grads):
    f = Function(name, arg_types, [], [f"a{i}" for i in range(len(arg_types))])
    b = Builder(f.body)
    *xs, w = f.args
    y = body(b, *xs)
    loss = b.op("graph.reduce_sum", b.op("graph.mul", y, w))
    outs = [loss]
    if with_grads:
        wrt = [x for x in xs if x.type.dtype.is_float]
        grads = gradients(b, [loss], wrt)
        outs += [g if g is not None else b.op("graph.broadcast_to", b.op("graph.constant", value=np.array(0.0)), shape=x.type.shape) for g, x in zip(grads, wrt)]
    b.create("return", outs)
    f.result_types = [v.type for v in outs]
    return f


def check_grad(arg_types, body, arrays, out_shape, rng, h=1e-6):
    w = rng.standard_normal(out_shape)
    types = list(arg_types) + [tt(out_shape)]
    cm = compile_graph_module(Module([_build("fwd", types, body, False), _build("grad", types, body, True)]))
    fwd, grad = cm["fwd"], cm["grad"]
    arrays = [np.ascontiguousarray(a) for a in arrays]
    _, *got = grad.call(arrays + [w])
    k = 0
    for i, a in enumerate(arrays):
        if a.dtype.kind != "f":
            continue
        num = np.zeros_like(a)
        for j in range(a.size):
            plus = [x.copy() for x in arrays]
            minus = [x.copy() for x in arrays]
            plus[i].flat[j] += h
            minus[i].flat[j] -= h
            num.flat[j] = (fwd.call(plus + [w])[0] - fwd.call(minus + [w])[0]) / (2 * h)
        np.testing.assert_allclose(got[k], num, rtol=1e-5, atol=1e-7, err_msg=f"gradient of input {i}")
        k += 1


shapes = st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple)


def bshape(shape, draw_mask):
    """shape with some dims set to 1 (a broadcastable partner)."""
    return tuple(1 if m else d for d, m in zip(shape, draw_mask))


UNARY = {
    "neg": (-2, 2), "abs": (0.2, 2), "exp": (-2, 2), "expm1": (-2, 2), "log": (0.2, 3), "log1p": (0.1, 3),
    "sqrt": (0.2, 3), "rsqrt": (0.2, 3), "square": (-2, 2), "reciprocal": (0.3, 3), "tanh": (-2, 2),
    "sigmoid": (-3, 3), "sin": (-3, 3), "cos": (-3, 3), "erf": (-2, 2), "relu": (0.1, 2),
}


@pytest.mark.parametrize("op", sorted(UNARY))
@settings(max_examples=3)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_unary_gradients(op, shape, seed):
    rng = np.random.default_rng(seed)
    lo, hi = UNARY[op]
    x = rng.uniform(lo, hi, size=shape)
    if op in ("abs", "relu"):
        x *= rng.choice([-1.0, 1.0], size=shape)
    check_grad([tt(shape)], lambda b, a: b.op(f"graph.{op}", a), [x], shape, rng)


BINARY = {"add": None, "sub": None, "mul": None, "div": (0.5, 2), "pow": (0.5, 2), "maximum": None, "minimum": None}


@pytest.mark.parametrize("op", sorted(BINARY))
@settings(max_examples=4)
@given(shape=shapes, mask=st.lists(st.booleans(), min_size=3, max_size=3), drop=st.booleans(), seed=st.integers(0, 2**16))
def test_binary_gradients_with_broadcasting(op, shape, mask, drop, seed):
    rng = np.random.default_rng(seed)
    other = bshape(shape, mask)
    if drop and len(other) > 1:
        other = other[1:]
    rngs = BINARY[op] or (-2, 2)
    a = rng.uniform(*rngs, size=shape)
    c = rng.uniform(*rngs, size=other)
    if op in ("maximum", "minimum"):
        c = c + 0.05  # keep away from ties, where the function has no derivative
    check_grad([tt(shape), tt(other)], lambda b, x, y: b.op(f"graph.{op}", x, y), [a, c], shape, rng)


@pytest.mark.parametrize("op", ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"])
@pytest.mark.parametrize("axes,keep", [(None, False), ((0,), True), ((1,), False), ((0, 2), True)])
def test_reduction_gradients(op, axes, keep):
    rng = np.random.default_rng(7)
    x = rng.uniform(0.5, 1.5, size=(3, 2, 4))
    attrs = {"keepdims": keep} | ({"axes": axes} if axes is not None else {})
    ref = getattr(np, {"reduce_sum": "sum", "reduce_mean": "mean", "reduce_max": "max", "reduce_min": "min", "reduce_prod": "prod"}[op])
    out_shape = np.shape(ref(x, axis=axes, keepdims=keep))
    check_grad([tt([3, 2, 4])], lambda b, a: b.op(f"graph.{op}", a, **attrs), [x], out_shape, rng)


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matmul_gradients(ta, tb):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 3) if ta else (3, 4))
    c = rng.standard_normal((2, 4) if tb else (4, 2))
    check_grad([tt(a.shape), tt(c.shape)], lambda b, x, y: b.op("graph.matmul", x, y, transpose_a=ta, transpose_b=tb), [a, c], (3, 2), rng)


def test_batched_matmul_gradient_broadcasts_batch():
    rng = np.random.default_rng(4)
    a, c = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 2))
    c3 = c[None]
    check_grad([tt(a.shape), tt(c3.shape)], lambda b, x, y: b.op("graph.matmul", x, y), [a, c3], (2, 3, 2), rng)


def test_structure_gradients():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 1, 4))

    def body(b, p, q):
        t = b.op("graph.transpose", p, perm=(2, 0, 1))             # 4x2x3
        r = b.op("graph.reshape", t, shape=(4, 6))                  # 4x6
        cat = b.op("graph.concat", p, q, axis=1)                    # 2x4x4
        s = b.op("graph.slice", cat, begin=(0, 1, 0), size=(2, 3, 2), strides=(1, 1, 2))  # 2x3x2
        bt = b.op("graph.broadcast_to", q, shape=(3, 2, 3, 4))
        tot = b.op("graph.add", b.op("graph.reduce_sum", r), b.op("graph.reduce_sum", b.op("graph.square", s)))
        return b.op("graph.add", b.op("graph.mul", bt, tot), p)
    check_grad([tt(x.shape), tt(y.shape)], body, [x, y], (3, 2, 3, 4), rng)


def test_softmax_where_gather_gradients():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 5))
    idx = np.array([4, 0, 0, 2], np.int64)

    def body(b, p, ix):
        sm = b.op("graph.softmax", p)
        lsm = b.op("graph.log_softmax", p, axis=0)
        g = b.op("graph.gather", p, ix, axis=1)                     # 3x4
        cond = b.op("graph.gt", p, b.op("graph.constant", value=np.array(0.0)))
        w = b.op("graph.where", cond, sm, lsm)
        return b.op("graph.add", b.op("graph.reduce_sum", w, axes=[1]), b.op("graph.reduce_sum", b.op("graph.square", g), axes=[1]))
    check_grad([tt(x.shape), tt(idx.shape, i64)], body, [x, idx], (3,), rng)


def test_symbolic_batch_mean_gradient():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 3))
    check_grad([tt(["N", 3])], lambda b, p: b.op("graph.reduce_mean", b.op("graph.tanh", p), axes=[0]), [x], (3,), rng)


def test_unconnected_input_has_no_gradient():
    f = Function("f", [tt([3]), tt([3])], [], ["x", "y"])
    b = Builder(f.body)
    loss = b.op("graph.reduce_sum", b.op("graph.exp", f.args[0]))
    gx, gy = gradients(b, [loss], list(f.args))
    assert gx is not None and gy is None
