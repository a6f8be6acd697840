"""Vector-Jacobian products for every differentiable graph op.

A rule takes the op and the adjoint of its result and returns one adjoint per operand (``None`` for
operands that are not differentiable, such as indices and conditions). Rules emit ordinary graph
ops, so the backward pass is optimized, fused and compiled like the forward one. Broadcasting is
undone by :meth:`GradContext.unbroadcast` (sum over broadcast axes, then reshape).
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import numpy as np

from ..ir.core import Builder, Operation, Value
from ..ir.types import Dim, dim_product

Rule = Callable[["GradContext", Operation, Value], Sequence[Optional[Value]]]
RULES: dict[str, Rule] = {}
NON_DIFFERENTIABLE = {
    "graph.sign", "graph.floor", "graph.ceil", "graph.round", "graph.argmax", "graph.argmin",
    "graph.eq", "graph.ne", "graph.lt", "graph.le", "graph.gt", "graph.ge", "graph.logical_and",
    "graph.logical_or", "graph.logical_xor", "graph.logical_not", "graph.one_hot", "graph.constant",
    "graph.floordiv", "graph.mod", "graph.dim_size",
}


def rule(*names: str) -> Callable[[Rule], Rule]:
    def deco(fn: Rule) -> Rule:
        for n in names:
            RULES["graph." + n] = fn
        return fn
    return deco


class GradContext:
    def __init__(self, b: Builder):
        self.b = b

    def op(self, name: str, *args: Value, **attrs) -> Value:
        return self.b.op("graph." + name, *args, **attrs)

    def const(self, value: float, like: Value) -> Value:
        return self.b.op("graph.constant", value=np.array(value, dtype=like.type.dtype.np_dtype))

    def unbroadcast(self, g: Value, shape: Sequence[Dim]) -> Value:
        """Sum g over the axes along which a value of ``shape`` was broadcast to g's shape."""
        gs = g.type.shape
        if tuple(gs) == tuple(shape):
            return g
        lead = len(gs) - len(shape)
        axes = list(range(lead)) + [lead + i for i, d in enumerate(shape) if d == 1 and gs[lead + i] != 1]
        if axes:
            g = self.op("reduce_sum", g, axes=axes, keepdims=True)
        return self.op("reshape", g, shape=tuple(shape)) if tuple(g.type.shape) != tuple(shape) else g

    def expand_reduced(self, g: Value, x: Value, axes: Sequence[int] | None, keepdims: bool) -> Value:
        """Broadcast the adjoint of a reduction back to the reduced operand's shape."""
        xs = x.type.shape
        ax = range(len(xs)) if axes is None else [a % len(xs) for a in axes]
        keep_shape = tuple(1 if i in ax else d for i, d in enumerate(xs))
        if not keepdims:
            g = self.op("reshape", g, shape=keep_shape)
        return self.op("broadcast_to", g, shape=tuple(xs)) if keep_shape != tuple(xs) else g


def _ub(c: GradContext, op: Operation, *grads: Optional[Value]) -> list[Optional[Value]]:
    return [None if g is None else c.unbroadcast(g, v.type.shape) for g, v in zip(grads, op.operands)]


# ---------------------------------------------------------------- elementwise binary


@rule("add")
def _add(c, op, g):
    return _ub(c, op, g, g)


@rule("sub")
def _sub(c, op, g):
    return _ub(c, op, g, c.op("neg", g))


@rule("mul")
def _mul(c, op, g):
    a, b = op.operands
    return _ub(c, op, c.op("mul", g, b), c.op("mul", g, a))


@rule("div")
def _div(c, op, g):
    a, b = op.operands
    ga = c.op("div", g, b)
    gb = c.op("neg", c.op("mul", ga, c.op("div", a, b)))
    return _ub(c, op, ga, gb)


