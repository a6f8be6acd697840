"""The ``graph`` dialect: tensor-level ops with value semantics and (symbolic) shape inference.

Every op both front ends produce lives here. Each class declares its operands, attributes and
traits and infers its result type; inference errors are :class:`ShapeMismatch` /
:class:`CompileError` carrying both shapes. ``graph.fused`` holds a region of graph ops that the
loop lowering turns into one loop nest.
"""
from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np

from ..diagnostics import CompileError, Location
from ..opdef import Attr, OpDef, register
from ..types import (
    DType,
    Dim,
    SymDim,
    TensorType,
    Type,
    dim_add,
    dim_div_exact,
    dim_product,
    dim_str,
    dtype_from_numpy,
    i1,
    i32,
    i64,
)


class ShapeMismatch(CompileError):
    """Two dims that must agree do not. ``dims`` holds the pair so front ends can unify symbols."""

    def __init__(self, message: str, loc: Location | None, dims: tuple[Dim, Dim] | None = None):
        super().__init__(message, loc)
        self.dims = dims


def shape_str(shape: Sequence[Dim]) -> str:
    return "[" + ", ".join(dim_str(d) for d in shape) + "]"


def _tensor(t: Type, opname: str, loc: Location | None, what: str = "operand") -> TensorType:
    if not isinstance(t, TensorType):
        raise CompileError(f"'{opname}' expects a tensor {what}, got {t}", loc)
    return t


def broadcast_shapes(a: Sequence[Dim], b: Sequence[Dim], opname: str, loc: Location | None) -> tuple[Dim, ...]:
    """numpy broadcasting; a symbolic dim only broadcasts against 1 or itself."""
    out: list[Dim] = []
    n = max(len(a), len(b))
    pa = [1] * (n - len(a)) + list(a)
    pb = [1] * (n - len(b)) + list(b)
    for da, db in zip(pa, pb):
        if da == db or db == 1:
            out.append(da)
        elif da == 1:
            out.append(db)
        else:
            raise ShapeMismatch(
                f"'{opname}': shapes {shape_str(a)} and {shape_str(b)} are not broadcast-compatible",
                loc,
                (da, db),
            )
    return tuple(out)


def normalise_axis(axis: int, rank: int, opname: str, loc: Location | None) -> int:
    if not -rank <= axis < max(rank, 1):
        raise CompileError(f"'{opname}': axis {axis} is out of range for rank {rank}", loc)
    return axis % rank if rank else 0


def _same_dtype(types: Sequence[TensorType], opname: str, loc: Location | None) -> DType:
    d = types[0].dtype
    for t in types[1:]:
        if t.dtype != d:
            raise CompileError(f"'{opname}': dtype mismatch, {d} vs {t.dtype}", loc)
    return d


# --------------------------------------------------------------------------- elementwise


class Unary(OpDef):
    num_operands = 1
    traits = frozenset({"pure", "elementwise"})
    allowed: ClassVar[str] = "numeric"  # "float", "numeric", "bool"

    @classmethod
    def infer(cls, types, attrs, loc):
        t = _tensor(types[0], cls.name, loc)
        _check_kind(cls.name, t.dtype, cls.allowed, loc)
        return [t]


def _check_kind(opname: str, dt: DType, allowed: str, loc: Location | None) -> None:
    ok = {"float": dt.is_float, "numeric": not dt.is_bool, "bool": dt.is_bool, "any": True}[allowed]
    if not ok:
        raise CompileError(f"'{opname}' is not defined for dtype {dt} (needs {allowed})", loc)


def _unary(op: str, allowed: str = "numeric") -> type[Unary]:
    cls = type(f"{op.title().replace('_', '')}Op", (Unary,), {"name": f"graph.{op}", "allowed": allowed})
    return register(cls)


UNARY_OPS = {
    "neg": "numeric", "abs": "numeric", "square": "numeric", "sign": "numeric", "relu": "numeric",
    "exp": "float", "log": "float", "sqrt": "float", "rsqrt": "float", "tanh": "float",
    "sigmoid": "float", "floor": "float", "ceil": "float", "round": "float", "reciprocal": "float",
    "expm1": "float", "log1p": "float", "sin": "float", "cos": "float", "erf": "float",
    "logical_not": "bool",
}
for _name, _allowed in UNARY_OPS.items():
    _unary(_name, _allowed)


