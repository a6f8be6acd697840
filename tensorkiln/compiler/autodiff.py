"""Reverse-mode automatic differentiation as an IR transform on the graph dialect.

:func:`gradients` appends the backward computation of ``ys`` with respect to ``xs`` to the function
being built (at the builder's insertion point) and returns one adjoint Value per x (``None`` when y
does not depend on x, as in TensorFlow). Both front ends use it: the DSL's ``grad(f, wrt=…)`` and
the graph API's ``tk.gradients``. The per-op rules live in :mod:`.grad_rules`; this module walks
the ops between xs and ys in reverse program order and accumulates adjoints.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..ir.core import Builder, Operation, Value
from ..ir.diagnostics import CompileError
from ..ir.types import TensorType
from .grad_rules import RULES, NON_DIFFERENTIABLE, GradContext


def _ops_between(ys: Sequence[Value], xs: Sequence[Value]) -> list[Operation]:
    """Ops on some path from an x to a y, in program order."""
    xs_ids = {id(x) for x in xs}
    # backward reachability from ys
    back: set[int] = set()
    stack = [getattr(y, "op", None) for y in ys]
    order: dict[int, Operation] = {}
    while stack:
        op = stack.pop()
        if op is None or id(op) in back:
            continue
        back.add(id(op))
        order[id(op)] = op
        for v in op.operands:
            if id(v) not in xs_ids:
                stack.append(getattr(v, "op", None))
    # forward reachability from xs, restricted to those ops
    fwd_vals = set(xs_ids)
    block = None
    for y in ys:
        op = getattr(y, "op", None)
        if op is not None:
            block = op.parent
            break
    if block is None:
        return []
    result = []
    for op in block.ops:
        if id(op) in back and any(id(v) in fwd_vals for v in op.operands):
            result.append(op)
            fwd_vals.update(id(r) for r in op.results)
    return result


def ones_like(b: Builder, v: Value) -> Value:
    t: TensorType = v.type  # type: ignore[assignment]
    one = b.op("graph.constant", value=np.array(1, dtype=t.dtype.np_dtype))
    return one if t.rank == 0 else b.op("graph.broadcast_to", one, shape=t.shape)


def gradients(
    b: Builder,
    ys: Sequence[Value],
    xs: Sequence[Value],
    grad_ys: Sequence[Value | None] | None = None,
) -> list[Value | None]:
    """Adjoints d(sum ys)/d xs, built with ``b``; ``grad_ys`` seeds each y (default: ones)."""
    for v in list(ys) + list(xs):
        if not isinstance(v.type, TensorType):
            raise CompileError(f"gradients need tensors, got {v.type}")
    for y in ys:
        if not y.type.dtype.is_float:
            raise CompileError(f"cannot differentiate a {y.type.dtype} value; ys must be floating point")
    ctx = GradContext(b)
    adj: dict[int, Value] = {}

    def accumulate(v: Value, g: Value) -> None:
        if id(v) in adj:
            adj[id(v)] = b.op("graph.add", adj[id(v)], g)
        else:
            adj[id(v)] = g

    seeds = grad_ys if grad_ys is not None else [None] * len(ys)
    for y, g in zip(ys, seeds):
        if g is not None and g.type != y.type:
            raise CompileError(f"grad_ys entry of type {g.type} does not match y of type {y.type}")
        accumulate(y, g if g is not None else ones_like(b, y))

    for op in reversed(_ops_between(ys, xs)):
        gs = [adj.get(id(r)) for r in op.results]
        if all(g is None for g in gs):
            continue
        if op.name in NON_DIFFERENTIABLE:
            continue
        rule = RULES.get(op.name)
        if rule is None:
            raise CompileError(f"no gradient rule for '{op.name}'", op.loc)
        b.loc = op.loc
        operand_grads = rule(ctx, op, gs[0] if len(gs) == 1 else gs)
        for v, g in zip(op.operands, operand_grads):
            if g is not None and v.type.dtype.is_float:
                if g.type != v.type:
                    raise CompileError(f"gradient rule of '{op.name}' produced {g.type} for an operand of type {v.type}", op.loc)
                accumulate(v, g)
    return [adj.get(id(x)) for x in xs]
