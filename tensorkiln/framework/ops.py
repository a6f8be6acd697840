"""Operations and Tensors of a graph, and :func:`make_op`, the one way every API op is created.

An :class:`Operation` has TF's face (``name``, ``type`` such as ``"Add"``, ``inputs``, ``outputs``,
``control_inputs``, ``device``, ``graph``, ``run()``) and carries the compiler's neutral description
of itself, a :class:`~tensorkiln.compiler.frontend.graph.GraphNode` (``op._node``), with the
``build`` callback that emits its graph-dialect ops. :func:`make_op` computes static output shapes
at construction by running that same ``build`` on symbolic shapes (so construction and compilation
agree) and turns shape errors into TF's ``ValueError`` naming the op and the input shapes.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..compiler.frontend.graph import GraphNode, infer_static_types
from ..ir.diagnostics import CompileError
from ..ir.dialects.graph import ShapeMismatch
from . import dtypes as _dt
from .tensor_shape import TensorShape, as_shape


class Tensor:
    """A symbolic handle to one output of an Operation (``"add_1:0"``)."""

    _tk_element = "tensor"
    __array_priority__ = 100  # numpy defers to our reflected operators

    def __init__(self, op: "Operation", value_index: int, dtype: _dt.DType, shape: TensorShape):
        self._op = op
        self._value_index = value_index
        self._dtype = dtype
        self._shape = shape
        self._consumers: list[Operation] = []

    op = property(lambda self: self._op)
    graph = property(lambda self: self._op._graph)
    dtype = property(lambda self: self._dtype)
    value_index = property(lambda self: self._value_index)
    device = property(lambda self: self._op.device)

    @property
    def name(self) -> str:
        return f"{self._op.name}:{self._value_index}"

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    def set_shape(self, shape: Any) -> None:
        """Refine the static shape (merging; incompatible shapes raise ValueError)."""
        self._shape = self._shape.merge_with(as_shape(shape))
        node = self._op._node
        node.output_types[self._value_index] = (self._shape.as_tuple(), self._dtype.ir)

    def consumers(self) -> list["Operation"]:
        return list(self._consumers)

    def eval(self, feed_dict: Any = None, session: Any = None) -> Any:
        """The value of this tensor in ``session`` (default: the default session)."""
        from ..runtime.session import _session_for

        return _session_for(self.graph, session, "evaluate tensor").run(self, feed_dict)

    def _node_output(self) -> tuple[GraphNode, int]:
        return (self._op._node, self._value_index)

    def __repr__(self) -> str:
        return f"<tk.Tensor '{self.name}' shape={self._shape} dtype={self._dtype.name}>"

    def __str__(self) -> str:
        return f'Tensor("{self.name}", shape={self._shape}, dtype={self._dtype.name})'

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise TypeError("Using a `tk.Tensor` as a Python `bool` is not allowed. Use `if t is not None:` instead of "
                        "`if t:` to test if a tensor is defined, and use ops like tk.cond to execute subgraphs "
                        "conditioned on the value of a tensor.")

    def __iter__(self):
        n = self._shape[0].value if self._shape.ndims else None
        if self._shape.ndims == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        if n is None:
            raise TypeError("Cannot iterate over a tensor with unknown first dimension.")
        for i in range(n):
            yield self[i]

    def __len__(self) -> int:
        raise TypeError(f"len is not well defined for symbolic Tensors ({self.name}). Please call `x.shape` "
                        "rather than `len(x)` for shape information.")


class Operation:
    """A node of a :class:`~tensorkiln.framework.graph.Graph`."""

    _tk_element = "operation"

    def __init__(self, graph, op_type: str, name: str, inputs: Sequence[Tensor], output_types, control_inputs,
                 device: str, attrs: dict[str, Any], node: GraphNode):
        self._graph = graph
        self._type = op_type
        self._name = name
        self._inputs = tuple(inputs)
        self._control_inputs = list(control_inputs)
        self._device = device
        self._attrs = dict(attrs)
        self._node = node
        node.owner = self
        self._outputs = [Tensor(self, i, _dt.from_ir(dt), TensorShape(None if shape is None else list(shape)))
                         for i, (shape, dt) in enumerate(output_types)]
        for t in self._inputs:
            t._consumers.append(self)
        self._id = graph._next_id()

    name = property(lambda self: self._name)
    type = property(lambda self: self._type)
    graph = property(lambda self: self._graph)
    device = property(lambda self: self._device)
    inputs = property(lambda self: self._inputs)
    outputs = property(lambda self: list(self._outputs))
    control_inputs = property(lambda self: list(self._control_inputs))

    def values(self) -> tuple[Tensor, ...]:
        return tuple(self._outputs)

    @property
    def node_def(self) -> dict[str, Any]:
        """A dict with TF's NodeDef fields (``name``, ``op``, ``input``, ``device``, ``attr``)."""
        inputs = [t.name if t.value_index else t.op.name for t in self._inputs]
        inputs += ["^" + op.name for op in self._control_inputs]
        return {"name": self._name, "op": self._type, "input": inputs, "device": self._device, "attr": dict(self._attrs)}

    def get_attr(self, name: str) -> Any:
        if name not in self._attrs:
            raise ValueError(f"Operation '{self._name}' has no attr named '{name}'.")
        return self._attrs[name]

    def _set_device(self, device: str) -> None:
        from .device import canonical

        self._device = canonical(device)
        self._node.device = self._device

    def _add_control_input(self, op: "Operation") -> None:
        self._add_control_inputs([op])

    def _add_control_inputs(self, ops: Sequence["Operation"]) -> None:
        for op in ops:
            if op not in self._control_inputs:
                self._control_inputs.append(op)
                self._node.control_inputs.append(op._node)
        self._graph._structure_changed()

    def run(self, feed_dict: Any = None, session: Any = None) -> None:
        """Run this op (and what it needs) in ``session`` (default: the default session)."""
        from ..runtime.session import _session_for

        _session_for(self._graph, session, "execute operation").run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<tk.Operation '{self._name}' type={self._type}>"

    def __str__(self) -> str:
        ins = ", ".join(f'"{t.name}"' for t in self._inputs)
        return f'name: "{self._name}"\nop: "{self._type}"\ninput: [{ins}]\ndevice: "{self._device}"'


