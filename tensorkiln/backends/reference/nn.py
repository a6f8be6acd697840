"""Reference (numpy) convolution and pooling ops, registered into the interpreter's op table.

Written for clarity, not speed: pad the input as TensorFlow does, then loop over the kernel taps
with whole-array arithmetic. Used only by tests and constant folding.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...ir.dialects.graph_nn import window_geometry
from .interpreter import _op


def _pads(shape, k, strides, dil, padding):
    out, pads = [], []
    for i in range(2):
        o, lo = window_geometry(int(shape[1 + i]), k[i], strides[i], dil[i], padding)
        eff = (k[i] - 1) * dil[i] + 1
        hi = max((o - 1) * strides[i] + eff - int(shape[1 + i]) - lo, 0)
        out.append(o)
        pads.append((lo, hi))
    return out, pads


def _taps(x, k, strides, dil, padding, fill):
    """Yield (i, j, window) where window[n, oh, ow, c] = padded x at tap (i, j)."""
    (oh, ow), pads = _pads(x.shape, k, strides, dil, padding)
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=fill)
    for i in range(k[0]):
        for j in range(k[1]):
            h0, w0 = i * dil[0], j * dil[1]
            yield i, j, xp[:, h0:h0 + (oh - 1) * strides[0] + 1:strides[0], w0:w0 + (ow - 1) * strides[1] + 1:strides[1], :]


def _conv(x, f, attrs):
    kh, kw, _, o = f.shape
    (oh, ow), _ = _pads(x.shape, (kh, kw), attrs["strides"], attrs["dilations"], attrs["padding"])
    out = np.zeros((x.shape[0], oh, ow, o), dtype=x.dtype)
    for i, j, win in _taps(x, (kh, kw), attrs["strides"], attrs["dilations"], attrs["padding"], 0):
        out += np.tensordot(win, f[i, j], axes=([3], [0])).astype(x.dtype)
    return out


@_op("conv2d")
def _conv2d(xs: list[np.ndarray], attrs: dict[str, Any], dims) -> np.ndarray:
    y = _conv(xs[0], xs[1], attrs)
    if len(xs) == 3:  # the fused bias (and activation) of fuse-nn
        y = (y + xs[2]).astype(y.dtype)
        if attrs.get("activation") == "relu":
            y = np.maximum(y, 0).astype(y.dtype)
    return y


@_op("conv2d_backprop_input")
def _conv2d_bi(xs, attrs, dims):
    g, f = xs
    shape = (g.shape[0],) + tuple(int(d) for d in attrs["input_shape"][1:])
    kh, kw = f.shape[:2]
    (oh, ow), pads = _pads(shape, (kh, kw), attrs["strides"], attrs["dilations"], attrs["padding"])
    sh, sw = attrs["strides"]
    dh, dw = attrs["dilations"]
    hp = shape[1] + pads[0][0] + pads[0][1]
    wp = shape[2] + pads[1][0] + pads[1][1]
    dxp = np.zeros((shape[0], hp, wp, shape[3]), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            contrib = np.tensordot(g, f[i, j], axes=([3], [1])).astype(g.dtype)
            dxp[:, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw, :] += contrib
    return dxp[:, pads[0][0]:pads[0][0] + shape[1], pads[1][0]:pads[1][0] + shape[2], :]


@_op("conv2d_backprop_filter")
def _conv2d_bf(xs, attrs, dims):
    x, g = xs
    kh, kw, c, o = attrs["filter_shape"]
    df = np.zeros((kh, kw, c, o), dtype=x.dtype)
    for i, j, win in _taps(x, (kh, kw), attrs["strides"], attrs["dilations"], attrs["padding"], 0):
        df[i, j] = np.tensordot(win, g, axes=([0, 1, 2], [0, 1, 2])).astype(x.dtype)
    return df


@_op("max_pool")
def _max_pool(xs, attrs, dims):
    out = None
    for _, _, win in _taps(xs[0], attrs["ksize"], attrs["strides"], (1, 1), attrs["padding"], -np.inf):
        out = win.copy() if out is None else np.maximum(out, win)
    return out


def _avg_parts(x_shape, attrs, dtype):
    ones = np.ones((1,) + tuple(x_shape[1:3]) + (1,), dtype=dtype)
    count = sum(w for _, _, w in _taps(ones, attrs["ksize"], attrs["strides"], (1, 1), attrs["padding"], 0))
    return count


@_op("avg_pool")
def _avg_pool(xs, attrs, dims):
    x = xs[0]
    total = sum(w for _, _, w in _taps(x, attrs["ksize"], attrs["strides"], (1, 1), attrs["padding"], 0))
    return (total / _avg_parts(x.shape, attrs, x.dtype)).astype(x.dtype)


@_op("avg_pool_grad")
def _avg_pool_grad(xs, attrs, dims):
    g = xs[0]
    shape = (g.shape[0],) + tuple(int(d) for d in attrs["input_shape"][1:])
    share = g / _avg_parts(shape, attrs, g.dtype)
    k, s = attrs["ksize"], attrs["strides"]
    (oh, ow), pads = _pads(shape, k, s, (1, 1), attrs["padding"])
    dxp = np.zeros((shape[0], shape[1] + sum(pads[0]), shape[2] + sum(pads[1]), shape[3]), dtype=g.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            dxp[:, i:i + (oh - 1) * s[0] + 1:s[0], j:j + (ow - 1) * s[1] + 1:s[1], :] += share
    return dxp[:, pads[0][0]:pads[0][0] + shape[1], pads[1][0]:pads[1][0] + shape[2], :].astype(g.dtype)


@_op("max_pool_grad")
def _max_pool_grad(xs, attrs, dims):
    x, g = xs
    k, s = attrs["ksize"], attrs["strides"]
    (oh, ow), pads = _pads(x.shape, k, s, (1, 1), attrs["padding"])
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for a in range(oh):
            for b in range(ow):
                h0, w0 = a * s[0] - pads[0][0], b * s[1] - pads[1][0]
                for ch in range(x.shape[3]):
                    best, pos = -np.inf, None
                    for i in range(k[0]):
                        for j in range(k[1]):
                            h, w = h0 + i, w0 + j
                            if 0 <= h < x.shape[1] and 0 <= w < x.shape[2] and x[n, h, w, ch] > best:
                                best, pos = x[n, h, w, ch], (h, w)
                    if pos is not None:
                        dx[n, pos[0], pos[1], ch] += g[n, a, b, ch]
    if attrs.get("mask_positive"):
        dx = np.where(x > 0, dx, np.zeros_like(dx))
    return dx
