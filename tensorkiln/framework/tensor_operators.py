"""Python operators on Tensors: arithmetic, comparison, logic, ``@`` and ``[]`` (``strided_slice``).

As in TF 1.x, ``==`` and ``!=`` stay identity comparisons (Tensors are hashable keys), and the
operator ops are named like TF's (``a + b`` is op ``add``, ``a / b`` is ``truediv``, ``a[...]`` is
``strided_slice``). Indexing supports ints, slices (any step, negative bounds on known dims),
``...``, ``tk.newaxis`` (``None``) and scalar integer tensors. A tensor index, or an int on an
unknown dim, is a gather whose bounds are checked at run time (negative counts from the end; out of
range, ``Session.run`` raises InvalidArgumentError, as TF does); an int on a known dim is checked
when the graph is built (ValueError, as TF).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.types import SymDim
from . import array_ops, math_ops
from .constant_op import convert_to_tensor, is_tensor_like
from .graph import name_scope
from .ops import Tensor, make_op

newaxis = None


def _binop(fn, op_name: str, reflected: bool = False):
    def forward(self: Any, other: Any) -> Tensor:
        with name_scope(None, op_name, [self, other]) as scope:
            x = convert_to_tensor(self, name="x")
            y = convert_to_tensor(other, dtype=x.dtype if not is_tensor_like(other) else None, name="y")
            return fn(x, y, name=scope)

    def backward(self: Any, other: Any) -> Tensor:
        with name_scope(None, op_name, [self, other]) as scope:
            y = convert_to_tensor(self, name="y")
            x = convert_to_tensor(other, dtype=y.dtype if not is_tensor_like(other) else None, name="x")
            return fn(x, y, name=scope)
    return backward if reflected else forward


def _truediv(x, y, name):
    return math_ops.truediv(x, y, name=name)


def _install(cls: type) -> None:
    table = {
        "add": (math_ops.add, "add"), "sub": (math_ops.subtract, "sub"), "mul": (math_ops.multiply, "mul"),
        "truediv": (_truediv, "truediv"), "floordiv": (math_ops.floordiv, "floordiv"),
        "mod": (math_ops.floormod, "mod"), "pow": (math_ops.pow, "pow"), "matmul": (math_ops.matmul, "MatMul"),
        "and": (math_ops.logical_and, "and"), "or": (math_ops.logical_or, "or"), "xor": (math_ops.logical_xor, "xor"),
    }
    for key, (fn, op_name) in table.items():
        if key == "matmul":
            setattr(cls, "__matmul__", lambda a, b: math_ops.matmul(a, b))
            setattr(cls, "__rmatmul__", lambda a, b: math_ops.matmul(b, a))
            continue
        setattr(cls, f"__{key}__", _binop(fn, op_name))
        setattr(cls, f"__r{key}__", _binop(fn, op_name, reflected=True))
    cls.__div__ = cls.__truediv__
    cls.__rdiv__ = cls.__rtruediv__
    cls.__lt__ = lambda a, b: math_ops.less(a, b)
    cls.__le__ = lambda a, b: math_ops.less_equal(a, b)
    cls.__gt__ = lambda a, b: math_ops.greater(a, b)
    cls.__ge__ = lambda a, b: math_ops.greater_equal(a, b)
    cls.__neg__ = lambda a: math_ops.negative(a)
    cls.__abs__ = lambda a: math_ops.abs(a)
    cls.__invert__ = lambda a: math_ops.logical_not(a)
    cls.__getitem__ = getitem


# --------------------------------------------------------------------------- indexing


def _index_value(k: Any) -> Any:
    if k is None or isinstance(k, (int, np.integer)) and not isinstance(k, bool):
        return None if k is None else int(k)
    if is_tensor_like(k):
        v = array_ops.constant_value(k)
        if v is not None and v.shape == () and v.dtype.kind == "i":
            return int(v)
    raise TypeError(f"Only integers, slices (`:`), ellipsis (`...`), tk.newaxis (`None`) and scalar tk.int32/tk.int64 "
                    f"tensors are valid indices, got {k!r}")


def _parse_key(key: Any) -> tuple[list[tuple], list[Tensor]]:
    key = key if isinstance(key, tuple) else (key,)
    items: list[tuple] = []
    tensors: list[Tensor] = []
    for k in key:
        if k is Ellipsis:
            if any(i[0] == "ellipsis" for i in items):
                raise ValueError("An index can only have a single ellipsis ('...')")
            items.append(("ellipsis",))
        elif k is None:
            items.append(("newaxis",))
        elif isinstance(k, slice):
            items.append(("slice", _index_value(k.start), _index_value(k.stop), _index_value(k.step)))
        elif isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            items.append(("int", int(k)))
        elif is_tensor_like(k):
            t = convert_to_tensor(k)
            v = array_ops.constant_value(t)
            if v is not None and v.shape == () and v.dtype.kind == "i":
                items.append(("int", int(v)))
                continue
            if not t.dtype.is_integer or t.shape.ndims not in (0, None):
                raise TypeError(f"Only scalar tk.int32/tk.int64 tensors are valid indices, got {t}")
            items.append(("tensor", len(tensors) + 1))
            tensors.append(t)
        else:
            raise TypeError(f"Only integers, slices (`:`), ellipsis (`...`), tk.newaxis (`None`) and scalar "
                            f"tk.int32/tk.int64 tensors are valid indices, got {k!r}")
    return items, tensors


def _slice_build(items: list[tuple]):
    def build(ctx, ins):
        x = ins[0]
        shape = list(x.type.shape)
        rank = len(shape)
        consuming = sum(1 for i in items if i[0] in ("int", "slice", "tensor"))
        if consuming > rank:
            raise ValueError(f"Index out of range: {consuming} indices for a rank-{rank} tensor")
        full = []
        for it in items:
            if it[0] == "ellipsis":
                full += [("slice", None, None, None)] * (rank - consuming)
            else:
                full.append(it)
        if not any(i[0] == "ellipsis" for i in items):
            full += [("slice", None, None, None)] * (rank - consuming)
        begin, size, strides = [0] * rank, list(shape), [1] * rank
        reversed_axes: list[tuple[int, list[int]]] = []
        gathers: list[tuple[int, Any]] = []  # (input axis, scalar index value)
        dropped: set[int] = set()
        final: list[Any] = []  # input axis kept, or None for a new axis
        d = 0
        for it in full:
            if it[0] == "newaxis":
                final.append(None)
                continue
            dim = shape[d]
            if it[0] == "int":
                i = it[1]
                if isinstance(dim, SymDim):  # bounds known only at run time: a checked gather
                    gathers.append((d, ctx.b.op("graph.constant", value=np.array(i, dtype=np.int64))))
                    d += 1
                    continue
                if i < 0:
                    i += dim
                if not 0 <= i < dim:
                    raise ValueError(f"slice index {it[1]} of dimension {d} out of bounds.")
                begin[d], size[d] = i, 1
                dropped.add(d)
            elif it[0] == "tensor":
                gathers.append((d, ins[it[1]]))
            else:
                _, start, stop, step = it
                step = 1 if step is None else step
                if step == 0:
                    raise ValueError("slice step cannot be zero")
                if isinstance(dim, SymDim):
                    if step != 1 or (start is not None and start < 0) or stop is not None:
                        raise ValueError(f"slice {start}:{stop}:{step} of unknown dimension {d} needs a known "
                                         "dimension (only `start:` with start >= 0 is allowed)")
                    begin[d], size[d] = start or 0, -1
                else:
                    idx = range(*slice(start, stop, step).indices(dim))
                    if step > 0:
                        begin[d], size[d], strides[d] = (idx.start if len(idx) else 0), len(idx), step
                    else:
                        reversed_axes.append((d, list(idx)))
                final.append(d)
            d += 1
        y = x
        if begin != [0] * rank or any(s != dim for s, dim in zip(size, shape)) or strides != [1] * rank:
            y = ctx.b.op("graph.slice", y, begin=begin, size=size,
                         strides=strides if strides != [1] * rank else None)
        for axis, idx in reversed_axes:
            const = ctx.b.op("graph.constant", value=np.array(idx, dtype=np.int64))
            y = ctx.b.op("graph.gather", y, const, axis=axis)
        for axis, ix in sorted(gathers, key=lambda g: g[0], reverse=True):
            # a negative index counts from the end, as in TF's strided_slice
            dim = y.type.shape[axis]
            zero = ctx.b.op("graph.constant", value=np.array(0, dtype=ix.type.dtype.np_dtype))
            ix = ctx.b.op("graph.where", ctx.b.op("graph.lt", ix, zero),
                          ctx.b.op("graph.add", ix, ctx.dim_value(dim, ix.type.dtype)), ix)
            ctx.check_indices(ix, dim, "slice", axis)
            y = ctx.b.op("graph.gather", y, ix, axis=axis)
        gathered = {a for a, _ in gathers}
        remaining = [a for a in range(rank) if a not in gathered]
        sizes = dict(zip(remaining, y.type.shape))
        target = tuple(1 if a is None else sizes[a] for a in final if a is None or a not in gathered)
        if tuple(y.type.shape) != target:
            y = ctx.b.op("graph.reshape", y, shape=target)
        return [y]
    return build


def getitem(tensor: Any, key: Any) -> Tensor:
    """``tensor[key]`` as TF's ``strided_slice``."""
    with name_scope(None, "strided_slice", [tensor]) as scope:
        x = convert_to_tensor(tensor)
        items, tensors = _parse_key(key)
        try:
            return make_op("StridedSlice", [x] + tensors, name=scope, build=_slice_build(items),
                           attrs={"T": x.dtype, "index": tuple(items)}, dtypes=[x.dtype]).outputs[0]
        except ValueError as e:
            if "(op: " in str(e):
                raise
            raise ValueError(f"{e} for '{scope[:-1]}' (op: 'StridedSlice') with input shapes: "
                             f"{x.shape.tf_list_str()}.") from None


_install(Tensor)