class Binary(OpDef):
    num_operands = 2
    traits = frozenset({"pure", "elementwise"})
    allowed: ClassVar[str] = "numeric"
    result_bool: ClassVar[bool] = False

    @classmethod
    def infer(cls, types, attrs, loc):
        a = _tensor(types[0], cls.name, loc)
        b = _tensor(types[1], cls.name, loc)
        dt = _same_dtype([a, b], cls.name, loc)
        _check_kind(cls.name, dt, cls.allowed, loc)
        shape = broadcast_shapes(a.shape, b.shape, cls.name, loc)
        return [TensorType(shape, i1 if cls.result_bool else dt)]


def _binary(op: str, allowed: str = "numeric", result_bool: bool = False, commutative: bool = False) -> None:
    traits = frozenset({"pure", "elementwise"} | ({"commutative"} if commutative else set()))
    cls = type(f"{op.title().replace('_', '')}Op", (Binary,), {
        "name": f"graph.{op}", "allowed": allowed, "result_bool": result_bool, "traits": traits})
    register(cls)


for _name, _comm in (("add", True), ("mul", True), ("maximum", True), ("minimum", True), ("sub", False), ("div", False), ("pow", False), ("floordiv", False), ("mod", False)):
    _binary(_name, commutative=_comm)
for _name in ("eq", "ne"):
    _binary(_name, allowed="any", result_bool=True, commutative=True)
for _name in ("lt", "le", "gt", "ge"):
    _binary(_name, result_bool=True)
for _name in ("logical_and", "logical_or", "logical_xor"):
    _binary(_name, allowed="bool", commutative=True)


@register
class WhereOp(OpDef):
    name = "graph.where"
    num_operands = 3
    traits = frozenset({"pure", "elementwise"})

    @classmethod
    def infer(cls, types, attrs, loc):
        c, a, b = (_tensor(t, cls.name, loc) for t in types)
        if c.dtype != i1:
            raise CompileError(f"'{cls.name}': condition must be i1, got {c.dtype}", loc)
        dt = _same_dtype([a, b], cls.name, loc)
        shape = broadcast_shapes(broadcast_shapes(c.shape, a.shape, cls.name, loc), b.shape, cls.name, loc)
        return [TensorType(shape, dt)]


@register
class CastOp(OpDef):
    name = "graph.cast"
    num_operands = 1
    attrs = {"dtype": Attr("dtype")}
    traits = frozenset({"pure", "elementwise"})

    @classmethod
    def infer(cls, types, attrs, loc):
        return [_tensor(types[0], cls.name, loc).with_dtype(attrs["dtype"])]


@register
class BroadcastToOp(OpDef):
    name = "graph.broadcast_to"
    num_operands = 1
    attrs = {"shape": Attr("dims")}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        t = _tensor(types[0], cls.name, loc)
        target = tuple(attrs["shape"])
        got = broadcast_shapes(t.shape, target, cls.name, loc)
        if got != target:
            raise ShapeMismatch(f"'{cls.name}': cannot broadcast {shape_str(t.shape)} to {shape_str(target)}", loc)
        return [TensorType(target, t.dtype)]


@register
class ConstantOp(OpDef):
    name = "graph.constant"
    num_operands = 0
    attrs = {"value": Attr("dense")}
    traits = frozenset({"pure", "constant"})

    @classmethod
    def infer(cls, types, attrs, loc):
        v: np.ndarray = attrs["value"]
        return [TensorType(tuple(int(d) for d in v.shape), dtype_from_numpy(v.dtype))]


# --------------------------------------------------------------------------- reductions


def reduced_shape(shape: Sequence[Dim], axes: Sequence[int] | None, keepdims: bool, opname: str, loc) -> tuple[tuple[int, ...], tuple[Dim, ...]]:
    rank = len(shape)
    if axes is None:
        ax = tuple(range(rank))
    else:
        ax = tuple(sorted({normalise_axis(a, rank, opname, loc) for a in axes}))
    out = tuple((1 if keepdims else None) if i in ax else d for i, d in enumerate(shape))
    return ax, tuple(d for d in out if d is not None)