@rule("pow")
def _pow(c, op, g):
    a, b = op.operands
    y = op.result
    one = c.const(1, a)
    ga = c.op("mul", g, c.op("mul", b, c.op("pow", a, c.op("sub", b, one))))
    # d/db a**b = a**b * log(a), taken as 0 where a <= 0 (as TensorFlow does).
    zero = c.const(0, a)
    pos = c.op("gt", a, zero)
    safe_a = c.op("where", pos, a, c.op("broadcast_to", one, shape=a.type.shape) if a.type.rank else one)
    logs = c.op("where", pos, c.op("log", safe_a), c.op("broadcast_to", zero, shape=a.type.shape) if a.type.rank else zero)
    gb = c.op("mul", g, c.op("mul", y, logs))
    return _ub(c, op, ga, gb)


def _select_grad(c, op, g, pick_a):
    a, b = op.operands
    zero = c.op("broadcast_to", c.const(0, g), shape=g.type.shape) if g.type.rank else c.const(0, g)
    return _ub(c, op, c.op("where", pick_a, g, zero), c.op("where", pick_a, zero, g))


@rule("maximum")
def _maximum(c, op, g):
    a, b = op.operands
    return _select_grad(c, op, g, c.op("ge", a, b))


@rule("minimum")
def _minimum(c, op, g):
    a, b = op.operands
    return _select_grad(c, op, g, c.op("le", a, b))


@rule("where")
def _where(c, op, g):
    cond, a, b = op.operands
    zero = c.op("broadcast_to", c.const(0, g), shape=g.type.shape) if g.type.rank else c.const(0, g)
    ga = c.op("where", cond, g, zero)
    gb = c.op("where", cond, zero, g)
    return [None, c.unbroadcast(ga, a.type.shape), c.unbroadcast(gb, b.type.shape)]


# ---------------------------------------------------------------- elementwise unary


def _unary(name: str, fn: Callable[[GradContext, Value, Value, Value], Value]) -> None:
    RULES["graph." + name] = lambda c, op, g: [fn(c, op.operands[0], op.result, g)]


_unary("neg", lambda c, x, y, g: c.op("neg", g))
_unary("abs", lambda c, x, y, g: c.op("mul", g, c.op("sign", x)))
_unary("exp", lambda c, x, y, g: c.op("mul", g, y))
_unary("expm1", lambda c, x, y, g: c.op("mul", g, c.op("add", y, c.const(1, y))))
_unary("log", lambda c, x, y, g: c.op("div", g, x))
_unary("log1p", lambda c, x, y, g: c.op("div", g, c.op("add", x, c.const(1, x))))
_unary("sqrt", lambda c, x, y, g: c.op("div", c.op("mul", g, c.const(0.5, y)), y))
_unary("rsqrt", lambda c, x, y, g: c.op("mul", g, c.op("mul", c.const(-0.5, y), c.op("mul", y, c.op("square", y)))))
_unary("square", lambda c, x, y, g: c.op("mul", g, c.op("mul", x, c.const(2, x))))
_unary("reciprocal", lambda c, x, y, g: c.op("neg", c.op("mul", g, c.op("square", y))))
_unary("tanh", lambda c, x, y, g: c.op("mul", g, c.op("sub", c.const(1, y), c.op("square", y))))
_unary("sigmoid", lambda c, x, y, g: c.op("mul", g, c.op("mul", y, c.op("sub", c.const(1, y), y))))
_unary("sin", lambda c, x, y, g: c.op("mul", g, c.op("cos", x)))
_unary("cos", lambda c, x, y, g: c.op("neg", c.op("mul", g, c.op("sin", x))))
_unary("erf", lambda c, x, y, g: c.op("mul", g, c.op("mul", c.const(2 / math.sqrt(math.pi), x), c.op("exp", c.op("neg", c.op("square", x))))))


@rule("relu")
def _relu(c, op, g):
    # The mask reads the output (y > 0 exactly where x > 0, NaN included), as TF's ReluGrad does:
    # then nothing but the relu reads the pre-activation, so `conv + bias` and `relu` fuse into one
    # pass, and a max-pool adjoint of y can apply the mask itself (see fuse_nn.py).
    y = op.result
    zero = c.const(0, y)
    zeros = c.op("broadcast_to", zero, shape=g.type.shape) if g.type.rank else zero
    return [c.op("where", c.op("gt", y, zero), g, zeros)]


