"""The ``loops`` dialect: buffers (memrefs), structured loop nests and scalar arithmetic.

This is the last stage before LLVM IR. Buffers are contiguous row-major memrefs whose dims may be
symbolic; ``loops.dim`` materialises the value of a dim expression from the symbols bound at entry.
``loops.for`` is a counted loop with loop-carried values (``iter_args``): operands are
``lower, upper, init...``, the body block's arguments are ``iv, carried...`` and its ``loops.yield``
gives the next carried values; the op's results are the final ones. Scalar ops mirror the graph
dialect's elementwise ops by name (``loops.add``, ``loops.exp``, ``loops.lt`` …) on ``f32``,
``i64``, ``index`` … values.
"""
from __future__ import annotations

from typing import ClassVar

from ..diagnostics import CompileError
from ..opdef import Attr, OpDef, register
from ..types import INDEX, IndexType, MemRefType, ScalarType, Type, i1
from .graph import UNARY_OPS


def _scalar(t: Type, opname: str, loc) -> Type:
    if not isinstance(t, (ScalarType, IndexType)):
        raise CompileError(f"'{opname}' expects scalar or index operands, got {t}", loc)
    return t


@register
class DimOp(OpDef):
    name = "loops.dim"
    num_operands = 0
    attrs = {"value": Attr("dim")}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        return [INDEX]


@register
class ConstOp(OpDef):
    """A scalar or index constant; the result type is given explicitly."""

    name = "loops.const"
    num_operands = 0
    attrs = {"value": Attr("number")}
    traits = frozenset({"pure", "constant"})


@register
class AllocOp(OpDef):
    """A new buffer sized from the symbols; the result type is given explicitly."""

    name = "loops.alloc"
    num_operands = 0


@register
class DeallocOp(OpDef):
    name = "loops.dealloc"
    num_operands = 1

    @classmethod
    def infer(cls, types, attrs, loc):
        if not isinstance(types[0], MemRefType):
            raise CompileError(f"'{cls.name}' expects a memref, got {types[0]}", loc)
        return []


@register
class LoadOp(OpDef):
    name = "loops.load"
    min_operands = 1
    traits = frozenset({"reads"})

    @classmethod
    def infer(cls, types, attrs, loc):
        buf = types[0]
        if not isinstance(buf, MemRefType):
            raise CompileError(f"'{cls.name}' expects a memref, got {buf}", loc)
        if len(types) - 1 != buf.rank or not all(isinstance(t, IndexType) for t in types[1:]):
            raise CompileError(f"'{cls.name}' needs {buf.rank} index operands for {buf}", loc)
        return [ScalarType(buf.dtype)]


@register
class StoreOp(OpDef):
    name = "loops.store"
    min_operands = 2
    traits = frozenset({"writes"})

    @classmethod
    def infer(cls, types, attrs, loc):
        val, buf = types[0], types[1]
        if not isinstance(buf, MemRefType):
            raise CompileError(f"'{cls.name}' expects a memref, got {buf}", loc)
        if val != ScalarType(buf.dtype):
            raise CompileError(f"'{cls.name}': storing {val} into {buf}", loc)
        if len(types) - 2 != buf.rank or not all(isinstance(t, IndexType) for t in types[2:]):
            raise CompileError(f"'{cls.name}' needs {buf.rank} index operands for {buf}", loc)
        return []


@register
class ForOp(OpDef):
    """``lower, upper, init...``; body args ``iv, carried...``; results: final carried values.

    ``parallel = true`` marks a loop whose iterations are independent (no carried values).
    """

    name = "loops.for"
    min_operands = 2
    attrs = {"step": Attr("int", 1), "parallel": Attr("bool", False)}
    num_regions = 1

    @classmethod
    def infer(cls, types, attrs, loc):
        for t in types[:2]:
            if not isinstance(t, IndexType):
                raise CompileError(f"'{cls.name}' bounds must be index, got {t}", loc)
        return list(types[2:])


@register
class YieldOp(OpDef):
    name = "loops.yield"
    traits = frozenset({"terminator"})

    @classmethod
    def infer(cls, types, attrs, loc):
        return []


class ScalarUnary(OpDef):
    num_operands = 1
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        return [_scalar(types[0], cls.name, loc)]


for _name in UNARY_OPS:
    register(type(f"Loops{_name.title().replace('_', '')}Op", (ScalarUnary,), {"name": f"loops.{_name}"}))


class ScalarBinary(OpDef):
    num_operands = 2
    traits = frozenset({"pure"})
    result_bool: ClassVar[bool] = False

    @classmethod
    def infer(cls, types, attrs, loc):
        a, b = (_scalar(t, cls.name, loc) for t in types)
        if a != b:
            raise CompileError(f"'{cls.name}': operand types differ, {a} vs {b}", loc)
        return [ScalarType(i1) if cls.result_bool else a]


BINARY_SCALAR = ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "floordiv", "mod",
                 "logical_and", "logical_or", "logical_xor")
