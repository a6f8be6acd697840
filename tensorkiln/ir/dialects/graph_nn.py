"""Convolution and pooling ops of the ``graph`` dialect (NHWC activations, HWIO filters).

Kept apart from :mod:`.graph` only for size. Windows follow TensorFlow: ``padding = "SAME"`` gives
``ceil(in / stride)`` outputs with the padding split low-half-first, ``"VALID"`` gives
``ceil((in - (k - 1) * dilation) / stride)``. Spatial dims must be static; the batch may be
symbolic. The ``*_grad`` / ``*_backprop_*`` ops are the adjoints the autodiff emits.
"""
from __future__ import annotations

from typing import Sequence

from ..diagnostics import CompileError, Location
from ..opdef import Attr, OpDef, register
from ..types import Dim, TensorType
from .graph import ShapeMismatch, _tensor, shape_str


def window_geometry(size: int, k: int, stride: int, dilation: int, padding: str) -> tuple[int, int]:
    """(output size, low padding) of one spatial dim, as TensorFlow computes them."""
    eff = (k - 1) * dilation + 1
    if padding == "VALID":
        return max(0, -(-(size - eff + 1) // stride)), 0
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return out, total // 2


def _spatial(t: TensorType, opname: str, loc: Location | None) -> tuple[Dim, int, int, Dim]:
    if t.rank != 4:
        raise CompileError(f"'{opname}' expects an NHWC tensor of rank 4, got {shape_str(t.shape)}", loc)
    n, h, w, c = t.shape
    if not isinstance(h, int) or not isinstance(w, int):
        raise CompileError(f"'{opname}': spatial dims must be static, got {shape_str(t.shape)}", loc)
    return n, h, w, c


def _check_window(attrs, opname: str, loc) -> None:
    if attrs["padding"] not in ("SAME", "VALID"):
        raise CompileError(f"'{opname}': padding must be \"SAME\" or \"VALID\", got {attrs['padding']!r}", loc)
    for key in ("strides", "dilations", "ksize"):
        v = attrs.get(key)
        if v is not None and (len(v) != 2 or any(x < 1 for x in v)):
            raise CompileError(f"'{opname}': {key} must be two positive ints, got {list(v)}", loc)


def conv_output_shape(x: TensorType, f: TensorType, attrs, opname: str, loc) -> tuple[Dim, ...]:
    n, h, w, c = _spatial(x, opname, loc)
    if f.rank != 4:
        raise CompileError(f"'{opname}' expects an HWIO filter of rank 4, got {shape_str(f.shape)}", loc)
    kh, kw, fc, o = f.shape
    if fc != c:
        raise ShapeMismatch(f"'{opname}': input channels {shape_str(x.shape)} do not match filter {shape_str(f.shape)}", loc, (c, fc))
    (sh, sw), (dh, dw) = attrs["strides"], attrs["dilations"]
    oh, _ = window_geometry(h, kh, sh, dh, attrs["padding"])
    ow, _ = window_geometry(w, kw, sw, dw, attrs["padding"])
    return (n, oh, ow, o)


_CONV_ATTRS = {"strides": Attr("ints", (1, 1)), "padding": Attr("str", "VALID"), "dilations": Attr("ints", (1, 1))}
_POOL_ATTRS = {"ksize": Attr("ints"), "strides": Attr("ints", (1, 1)), "padding": Attr("str", "VALID")}


@register
class Conv2DOp(OpDef):
    """Operands ``(input, filter)``, or ``(input, filter, bias)`` with the bias ([Cout]) added to
    every output pixel and then ``activation`` ("" or "relu") applied: the form ``fuse-nn`` makes
    of ``relu(conv2d(x, f) + b)``, so the conv's loop nest applies them as it stores (autodiff
    never sees it: fusion runs after the gradients are built)."""

    name = "graph.conv2d"
    num_operands = None
    min_operands = 2
    attrs = dict(_CONV_ATTRS, activation=Attr("str", ""))
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        if len(types) > 3:
            raise CompileError(f"'{cls.name}' takes 2 or 3 operands, got {len(types)}", loc)
        x, f = (_tensor(t, cls.name, loc) for t in types[:2])
        _check_window(attrs, cls.name, loc)
        if x.dtype != f.dtype or not x.dtype.is_float:
            raise CompileError(f"'{cls.name}': needs matching float dtypes, got {x.dtype} and {f.dtype}", loc)
        out = conv_output_shape(x, f, attrs, cls.name, loc)
        if attrs["activation"] not in ("", "relu"):
            raise CompileError(f"'{cls.name}': activation must be \"\" or \"relu\", got {attrs['activation']!r}", loc)
        if len(types) == 3:
            bias = _tensor(types[2], cls.name, loc)
            if bias.dtype != x.dtype or tuple(bias.shape) != (out[3],):
                raise ShapeMismatch(f"'{cls.name}': bias {shape_str(bias.shape)} does not match {out[3]} output channels", loc)
        elif attrs["activation"]:
            raise CompileError(f"'{cls.name}': an activation needs the bias operand", loc)
        return [TensorType(out, x.dtype)]


@register
class Conv2DBackpropInputOp(OpDef):
    """d(conv2d)/d(input): operands ``(grad_out, filter)``; ``input_shape`` gives the result."""

    name = "graph.conv2d_backprop_input"
    num_operands = 2
    attrs = dict(_CONV_ATTRS, input_shape=Attr("dims"))
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        g, f = (_tensor(t, cls.name, loc) for t in types)
        _check_window(attrs, cls.name, loc)
        x = TensorType(tuple(attrs["input_shape"]), g.dtype)
        want = conv_output_shape(x, f, attrs, cls.name, loc)
        if tuple(want) != tuple(g.shape):
            raise ShapeMismatch(f"'{cls.name}': gradient {shape_str(g.shape)} does not match output {shape_str(want)}", loc)
        return [x]


@register
class Conv2DBackpropFilterOp(OpDef):
    """d(conv2d)/d(filter): operands ``(input, grad_out)``; ``filter_shape`` gives the result."""

    name = "graph.conv2d_backprop_filter"
    num_operands = 2
    attrs = dict(_CONV_ATTRS, filter_shape=Attr("ints"))
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        x, g = (_tensor(t, cls.name, loc) for t in types)
        _check_window(attrs, cls.name, loc)
        f = TensorType(tuple(attrs["filter_shape"]), x.dtype)
        want = conv_output_shape(x, f, attrs, cls.name, loc)
        if tuple(want) != tuple(g.shape):
            raise ShapeMismatch(f"'{cls.name}': gradient {shape_str(g.shape)} does not match output {shape_str(want)}", loc)
        return [f]


def pool_output_shape(x: TensorType, attrs, opname: str, loc) -> tuple[Dim, ...]:
    n, h, w, c = _spatial(x, opname, loc)
    (kh, kw), (sh, sw) = attrs["ksize"], attrs["strides"]
    oh, _ = window_geometry(h, kh, sh, 1, attrs["padding"])
    ow, _ = window_geometry(w, kw, sw, 1, attrs["padding"])
    return (n, oh, ow, c)


class _Pool(OpDef):
    num_operands = 1
    attrs = _POOL_ATTRS
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        x = _tensor(types[0], cls.name, loc)
        _check_window(attrs, cls.name, loc)
        if not x.dtype.is_float:
            raise CompileError(f"'{cls.name}' needs a float operand, got {x.dtype}", loc)
        return [TensorType(pool_output_shape(x, attrs, cls.name, loc), x.dtype)]


register(type("MaxPoolOp", (_Pool,), {"name": "graph.max_pool"}))
register(type("AvgPoolOp", (_Pool,), {"name": "graph.avg_pool"}))


@register
class MaxPoolGradOp(OpDef):
    """d(max_pool)/dx: operands ``(x, grad_out)``; each window's adjoint goes to its first maximum.
    With ``mask_positive`` the result is also zero wherever ``x <= 0``: when x is a ReLU's output,
    that is the ReLU's gradient folded in (``fuse-nn`` makes it from ``where(x > 0, adjoint, 0)``)."""

    name = "graph.max_pool_grad"
    num_operands = 2
    attrs = dict(_POOL_ATTRS, mask_positive=Attr("bool", False))
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        x, g = (_tensor(t, cls.name, loc) for t in types)
        _check_window(attrs, cls.name, loc)
        if tuple(pool_output_shape(x, attrs, cls.name, loc)) != tuple(g.shape):
            raise ShapeMismatch(f"'{cls.name}': gradient {shape_str(g.shape)} does not fit input {shape_str(x.shape)}", loc)
        return [x]


@register
class AvgPoolGradOp(OpDef):
    """d(avg_pool)/dx: operand ``grad_out``; ``input_shape`` gives the result."""

    name = "graph.avg_pool_grad"
    num_operands = 1
    attrs = dict(_POOL_ATTRS, input_shape=Attr("dims"))
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        g = _tensor(types[0], cls.name, loc)
        _check_window(attrs, cls.name, loc)
        x = TensorType(tuple(attrs["input_shape"]), g.dtype)
        if tuple(pool_output_shape(x, attrs, cls.name, loc)) != tuple(g.shape):
            raise ShapeMismatch(f"'{cls.name}': gradient {shape_str(g.shape)} does not fit input {shape_str(x.shape)}", loc)
        return [x]


def window_params(attrs, x_shape: Sequence[Dim], k: Sequence[int]) -> list[tuple[int, int, int, int, int]]:
    """Per spatial dim: (in size, out size, stride, dilation, low pad)."""
    strides = attrs["strides"]
    dil = attrs.get("dilations") or (1, 1)
    out = []
    for i in range(2):
        size = int(x_shape[1 + i])
        o, pad = window_geometry(size, k[i], strides[i], dil[i], attrs["padding"])
        out.append((size, o, strides[i], dil[i], pad))
    return out
