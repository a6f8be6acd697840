"""Lowering of reductions that keep the innermost axis (bias gradients: sum over N, H, W of NHWC).

The generic lowering computes each output element by a loop over the reduced axes; when the last
axis is kept, that inner loop walks memory with a stride of a whole row, and one output element at
a time cannot be vectorized (the convnet's bias gradients ran at ~1 GFLOP/s). Here the output is
the accumulator instead: it is set to the identity, then the input is walked once in memory order,
each element combined into ``out[kept indices]``, so the innermost loop reads the input and updates
the output contiguously and LLVM vectorizes it; ``reduce_mean`` divides at the end. Works for a
reduction op and for a fused region whose root is one (the fused elementwise producer is computed
in the same walk). When the kept part is a few constant elements (a dense layer's bias gradient,
``[N, 10] -> [10]``) the accumulators are the walk's loop-carried values instead of memory: an
accumulator row updated in memory by masked vector code makes each row's load wait for the
previous row's masked store, which the CPU cannot forward (~8 cycles a row against ~1).
"""
from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

from ...ir.core import Operation, Value
from ...ir.types import INDEX, Dim, ScalarType, dim_mul
from .scalar_emitter import REDUCE_COMBINE as COMBINE, reduce_identity

if TYPE_CHECKING:  # pragma: no cover
    from .lower_to_loops import FunctionLowering

# Kept elements up to one vector of f32: LLVM's SLP vectorizer turns the carried scalars into one
# vector accumulator.
REGISTER_ACCUMULATORS = 16


def _root_reduction(op: Operation) -> Operation | None:
    if op.name == "graph.fused":
        root = op.regions[0].blocks[0].terminator.operands[0]
        op = getattr(root, "op", None)
        if op is None:
            return None
    return op if op.name.split(".", 1)[1] in COMBINE else None


def lower_outer_reduction(low: "FunctionLowering", op: Operation, buf: Value) -> bool:
    """Emit ``op`` into ``buf`` in accumulate form when it reduces leading axes only; False (and
    nothing emitted) otherwise."""
    red = _root_reduction(op)
    if red is None:
        return False
    x = red.operands[0]
    shape = x.type.shape
    rank = len(shape)
    axes_attr = red.attributes.get("axes")
    axes = sorted({a % rank for a in (axes_attr if axes_attr is not None else range(rank))}) if rank else []
    if rank < 2 or not axes or (rank - 1) in axes:
        return False
    name = red.name.split(".", 1)[1]
    keep = red.attributes["keepdims"]
    dt = ScalarType(x.type.dtype)
    em, b = low.emitter, low.b
    if op.name == "graph.fused":  # the region's arguments stand for the fused op's operands
        for a, outer in zip(op.regions[0].blocks[0].args, op.operands):
            em.region_args[id(a)] = outer
    out_shape = buf.type.shape

    def init(idx: list[Value]) -> None:
        b.create("loops.store", [em.const(reduce_identity(name, dt.dtype), dt), buf, *idx])

    kept = [shape[k] for k in range(rank) if k not in axes]
    if axes == list(range(len(axes))) and all(isinstance(d, int) for d in kept) and \
            math.prod(kept) <= REGISTER_ACCUMULATORS:  # type: ignore[arg-type]
        _accumulate_in_registers(low, name, x, axes, kept, keep, buf, dt)
        return True

    low.loop_nest(out_shape, init)

    def accumulate(idx: list[Value]) -> None:
        zero = em.const(0, INDEX)
        oidx = [zero if k in axes else i for k, i in enumerate(idx) if keep or k not in axes]
        cur = b.op("loops.load", buf, *oidx)
        b.create("loops.store", [b.op(COMBINE[name], cur, em.scalar(x, idx)), buf, *oidx])

    # Serial: threads would race on the shared accumulator rows.
    low.loop_nest(shape, accumulate, parallel=False)
    if name == "reduce_mean":
        count: Dim = 1
        for a in axes:
            count = dim_mul(count, shape[a])

        def divide(idx: list[Value]) -> None:
            n = b.op("loops.cast", em.index_of(count), dtype=dt.dtype)
            b.create("loops.store", [b.op("loops.div", b.op("loops.load", buf, *idx), n), buf, *idx])

        low.loop_nest(out_shape, divide)
    return True


def _accumulate_in_registers(low: "FunctionLowering", name: str, x: Value, axes: list[int], kept: list[int],
                             keep: bool, buf: Value, dt: ScalarType) -> None:
    """The walk over the leading (reduced) axes carries one accumulator per kept element; the
    results are stored once at the end."""
    em, b = low.emitter, low.b
    points = list(itertools.product(*(range(d) for d in kept)))
    carried = [em.const(reduce_identity(name, dt.dtype), dt)] * len(points)
    loops = []
    for a in axes:
        loop = em.for_loop(x.type.shape[a], carried)
        loops.append(loop)
        carried = loop.carried
    ivs = [loop.iv for loop in loops]
    nxt = [b.op(COMBINE[name], acc, em.scalar(x, ivs + [em.const(i, INDEX) for i in p]))
           for acc, p in zip(carried, points)]
    for loop in reversed(loops):
        nxt = loop.finish(nxt)
    zero = em.const(0, INDEX)
    n = None
    if name == "reduce_mean":
        count: Dim = 1
        for a in axes:
            count = dim_mul(count, x.type.shape[a])
        n = b.op("loops.cast", em.index_of(count), dtype=dt.dtype)
    for value, p in zip(nxt, points):
        if n is not None:
            value = b.op("loops.div", value, n)
        b.create("loops.store", [value, buf, *([zero] * len(axes) if keep else []), *(em.const(i, INDEX) for i in p)])