@rule("cast")
def _cast(c, op, g):
    x = op.operands[0]
    return [c.op("cast", g, dtype=x.type.dtype) if x.type.dtype.is_float else None]


@rule("broadcast_to")
def _broadcast_to(c, op, g):
    return [c.unbroadcast(g, op.operands[0].type.shape)]


# ---------------------------------------------------------------- reductions


@rule("reduce_sum")
def _reduce_sum(c, op, g):
    return [c.expand_reduced(g, op.operands[0], op.attributes.get("axes"), op.attributes["keepdims"])]


def _count(c: GradContext, x: Value, axes) -> Value:
    xs = x.type.shape
    ax = range(len(xs)) if axes is None else [a % len(xs) for a in axes]
    n = dim_product(xs[a] for a in ax)
    if isinstance(n, int):
        return c.const(n, x)
    return c.b.op("graph.dim_size", dim=n, dtype=x.type.dtype)


@rule("reduce_mean")
def _reduce_mean(c, op, g):
    x = op.operands[0]
    axes = op.attributes.get("axes")
    return [c.op("div", c.expand_reduced(g, x, axes, op.attributes["keepdims"]), _count(c, x, axes))]


def _extreme(c, op, g):
    x, y = op.operands[0], op.result
    axes, keep = op.attributes.get("axes"), op.attributes["keepdims"]
    y_full = c.expand_reduced(y, x, axes, keep)
    mask = c.op("cast", c.op("eq", x, y_full), dtype=x.type.dtype)
    # Ties share the adjoint equally, as in TensorFlow.
    ties = c.op("reduce_sum", mask, axes=list(range(x.type.rank)) if axes is None else list(axes), keepdims=True)
    return [c.op("div", c.op("mul", c.expand_reduced(g, x, axes, keep), mask), ties)]


RULES["graph.reduce_max"] = _extreme
RULES["graph.reduce_min"] = _extreme


@rule("reduce_prod")
def _reduce_prod(c, op, g):
    """d prod / d x_i is the product of the others. ``y / x_i`` is that only where x_i != 0 (it is
    0/0 at a zero), so the product of the nonzero elements and the count of zeros per group pick
    the answer: no zero: p / x_i; one zero: p at the zero, 0 elsewhere; more zeros: 0."""
    x = op.operands[0]
    axes, keep = op.attributes.get("axes"), op.attributes["keepdims"]
    red = list(range(x.type.rank)) if axes is None else [a % x.type.rank for a in axes]
    zero, one = c.const(0.0, x), c.const(1.0, x)
    nonzero = c.op("ne", x, zero)
    safe = c.op("where", nonzero, x, one)
    p = c.expand_reduced(c.op("reduce_prod", safe, axes=red, keepdims=True), x, red, True)
    zeros = c.expand_reduced(
        c.op("reduce_sum", c.op("cast", c.op("eq", x, zero), dtype=x.type.dtype), axes=red, keepdims=True), x, red, True)
    others = c.op("where", nonzero,
                  c.op("where", c.op("eq", zeros, zero), c.op("div", p, safe), c.op("broadcast_to", zero, shape=x.type.shape)),
                  c.op("where", c.op("eq", zeros, one), p, c.op("broadcast_to", zero, shape=x.type.shape)))
    return [c.op("mul", c.expand_reduced(g, x, axes, keep), others)]


@rule("softmax")
def _softmax(c, op, g):
    y = op.result
    axis = op.attributes["axis"]
    s = c.op("reduce_sum", c.op("mul", g, y), axes=[axis], keepdims=True)
    return [c.op("mul", y, c.op("sub", g, s))]


