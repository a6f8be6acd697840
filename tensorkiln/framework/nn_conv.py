"""Convolution and pooling ops of ``tk.nn``: ``conv2d``, ``max_pool``, ``avg_pool`` (plus the
``bias_add`` and ``l2_loss`` of :mod:`.nn_ops`, re-exported so this module is the whole CNN kit).

Arguments follow TensorFlow 1: ``strides``/``ksize``/``dilations`` are 4-element lists laid out like
the data (``[1, sh, sw, 1]`` for NHWC, ``[1, 1, sh, sw]`` for NCHW); an int or a 2-element list is
accepted too. ``padding`` is ``"SAME"`` or ``"VALID"``. Each op is one graph op whose ``build``
emits ``graph.conv2d`` / ``graph.max_pool`` / ``graph.avg_pool`` (NHWC, HWIO filters), so static
shapes, compilation and the autodiff rules are those of the graph dialect. ``NCHW`` data is
transposed to NHWC and back around the op. Spatial dims must be known; the batch may be ``None``.
"""
from __future__ import annotations

from typing import Any, Sequence

from .constant_op import convert_to_tensor
from .graph import name_scope
from .math_ops import _check_dtype
from .nn_ops import bias_add, l2_loss  # noqa: F401  (re-exported)
from .ops import Tensor, make_op

__all__ = ["avg_pool", "avg_pool2d", "bias_add", "conv2d", "l2_loss", "max_pool", "max_pool2d"]

_FORMATS = ("NHWC", "NCHW")
_TO_NHWC = (0, 2, 3, 1)
_TO_NCHW = (0, 3, 1, 2)


def _format(data_format: str | None) -> str:
    fmt = (data_format or "NHWC").upper()
    if fmt not in _FORMATS:
        raise ValueError(f"data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    return fmt


def _padding(padding: Any) -> str:
    p = padding.upper() if isinstance(padding, str) else padding
    if p not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    return p


def _window(value: Any, what: str, fmt: str, default: int | None = None) -> tuple[int, int]:
    """A TF window argument (int, [h, w] or the 4-element data-layout list) as (h, w)."""
    if value is None:
        if default is None:
            raise ValueError(f"{what} must be given")
        return (default, default)
    if isinstance(value, int):
        return (int(value), int(value))
    vals = [int(v) for v in value]
    if len(vals) == 1:
        return (vals[0], vals[0])
    if len(vals) == 2:
        return (vals[0], vals[1])
    if len(vals) != 4:
        raise ValueError(f"{what} must have length 1, 2 or 4, got {list(value)}")
    outer = (vals[0], vals[3]) if fmt == "NHWC" else (vals[0], vals[1])
    hw = (vals[1], vals[2]) if fmt == "NHWC" else (vals[2], vals[3])
    if outer != (1, 1):
        raise ValueError(f"{what} in the batch and depth dimensions must be 1, got {vals}")
    if min(hw) < 1:
        raise ValueError(f"{what} must be positive, got {vals}")
    return hw


def _to_nhwc(b, x, fmt: str):
    return x if fmt == "NHWC" else b.op("graph.transpose", x, perm=_TO_NHWC)


def _from_nhwc(b, y, fmt: str):
    return y if fmt == "NHWC" else b.op("graph.transpose", y, perm=_TO_NCHW)


def _check_rank(t: Tensor, rank: int, what: str, op_type: str, scope: str) -> None:
    if t.shape.ndims is not None and t.shape.ndims != rank:
        raise ValueError(f"Shape must be rank {rank} but is rank {t.shape.ndims} for '{scope[:-1]}' (op: '{op_type}') "
                         f"with {what} shape {t.shape.tf_list_str()}.")


def conv2d(input: Any, filter: Any = None, strides: Sequence[int] | int | None = None, padding: str | None = None,
           use_cudnn_on_gpu: bool = True, data_format: str = "NHWC", dilations: Sequence[int] | int | None = None,
           name: str | None = None, filters: Any = None) -> Tensor:
    """2-D convolution (cross-correlation) of ``input`` [N, H, W, C] with ``filter`` [KH, KW, C, O]."""
    if filter is None:
        filter = filters
    if filter is None or strides is None or padding is None:
        raise ValueError("conv2d needs filter, strides and padding")
    fmt = _format(data_format)
    pad = _padding(padding)
    st = _window(strides, "strides", fmt)
    dl = _window(dilations, "dilations", fmt, default=1)
    if st != (1, 1) and dl != (1, 1):
        raise ValueError("strides > 1 not supported in conjunction with dilation_rate > 1")
    with name_scope(name, "Conv2D", [input, filter]) as scope:
        x = convert_to_tensor(input, name="input")
        f = convert_to_tensor(filter, dtype=x.dtype, name="filter")
        _check_dtype("Conv2D", "input", x.dtype, "float")
        _check_rank(x, 4, "input", "Conv2D", scope)
        _check_rank(f, 4, "filter", "Conv2D", scope)

        def build(ctx, ins):
            b = ctx.b
            y = b.op("graph.conv2d", _to_nhwc(b, ins[0], fmt), ins[1], strides=st, padding=pad, dilations=dl)
            return [_from_nhwc(b, y, fmt)]
        attrs = {"T": x.dtype, "strides": list(strides) if not isinstance(strides, int) else [strides],
                 "padding": pad, "data_format": fmt, "dilations": [1, dl[0], dl[1], 1] if fmt == "NHWC" else [1, 1, *dl],
                 "use_cudnn_on_gpu": use_cudnn_on_gpu}
        return make_op("Conv2D", [x, f], name=scope, build=build, attrs=attrs,
                       unknown_rank_out=[((None,) * 4, x.dtype)]).outputs[0]


def _pool(op_type: str, graph_op: str, value: Any, ksize: Any, strides: Any, padding: str, data_format: str | None,
          name: str | None) -> Tensor:
    fmt = _format(data_format)
    pad = _padding(padding)
    k = _window(ksize, "ksize", fmt)
    st = _window(strides, "strides", fmt)
    with name_scope(name, op_type, [value]) as scope:
        x = convert_to_tensor(value, name="input")
        _check_dtype(op_type, "input", x.dtype, "float")
        _check_rank(x, 4, "input", op_type, scope)

        def build(ctx, ins):
            b = ctx.b
            y = b.op(graph_op, _to_nhwc(b, ins[0], fmt), ksize=k, strides=st, padding=pad)
            return [_from_nhwc(b, y, fmt)]
        attrs = {"T": x.dtype, "ksize": k, "strides": st, "padding": pad, "data_format": fmt}
        return make_op(op_type, [x], name=scope, build=build, attrs=attrs,
                       unknown_rank_out=[((None,) * 4, x.dtype)]).outputs[0]


def max_pool(value: Any, ksize: Any, strides: Any, padding: str, data_format: str = "NHWC", name: str | None = None,
             input: Any = None) -> Tensor:
    """Max over each ``ksize`` window (windows past the edge with SAME padding ignore the padding)."""
    return _pool("MaxPool", "graph.max_pool", value if input is None else input, ksize, strides, padding, data_format, name)


def avg_pool(value: Any, ksize: Any, strides: Any, padding: str, data_format: str = "NHWC", name: str | None = None,
             input: Any = None) -> Tensor:
    """Mean over each ``ksize`` window (SAME padding averages only the in-bounds elements, as TF)."""
    return _pool("AvgPool", "graph.avg_pool", value if input is None else input, ksize, strides, padding, data_format, name)


max_pool2d = max_pool
avg_pool2d = avg_pool
