"""A numpy interpreter of the ``graph`` dialect: the reference the compiler is checked against.

This module owns the *meaning* of every ``graph`` op as executable numpy code. It is used only by
tests and by constant folding; compiled programs never run through it.

Public API:

* :func:`run_function` runs a :class:`~tensorkiln.ir.core.Function` on numpy arrays: it binds the
  symbolic dims of the signature from the argument shapes (checking them), evaluates the body in
  order (nested ``graph.fused`` regions recursively) and returns arrays with exactly the declared
  dtypes and shapes (0-d arrays for scalars). Every intermediate result is checked against the type
  the IR declares for it, so a shape-inference bug shows up as an :class:`InterpreterError`.
* :func:`evaluate_op` evaluates one op given its name, attributes and input arrays.

Semantics follow numpy/TensorFlow; the points where they differ or are underspecified are:

* Results are computed in the op's dtype: f32 math stays f32 (no silent promotion to f64), integer
  sums stay in the input width (wrapping on overflow).
* ``graph.div``: true division for floats; for integers, truncation toward zero (C / TF
  ``truncatediv``). ``graph.floordiv`` is numpy ``floor_divide``; ``graph.mod`` is numpy ``mod``
  (the result has the sign of the divisor). Integer division or modulo by zero gives 0 (numpy's
  convention) instead of trapping.
* ``graph.pow`` on integers with a negative exponent gives the truncated exact result
  (``1`` for base 1, ``±1`` for base -1, ``0`` otherwise).
* ``graph.round`` rounds half to even; ``graph.sigmoid`` and ``graph.softmax``/``log_softmax`` are
  evaluated in numerically stable forms.
* ``graph.reduce_max``/``reduce_min`` over an empty axis give the dtype's lowest/highest value
  (``-inf``/``inf`` for floats); ``reduce_mean`` over an empty axis is NaN.
* ``graph.argmax``/``argmin`` return the first occurrence on ties; an empty axis is an error.
* ``graph.cast``: float→int truncates toward zero (NaN and ±inf give 0 here; they are unspecified
  in compiled code); to ``i1`` is ``!= 0``.
* ``graph.one_hot``: an out-of-range index (negative or ``>= depth``) gives a row of ``off_value``.
* ``graph.gather``: an out-of-range index (negative included) is an :class:`InterpreterError`;
  ``graph.scatter_add``, its adjoint, drops out-of-range indices and accumulates repeated ones.
* ``graph.assign`` (only in :func:`run_function`) updates an argument array in place at the end.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ...ir.core import Block, BlockArgument, Function, Operation, Value
from ...ir.opdef import lookup
from ...ir.types import TensorType, dtype_from_numpy
from .dims import InterpreterError, _bind_shape, _Dims, _shape_text

__all__ = ["InterpreterError", "evaluate_op", "run_function", "supported_ops"]


# --------------------------------------------------------------------------- helpers


def _as(x: Any, dtype: np.dtype) -> np.ndarray:
    return np.asarray(x).astype(dtype, copy=False)


def _axis(axis: int, rank: int, opname: str) -> int:
    if not -rank <= axis < max(rank, 1):
        raise InterpreterError(f"'{opname}': axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def _axes(attrs: Mapping[str, Any], rank: int, opname: str) -> tuple[int, ...]:
    axes = attrs.get("axes")
    if axes is None:
        return tuple(range(rank))
    return tuple(sorted({_axis(a, rank, opname) for a in axes}))


def _cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.asarray(x != 0)
    if x.dtype.kind == "f" and dtype.kind in "iu":
        # C-style conversion truncates toward zero; NaN/inf map to 0 rather than garbage.
        x = np.where(np.isfinite(x), np.trunc(x), 0)
    return np.asarray(x).astype(dtype)


def _lowest(dt: np.dtype) -> Any:
    return -np.inf if dt.kind == "f" else np.iinfo(dt).min


def _highest(dt: np.dtype) -> Any:
    return np.inf if dt.kind == "f" else np.iinfo(dt).max


# --------------------------------------------------------------------------- op implementations

Impl = Callable[[list[np.ndarray], dict[str, Any], _Dims], Any]
_OPS: dict[str, Impl] = {}


def _op(*names: str) -> Callable[[Impl], Impl]:
    def deco(fn: Impl) -> Impl:
        for n in names:
            _OPS[f"graph.{n}"] = fn
        return fn

    return deco


def _elementwise(name: str, fn: Callable[..., Any]) -> None:
    def impl(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
        return _as(fn(*xs), xs[0].dtype)

    _OPS[f"graph.{name}"] = impl


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    one = x.dtype.type(1)
    return np.where(x >= 0, one / (one + e), e / (one + e))


_erf = np.vectorize(math.erf, otypes=[np.float64])

_UNARY: dict[str, Callable[[np.ndarray], Any]] = {
    "neg": np.negative,
    "abs": np.abs,
    "square": lambda x: x * x,
    "sign": np.sign,
    "relu": lambda x: np.maximum(x, x.dtype.type(0)),
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: np.reciprocal(np.sqrt(x)),
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.rint,
    "reciprocal": np.reciprocal,
    "expm1": np.expm1,
    "log1p": np.log1p,
    "sin": np.sin,
    "cos": np.cos,
    "erf": lambda x: _erf(x) if x.size else x,
    "logical_not": np.logical_not,
}
for _n, _f in _UNARY.items():
    _elementwise(_n, _f)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "f":
        return a / b
    q = np.floor_divide(a, b)  # b == 0 gives 0
    fix = (np.remainder(a, b) != 0) & ((a < 0) != (b < 0))
    return q + fix.astype(q.dtype)


def _pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "f":
        return np.power(a, b)
    a, b = np.broadcast_arrays(a, b)
    out = np.power(a, np.abs(b))
    neg = b < 0
    if np.any(neg):
        odd = (np.abs(b) % 2) == 1
        inv = np.where(a == 1, 1, np.where(a == -1, np.where(odd, -1, 1), 0)).astype(a.dtype)
        out = np.where(neg, inv, out)
    return out


_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], Any]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": _div,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "pow": _pow,
    "floordiv": np.floor_divide,
    "mod": np.mod,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
}
for _n, _f in _BINARY.items():
    _elementwise(_n, _f)

_COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
            "gt": np.greater, "ge": np.greater_equal}
for _n, _f in _COMPARE.items():
    _OPS[f"graph.{_n}"] = (lambda f: lambda xs, attrs, dims: np.asarray(f(xs[0], xs[1])))(_f)


@_op("where")
def _where(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    c, a, b = xs
    return _as(np.where(c.astype(bool), a, b), a.dtype)


@_op("cast")
def _cast_op(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    return _cast(xs[0], attrs["dtype"].np_dtype)


@_op("broadcast_to")
def _broadcast_to(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    shape = tuple(dims.eval(d, "graph.broadcast_to") for d in attrs["shape"])
    return np.broadcast_to(xs[0], shape).copy()


@_op("constant")
def _constant(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    return np.array(attrs["value"], copy=True)


def _reducer(name: str, fn: Callable[[np.ndarray, tuple[int, ...], bool], Any]) -> None:
    def impl(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
        x = xs[0]
        return _as(fn(x, _axes(attrs, x.ndim, f"graph.{name}"), attrs.get("keepdims", False)), x.dtype)

    _OPS[f"graph.{name}"] = impl


_reducer("reduce_sum", lambda x, ax, k: np.sum(x, axis=ax, keepdims=k, dtype=x.dtype))
_reducer("reduce_prod", lambda x, ax, k: np.prod(x, axis=ax, keepdims=k, dtype=x.dtype))
_reducer("reduce_mean", lambda x, ax, k: np.mean(x, axis=ax, keepdims=k, dtype=x.dtype))
_reducer("reduce_max", lambda x, ax, k: np.maximum.reduce(x, axis=ax, keepdims=k, initial=_lowest(x.dtype)))
_reducer("reduce_min", lambda x, ax, k: np.minimum.reduce(x, axis=ax, keepdims=k, initial=_highest(x.dtype)))


def _make_arg(fn: Callable[..., Any], name: str) -> Impl:
    def impl(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
        x = xs[0]
        axis = _axis(attrs["axis"], x.ndim, name)
        if x.ndim and x.shape[axis] == 0:
            raise InterpreterError(f"'{name}' over an empty axis {axis} of shape {list(x.shape)}")
        return _as(fn(x, axis=axis) if x.ndim else 0, attrs["dtype"].np_dtype)

    return impl


_OPS["graph.argmax"] = _make_arg(np.argmax, "graph.argmax")
_OPS["graph.argmin"] = _make_arg(np.argmin, "graph.argmin")


@_op("matmul")
def _matmul(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    a, b = xs
    if attrs.get("transpose_a"):
        a = np.swapaxes(a, -1, -2)
    if attrs.get("transpose_b"):
        b = np.swapaxes(b, -1, -2)
    return _as(np.matmul(a, b), xs[0].dtype)


@_op("transpose")
def _transpose(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    return np.transpose(xs[0], attrs["perm"]).copy()


@_op("reshape")
def _reshape(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    target = [dims.try_eval(d) for d in attrs["shape"]]
    unknown = [i for i, d in enumerate(target) if d is None]
    if len(unknown) == 1 and -1 not in target:
        target[unknown[0]] = -1  # the one unbound symbolic dim is whatever is left
    elif unknown:
        dims.eval(attrs["shape"][unknown[0]], "graph.reshape")  # raises, naming the dim
    try:
        return np.reshape(xs[0], tuple(target)).copy()  # type: ignore[arg-type]
    except ValueError as e:
        raise InterpreterError(f"'graph.reshape': cannot reshape {list(xs[0].shape)} into {target}: {e}") from None


@_op("concat")
def _concat(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    axis = _axis(attrs["axis"], xs[0].ndim, "graph.concat")
    return _as(np.concatenate(xs, axis=axis), xs[0].dtype)


def _shifted(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf).astype(x.dtype)
    return x - np.where(np.isfinite(m), m, x.dtype.type(0))


@_op("softmax")
def _softmax(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    x = xs[0]
    axis = _axis(attrs.get("axis", -1), x.ndim, "graph.softmax")
    if x.ndim == 0:
        return _as(np.exp(x - x), x.dtype)
    e = np.exp(_shifted(x, axis))
    return _as(e / np.sum(e, axis=axis, keepdims=True, dtype=x.dtype), x.dtype)


@_op("log_softmax")
def _log_softmax(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    x = xs[0]
    axis = _axis(attrs.get("axis", -1), x.ndim, "graph.log_softmax")
    if x.ndim == 0:
        return _as(x - x, x.dtype)
    s = _shifted(x, axis)
    return _as(s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True, dtype=x.dtype)), x.dtype)


@_op("one_hot")
def _one_hot(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    idx = xs[0]
    depth = attrs["depth"]
    axis = _axis(attrs.get("axis", -1), idx.ndim + 1, "graph.one_hot")
    dt = attrs["dtype"].np_dtype if attrs.get("dtype") is not None else np.dtype(np.float32)
    on = _cast(np.asarray(attrs.get("on_value", 1.0)), dt)
    off = _cast(np.asarray(attrs.get("off_value", 0.0)), dt)
    hot = idx[..., None] == np.arange(depth, dtype=idx.dtype)
    return np.moveaxis(np.where(hot, on, off).astype(dt), -1, axis).copy()


@_op("slice")
def _slice(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    x = xs[0]
    begin, size = attrs["begin"], attrs["size"]
    strides = attrs.get("strides") or (1,) * x.ndim
    if not len(begin) == len(size) == len(strides) == x.ndim:
        raise InterpreterError(f"'graph.slice': begin/size/strides need {x.ndim} entries")
    index = []
    for n, b, s, st in zip(x.shape, begin, size, strides):
        s = dims.eval(s, "graph.slice")
        if s == -1:
            index.append(slice(b, n, st))
            continue
        last = b + (s - 1) * st
        if b < 0 or st <= 0 or s < 0 or (s > 0 and last >= n) or b > n:
            raise InterpreterError(
                f"'graph.slice': begin {b} size {s} stride {st} is out of bounds of dim {n} (shape {list(x.shape)})")
        index.append(slice(b, b + s * st, st) if s else slice(b, b))
    return x[tuple(index)].copy()


@_op("gather")
def _gather(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    params, idx = xs
    axis = _axis(attrs.get("axis", 0), params.ndim, "graph.gather")
    n = params.shape[axis]
    bad = (idx < 0) | (idx >= n)
    if np.any(bad):
        first = idx[bad].flat[0]
        raise InterpreterError(f"'graph.gather': index {first} is out of range [0, {n}) on axis {axis} of shape {list(params.shape)}")
    return np.take(params, idx, axis=axis)


@_op("dim_size")
def _dim_size(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    return np.asarray(dims.eval(attrs["dim"], "graph.dim_size"), dtype=attrs["dtype"].np_dtype)


@_op("insert_slice")
def _insert_slice(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    x = xs[0]
    shape = tuple(dims.eval(d, "graph.insert_slice") for d in attrs["shape"])
    begin = attrs["begin"]
    strides = attrs.get("strides") or (1,) * x.ndim
    if not len(shape) == len(begin) == len(strides) == x.ndim:
        raise InterpreterError(f"'graph.insert_slice': begin/strides/shape need {x.ndim} entries")
    index = []
    for n, b, st, s in zip(shape, begin, strides, x.shape):
        if b < 0 or st <= 0 or (s > 0 and b + (s - 1) * st >= n):
            raise InterpreterError(
                f"'graph.insert_slice': {list(x.shape)} at begin {list(begin)} stride {list(strides)} does not fit {list(shape)}")
        index.append(slice(b, b + s * st, st) if s else slice(b, b))
    out = np.zeros(shape, x.dtype)
    out[tuple(index)] = x
    return out


@_op("scatter_add")
def _scatter_add(xs: list[np.ndarray], attrs: dict[str, Any], dims: _Dims) -> np.ndarray:
    upd, idx = xs
    axis = attrs.get("axis", 0)
    size = dims.eval(attrs["size"], "graph.scatter_add")
    if axis < 0 or upd.shape[axis:axis + idx.ndim] != idx.shape:
        raise InterpreterError(f"'graph.scatter_add': updates {list(upd.shape)} do not match indices {list(idx.shape)} at axis {axis}")
    pre, post = upd.shape[:axis], upd.shape[axis + idx.ndim:]
    flat_idx = idx.reshape(-1).astype(np.int64)
    flat_upd = upd.reshape(int(np.prod(pre)), flat_idx.size, int(np.prod(post)))
    keep = (flat_idx >= 0) & (flat_idx < size)  # out-of-range indices are dropped
    out = np.zeros((flat_upd.shape[0], size, flat_upd.shape[2]), upd.dtype)
    np.add.at(out, (slice(None), flat_idx[keep], slice(None)), flat_upd[:, keep, :])
    return out.reshape(pre + (size,) + post)


# --------------------------------------------------------------------------- evaluation


def supported_ops() -> frozenset[str]:
    """Names of the ops :func:`evaluate_op` evaluates, plus those only :func:`run_function` can
    (``graph.fused``, ``graph.assign``)."""
    return frozenset(_OPS) | {"graph.fused", "graph.assign"}


def _check_result(opname: str, index: int, arr: np.ndarray, ty: Any, dims: _Dims, bind: bool) -> None:
    if not isinstance(ty, TensorType):
        return
    ok = arr.dtype == ty.dtype.np_dtype
    if ok:
        if bind:
            ok = _bind_shape(ty.shape, arr.shape, dims)
        else:
            ok = arr.ndim == ty.rank and all(
                v is None or v == n for v, n in zip((dims.try_eval(d) for d in ty.shape), arr.shape))
    if not ok:
        raise InterpreterError(
            f"'{opname}' result #{index}: the interpreter computed shape {list(arr.shape)} dtype "
            f"{_dtype_name(arr.dtype)} but the IR declares {ty}")


def _dtype_name(dt: np.dtype) -> str:
    try:
        return dtype_from_numpy(dt).name
    except TypeError:
        return str(dt)


def _evaluate(name: str, attrs: Mapping[str, Any], inputs: Sequence[Any], result_types: Sequence[Any] | None,
              dims: _Dims, bind: bool) -> list[np.ndarray]:
    impl = _OPS.get(name)
    if impl is None:
        hint = " (it needs its function context: use run_function)" if name in ("graph.fused", "graph.assign") else ""
        raise InterpreterError(f"the reference interpreter has no implementation of op '{name}'{hint}")
    arrays = [np.asarray(x) for x in inputs]
    with np.errstate(all="ignore"):
        out = impl(arrays, dict(attrs), dims)
    outs = [np.asarray(o) for o in (out if isinstance(out, list) else [out])]
    outs = [o if o.flags.c_contiguous and not any(np.may_share_memory(o, a) for a in arrays) else o.copy()
            for o in outs]
    if result_types is not None:
        if len(result_types) != len(outs):
            raise InterpreterError(f"'{name}' produced {len(outs)} result(s), {len(result_types)} declared")
        for i, (o, t) in enumerate(zip(outs, result_types)):
            _check_result(name, i, o, t, dims, bind)
    return outs


def evaluate_op(
    name: str,
    attributes: Mapping[str, Any],
    inputs: Sequence[np.ndarray],
    result_types: Sequence[TensorType] | None = None,
    *,
    dims: Mapping[str, int] | None = None,
) -> list[np.ndarray]:
    """Evaluate one ``graph`` op on numpy arrays and return its results.

    ``attributes`` may be an op's (normalised) attribute dict or a raw one; defaults are filled in.
    ``dims`` binds symbol names used by symbolic attributes (``broadcast_to{shape=[N, 3]}``). When
    ``result_types`` is given each result is checked against it (dtype exactly, and every dim that
    ``dims`` can evaluate); a mismatch, an unknown op or a bad input raise :class:`InterpreterError`.
    """
    if name in _OPS:
        attributes = lookup(name).complete_attributes(dict(attributes), None)
    return _evaluate(name, attributes, inputs, result_types, _Dims(dict(dims or {})), bind=False)


def _run_block(block: Block, inputs: Sequence[np.ndarray], dims: _Dims, terminator: str) -> list[np.ndarray]:
    values: dict[Value, np.ndarray] = dict(zip(block.args, inputs))
    for op in block.ops:
        try:
            args = [values[v] for v in op.operands]
        except KeyError:
            raise InterpreterError(f"'{op.name}' uses a value that is not defined before it") from None
        if op.name in ("return", "graph.yield"):
            if op.name != terminator:
                raise InterpreterError(f"'{op.name}' found where '{terminator}' ends the block")
            return args
        if op.name == "graph.assign":
            _assign(op, args, dims)
            continue
        outs = _run_op(op, args, dims)
        values.update(zip(op.results, outs))
    raise InterpreterError(f"block ends without '{terminator}'")


def _assign(op: Operation, args: list[np.ndarray], dims: _Dims) -> None:
    target = op.operands[0]
    if not isinstance(target, BlockArgument) or target.block.parent is not None:
        raise InterpreterError("'graph.assign' must target an argument of the function")
    old, new = args
    if old.shape != new.shape or old.dtype != new.dtype:
        raise InterpreterError(
            f"'graph.assign': value {list(new.shape)} {_dtype_name(new.dtype)} does not fit argument "
            f"{target.index} {list(old.shape)} {_dtype_name(old.dtype)}")
    dims.assigns.append((target.index, np.array(new, copy=True)))


def _run_op(op: Operation, args: list[np.ndarray], dims: _Dims) -> list[np.ndarray]:
    if op.name == "graph.fused":
        if len(op.regions) != 1 or len(op.regions[0].blocks) != 1:
            raise InterpreterError("'graph.fused' needs exactly one region with one block")
        block = op.regions[0].blocks[0]
        if len(block.args) != len(args):
            raise InterpreterError(f"'graph.fused' has {len(args)} operands but its block takes {len(block.args)} arguments")
        for i, (a, arr) in enumerate(zip(block.args, args)):
            _check_result("graph.fused block argument", i, arr, a.type, dims, bind=True)
        outs = _run_block(block, args, dims, "graph.yield")
        if len(outs) != len(op.results):
            raise InterpreterError(f"'graph.fused' yields {len(outs)} value(s) but has {len(op.results)} result(s)")
        for i, (o, r) in enumerate(zip(outs, op.results)):
            _check_result(op.name, i, o, r.type, dims, bind=True)
        return outs
    return _evaluate(op.name, op.attributes, args, [r.type for r in op.results], dims, bind=True)


def run_function(func: Function, args: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run ``func`` on ``args`` and return its results as arrays of the declared dtypes and shapes.

    Symbolic dims are bound from the argument shapes: the same symbol must have the same size
    everywhere, static dims must match and dtypes must match exactly; otherwise a ``ValueError``
    names the argument and both shapes (or dtypes).

    ``graph.assign`` writes into the argument arrays in place, like compiled code updating a
    variable's buffer; the writes happen when the function finishes, so every read inside the
    function (and a returned argument) sees the value on entry.
    """
    if len(args) != len(func.args):
        raise ValueError(f"@{func.name} takes {len(func.args)} argument(s), got {len(args)}")
    dims = _Dims()
    arrays: list[np.ndarray] = []
    for i, (param, given) in enumerate(zip(func.args, args)):
        arr = np.asarray(given)
        ty = param.type
        label = f"argument {i} ('{param.name_hint}')" if param.name_hint else f"argument {i}"
        if not isinstance(ty, TensorType):
            raise ValueError(f"@{func.name}: {label} has non-tensor type {ty}")
        if arr.dtype != ty.dtype.np_dtype:
            raise ValueError(
                f"@{func.name}: {label} must have dtype {ty.dtype}, got {_dtype_name(arr.dtype)} (expected {ty}, given shape {list(arr.shape)})")
        if not _bind_shape(ty.shape, arr.shape, dims):
            bound = ", ".join(f"{k}={v}" for k, v in sorted(dims.env.items()) if not k.startswith("?"))
            raise ValueError(
                f"@{func.name}: {label} expected shape {_shape_text(ty.shape)}, got {list(arr.shape)}"
                + (f" (with {bound})" if bound else ""))
        arrays.append(arr)
    outs = _run_block(func.body, arrays, dims, "return")
    if len(outs) != len(func.result_types):
        raise InterpreterError(f"@{func.name} returns {len(outs)} value(s) but declares {len(func.result_types)}")
    for i, (o, t) in enumerate(zip(outs, func.result_types)):
        _check_result(f"@{func.name} return", i, o, t, dims, bind=True)
    results = [np.array(o, copy=True) for o in outs]
    for index, value in dims.assigns:  # in program order: the last write to an argument wins
        try:
            np.copyto(arrays[index], value)
        except ValueError as e:
            raise InterpreterError(f"@{func.name}: cannot update argument {index} in place: {e}") from None
    return results