@rule("log_softmax")
def _log_softmax(c, op, g):
    # exp(y) is softmax(x): written as softmax, it decomposes into the forward pass's own max, shift
    # and sum of exponentials (merged by CSE) and a division, where exp(y) would take a log and a
    # second exp per element of x - max - log(sum).
    axis = op.attributes["axis"]
    s = c.op("reduce_sum", g, axes=[axis], keepdims=True)
    return [c.op("sub", g, c.op("mul", c.op("softmax", op.operands[0], axis=axis), s))]


# ---------------------------------------------------------------- structure


@rule("matmul")
def _matmul(c, op, g):
    a, b = op.operands
    ta, tb = op.attributes["transpose_a"], op.attributes["transpose_b"]
    mm = lambda x, y, t1, t2: c.op("matmul", x, y, transpose_a=t1, transpose_b=t2)  # noqa: E731
    if not ta and not tb:
        ga, gb = mm(g, b, False, True), mm(a, g, True, False)
    elif not ta and tb:
        ga, gb = mm(g, b, False, False), mm(g, a, True, False)
    elif ta and not tb:
        ga, gb = mm(b, g, False, True), mm(a, g, False, False)
    else:
        ga, gb = mm(b, g, True, True), mm(g, a, True, True)
    return [c.unbroadcast(ga, a.type.shape), c.unbroadcast(gb, b.type.shape)]


@rule("transpose")
def _transpose(c, op, g):
    perm = op.attributes["perm"]
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return [c.op("transpose", g, perm=inv)]


@rule("reshape")
def _reshape(c, op, g):
    return [c.op("reshape", g, shape=op.operands[0].type.shape)]


@rule("concat")
def _concat(c, op, g):
    from ..ir.diagnostics import CompileError
    from ..ir.types import dim_add

    axis = op.attributes["axis"] % op.result.type.rank
    out: list[Optional[Value]] = []
    offset: Dim = 0
    for x in op.operands:
        if not isinstance(offset, int):
            raise CompileError("gradient of concat after a part of symbolic size along the axis is not supported", op.loc)
        begin = [0] * x.type.rank
        begin[axis] = offset
        out.append(c.op("slice", g, begin=begin, size=tuple(x.type.shape)))
        offset = dim_add(offset, x.type.shape[axis])
    return out


@rule("slice")
def _slice(c, op, g):
    x = op.operands[0]
    return [c.op("insert_slice", g, begin=op.attributes["begin"], strides=op.attributes.get("strides"), shape=x.type.shape)]


@rule("insert_slice")
def _insert_slice(c, op, g):
    x = op.operands[0]
    return [c.op("slice", g, begin=op.attributes["begin"], size=x.type.shape, strides=op.attributes.get("strides"))]


@rule("gather")
def _gather(c, op, g):
    params, ix = op.operands
    axis = op.attributes["axis"] % params.type.rank
    return [c.op("scatter_add", g, ix, axis=axis, size=params.type.shape[axis]), None]


@rule("scatter_add")
def _scatter_add(c, op, g):
    upd, ix = op.operands
    return [c.op("gather", g, ix, axis=op.attributes["axis"]), None]


# ---------------------------------------------------------------- convolution and pooling


def _window_attrs(op: Operation, *keys: str) -> dict:
    return {k: op.attributes[k] for k in keys if k in op.attributes}


@rule("conv2d")
def _conv2d(c, op, g):
    x, f = op.operands
    a = _window_attrs(op, "strides", "padding", "dilations")
    dx = c.op("conv2d_backprop_input", g, f, input_shape=x.type.shape, **a)
    df = c.op("conv2d_backprop_filter", x, g, filter_shape=tuple(int(d) for d in f.type.shape), **a)
    return [dx, df]


@rule("max_pool")
def _max_pool(c, op, g):
    return [c.op("max_pool_grad", op.operands[0], g, **_window_attrs(op, "ksize", "strides", "padding"))]


@rule("avg_pool")
def _avg_pool(c, op, g):
    x = op.operands[0]
    return [c.op("avg_pool_grad", g, input_shape=x.type.shape, **_window_attrs(op, "ksize", "strides", "padding"))]
