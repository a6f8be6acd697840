"""Plain numpy meanings of the TF-1 ops the Session-level fuzzer draws (tests/fuzz_session.py).

These are written from TensorFlow's documented semantics, independently of tensorkiln's reference
interpreter, so the fuzzer has a second opinion that shares no code with the compiler: NHWC
convolution and pooling with SAME/VALID padding (SAME averages only in-bounds elements), softmax
and the cross-entropy losses in their stable forms, integer division and reductions with TF's
rounding and int32 wrap-around. Every function keeps its input dtype (f32 math stays f32).
"""
from __future__ import annotations

import math

import numpy as np


def _out_size(n: int, k: int, s: int, padding: str) -> tuple[int, int]:
    """Output length and leading padding of a window ``k`` with stride ``s`` over ``n`` elements."""
    if padding == "VALID":
        return (n - k) // s + 1, 0
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2


def conv2d(x: np.ndarray, f: np.ndarray, strides: tuple[int, int], padding: str,
           dilations: tuple[int, int] = (1, 1)) -> np.ndarray:
    n, h, w, c = x.shape
    kh, kw, _, o = f.shape
    (sh, sw), (dh, dw) = strides, dilations
    ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    oh, top = _out_size(h, ekh, sh, padding)
    ow, left = _out_size(w, ekw, sw, padding)
    ph = max((oh - 1) * sh + ekh - h - top, 0)
    pw = max((ow - 1) * sw + ekw - w - left, 0)
    xp = np.pad(x, ((0, 0), (top, ph), (left, pw), (0, 0)))
    out = np.zeros((n, oh, ow, o), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw, :]
            out += np.tensordot(patch, f[i, j], axes=([3], [0])).astype(x.dtype)
    return out


def pool(x: np.ndarray, ksize: tuple[int, int], strides: tuple[int, int], padding: str, kind: str) -> np.ndarray:
    """max or avg pooling; padded positions never count (TF)."""
    n, h, w, c = x.shape
    (kh, kw), (sh, sw) = ksize, strides
    oh, top = _out_size(h, kh, sh, padding)
    ow, left = _out_size(w, kw, sw, padding)
    out = np.zeros((n, oh, ow, c), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * sh - top, j * sw - left
            win = x[:, max(r0, 0):max(min(r0 + kh, h), 0), max(c0, 0):max(min(c0 + kw, w), 0), :]
            if kind == "max":
                out[:, i, j, :] = win.max(axis=(1, 2))
            else:
                out[:, i, j, :] = win.sum(axis=(1, 2), dtype=x.dtype) / x.dtype.type(win.shape[1] * win.shape[2])
    return out


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    z = x - m
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_ce(labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    return -(labels * log_softmax(logits, -1)).sum(axis=-1)


def sparse_softmax_ce(labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    ls = log_softmax(logits, -1)
    return -np.take_along_axis(ls, labels.astype(np.int64)[:, None], axis=1)[:, 0]


def sigmoid_ce(labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    x = logits
    return np.maximum(x, 0) - x * labels + np.log1p(np.exp(-np.abs(x)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    one = x.dtype.type(1)
    return one / (one + np.exp(-x))


def erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)


def elu(x: np.ndarray) -> np.ndarray:
    return np.where(x < 0, np.expm1(np.minimum(x, 0)), x)


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(x.dtype.type(0), x)


def truncatediv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division rounding toward zero (C, TF's truncatediv and integer reduce_mean)."""
    q = np.abs(a) // np.abs(b)
    return (np.sign(a) * np.sign(b) * q).astype(np.result_type(a, b))


def reduce(kind: str, x: np.ndarray, axes: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
    """TF's reductions: integer sums/products wrap in the input width, an integer mean truncates."""
    ax = tuple(range(x.ndim)) if axes is None else tuple(sorted({a % x.ndim for a in axes}))
    if kind in ("sum", "prod", "mean"):
        wide = np.int64 if x.dtype.kind == "i" else x.dtype
        acc = (np.sum if kind != "prod" else np.prod)(x, axis=ax, keepdims=keepdims, dtype=wide)
        if kind == "mean":
            n = int(np.prod([x.shape[a] for a in ax], dtype=np.int64))
            acc = np.asarray(acc).astype(x.dtype)  # TF sums in the input width first
            acc = truncatediv(acc, x.dtype.type(n)) if x.dtype.kind == "i" else acc / x.dtype.type(n)
        return np.asarray(acc).astype(x.dtype)
    return np.asarray((np.max if kind == "max" else np.min)(x, axis=ax, keepdims=keepdims))
