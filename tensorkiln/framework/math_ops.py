"""Math ops: elementwise arithmetic, comparisons, logic, casts, reductions, matmul, argmax/argmin.

Each function converts its inputs as TF does (a Python number takes the dtype of the tensor it meets;
two tensors of different dtypes are a ``TypeError``), opens TF's name scope and creates one op whose
``build`` emits graph-dialect ops. Reductions take ``axis=``/``keepdims=`` and the old
``reduction_indices=``/``keep_dims=``; ``reduce_mean`` of integers truncates, as TF.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..ir.types import dim_product
from . import dtypes as _dt
from .constant_op import convert_to_tensor, is_tensor_like
from .graph import name_scope
from .ops import Tensor, make_op


def prim(graph_op: str, **attrs: Any):
    """The build of an op that is exactly one graph-dialect op."""
    def build(ctx, inputs):
        return [ctx.b.op(graph_op, *inputs, **attrs)]
    build.__qualname__ = f"prim({graph_op})"
    return build


# --------------------------------------------------------------------------- elementwise


def unary(op_type: str, graph_op: str, x: Any, name: str | None, allowed: str = "numeric") -> Tensor:
    with name_scope(name, op_type, [x]) as scope:
        x = convert_to_tensor(x, name="x")
        _check_dtype(op_type, "x", x.dtype, allowed)
        return make_op(op_type, [x], name=scope, build=prim(graph_op), attrs={"T": x.dtype}).outputs[0]


def _check_dtype(op_type: str, arg: str, dt: _dt.DType, allowed: str) -> None:
    ok = {"float": dt.is_floating, "numeric": not dt.is_bool, "bool": dt.is_bool, "any": True,
          "int": dt.is_integer}[allowed]
    if not ok:
        raise TypeError(f"Value passed to parameter '{arg}' has DataType {dt.name} not in list of allowed values "
                        f"for '{op_type}' ({allowed} types)")


def binary_inputs(op_type: str, x: Any, y: Any) -> tuple[Tensor, Tensor]:
    """Convert x and y for a two-input op: Python values take the other input's dtype."""
    if is_tensor_like(x) or not is_tensor_like(y):
        x = convert_to_tensor(x, name="x")
        y = convert_to_tensor(y, dtype=x.dtype if not is_tensor_like(y) else None, name="y")
    else:
        y0 = convert_to_tensor(y)
        x = convert_to_tensor(x, dtype=y0.dtype, name="x")
        y = y0
    if x.dtype != y.dtype:
        raise TypeError(f"Input 'y' of '{op_type}' Op has type {y.dtype.name} that does not match type "
                        f"{x.dtype.name} of argument 'x'.")
    return x, y


def binary(op_type: str, graph_op: str, x: Any, y: Any, name: str | None, allowed: str = "numeric",
           out_dtype: _dt.DType | None = None) -> Tensor:
    with name_scope(name, op_type, [x, y]) as scope:
        x, y = binary_inputs(op_type, x, y)
        _check_dtype(op_type, "x", x.dtype, allowed)
        return make_op(op_type, [x, y], name=scope, build=prim(graph_op), attrs={"T": x.dtype},
                       dtypes=[out_dtype or x.dtype]).outputs[0]


def add(x, y, name=None): return binary("Add", "graph.add", x, y, name)
def subtract(x, y, name=None): return binary("Sub", "graph.sub", x, y, name)
def multiply(x, y, name=None): return binary("Mul", "graph.mul", x, y, name)
def maximum(x, y, name=None): return binary("Maximum", "graph.maximum", x, y, name)
def minimum(x, y, name=None): return binary("Minimum", "graph.minimum", x, y, name)
def pow(x, y, name=None): return binary("Pow", "graph.pow", x, y, name)  # noqa: A001
def floordiv(x, y, name=None): return binary("FloorDiv", "graph.floordiv", x, y, name)
def floormod(x, y, name=None): return binary("FloorMod", "graph.mod", x, y, name)
def realdiv(x, y, name=None): return binary("RealDiv", "graph.div", x, y, name, allowed="float")
def truncatediv(x, y, name=None): return binary("TruncateDiv", "graph.div", x, y, name, allowed="int")


sub = subtract
mul = multiply
mod = floormod
floor_div = floordiv