COMPARE_SCALAR = ("eq", "ne", "lt", "le", "gt", "ge")
for _name in BINARY_SCALAR:
    register(type(f"Loops{_name.title().replace('_', '')}Op", (ScalarBinary,), {"name": f"loops.{_name}"}))
for _name in COMPARE_SCALAR:
    register(type(f"Loops{_name.title()}Op", (ScalarBinary,), {"name": f"loops.{_name}", "result_bool": True}))


@register
class SelectOp(OpDef):
    name = "loops.select"
    num_operands = 3
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        c, a, b = (_scalar(t, cls.name, loc) for t in types)
        if c != ScalarType(i1):
            raise CompileError(f"'{cls.name}': condition must be i1, got {c}", loc)
        if a != b:
            raise CompileError(f"'{cls.name}': operand types differ, {a} vs {b}", loc)
        return [a]


@register
class CastOp(OpDef):
    """Scalar conversion; ``dtype`` absent means a conversion to ``index``."""

    name = "loops.cast"
    num_operands = 1
    attrs = {"dtype": Attr("dtype", None)}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        _scalar(types[0], cls.name, loc)
        return [ScalarType(attrs["dtype"]) if attrs.get("dtype") else INDEX]


@register
class ViewOp(OpDef):
    """The same buffer seen with another (row-major compatible) shape; the type is given."""

    name = "loops.view"
    num_operands = 1
    traits = frozenset({"pure"})


@register
class BufferConstantOp(OpDef):
    """A read-only buffer holding constant data (an LLVM global)."""

    name = "loops.buffer_constant"
    num_operands = 0
    attrs = {"value": Attr("dense")}
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        from ..types import dtype_from_numpy

        v = attrs["value"]
        return [MemRefType(tuple(int(d) for d in v.shape), dtype_from_numpy(v.dtype))]


@register
class SubviewOp(OpDef):
    """The sub-buffer at leading indices: ``loops.subview %buf, %i : memref<MxK>`` of a
    ``memref<BxMxK>`` (no copy; the result type is given)."""

    name = "loops.subview"
    min_operands = 1
    traits = frozenset({"pure"})


class _ConvKernelOp(OpDef):
    """Shared by the direct convolution kernels' ops: three 3-D buffers, the first the image padded
    across (``memref<H x Wp x C>``), the filter ``memref<KH x KW*C x COUT>`` and a
    ``memref<OH x OW x COUT>`` in the two other places; ``pad`` is the padding above (rows outside
    the image count as zeros), ``strides`` (sy, sx); input pixel ox*sx of a row starts filter tap
    0 of output pixel ox."""

    num_operands = 3
    attrs = {"pad": Attr("int"), "strides": Attr("ints")}
    traits = frozenset({"writes"})
    filter_operand: ClassVar[int]

    @classmethod
    def infer(cls, types, attrs, loc):
        for t in types:
            if not isinstance(t, MemRefType) or t.rank != 3:
                raise CompileError(f"'{cls.name}' expects 3-D memrefs, got {t}", loc)
        xp, a, b = types
        c, kwc = xp.shape[2], types[cls.filter_operand].shape[1]
        whole_taps = not (isinstance(c, int) and isinstance(kwc, int)) or (c > 0 and kwc % c == 0)
        if a.shape[2] != b.shape[2] or not (xp.dtype == a.dtype == b.dtype) or len(attrs["strides"]) != 2 \
                or not whole_taps:
            raise CompileError(f"'{cls.name}': {xp}, {a} and {b} do not fit together", loc)
        return []


@register
class ConvImageOp(_ConvKernelOp):
    """One image of a unit-dilation 2-D convolution by the generated direct kernel
    (``backends/llvm/conv_kernel.py``): ``loops.conv_image %xp, %w, %out {pad, strides}``."""

    name = "loops.conv_image"
    filter_operand = 1


@register
class ConvFilterGradOp(_ConvKernelOp):
    """One image's filter gradient by the generated direct kernel, added to the filter-shaped
    ``dw``: ``loops.conv_filter_grad %xp, %g, %dw {pad, strides}`` (``g`` is output-shaped)."""

    name = "loops.conv_filter_grad"
    filter_operand = 2


@register
class MatmulOp(OpDef):
    """``C (+)= op(A) @ op(B)`` on 2-D buffers, by the generated GEMM kernel."""

    name = "loops.matmul"
    num_operands = 3
    attrs = {"transpose_a": Attr("bool", False), "transpose_b": Attr("bool", False), "accumulate": Attr("bool", False)}
    traits = frozenset({"writes"})

    @classmethod
    def infer(cls, types, attrs, loc):
        a, b, c = types
        for t in types:
            if not isinstance(t, MemRefType) or t.rank != 2:
                raise CompileError(f"'{cls.name}' expects 2-D memrefs, got {t}", loc)
        m, k = (a.shape[1], a.shape[0]) if attrs["transpose_a"] else a.shape
        k2, n = (b.shape[1], b.shape[0]) if attrs["transpose_b"] else b.shape
        if k != k2 or c.shape != (m, n) or not (a.dtype == b.dtype == c.dtype):
            raise CompileError(f"'{cls.name}': {a} @ {b} does not fit {c}", loc)
        return []
