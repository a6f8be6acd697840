"""Variable buffers and their updates: the ``VariableV2`` op and ``Assign``/``AssignAdd``/``AssignSub``.

A ``VariableV2`` op is a buffer the Session owns; consuming its tensor reads the buffer. An assign
op writes a new value (``AssignAdd``/``AssignSub``: the current value plus/minus ``value``) and
its output is the variable again, read after the assignment (TF's ref semantics). In the compiled
function the last assignment of each variable is one ``graph.assign``, in place.
"""
from __future__ import annotations

from typing import Any

from . import dtypes as _dt
from .constant_op import convert_to_tensor
from .graph import name_scope
from .ops import Tensor, make_op
from .tensor_shape import TensorShape, as_shape


def variable_op(shape: Any, dtype: Any, name: str) -> Tensor:
    s = as_shape(shape)
    dt = _dt.as_dtype(dtype)
    op = make_op("VariableV2", [], name=name, kind="variable", out=[(s.as_tuple(), dt)],
                 attrs={"shape": s, "dtype": dt, "container": "", "shared_name": ""})
    return op.outputs[0]


def _ref(ref: Any, op_type: str) -> Tensor:
    if hasattr(ref, "_as_graph_element") and getattr(type(ref), "_tk_element", None) is None:
        ref = ref._as_graph_element()
    if getattr(type(ref), "_tk_element", None) != "tensor" or ref.op.type != "VariableV2":
        raise TypeError(f"'{op_type}' Op requires that input 'ref' be a mutable tensor (a Variable), got {ref!r}")
    return ref


def _assign(op_type: str, mode: str, ref: Any, value: Any, validate_shape: bool | None, name: str | None) -> Tensor:
    r = _ref(ref, op_type)
    with name_scope(name, op_type, [r, value]) as scope:
        v = convert_to_tensor(value, dtype=r.dtype, name="value")
        check = validate_shape is not False or mode != "set"
        if check and not r.shape.is_compatible_with(v.shape):
            raise ValueError(
                f"Shapes must be compatible, but are {r.shape.tf_list_str()} and {v.shape.tf_list_str()} for "
                f"'{scope[:-1]}' (op: '{op_type}') with input shapes: {r.shape.tf_list_str()}, {v.shape.tf_list_str()}.")
        shape = r.shape.merge_with(v.shape) if check else TensorShape(v.shape)
        op = make_op(op_type, [r, v], name=scope, kind="assign", out=[(shape.as_tuple(), r.dtype)],
                     node_attrs={"mode": mode},
                     attrs={"T": r.dtype, "validate_shape": check, "use_locking": True})
        return op.outputs[0]


def assign(ref: Any, value: Any, validate_shape: bool | None = None, use_locking: bool | None = None,
           name: str | None = None) -> Tensor:
    """Write ``value`` into the variable ``ref``; the result is the variable after the write."""
    return _assign("Assign", "set", ref, value, validate_shape, name)


def assign_add(ref: Any, value: Any, use_locking: bool | None = None, name: str | None = None) -> Tensor:
    return _assign("AssignAdd", "add", ref, value, True, name)


def assign_sub(ref: Any, value: Any, use_locking: bool | None = None, name: str | None = None) -> Tensor:
    return _assign("AssignSub", "sub", ref, value, True, name)