class Reduce(OpDef):
    num_operands = 1
    attrs = {"axes": Attr("ints", None), "keepdims": Attr("bool", False)}
    traits = frozenset({"pure", "reduction"})

    @classmethod
    def infer(cls, types, attrs, loc):
        t = _tensor(types[0], cls.name, loc)
        if t.dtype.is_bool:
            raise CompileError(f"'{cls.name}' is not defined for dtype i1", loc)
        if cls.name == "graph.reduce_mean" and not t.dtype.is_float:
            raise CompileError(f"'{cls.name}' needs a float operand, got {t.dtype}", loc)
        _, shape = reduced_shape(t.shape, attrs.get("axes"), attrs["keepdims"], cls.name, loc)
        return [TensorType(shape, t.dtype)]


for _name in ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"):
    register(type(f"{_name.title().replace('_', '')}Op", (Reduce,), {"name": f"graph.{_name}"}))


class ArgReduce(OpDef):
    num_operands = 1
    attrs = {"axis": Attr("int"), "dtype": Attr("dtype", i64)}
    traits = frozenset({"pure", "reduction"})

    @classmethod
    def infer(cls, types, attrs, loc):
        t = _tensor(types[0], cls.name, loc)
        if attrs["dtype"] not in (i32, i64):
            raise CompileError(f"'{cls.name}': result dtype must be i32 or i64", loc)
        _, shape = reduced_shape(t.shape, (attrs["axis"],), False, cls.name, loc)
        return [TensorType(shape, attrs["dtype"])]


for _name in ("argmax", "argmin"):
    register(type(f"{_name.title()}Op", (ArgReduce,), {"name": f"graph.{_name}"}))


# --------------------------------------------------------------------------- structure


@register
class MatmulOp(OpDef):
    name = "graph.matmul"
    num_operands = 2
    attrs = {"transpose_a": Attr("bool", False), "transpose_b": Attr("bool", False)}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        a = _tensor(types[0], cls.name, loc)
        b = _tensor(types[1], cls.name, loc)
        dt = _same_dtype([a, b], cls.name, loc)
        if dt.is_bool:
            raise CompileError(f"'{cls.name}' is not defined for i1", loc)
        if a.rank < 2 or b.rank < 2:
            raise CompileError(f"'{cls.name}' needs operands of rank >= 2, got {shape_str(a.shape)} and {shape_str(b.shape)}", loc)
        m, ka = (a.shape[-1], a.shape[-2]) if attrs["transpose_a"] else (a.shape[-2], a.shape[-1])
        kb, n = (b.shape[-1], b.shape[-2]) if attrs["transpose_b"] else (b.shape[-2], b.shape[-1])
        if ka != kb:
            raise ShapeMismatch(
                f"'{cls.name}': inner dimensions differ, {shape_str(a.shape)} @ {shape_str(b.shape)}", loc, (ka, kb))
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], cls.name, loc)
        return [TensorType(batch + (m, n), dt)]


@register
class TransposeOp(OpDef):
    name = "graph.transpose"
    num_operands = 1
    attrs = {"perm": Attr("ints")}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        t = _tensor(types[0], cls.name, loc)
        perm = attrs["perm"]
        if sorted(perm) != list(range(t.rank)):
            raise CompileError(f"'{cls.name}': perm {list(perm)} is not a permutation of rank {t.rank}", loc)
        return [TensorType(tuple(t.shape[p] for p in perm), t.dtype)]


@register
class ReshapeOp(OpDef):
    name = "graph.reshape"
    num_operands = 1
    attrs = {"shape": Attr("dims")}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        t = _tensor(types[0], cls.name, loc)
        target = list(attrs["shape"])
        total = t.num_elements()
        holes = [i for i, d in enumerate(target) if d == -1]
        if len(holes) > 1:
            raise CompileError(f"'{cls.name}': at most one -1 in shape {shape_str(target)}", loc)
        if any(isinstance(d, int) and d < -1 for d in target):
            raise CompileError(f"'{cls.name}': negative dim in shape {shape_str(target)}", loc)
        if holes:
            known = dim_product(d for d in target if d != -1)
            fill = None
            if isinstance(known, int) and known != 0:
                fill = dim_div_exact(total, known)
            elif known == total:
                fill = 1
            elif isinstance(known, SymDim) and isinstance(total, SymDim):
                # e.g. total 784*N, known N*28: divide term-wise when it is one monomial each.
                fill = _divide_monomials(total, known)
            if fill is None:
                raise ShapeMismatch(f"'{cls.name}': cannot reshape {shape_str(t.shape)} into {shape_str(target)}", loc)
            target[holes[0]] = fill
        if dim_product(target) != total:
            raise ShapeMismatch(
                f"'{cls.name}': cannot reshape {shape_str(t.shape)} ({dim_str(total)} elements) into {shape_str(target)}", loc,
                (total, dim_product(target)))
        return [TensorType(tuple(target), t.dtype)]


