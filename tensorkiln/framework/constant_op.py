"""``tk.constant`` and ``convert_to_tensor``: Python and numpy values become ``Const`` ops.

Dtype rules are TF's: a Python float is float32, an int int32 (int64 when it does not fit), a bool
bool; numpy values keep their dtype (float64 stays float64). When a dtype is requested, numpy
arrays are cast to it, while Python values must fit it (``1.5`` as int32 is a ``TypeError``).
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import dtypes as _dt
from .ops import Tensor, make_op
from .tensor_shape import Dimension, TensorShape


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for v in value:
            out.extend(_leaves(v))
        return out
    return [value]


def _python_dtype(value: Any) -> _dt.DType:
    leaves = _leaves(value)
    if leaves and all(isinstance(v, (bool, np.bool_)) for v in leaves):
        return _dt.bool_
    if any(isinstance(v, (float, np.floating)) for v in leaves):
        return _dt.float32
    if all(isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in leaves):
        if all(-2**31 <= int(v) < 2**31 for v in leaves):
            return _dt.int32
        return _dt.int64
    bad = next((v for v in leaves if not isinstance(v, (numbers.Number, np.generic))), None)
    raise TypeError(f"Failed to convert object of type {type(bad if bad is not None else value).__name__} to Tensor. "
                    f"Contents: {value!r}. Consider casting elements to a supported type.")


def _assert_compatible(value: Any, dtype: _dt.DType) -> None:
    for v in _leaves(value):
        if isinstance(v, (np.generic, np.ndarray)):
            continue
        ok = isinstance(v, bool) if dtype.is_bool else (
            isinstance(v, numbers.Integral) and not isinstance(v, bool) if dtype.is_integer else
            isinstance(v, numbers.Real) and not isinstance(v, bool))
        if not ok:
            raise TypeError(f"Expected {dtype.name}, got {v!r} of type '{type(v).__name__}' instead.")


def to_numpy(value: Any, dtype: Any = None) -> np.ndarray:
    """The array a constant of ``value`` holds, with TF's dtype rules."""
    dtype = _dt.as_dtype(dtype) if dtype is not None else None
    if isinstance(value, TensorShape):
        value = value.as_list()
    if isinstance(value, Dimension):
        value = value.value
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if dtype is None:
            dtype = _dt.as_dtype(arr.dtype)
        return np.array(arr, dtype=dtype.as_numpy_dtype, order="C")
    if isinstance(value, (list, tuple)):
        value = [v.value if isinstance(v, Dimension) else v for v in value] if all(
            not isinstance(v, (list, tuple)) for v in value) else value
    if dtype is None:
        dtype = _python_dtype(value)
    else:
        _assert_compatible(value, dtype)
    try:
        arr = np.array(value, dtype=dtype.as_numpy_dtype)
    except (ValueError, TypeError) as e:
        raise ValueError(f"Argument must be a dense tensor: {value!r} ({e})") from None
    if arr.dtype == object:
        raise ValueError(f"Argument must be a dense tensor: {value!r}")
    return arr


def _constant_build(value: np.ndarray):
    def build(ctx, inputs):
        return [ctx.b.op("graph.constant", value=value)]
    return build


def constant(value: Any, dtype: Any = None, shape: Any = None, name: str = "Const", verify_shape: bool = False) -> Tensor:
    """``tk.constant``: a ``Const`` op. With ``shape``, a scalar is broadcast and a shorter list is
    padded with its last element (TF 1.x); ``verify_shape=True`` requires an exact shape."""
    arr = to_numpy(value, dtype)
    if shape is not None:
        shape = tuple(int(d) for d in TensorShape(shape).as_list())
        n = int(np.prod(shape, dtype=np.int64))
        if arr.shape != shape:
            if verify_shape:
                raise TypeError(f"Expected Tensor's shape: {shape}, got {arr.shape}.")
            flat = arr.reshape(-1)
            if flat.size == 1:
                arr = np.full(shape, flat[0], dtype=arr.dtype)
            elif flat.size > n:
                raise TypeError(f"Too many elements provided. Needed at most {n}, but received {flat.size}")
            elif flat.size == 0:
                raise ValueError(f"cannot fill shape {shape} from an empty value")
            else:
                arr = np.concatenate([flat, np.repeat(flat[-1:], n - flat.size)]).reshape(shape)
    arr = np.array(arr, order="C")  # a private copy (0-d stays 0-d)
    arr.setflags(write=False)
    dt = _dt.as_dtype(arr.dtype)
    op = make_op("Const", [], name=name, build=_constant_build(arr), out=[(arr.shape, dt)],
                 attrs={"value": arr, "dtype": dt})
    return op.outputs[0]


def convert_to_tensor(value: Any, dtype: Any = None, name: str | None = None, preferred_dtype: Any = None,
                      dtype_hint: Any = None) -> Tensor:
    """A Tensor for ``value``: Tensors pass through (dtype checked), Variables give their value,
    lists containing Tensors are stacked, anything else becomes a constant."""
    dtype = _dt.as_dtype(dtype) if dtype is not None else None
    kind = getattr(type(value), "_tk_element", None)
    if kind == "tensor":
        if dtype is not None and value.dtype != dtype:
            raise ValueError(f"Tensor conversion requested dtype {dtype.name} for Tensor with dtype "
                             f"{value.dtype.name}: {value!r}")
        return value
    if kind == "operation":
        raise TypeError(f"Can't convert Operation '{value.name}' to Tensor (target dtype={dtype}, name={name})")
    if hasattr(value, "_as_tensor"):
        return convert_to_tensor(value._as_tensor(), dtype, name)
    if isinstance(value, (list, tuple)) and any(getattr(type(v), "_tk_element", None) == "tensor" or hasattr(v, "_as_tensor")
                                                for v in _leaves(value)):
        from .array_ops import stack

        return stack(value, name=name or "packed", _dtype=dtype)
    hint = preferred_dtype if preferred_dtype is not None else dtype_hint
    if dtype is None and hint is not None:
        try:
            return constant(value, dtype=hint, name=name or "Const")
        except (TypeError, ValueError):
            pass
    return constant(value, dtype=dtype, name=name or "Const")


def is_tensor_like(x: Any) -> bool:
    return getattr(type(x), "_tk_element", None) == "tensor" or hasattr(x, "_as_tensor")
