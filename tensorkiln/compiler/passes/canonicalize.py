"""Canonicalization and algebraic simplification, as a table of rewrite patterns.

Each pattern is a function ``(op, builder) -> list[Value] | None`` registered for an op name; the
greedy driver applies patterns until nothing changes. Patterns only fire when the replacement has
exactly the op's result type (so broadcasting identities like ``x + 0`` with a wider zero are kept).
Float identities that would change NaN or signed-zero results (``x * 0``, ``x - x``) are not applied.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...ir.core import Block, Builder, Operation, Value
from .base import Pass
from .rewrite import constant_value, is_zero_splat, producer, replace_op, splat_value

Pattern = Callable[[Operation, Builder], "list[Value] | None"]
PATTERNS: dict[str, list[Pattern]] = {}


def pattern(*names: str) -> Callable[[Pattern], Pattern]:
    def deco(fn: Pattern) -> Pattern:
        for n in names:
            PATTERNS.setdefault(n, []).append(fn)
        return fn
    return deco


def _same_type(op: Operation, v: Value) -> list[Value] | None:
    return [v] if v.type == op.result.type else None


def _is(v: Value, x: float) -> bool:
    s = splat_value(v)
    return s is not None and not isinstance(s, bool) and s == x


@pattern("graph.add", "graph.mul", "graph.maximum", "graph.minimum", "graph.eq", "graph.ne",
         "graph.logical_and", "graph.logical_or", "graph.logical_xor")
def constant_to_right(op, b):
    a, c = op.operands
    if constant_value(a) is not None and constant_value(c) is None:
        return [b.create(op.name, [c, a], dict(op.attributes), loc=op.loc).result]
    return None


@pattern("graph.add")
def add_zero(op, b):
    return _same_type(op, op.operands[0]) if _is(op.operands[1], 0) else None


@pattern("graph.sub")
def sub_zero(op, b):
    return _same_type(op, op.operands[0]) if _is(op.operands[1], 0) else None


@pattern("graph.mul")
def mul_one(op, b):
    return _same_type(op, op.operands[0]) if _is(op.operands[1], 1) else None


@pattern("graph.div")
def div_one(op, b):
    return _same_type(op, op.operands[0]) if _is(op.operands[1], 1) else None


@pattern("graph.pow")
def pow_small(op, b):
    x, e = op.operands
    if x.type != op.result.type or not x.type.dtype.is_float:
        return None
    if _is(e, 1):
        return [x]
    if _is(e, 2):
        return [b.op("graph.square", x)]
    if _is(e, 0.5):
        return [b.op("graph.sqrt", x)]
    if _is(e, -0.5):
        return [b.op("graph.rsqrt", x)]
    if _is(e, -1):
        return [b.op("graph.reciprocal", x)]
    return None


@pattern("graph.neg")
def neg_neg(op, b):
    inner = getattr(op.operands[0], "op", None)
    return [inner.operands[0]] if inner is not None and inner.name == "graph.neg" else None


@pattern("graph.sub")
def sub_neg(op, b):
    inner = getattr(op.operands[1], "op", None)
    if inner is not None and inner.name == "graph.neg":
        return _same_type(op, b.op("graph.add", op.operands[0], inner.operands[0]))
    return None


@pattern("graph.cast")
def cast_same(op, b):
    return _same_type(op, op.operands[0])


@pattern("graph.broadcast_to", "graph.reshape")
def noop_shape(op, b):
    return _same_type(op, op.operands[0])


@pattern("graph.reshape")
def reshape_reshape(op, b):
    inner = getattr(op.operands[0], "op", None)
    if inner is not None and inner.name == "graph.reshape":
        return [b.op("graph.reshape", inner.operands[0], shape=op.attributes["shape"])]
    return None


@pattern("graph.transpose")
def transpose_fold(op, b):
    perm = op.attributes["perm"]
    if list(perm) == list(range(len(perm))):
        return [op.operands[0]]
    inner = getattr(op.operands[0], "op", None)
    if inner is not None and inner.name == "graph.transpose":
        p0 = inner.attributes["perm"]
        composed = tuple(p0[p] for p in perm)
        if list(composed) == list(range(len(composed))):
            return [inner.operands[0]]
        return [b.op("graph.transpose", inner.operands[0], perm=composed)]
    return None


@pattern("graph.matmul")
def matmul_absorbs_transpose(op, b):
    """matmul(transpose(a)) with the last two axes swapped becomes a transpose flag: the GEMM reads
    the operand with swapped strides instead of materializing the transpose."""
    for k, flag in ((0, "transpose_a"), (1, "transpose_b")):
        inner = getattr(op.operands[k], "op", None)
        if inner is None or inner.name != "graph.transpose":
            continue
        perm = list(inner.attributes["perm"])
        r = len(perm)
        if r >= 2 and perm == list(range(r - 2)) + [r - 1, r - 2]:
            operands = list(op.operands)
            operands[k] = inner.operands[0]
            attrs = dict(op.attributes)
            attrs[flag] = not attrs[flag]
            return [b.create("graph.matmul", operands, attrs, loc=op.loc).result]
    return None


@pattern("graph.reduce_sum", "graph.reduce_max", "graph.reduce_min", "graph.reduce_prod", "graph.reduce_mean")
def reduce_nothing(op, b):
    """A reduction over no axes, or only over size-1 axes, is a reshape."""
    t = op.operands[0].type
    axes = op.attributes.get("axes")
    axes = range(t.rank) if axes is None else [a % max(t.rank, 1) for a in axes]
    if all(t.shape[a] == 1 for a in axes) and t.dtype.is_float:
        if t.shape == op.result.type.shape:
            return [op.operands[0]]
        return [b.op("graph.reshape", op.operands[0], shape=op.result.type.shape)]
    return None


@pattern("graph.reduce_sum")
def sum_of_one_hot_select(op, b):
    """``reduce_sum(where(one_hot(y, d) == on, u, 0), last axis)``, with u the same along that axis
    (a broadcast of shape ``[..., 1]``), is ``where(0 <= y < d, u, 0)``: exactly one element of a
    row is selected when y is a class, none otherwise (a one-hot row of an out-of-range label is all
    off). The gradient of a sparse cross-entropy sums its one-hot row this way; the rewrite drops a
    pass over the ``[batch, classes]`` tensor. A -0.0 in u comes out as -0.0 where the sum gave
    +0.0 (the liberty ``add_zero`` also takes)."""
    x = op.operands[0]
    sel = producer(x, "graph.where")
    t = x.type
    axes = op.attributes.get("axes")
    if sel is None or not t.dtype.is_float or t.rank < 1 or axes is None or \
            [a % t.rank for a in axes] != [t.rank - 1] or not is_zero_splat(sel.operands[2]):
        return None
    eq = producer(sel.operands[0], "graph.eq")
    oh = producer(eq.operands[0], "graph.one_hot") if eq is not None else None
    if oh is None or oh.result.type.shape != t.shape or oh.attributes.get("axis", -1) % t.rank != t.rank - 1:
        return None
    k = splat_value(eq.operands[1])
    if k is None or isinstance(k, bool) or k != oh.attributes.get("on_value", 1.0) or \
            k == oh.attributes.get("off_value", 0.0):
        return None
    bc = producer(sel.operands[1], "graph.broadcast_to")
    u = bc.operands[0] if bc is not None else sel.operands[1]
    if u.type.shape != t.shape[:-1] + (1,):
        return None
    labels = oh.operands[0]
    ldt = labels.type.dtype.np_dtype
    valid = b.op("graph.logical_and",
                 b.op("graph.ge", labels, b.op("graph.constant", value=np.array(0, dtype=ldt))),
                 b.op("graph.lt", labels, b.op("graph.constant", value=np.array(oh.attributes["depth"], dtype=ldt))))
    if op.attributes.get("keepdims", False):
        valid = b.op("graph.reshape", valid, shape=list(t.shape[:-1]) + [1])
    else:
        u = b.op("graph.reshape", u, shape=list(t.shape[:-1]))
    out = b.op("graph.where", valid, u, b.op("graph.constant", value=np.array(0, dtype=t.dtype.np_dtype)))
    return _same_type(op, out)


def canonicalize_block(block: Block) -> bool:
    changed = False
    b = Builder()
    for op in list(block.ops):
        if op.parent is None:
            continue
        for region in op.regions:
            for inner in region.blocks:
                changed |= canonicalize_block(inner)
        for pat in PATTERNS.get(op.name, ()):
            b.set_insertion_point_before(op)
            b.loc = op.loc
            new = pat(op, b)
            if new is not None:
                replace_op(op, new)
                changed = True
                break
    return changed


@dataclass(frozen=True)
class Canonicalize(Pass):
    name = "canonicalize"
    max_iterations: int = 10

    def apply_function(self, func) -> None:
        from .dce import _dce_block

        for _ in range(self.max_iterations):
            if not canonicalize_block(func.body):
                break
            _dce_block(func.body)
