"""Reading the statuses of a signature's ``CheckNumerics`` ops after its native call.

The compiled function returns one ``i32`` status per check after the fetched values (see
:mod:`tensorkiln.compiler.frontend.graph`), already ordered by where each checked tensor is
produced; :func:`split_checked` only reads them and raises TF's error for the first nonzero one.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import errors
from ..ir.dialects.graph_debug import status_text


def split_checked(outs: Sequence[np.ndarray], checks: Sequence[Any]) -> list[np.ndarray]:
    """The fetched values of ``outs``; raises InvalidArgumentError ("{message} : Tensor had NaN
    values", naming the check op) for the first of ``checks`` (GraphNodes) whose status is set."""
    n = len(outs) - len(checks)
    for node, status in zip(checks, outs[n:]):
        code = int(status[()])
        if code:
            op = node.owner
            raise errors.InvalidArgumentError(
                getattr(op, "node_def", None), op,
                f"{node.attrs.get('message', '')} : Tensor had {status_text(code)} values\n\t [[node {node.name}]]")
    return list(outs[:n])
