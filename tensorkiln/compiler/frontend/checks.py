"""Run-time checks of a graph signature: what a build's ``ctx.check_numerics`` and
``ctx.check_indices`` add to the function, and the :class:`Check` record the Session reads them by.

Each check is one extra result of the function, after the fetched tensors, computed by the same
generated code as everything else (no numpy, nothing out of bounds: the gather or one-hot it guards
clamps or zeroes a bad index). ``"numerics"``: the ``i32`` status of ``graph.check_numerics``.
``"indices"`` (a gather's) and ``"slice"`` (a tensor index in ``x[i]``): an ``i64`` vector — the
flat row-major position of the first index outside ``[0, limit)`` (:data:`NO_BAD_INDEX` when there
is none), that index, the limit, the index tensor's dims (for TF's ``indices[i,j]``) — one result,
not 3 + rank, since each result is an array the call allocates and Python reads. ``"labels"`` (a
sparse cross-entropy's): the largest bad label (:data:`NO_BAD_LABEL` when none), one pass with no
index vector, cheap enough for every training step (TF's message names no position). The Session
reads them in :mod:`tensorkiln.runtime.numerics`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ...ir.core import Value
from ...ir.types import Dim, dim_product, i64

if TYPE_CHECKING:  # pragma: no cover
    from .graph import LoweringContext

NO_BAD_INDEX = int(np.iinfo(np.int64).max)
NO_BAD_LABEL = int(np.iinfo(np.int64).min)


class Check(NamedTuple):
    """One run-time check of a signature: the checking ``node`` (a GraphNode), ``kind``
    (``"numerics"``, ``"indices"``, ``"slice"``, ``"labels"``) and ``detail``: the sliced dimension
    of a ``"slice"``, the number of classes of ``"labels"``."""
    node: Any
    kind: str
    detail: int = 0


def index_status(ctx: "LoweringContext", idx: Value, limit: Dim, kind: str) -> tuple[Value, Value]:
    """(the check's result, a bool scalar that holds when every index of ``idx`` lies in
    ``[0, limit)``) for an index check of ``kind`` (see the module docstring)."""
    b = ctx.b
    n = dim_product(idx.type.shape)
    flat = idx if idx.type.rank == 1 else b.op("graph.reshape", idx, shape=(n,))
    if flat.type.dtype != i64:
        flat = b.op("graph.cast", flat, dtype=i64)

    def const(v: int) -> Value:
        return b.op("graph.constant", value=np.array(v, dtype=np.int64))

    bad = b.op("graph.logical_or", b.op("graph.lt", flat, const(0)), b.op("graph.ge", flat, ctx.dim_value(limit, i64)))
    if kind == "labels":
        worst = b.op("graph.reduce_max", b.op("graph.where", bad, flat, const(NO_BAD_LABEL)))
        return worst, b.op("graph.eq", worst, const(NO_BAD_LABEL))
    at = ctx.iota(n)
    first = b.op("graph.reduce_min", b.op("graph.where", bad, at, const(NO_BAD_INDEX)))
    value = b.op("graph.reduce_sum", b.op("graph.where", b.op("graph.eq", at, first), flat, const(0)))
    parts = [first, value, ctx.dim_value(limit, i64)] + [ctx.dim_value(d, i64) for d in idx.type.shape]
    info = b.op("graph.concat", *(b.op("graph.reshape", v, shape=(1,)) for v in parts), axis=0)
    return info, b.op("graph.eq", first, const(NO_BAD_INDEX))
