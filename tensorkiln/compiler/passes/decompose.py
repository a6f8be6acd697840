"""Decomposition of composite ops into primitives the fusion and lowering passes understand.

``softmax(x)`` becomes ``e = exp(x - max(x)); e / sum(e)`` and ``log_softmax(x)`` becomes
``(x - max(x)) - log(sum(exp(x - max(x))))``, both reducing with ``keepdims`` along the axis.
``check_numerics(x)`` becomes ``2 * (sum(x != x) > 0) + (sum(|x| == inf) > 0)`` (counts in i64, so an
empty tensor is finite), an ordinary fusible reduction.
"""
from __future__ import annotations

import numpy as np

from ...ir.core import Builder
from ...ir.dialects.graph_debug import STATUS_INF, STATUS_NAN
from ...ir.types import i32, i64
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


def _flag(b: Builder, mask, bit: int):
    """``bit`` when any element of the bool tensor ``mask`` is true, else 0 (an i32 scalar)."""
    count = b.op("graph.reduce_sum", b.op("graph.cast", mask, dtype=i64))
    seen = b.op("graph.gt", count, b.op("graph.constant", value=np.array(0, dtype=np.int64)))
    return b.op("graph.mul", b.op("graph.cast", seen, dtype=i32), b.op("graph.constant", value=np.array(bit, dtype=np.int32)))


def _check_numerics(op, b: Builder):
    x = op.operands[0]
    # x != x is the NaN test: LLVM keeps it because the backend never sets nnan/ninf.
    nan = b.op("graph.ne", x, x)
    inf = b.op("graph.eq", b.op("graph.abs", x), b.op("graph.constant", value=np.array(np.inf, dtype=x.type.dtype.np_dtype)))
    return b.op("graph.add", _flag(b, nan, STATUS_NAN), _flag(b, inf, STATUS_INF))


class Decompose(Pass):
    name = "decompose"

    def apply_function(self, func) -> None:
        b = Builder()
        for op in list(func.body.ops):
            if op.name in ("graph.softmax", "graph.log_softmax"):
                b.set_insertion_point_before(op)
                b.loc = op.loc
                replace_op(op, [_softmax(op, b, op.name == "graph.log_softmax")])
            elif op.name == "graph.check_numerics":
                b.set_insertion_point_before(op)
                b.loc = op.loc
                replace_op(op, [_check_numerics(op, b)])
