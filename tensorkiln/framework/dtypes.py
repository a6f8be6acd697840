"""TensorFlow's dtype objects (``tk.float32`` …) and :func:`as_dtype`.

A :class:`DType` is the user-facing spelling of one of the IR's element types: it has TF's name
(``"float32"``), its numpy type (``as_numpy_dtype``), its enum value (``as_datatype_enum``, the same
numbers as TF's ``types.proto``) and the IR dtype it compiles to (``ir``). Only the five element
types the compiler has exist: float32, float64, int32, int64 and bool.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import types as irt


class DType:
    """One element type; compares equal to anything :func:`as_dtype` maps to it."""

    __slots__ = ("_name", "_np", "_enum", "_ir")

    def __init__(self, name: str, np_type: type, enum: int, ir: irt.DType):
        self._name = name
        self._np = np_type
        self._enum = enum
        self._ir = ir

    name = property(lambda self: self._name)
    as_numpy_dtype = property(lambda self: self._np, doc="The numpy scalar type, e.g. ``np.float32``.")
    as_datatype_enum = property(lambda self: self._enum)
    ir = property(lambda self: self._ir, doc="The IR element type this dtype compiles to.")
    base_dtype = property(lambda self: self)
    real_dtype = property(lambda self: self)
    is_floating = property(lambda self: self._ir.is_float)
    is_integer = property(lambda self: self._ir.is_int)
    is_bool = property(lambda self: self._ir.is_bool)
    is_complex = property(lambda self: False)
    is_quantized = property(lambda self: False)
    is_unsigned = property(lambda self: False)
    is_numpy_compatible = property(lambda self: True)
    size = property(lambda self: np.dtype(self._np).itemsize)

    @property
    def min(self) -> Any:
        if self.is_bool:
            raise TypeError(f"Cannot find minimum value of {self!r}.")
        info = np.finfo(self._np) if self.is_floating else np.iinfo(self._np)
        return info.min

    @property
    def max(self) -> Any:
        if self.is_bool:
            raise TypeError(f"Cannot find maximum value of {self!r}.")
        info = np.finfo(self._np) if self.is_floating else np.iinfo(self._np)
        return info.max

    def is_compatible_with(self, other: Any) -> bool:
        try:
            return as_dtype(other) is self
        except TypeError:
            return False

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if other is None:
            return False
        try:
            return as_dtype(other) is self
        except TypeError:
            return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return self._enum

    def __repr__(self) -> str:
        return f"tk.{self._name}"

    def __str__(self) -> str:
        return f"<dtype: '{self._name}'>"

    def __reduce__(self):
        return as_dtype, (self._name,)


float32 = DType("float32", np.float32, 1, irt.f32)
float64 = DType("float64", np.float64, 2, irt.f64)
int32 = DType("int32", np.int32, 3, irt.i32)
int64 = DType("int64", np.int64, 9, irt.i64)
bool_ = DType("bool", np.bool_, 10, irt.i1)
double = float64

ALL = (float32, float64, int32, int64, bool_)
_BY_NAME = {d.name: d for d in ALL} | {"double": float64, "float": float32, "int": int32, "long": int64}
_BY_ENUM = {d.as_datatype_enum: d for d in ALL}
_BY_NP = {np.dtype(d.as_numpy_dtype): d for d in ALL}
_BY_IR = {d.ir: d for d in ALL}


def as_dtype(type_value: Any) -> DType:
    """``tk.as_dtype``: a DType from a DType, name, numpy type/dtype, Python type, enum or IR dtype."""
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, str):
        d = _BY_NAME.get(type_value)
        if d is not None:
            return d
    elif isinstance(type_value, irt.DType):
        return _BY_IR[type_value]
    elif isinstance(type_value, int) and not isinstance(type_value, bool):
        d = _BY_ENUM.get(type_value)
        if d is not None:
            return d
    else:
        try:
            npd = np.dtype(type_value)
        except (TypeError, ValueError):
            npd = None
        if npd is not None and npd in _BY_NP:
            return _BY_NP[npd]
    raise TypeError(f"Cannot convert value {type_value!r} to a tensorkiln DType (supported: "
                    f"{', '.join(d.name for d in ALL)}).")


def from_ir(d: irt.DType) -> DType:
    return _BY_IR[d]


def tf_short_name(d: DType) -> str:
    """The name TF uses for a dtype in op error messages (``float`` for float32)."""
    return {"float32": "float", "float64": "double"}.get(d.name, d.name)
