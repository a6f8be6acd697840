"""Convert a neutral description of a graph into TensorBoard's ``GraphDef`` proto.

The description is a list of :class:`NodeSpec` — name (with its name scopes, ``layer1/weights``), op type,
inputs (``"x"``, ``"split:1"``, ``"^init"`` for a control dependency), device and attributes. TensorBoard's
Graphs dashboard groups nodes by the ``/`` in their names, so name scopes become collapsible boxes.

Attribute values are converted to ``AttrValue`` by :func:`attr_value`:

* explicit wrappers :class:`DTypeAttr`, :class:`ShapeAttr`, :class:`ShapeListAttr`, :class:`TensorAttr`;
* by key, as TensorFlow names them: ``dtype``, ``T``, ``SrcT``, ``DstT``, ``out_type``, ``Tidx`` … are
  dtypes; ``shape`` is a shape; ``_output_shapes`` is a list of shapes; ``value`` (a numpy array) is a
  tensor;
* otherwise by Python type: ``bool`` → ``b``, ``int`` → ``i``, ``float`` → ``f``, ``str``/``bytes`` →
  ``s``, numpy dtype → ``type``, numpy array → ``tensor``, a list of those → ``list``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
from tensorboard.compat.proto import attr_value_pb2, graph_pb2, node_def_pb2, versions_pb2

from .encode import datatype_enum, numpy_to_tensor_proto, tensor_shape_proto

__all__ = [
    "NodeSpec",
    "DTypeAttr",
    "ShapeAttr",
    "ShapeListAttr",
    "TensorAttr",
    "attr_value",
    "node_def",
    "build_graph_def",
    "as_graph_def",
]

# GraphDef producer version recorded in ``versions`` (TF 1.x-era value); TensorBoard only displays it.
GRAPH_DEF_PRODUCER = 134

_DTYPE_KEYS = frozenset(
    {"dtype", "T", "SrcT", "DstT", "out_type", "output_type", "Tidx", "Tindices", "Tshape", "Tparams",
     "Targmax", "Tpaddings", "Index", "TI", "Tout", "Tlabels", "container_dtype"}
)
_SHAPE_KEYS = frozenset({"shape", "element_shape"})
_SHAPE_LIST_KEYS = frozenset({"_output_shapes", "output_shapes", "shapes"})


@dataclass(frozen=True)
class DTypeAttr:
    """An attribute that is a dtype (anything :func:`~tensorkiln.summary.encode.datatype_enum` takes)."""

    dtype: Any


@dataclass(frozen=True)
class ShapeAttr:
    """An attribute that is a shape; ``None`` dims are unknown (-1), ``dims=None`` is unknown rank."""

    dims: Optional[Sequence[Any]]


@dataclass(frozen=True)
class ShapeListAttr:
    """A list of shapes, e.g. ``_output_shapes`` (one per output; TensorBoard labels edges with it)."""

    shapes: Sequence[Optional[Sequence[Any]]]


@dataclass(frozen=True)
class TensorAttr:
    """A constant tensor attribute (``Const``'s ``value``)."""

    value: Any


@dataclass
class NodeSpec:
    """One node of the neutral graph description."""

    name: str
    op: str
    inputs: Sequence[str] = ()
    device: str = ""
    attrs: Mapping[str, Any] = field(default_factory=dict)


def _is_dtype_like(v: Any) -> bool:
    if isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, np.generic)):
        return True
    return hasattr(v, "np_dtype") or hasattr(v, "as_numpy_dtype")


def _list_value(items: Sequence[Any]) -> attr_value_pb2.AttrValue:
    lv = attr_value_pb2.AttrValue.ListValue()
    items = list(items)
    if not items:
        return attr_value_pb2.AttrValue(list=lv)
    first = items[0]
    if all(isinstance(x, bool) for x in items):
        lv.b.extend(items)
    elif all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in items):
        lv.i.extend(int(x) for x in items)
    elif all(isinstance(x, (int, float, np.integer, np.floating)) for x in items):
        lv.f.extend(float(x) for x in items)
    elif all(isinstance(x, (str, bytes)) for x in items):
        lv.s.extend(x.encode("utf-8") if isinstance(x, str) else x for x in items)
    elif all(isinstance(x, DTypeAttr) or _is_dtype_like(x) for x in items):
        lv.type.extend(datatype_enum(x.dtype if isinstance(x, DTypeAttr) else x) for x in items)
    elif all(isinstance(x, ShapeAttr) for x in items):
        lv.shape.extend(tensor_shape_proto(x.dims) for x in items)
    elif all(isinstance(x, (TensorAttr, np.ndarray)) for x in items):
        lv.tensor.extend(numpy_to_tensor_proto(x.value if isinstance(x, TensorAttr) else x) for x in items)
    else:
        raise TypeError(f"cannot make a list attribute of mixed or unsupported values starting with {first!r}")
    return attr_value_pb2.AttrValue(list=lv)


