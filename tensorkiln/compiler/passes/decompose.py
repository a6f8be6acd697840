"""Decomposition of composite ops into primitives the fusion and lowering passes understand.

``softmax(x)`` becomes ``e = exp(x - max(x)); e / sum(e)`` and ``log_softmax(x)`` becomes
``(x - max(x)) - log(sum(exp(x - max(x))))``, both reducing with ``keepdims`` along the axis.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir.core import Builder
from .base import Pass
from .rewrite import replace_op


def _softmax(op, b: Builder, log: bool):
    x = op.operands[0]
    axis = op.attributes["axis"] % x.type.rank
    m = b.op("graph.reduce_max", x, axes=[axis], keepdims=True)
    shifted = b.op("graph.sub", x, m)
    e = b.op("graph.exp", shifted)
    s = b.op("graph.reduce_sum", e, axes=[axis], keepdims=True)
    if log:
        return b.op("graph.sub", shifted, b.op("graph.log", s))
    return b.op("graph.div", e, s)


@dataclass(frozen=True)
class Decompose(Pass):
    name = "decompose"

    def apply_function(self, func) -> None:
        b = Builder()
        for op in list(func.body.ops):
            if op.name in ("graph.softmax", "graph.log_softmax"):
                b.set_insertion_point_before(op)
                b.loc = op.loc
                replace_op(op, [_softmax(op, b, op.name == "graph.log_softmax")])