def truediv(x: Any, y: Any, name: str | None = None) -> Tensor:
    """True division; int32/int64 operands are cast to float64 first (TF's rule)."""
    with name_scope(name, "truediv", [x, y]) as scope:
        x, y = binary_inputs("RealDiv", x, y)
        if x.dtype.is_bool:
            raise TypeError(f"Invalid dtype {x.dtype.name} in __truediv__")
        if x.dtype.is_integer:
            x, y = cast(x, _dt.float64), cast(y, _dt.float64)
        return make_op("RealDiv", [x, y], name=scope, build=prim("graph.div"), attrs={"T": x.dtype}).outputs[0]


def divide(x: Any, y: Any, name: str | None = None) -> Tensor:
    """``x / y`` (true division)."""
    if name is not None:
        with name_scope(name) as scope:
            return truediv(x, y, name=scope)
    return truediv(x, y)


def div(x: Any, y: Any, name: str | None = None) -> Tensor:
    """TF 1's ``tf.div``: floor division for integers, true division for floats."""
    x, y = binary_inputs("Div", x, y)
    if x.dtype.is_integer:
        return floordiv(x, y, name=name or "div")
    return realdiv(x, y, name=name or "div")


def negative(x, name=None): return unary("Neg", "graph.neg", x, name)
def abs(x, name=None): return unary("Abs", "graph.abs", x, name)  # noqa: A001
def square(x, name=None): return unary("Square", "graph.square", x, name)
def sign(x, name=None): return unary("Sign", "graph.sign", x, name)
def exp(x, name=None): return unary("Exp", "graph.exp", x, name, "float")
def log(x, name=None): return unary("Log", "graph.log", x, name, "float")
def sqrt(x, name=None): return unary("Sqrt", "graph.sqrt", x, name, "float")
def rsqrt(x, name=None): return unary("Rsqrt", "graph.rsqrt", x, name, "float")
def tanh(x, name=None): return unary("Tanh", "graph.tanh", x, name, "float")
def sigmoid(x, name=None): return unary("Sigmoid", "graph.sigmoid", x, name, "float")
def floor(x, name=None): return unary("Floor", "graph.floor", x, name, "float")
def ceil(x, name=None): return unary("Ceil", "graph.ceil", x, name, "float")
def round(x, name=None): return unary("Round", "graph.round", x, name, "float")  # noqa: A001
def reciprocal(x, name=None): return unary("Reciprocal", "graph.reciprocal", x, name, "float")
def expm1(x, name=None): return unary("Expm1", "graph.expm1", x, name, "float")
def log1p(x, name=None): return unary("Log1p", "graph.log1p", x, name, "float")
def sin(x, name=None): return unary("Sin", "graph.sin", x, name, "float")
def cos(x, name=None): return unary("Cos", "graph.cos", x, name, "float")
def erf(x, name=None): return unary("Erf", "graph.erf", x, name, "float")
def logical_not(x, name=None): return unary("LogicalNot", "graph.logical_not", x, name, "bool")


neg = negative


def logical_and(x, y, name=None): return binary("LogicalAnd", "graph.logical_and", x, y, name, "bool")
def logical_or(x, y, name=None): return binary("LogicalOr", "graph.logical_or", x, y, name, "bool")
def logical_xor(x, y, name="LogicalXor"): return binary("LogicalXor", "graph.logical_xor", x, y, name, "bool")


def _compare(op_type: str, graph_op: str, allowed: str):
    def fn(x: Any, y: Any, name: str | None = None) -> Tensor:
        return binary(op_type, graph_op, x, y, name, allowed, out_dtype=_dt.bool_)
    fn.__name__ = op_type
    return fn


equal = _compare("Equal", "graph.eq", "any")
not_equal = _compare("NotEqual", "graph.ne", "any")
less = _compare("Less", "graph.lt", "numeric")
less_equal = _compare("LessEqual", "graph.le", "numeric")
greater = _compare("Greater", "graph.gt", "numeric")
greater_equal = _compare("GreaterEqual", "graph.ge", "numeric")


def cast(x: Any, dtype: Any, name: str | None = None) -> Tensor:
    """``x`` as ``dtype`` (floats to ints truncate; to bool is ``!= 0``); ``x`` itself if same."""
    dtype = _dt.as_dtype(dtype)
    if is_tensor_like(x):
        x = convert_to_tensor(x)
        if x.dtype == dtype:
            return x
    with name_scope(name, "Cast", [x]) as scope:
        x = convert_to_tensor(x, name="x")
        if x.dtype == dtype:
            return x
        return make_op("Cast", [x], name=scope, build=prim("graph.cast", dtype=dtype.ir), dtypes=[dtype],
                       attrs={"SrcT": x.dtype, "DstT": dtype}).outputs[0]


