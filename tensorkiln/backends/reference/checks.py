"""Reference (numpy) meaning of ``graph.check_numerics``, registered into the interpreter's op table.

The status is TensorFlow's classification of a tensor: NaN anywhere sets bit 1, ±Inf anywhere
sets bit 0 (see :mod:`tensorkiln.ir.dialects.graph_debug`). Used only by tests and constant folding.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...ir.dialects.graph_debug import STATUS_INF, STATUS_NAN
from .interpreter import _op


@_op("check_numerics")
def _check_numerics(xs: list[np.ndarray], attrs: dict[str, Any], dims: Any) -> np.ndarray:
    x = xs[0]
    status = (STATUS_NAN if np.isnan(x).any() else 0) | (STATUS_INF if np.isinf(x).any() else 0)
    return np.array(status, dtype=np.int32)