# --------------------------------------------------------------------------- creation


def graph_of(values: Sequence[Any], default=None):
    """The graph the tensors/ops in ``values`` belong to; ValueError if they disagree."""
    from .graph import get_default_graph

    g = None
    first = None
    for v in _flatten(values):
        vg = getattr(v, "graph", None) if getattr(type(v), "_tk_element", None) or hasattr(v, "_as_graph_element") else None
        if vg is None:
            continue
        if g is None:
            g, first = vg, v
        elif vg is not g:
            raise ValueError(f"{v} must be from the same graph as {first}.")
    return g if g is not None else (default if default is not None else get_default_graph())


def _flatten(values: Any):
    if isinstance(values, (list, tuple)):
        for v in values:
            yield from _flatten(v)
    elif values is not None:
        yield values


def _shapes_text(inputs: Sequence[Tensor]) -> str:
    return ", ".join(t.shape.tf_list_str() for t in inputs)


def _dim_text(d: Any) -> str:
    return str(d) if isinstance(d, int) else "?"


def shape_error(e: CompileError, name: str, op_type: str, inputs: Sequence[Tensor]) -> Exception:
    where = f"for '{name}' (op: '{op_type}') with input shapes: {_shapes_text(inputs)}."
    if isinstance(e, ShapeMismatch) and e.dims is not None and all(isinstance(d, int) for d in e.dims):
        return ValueError(f"Dimensions must be equal, but are {e.dims[0]} and {e.dims[1]} {where}  ({e.message})")
    if "dtype" in e.message and not isinstance(e, ShapeMismatch):
        return TypeError(f"{e.message} {where}")
    return ValueError(f"{e.message} {where}")


def make_op(op_type: str, inputs: Sequence[Tensor], *, name: str, build: Callable | None = None, kind: str = "op",
            out: Sequence[tuple[Any, Any]] | None = None, dtypes: Sequence[_dt.DType] | None = None,
            attrs: dict[str, Any] | None = None, node_attrs: dict[str, Any] | None = None, graph=None,
            unknown_rank_out: Sequence[tuple[Any, Any]] | None = None) -> Operation:
    """Create an op in the inputs' graph (or ``graph``/the default graph).

    ``name`` is a scope name ending in ``/`` (used as is, TF's convention) or a base name made unique.
    ``out`` gives the static output types ``(shape tuple or None, DType)``; when omitted they are
    inferred by running ``build`` on symbolic shapes. ``dtypes`` gives the output dtypes to use
    when an input has an unknown rank (default: the first input's dtype), ``unknown_rank_out``
    the whole output types in that case."""
    g = graph if graph is not None else graph_of(inputs)
    for t in inputs:
        if t.graph is not g:
            raise ValueError(f"{t} must be from the same graph as the op being created in {g}.")
    g._check_not_finalized()
    full = name[:-1] if name.endswith("/") else g.unique_name(name)
    if out is None:
        types = [(t.shape.as_tuple(), t.dtype.ir) for t in inputs]
        if any(s is None for s, _ in types):
            if unknown_rank_out is not None:
                out = unknown_rank_out
            else:
                out = [(None, d) for d in (dtypes or [inputs[0].dtype])]
        else:
            try:
                out = infer_static_types(build, types)
            except CompileError as e:
                raise shape_error(e, full, op_type, inputs) from None
    out = [(None if s is None else tuple(s), d.ir if isinstance(d, _dt.DType) else d) for s, d in out]
    return g._create_op(op_type, full, list(inputs), out, build, kind, attrs or {}, node_attrs or {})

