"""The tensorkiln ``Graph`` (``tensorkiln.framework``) as TensorBoard's ``GraphDef``.

Each Operation becomes a :class:`~tensorkiln.summary.graph_def.NodeSpec`: its scoped name, TF op type,
inputs in TF's spelling (``"x"`` for output 0, ``"split:1"``, ``"^init"`` for control inputs), device,
its attributes (dtypes, shapes, constant values, flags) and ``_output_shapes`` — what TF's
``Graph.as_graph_def(add_shapes=True)`` gives ``tf.summary.FileWriter``, so that TensorBoard labels
edges with shapes.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from tensorboard.compat.proto import graph_pb2

from .graph_def import DTypeAttr, NodeSpec, ShapeAttr, ShapeListAttr, TensorAttr, build_graph_def
from .encode import datatype_enum

__all__ = ["framework_graph_def", "graph_nodes"]


def _is_framework_graph(obj: Any) -> bool:
    try:
        from ..framework.graph import Graph
    except ImportError:  # pragma: no cover - graph API not present
        return False
    return isinstance(obj, Graph)


def _shape_tuple(shape: Any) -> Optional[tuple]:
    if shape is None:
        return None
    if hasattr(shape, "as_tuple"):
        return shape.as_tuple()
    if hasattr(shape, "as_list"):
        try:
            return tuple(shape.as_list())
        except ValueError:  # unknown rank
            return None
    return tuple(shape)


def _attr(key: str, value: Any) -> Any:
    """An attribute value :func:`~tensorkiln.summary.graph_def.attr_value` can convert; falls back to
    its text so that an exotic attribute never stops the graph from being written."""
    if value is None:
        return None
    if hasattr(value, "as_datatype_enum") or hasattr(value, "np_dtype"):
        return DTypeAttr(value)
    if hasattr(value, "as_tuple") or (hasattr(value, "as_list") and hasattr(value, "ndims")):
        return ShapeAttr(_shape_tuple(value))
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        try:
            datatype_enum(np.asarray(value).dtype)
            return TensorAttr(np.asarray(value))
        except TypeError:
            return str(value)
    if isinstance(value, (bool, int, float, str, bytes, np.bool_)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_attr(key, v) for v in value]
        if all(isinstance(v, ShapeAttr) for v in items):
            return ShapeListAttr([v.dims for v in items])
        if all(isinstance(v, (bool, int, float, str, bytes)) for v in items):
            kinds = {type(v) for v in items}
            if len(kinds) <= 1 or kinds <= {int, float}:
                return list(items)
        return str(value)
    return str(value)


def _input_name(t: Any) -> str:
    return t.op.name if t.value_index == 0 else f"{t.op.name}:{t.value_index}"


def graph_nodes(graph: Any) -> list[NodeSpec]:
    """The neutral description of every Operation of a tensorkiln Graph, in creation order."""
    nodes = []
    for op in graph.get_operations():
        inputs = [_input_name(t) for t in op.inputs] + ["^" + c.name for c in op.control_inputs]
        attrs: dict[str, Any] = {}
        for key, value in getattr(op, "_attrs", {}).items():
            converted = _attr(key, value)
            if converted is not None:
                attrs[key] = converted
        if op.outputs:
            attrs["_output_shapes"] = ShapeListAttr([_shape_tuple(t.shape) for t in op.outputs])
            if "dtype" not in attrs and "T" not in attrs and op.type in ("Placeholder", "VariableV2", "Const"):
                attrs["dtype"] = DTypeAttr(op.outputs[0].dtype)
        nodes.append(NodeSpec(op.name, op.type, inputs, op.device or "", attrs))
    return nodes


def framework_graph_def(graph: Any) -> Optional[graph_pb2.GraphDef]:
    """``GraphDef`` of a tensorkiln Graph (``None`` when ``graph`` is not one)."""
    if not _is_framework_graph(graph):
        return None
    return build_graph_def(graph_nodes(graph))