def _divide_monomials(num: SymDim, den: SymDim) -> Dim | None:
    if len(num.terms) != 1 or len(den.terms) != 1:
        return None
    (mn, cn), (md, cd) = num.terms[0], den.terms[0]
    rest = list(mn)
    for s in md:
        if s not in rest:
            return None
        rest.remove(s)
    if cn % cd:
        return None
    from ..types import _norm

    return _norm({tuple(rest): cn // cd})


@register
class ConcatOp(OpDef):
    name = "graph.concat"
    min_operands = 1
    attrs = {"axis": Attr("int")}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        ts = [_tensor(t, cls.name, loc) for t in types]
        dt = _same_dtype(ts, cls.name, loc)
        rank = ts[0].rank
        if rank == 0:
            raise CompileError(f"'{cls.name}' cannot concatenate scalars", loc)
        axis = normalise_axis(attrs["axis"], rank, cls.name, loc)
        out = list(ts[0].shape)
        for t in ts[1:]:
            if t.rank != rank:
                raise ShapeMismatch(f"'{cls.name}': ranks differ, {shape_str(ts[0].shape)} vs {shape_str(t.shape)}", loc)
            for i, (a, b) in enumerate(zip(out, t.shape)):
                if i == axis:
                    out[i] = dim_add(a, b)
                elif a != b:
                    raise ShapeMismatch(f"'{cls.name}': shapes {shape_str(ts[0].shape)} and {shape_str(t.shape)} differ off axis {axis}", loc, (a, b))
        return [TensorType(tuple(out), dt)]


class SoftmaxLike(OpDef):
    num_operands = 1
    attrs = {"axis": Attr("int", -1)}
    traits = frozenset({"pure", "composite"})

    @classmethod
    def infer(cls, types, attrs, loc):
        t = _tensor(types[0], cls.name, loc)
        _check_kind(cls.name, t.dtype, "float", loc)
        normalise_axis(attrs["axis"], t.rank, cls.name, loc)
        return [t]


for _name in ("softmax", "log_softmax"):
    register(type(f"{_name.title().replace('_', '')}Op", (SoftmaxLike,), {"name": f"graph.{_name}"}))


@register
class OneHotOp(OpDef):
    name = "graph.one_hot"
    num_operands = 1
    attrs = {"depth": Attr("int"), "axis": Attr("int", -1), "on_value": Attr("float", 1.0),
             "off_value": Attr("float", 0.0), "dtype": Attr("dtype", None)}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        from ..types import f32

        t = _tensor(types[0], cls.name, loc)
        if t.dtype not in (i32, i64):
            raise CompileError(f"'{cls.name}': indices must be i32 or i64, got {t.dtype}", loc)
        if attrs["depth"] < 0:
            raise CompileError(f"'{cls.name}': depth must be >= 0", loc)
        axis = attrs["axis"]
        rank = t.rank + 1
        axis = normalise_axis(axis, rank, cls.name, loc)
        shape = list(t.shape)
        shape.insert(axis, attrs["depth"])
        return [TensorType(tuple(shape), attrs.get("dtype") or f32)]


@register
class SliceOp(OpDef):
    """Static begin and size (size -1: to the end); stride via ``strides`` (positive)."""

    name = "graph.slice"
    num_operands = 1
    attrs = {"begin": Attr("ints"), "size": Attr("dims"), "strides": Attr("ints", None)}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        t = _tensor(types[0], cls.name, loc)
        begin, size = attrs["begin"], attrs["size"]
        strides = attrs.get("strides") or (1,) * t.rank
        if not (len(begin) == len(size) == len(strides) == t.rank):
            raise CompileError(f"'{cls.name}': begin/size/strides must have rank {t.rank} entries", loc)
        out: list[Dim] = []
        for d, b, s, st in zip(t.shape, begin, size, strides):
            if b < 0 or st <= 0:
                raise CompileError(f"'{cls.name}': begin must be >= 0 and strides > 0", loc)
            if s == -1:
                s = dim_add(d, -b)
                if isinstance(s, int):
                    s = max(0, -(-s // st))
                elif st != 1:
                    raise CompileError(f"'{cls.name}': strided slice to the end of symbolic dim {dim_str(d)}", loc)
            elif isinstance(d, int) and isinstance(s, int) and (s < 0 or b + (s - 1) * st >= d + (s == 0)):
                raise ShapeMismatch(f"'{cls.name}': slice begin {b} size {s} stride {st} out of bounds of dim {d}", loc)
            out.append(s)
        return [TensorType(tuple(out), t.dtype)]


@register
class GatherOp(OpDef):
    name = "graph.gather"
    num_operands = 2
    attrs = {"axis": Attr("int", 0)}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        p = _tensor(types[0], cls.name, loc)
        ix = _tensor(types[1], cls.name, loc)
        if ix.dtype not in (i32, i64):
            raise CompileError(f"'{cls.name}': indices must be i32 or i64, got {ix.dtype}", loc)
        axis = normalise_axis(attrs["axis"], p.rank, cls.name, loc)
        return [TensorType(p.shape[:axis] + ix.shape + p.shape[axis + 1:], p.dtype)]


@register
class DimSizeOp(OpDef):
    """The runtime value of a (symbolic) dim expression, as a scalar tensor of ``dtype``."""

    name = "graph.dim_size"
    num_operands = 0
    attrs = {"dim": Attr("dim"), "dtype": Attr("dtype")}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        return [TensorType((), attrs["dtype"])]


@register
class InsertSliceOp(OpDef):
    """The adjoint of ``graph.slice``: a zero tensor of ``shape`` with the operand placed at
    ``begin`` with ``strides``."""

    name = "graph.insert_slice"
    num_operands = 1
    attrs = {"begin": Attr("ints"), "strides": Attr("ints", None), "shape": Attr("dims")}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        t = _tensor(types[0], cls.name, loc)
        shape = tuple(attrs["shape"])
        if len(shape) != t.rank or len(attrs["begin"]) != t.rank:
            raise CompileError(f"'{cls.name}': begin and shape must have rank {t.rank} entries", loc)
        return [TensorType(shape, t.dtype)]


@register
class ScatterAddOp(OpDef):
    """The adjoint of ``graph.gather``: zeros of ``params`` shape (``size`` along ``axis``) plus
    ``updates`` added at ``indices`` (repeated indices accumulate; out-of-range ones are dropped)."""

    name = "graph.scatter_add"
    num_operands = 2
    attrs = {"axis": Attr("int", 0), "size": Attr("dim")}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        upd = _tensor(types[0], cls.name, loc)
        ix = _tensor(types[1], cls.name, loc)
        if ix.dtype not in (i32, i64):
            raise CompileError(f"'{cls.name}': indices must be i32 or i64, got {ix.dtype}", loc)
        axis = attrs["axis"]
        if axis < 0 or upd.shape[axis:axis + ix.rank] != ix.shape:
            raise ShapeMismatch(f"'{cls.name}': updates {shape_str(upd.shape)} do not match indices {shape_str(ix.shape)} at axis {axis}", loc)
        return [TensorType(upd.shape[:axis] + (attrs["size"],) + upd.shape[axis + ix.rank:], upd.dtype)]


@register
class AssignOp(OpDef):
    """Write ``value`` into the function argument ``target`` (a variable's buffer) in place.

    Assignments take effect when the function finishes: every read of ``target`` inside the function
    sees the value it had on entry. A front end that needs the new value reads ``value`` instead.
    """

    name = "graph.assign"
    num_operands = 2

    @classmethod
    def infer(cls, types, attrs, loc):
        t, v = (_tensor(x, cls.name, loc) for x in types)
        if t != v:
            raise ShapeMismatch(f"'{cls.name}': cannot assign {v} to {t}", loc)
        return []


# --------------------------------------------------------------------------- fusion


@register
class FusedOp(OpDef):
    """A region of graph ops computed as one loop nest. Block args are the op's operands."""

    name = "graph.fused"
    attrs = {"kind": Attr("str", "elementwise")}
    traits = frozenset({"pure"})
    num_regions = 1


@register
class YieldOp(OpDef):
    name = "graph.yield"
    traits = frozenset({"terminator"})

    @classmethod
    def infer(cls, types, attrs, loc):
        return []


def infer_types(name: str, types: Sequence[Type], attrs: dict[str, Any], loc: Location | None = None) -> list[Type]:
    from ..opdef import lookup

    d = lookup(name, loc)
    d.check_operand_count(len(types), loc)
    return d.infer(types, d.complete_attributes(attrs, loc), loc)
