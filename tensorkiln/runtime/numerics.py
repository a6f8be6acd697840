"""Reading the statuses of a signature's run-time checks after its native call.

The compiled function returns its checks' statuses after the fetched values (see
:mod:`tensorkiln.compiler.frontend.graph`), already ordered by where each checked tensor is
produced: one ``i32`` per ``CheckNumerics`` op; per index check of a gather or a tensor index, an
``i64`` vector (the first bad flat position, its value, the limit, the index tensor's dims); per
check of a sparse cross-entropy's labels, the largest bad label (``i64``). :func:`split_checked`
only reads them and raises TF's InvalidArgumentError for the first failing check.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import errors
from ..compiler.frontend.checks import NO_BAD_INDEX, NO_BAD_LABEL
from ..ir.dialects.graph_debug import status_text


def index_text(flat: int, shape: Sequence[int]) -> str:
    """TF's ``[i,j]`` for the element at row-major position ``flat`` of a tensor of ``shape``."""
    idx = []
    for d in reversed(shape[1:]):
        flat, r = divmod(flat, d)  # d > 0: the tensor has the element
        idx.append(r)
    if shape:
        idx.append(flat)
    return "[" + ",".join(str(i) for i in reversed(idx)) + "]"


def check_message(check: Any, status: np.ndarray) -> str | None:
    """TF's message for a failed check, or None when it passed."""
    if check.kind == "numerics":
        code = int(status[()])
        return f"{check.node.attrs.get('message', '')} : Tensor had {status_text(code)} values" if code else None
    if check.kind == "labels":  # the largest bad label, int64's minimum when there is none
        value = int(status[()])
        if value == NO_BAD_LABEL:
            return None
        return f"Received a label value of {value} which is outside the valid range of [0, {check.detail})."
    first, value, limit, *shape = status.tolist()
    if first == NO_BAD_INDEX:
        return None
    if check.kind == "slice":  # the value was made non-negative by adding the dim: report the index given
        return f"slice index {value - limit if value < 0 else value} of dimension {check.detail} out of bounds."
    return f"indices{index_text(first, shape)} = {value} is not in [0, {limit})"


def split_checked(outs: Sequence[np.ndarray], checks: Sequence[Any]) -> list[np.ndarray]:
    """The fetched values of ``outs``; raises InvalidArgumentError naming the checking op for the
    first of ``checks`` (graph ``Check`` records) that failed: a NaN or an Inf for a
    CheckNumerics ("{message} : Tensor had NaN values"), an index out of range for a gather
    ("indices[3] = 12 is not in [0, 10)") or a sparse cross-entropy's labels."""
    n = len(outs) - len(checks)
    for check, status in zip(checks, outs[n:]):
        text = check_message(check, status)
        if text is not None:
            op = check.node.owner
            raise errors.InvalidArgumentError(getattr(op, "node_def", None), op, f"{text}\n\t [[node {check.node.name}]]")
    return list(outs[:n])