def attr_value(value: Any, key: str = "") -> attr_value_pb2.AttrValue:
    """Convert one attribute value (see the module docstring for the rules) to ``AttrValue``."""
    if isinstance(value, attr_value_pb2.AttrValue):
        return value
    if isinstance(value, DTypeAttr):
        return attr_value_pb2.AttrValue(type=datatype_enum(value.dtype))
    if isinstance(value, ShapeAttr):
        return attr_value_pb2.AttrValue(shape=tensor_shape_proto(value.dims))
    if isinstance(value, ShapeListAttr):
        lv = attr_value_pb2.AttrValue.ListValue(shape=[tensor_shape_proto(s) for s in value.shapes])
        return attr_value_pb2.AttrValue(list=lv)
    if isinstance(value, TensorAttr):
        return attr_value_pb2.AttrValue(tensor=numpy_to_tensor_proto(value.value))
    if key in _DTYPE_KEYS and not isinstance(value, (list, tuple)):
        return attr_value_pb2.AttrValue(type=datatype_enum(value))
    if key in _SHAPE_KEYS and (value is None or isinstance(value, (list, tuple))):
        return attr_value_pb2.AttrValue(shape=tensor_shape_proto(value))
    if key in _SHAPE_LIST_KEYS and isinstance(value, (list, tuple)):
        lv = attr_value_pb2.AttrValue.ListValue(shape=[tensor_shape_proto(s) for s in value])
        return attr_value_pb2.AttrValue(list=lv)
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return attr_value_pb2.AttrValue(b=bool(value))
    if isinstance(value, (int, np.integer)):
        return attr_value_pb2.AttrValue(i=int(value))
    if isinstance(value, (float, np.floating)):
        return attr_value_pb2.AttrValue(f=float(value))
    if isinstance(value, str):
        return attr_value_pb2.AttrValue(s=value.encode("utf-8"))
    if isinstance(value, bytes):
        return attr_value_pb2.AttrValue(s=value)
    if _is_dtype_like(value):
        return attr_value_pb2.AttrValue(type=datatype_enum(value))
    if isinstance(value, np.ndarray):
        return attr_value_pb2.AttrValue(tensor=numpy_to_tensor_proto(value))
    if isinstance(value, (list, tuple)):
        return _list_value(value)
    raise TypeError(f"cannot convert attribute {key!r} = {value!r} to an AttrValue")


def node_def(spec: NodeSpec) -> node_def_pb2.NodeDef:
    """One ``NodeDef``; attributes are written in sorted key order (the proto map has no order)."""
    nd = node_def_pb2.NodeDef(name=spec.name, op=spec.op, input=list(spec.inputs), device=spec.device or "")
    for key in sorted(spec.attrs):
        nd.attr[key].CopyFrom(attr_value(spec.attrs[key], key))
    return nd


def _input_node(name: str) -> str:
    name = name[1:] if name.startswith("^") else name
    head, sep, tail = name.rpartition(":")
    return head if sep and tail.isdigit() else name


def build_graph_def(nodes: Iterable[NodeSpec], check: bool = True) -> graph_pb2.GraphDef:
    """``GraphDef`` of the nodes, in the given order.

    With ``check`` (the default) duplicate node names, empty names and inputs naming no node are a
    ``ValueError`` — TensorBoard would silently draw such a graph wrong.
    """
    specs = list(nodes)
    if check:
        names: set[str] = set()
        for s in specs:
            if not s.name:
                raise ValueError(f"a {s.op} node has no name")
            if s.name in names:
                raise ValueError(f"duplicate node name {s.name!r}")
            names.add(s.name)
        for s in specs:
            for inp in s.inputs:
                if _input_node(inp) not in names:
                    raise ValueError(f"node {s.name!r} has input {inp!r}, which names no node of the graph")
    gd = graph_pb2.GraphDef(node=[node_def(s) for s in specs])
    gd.versions.CopyFrom(versions_pb2.VersionDef(producer=GRAPH_DEF_PRODUCER))
    return gd


def as_graph_def(graph: Any) -> graph_pb2.GraphDef:
    """A ``GraphDef`` from: a ``GraphDef`` proto, its serialized bytes, a list of :class:`NodeSpec`, or an
    object with ``as_graph_def()`` returning any of these (or with ``summary_nodes()`` returning nodes)."""
    if isinstance(graph, graph_pb2.GraphDef):
        return graph
    if isinstance(graph, (bytes, bytearray)):
        gd = graph_pb2.GraphDef()
        gd.ParseFromString(bytes(graph))
        return gd
    if isinstance(graph, (list, tuple)) and all(isinstance(n, NodeSpec) for n in graph):
        return build_graph_def(graph)
    if hasattr(graph, "summary_nodes"):
        return build_graph_def(graph.summary_nodes())
    if hasattr(graph, "as_graph_def"):
        gd = graph.as_graph_def()
        if isinstance(gd, graph_pb2.GraphDef):
            return gd
        if isinstance(gd, (bytes, bytearray)):
            return as_graph_def(gd)
        if hasattr(gd, "SerializeToString"):  # a GraphDef from another copy of the proto definitions
            return as_graph_def(gd.SerializeToString())
        return as_graph_def(gd)
    raise TypeError(f"cannot make a GraphDef from {type(graph).__name__}")
