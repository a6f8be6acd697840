"""TensorFlow 1.x's graph-building API: dtypes, shapes, Graph/Operation/Tensor, and the op modules.

Importing this package installs the Tensor operators and tells the runtime's Session how to find
the default graph. The public names are re-exported by ``tensorkiln`` (``tk.placeholder``…).
"""
from __future__ import annotations

from ..runtime import session as _session
from . import (  # noqa: F401
    array_ops,
    constant_op,
    control_flow_ops,
    dtypes,
    math_ops,
    nn_ops,
    random_ops,
    state_ops,
    tensor_operators,
    tensor_shape,
    variables,
)
from .graph import get_default_graph

_session._default_graph_provider = get_default_graph