def to_float(x, name="ToFloat"): return cast(x, _dt.float32, name)
def to_double(x, name="ToDouble"): return cast(x, _dt.float64, name)
def to_int32(x, name="ToInt32"): return cast(x, _dt.int32, name)
def to_int64(x, name="ToInt64"): return cast(x, _dt.int64, name)


def clip_by_value(t: Any, clip_value_min: Any, clip_value_max: Any, name: str | None = None) -> Tensor:
    """``min(max(t, lo), hi)`` elementwise (bounds broadcast against ``t``)."""
    with name_scope(name, "clip_by_value", [t, clip_value_min, clip_value_max]) as scope:
        t = convert_to_tensor(t, name="t")
        lo = convert_to_tensor(clip_value_min, dtype=t.dtype, name="clip_value_min")
        hi = convert_to_tensor(clip_value_max, dtype=t.dtype, name="clip_value_max")

        def build(ctx, ins):
            x, a, b = ins
            return [ctx.b.op("graph.minimum", ctx.b.op("graph.maximum", x, a), b)]
        return make_op("ClipByValue", [t, lo, hi], name=scope, build=build, attrs={"T": t.dtype}).outputs[0]


def add_n(inputs: Sequence[Any], name: str | None = None) -> Tensor:
    """The elementwise sum of a list of tensors of one shape and dtype."""
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise ValueError("inputs must be a non-empty list of tensors of the same shape and type.")
    with name_scope(name, "AddN", list(inputs)) as scope:
        ts = [convert_to_tensor(x) for x in inputs]
        for t in ts[1:]:
            if t.dtype != ts[0].dtype:
                raise TypeError(f"inputs of AddN must all have dtype {ts[0].dtype.name}, got {t.dtype.name}")
        if len(ts) == 1:
            from .array_ops import identity

            return identity(ts[0], name=scope[:-1] if scope else None)

        def build(ctx, ins):
            acc = ins[0]
            for v in ins[1:]:
                if v.type.shape != ins[0].type.shape:
                    from ..ir.dialects.graph import ShapeMismatch

                    raise ShapeMismatch(f"'AddN': shapes {ins[0].type} and {v.type} differ", None,
                                        next(((a, b) for a, b in zip(ins[0].type.shape, v.type.shape) if a != b), None))
                acc = ctx.b.op("graph.add", acc, v)
            return [acc]
        return make_op("AddN", ts, name=scope, build=build, attrs={"N": len(ts), "T": ts[0].dtype}).outputs[0]


# --------------------------------------------------------------------------- reductions


def _axes(axis: Any, reduction_indices: Any) -> Any:
    if axis is not None and reduction_indices is not None:
        raise ValueError("Can not specify both 'axis' and 'reduction_indices'.")
    axis = axis if axis is not None else reduction_indices
    if axis is None:
        return None
    if is_tensor_like(axis):
        from .array_ops import constant_value

        v = constant_value(convert_to_tensor(axis))
        if v is None:
            raise ValueError("reduction axes must be known when the graph is built (a constant)")
        axis = v
    return tuple(int(a) for a in np.atleast_1d(np.asarray(axis)).reshape(-1))


def _keep(keepdims: Any, keep_dims: Any) -> bool:
    if keepdims is not None and keep_dims is not None:
        raise ValueError("Can not specify both 'keepdims' and 'keep_dims'.")
    k = keepdims if keepdims is not None else keep_dims
    return bool(k) if k is not None else False


def _reduce_build(graph_op: str, axes: tuple[int, ...] | None, keep: bool, int_mean: bool = False):
    def build(ctx, ins):
        x = ins[0]
        if axes is not None and not axes:
            return [x]
        if not int_mean:
            return [ctx.b.op(graph_op, x, axes=axes, keepdims=keep)]
        s = ctx.b.op("graph.reduce_sum", x, axes=axes, keepdims=keep)
        rank = x.type.rank
        ax = range(rank) if axes is None else sorted({a % rank for a in axes}) if rank else ()
        n = ctx.dim_value(dim_product(x.type.shape[a] for a in ax), x.type.dtype)
        return [ctx.b.op("graph.div", s, n)]  # integer graph.div truncates toward zero, as TF
    return build


def _reduction(op_type: str, graph_op: str, allowed: str):
    def fn(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
           reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
        axes = _axes(axis, reduction_indices)
        keep = _keep(keepdims, keep_dims)
        with name_scope(name, op_type, [input_tensor]) as scope:
            x = convert_to_tensor(input_tensor, name="input")
            _check_dtype(op_type, "input", x.dtype, allowed)
            int_mean = op_type == "Mean" and x.dtype.is_integer
            build = _reduce_build(graph_op, axes, keep, int_mean)
            if x.dtype.is_bool:
                build = _bool_reduce_build(graph_op, axes, keep)
            return make_op(op_type, [x], name=scope, build=build, attrs={"T": x.dtype, "keep_dims": keep}).outputs[0]
    fn.__name__ = "reduce_" + op_type.lower()
    return fn


def _bool_reduce_build(graph_op: str, axes, keep):
    inner = _reduce_build(graph_op, axes, keep)

    def build(ctx, ins):
        from ..ir.types import i32, i1

        as_int = ctx.b.op("graph.cast", ins[0], dtype=i32)
        return [ctx.b.op("graph.cast", inner(ctx, [as_int])[0], dtype=i1)]
    return build


reduce_sum = _reduction("Sum", "graph.reduce_sum", "numeric")
reduce_mean = _reduction("Mean", "graph.reduce_mean", "numeric")
reduce_max = _reduction("Max", "graph.reduce_max", "numeric")
reduce_min = _reduction("Min", "graph.reduce_min", "numeric")
reduce_prod = _reduction("Prod", "graph.reduce_prod", "numeric")
reduce_any = _reduction("Any", "graph.reduce_max", "bool")
reduce_all = _reduction("All", "graph.reduce_min", "bool")


# --------------------------------------------------------------------------- matmul, argmax


def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False, adjoint_a: bool = False,
           adjoint_b: bool = False, a_is_sparse: bool = False, b_is_sparse: bool = False, name: str | None = None) -> Tensor:
    """``a @ b`` over the last two dims (leading dims broadcast, as a batch)."""
    ta, tb = bool(transpose_a or adjoint_a), bool(transpose_b or adjoint_b)
    with name_scope(name, "MatMul", [a, b]) as scope:
        a, b = binary_inputs("MatMul", a, b)
        _check_dtype("MatMul", "a", a.dtype, "numeric")
        for t, label in ((a, "a"), (b, "b")):
            if t.shape.ndims is not None and t.shape.ndims < 2:
                raise ValueError(f"Shape must be rank 2 but is rank {t.shape.ndims} for '{scope[:-1]}' (op: 'MatMul') "
                                 f"with input shapes: {a.shape.tf_list_str()}, {b.shape.tf_list_str()}.")
        batched = (a.shape.ndims or 2) > 2 or (b.shape.ndims or 2) > 2
        return make_op("BatchMatMul" if batched else "MatMul", [a, b], name=scope,
                       build=prim("graph.matmul", transpose_a=ta, transpose_b=tb),
                       attrs={"T": a.dtype, "transpose_a": ta, "transpose_b": tb}).outputs[0]


def _arg_reduce(op_type: str, graph_op: str):
    def fn(input: Any, axis: Any = None, name: str | None = None, dimension: Any = None,
           output_type: Any = _dt.int64) -> Tensor:
        if axis is not None and dimension is not None:
            raise ValueError("Cannot specify both 'axis' and 'dimension'")
        ax = axis if axis is not None else dimension
        ax = 0 if ax is None else int(_axes(ax, None)[0])
        out = _dt.as_dtype(output_type)
        with name_scope(name, op_type, [input]) as scope:
            x = convert_to_tensor(input, name="input")
            _check_dtype(op_type, "input", x.dtype, "numeric")
            return make_op(op_type, [x], name=scope, build=prim(graph_op, axis=ax, dtype=out.ir), dtypes=[out],
                           attrs={"T": x.dtype, "output_type": out}).outputs[0]
    fn.__name__ = op_type.lower()
    return fn


argmax = _arg_reduce("ArgMax", "graph.argmax")
argmin = _arg_reduce("ArgMin", "graph.argmin")
