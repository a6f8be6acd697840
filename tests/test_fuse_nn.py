"""``fuse-nn``: the ReLU gradient folded into the max-pool adjoint (``max_pool_grad {mask_positive}``),
and a conv's bias and ReLU folded into the conv (``conv2d(x, f, b) {activation}``).

The pool adjoint:
compiled results against an independent numpy adjoint (windows walked in plain Python, first
maximum wins, then the mask), for windows that tile the input exactly and overlapping/padded
ones, with the ties at 0 that ReLU outputs are full of; the pipeline applies the rewrite to a
relu -> max_pool graph, and that graph's gradient still matches central finite differences.
Tolerances: f32 results to 1e-6 (the adjoint only moves values); gradients as in test_gradients.
The conv: compiled and reference results against a numpy convolution (shifted slices, f64) on the
direct-nest and the im2col + GEMM paths, with and without the ReLU, to 1e-4 (f32 sums of up to
54 products); a ReLU conv layer's optimized step holds the folded op and its value and gradients
match numpy.
"""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.backends.reference.interpreter import run_function
from tensorkiln.ir.core import Builder, Function, Module
from tensorkiln.ir.dialects.graph_nn import window_geometry
from tensorkiln.ir.types import DTYPES
from tensorkiln.runtime.compiled_module import compile_graph_module
from tensorkiln.runtime.session import get_ir

from test_gradients import check_grad
from test_nn_ops import tt


def numpy_masked_adjoint(y: np.ndarray, g: np.ndarray, k, s, padding: str) -> np.ndarray:
    """where(y > 0, max-pool adjoint of y with g, 0), written out window by window."""
    n, h, w, c = y.shape
    oh, ph = window_geometry(h, k[0], s[0], 1, padding)
    ow, pw = window_geometry(w, k[1], s[1], 1, padding)
    dx = np.zeros(y.shape, np.float64)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    best, at = None, None
                    for a in range(k[0]):
                        for e in range(k[1]):
                            r, q = i * s[0] - ph + a, j * s[1] - pw + e
                            if 0 <= r < h and 0 <= q < w and (best is None or y[b, r, q, ch] > best):
                                best, at = y[b, r, q, ch], (r, q)
                    if at is not None:
                        dx[b, at[0], at[1], ch] += g[b, i, j, ch]
    return np.where(y > 0, dx, 0.0)


def relu_like(rng, shape) -> np.ndarray:
    """ReLU outputs: about half exact zeros (whole windows of them: ties at 0), some repeated
    positive values (ties above 0)."""
    y = np.maximum(rng.standard_normal(shape), 0).astype(np.float32)
    y[..., ::3] = np.round(y[..., ::3] * 2) / 2
    return y


def masked_fn(shape, k, s, padding: str) -> Function:
    n, h, w, c = shape
    oh, _ = window_geometry(h, k[0], s[0], 1, padding)
    ow, _ = window_geometry(w, k[1], s[1], 1, padding)
    f = Function("f", [tt(["N", h, w, c]), tt(["N", oh, ow, c])], [], ["y", "g"])
    b = Builder(f.body)
    out = b.op("graph.max_pool_grad", *f.args, ksize=k, strides=s, padding=padding, mask_positive=True)
    b.create("return", [out])
    f.result_types = [out.type]
    return f


POOLS = [((2, 2), (2, 2), "VALID", (3, 8, 8, 5)),   # exact tiling: stored, no zero fill
         ((2, 2), (2, 2), "SAME", (2, 7, 9, 4)),    # padded edge windows
         ((3, 3), (2, 2), "SAME", (2, 7, 6, 3)),    # overlapping windows: accumulated
         ((2, 3), (1, 2), "VALID", (2, 5, 7, 17))]


@pytest.mark.parametrize("k,s,padding,shape", POOLS)
def test_masked_adjoint_matches_numpy(k, s, padding, shape):
    rng = np.random.default_rng(sum(shape))
    y = relu_like(rng, shape)
    f = masked_fn(shape, k, s, padding)
    g = rng.standard_normal((shape[0], *f.arg_types[1].shape[1:])).astype(np.float32)
    want = numpy_masked_adjoint(y, g, k, s, padding)
    got = compile_graph_module(Module([f]))["f"].call([y, g])[0]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    # the reference interpreter's reading of the attribute agrees too
    np.testing.assert_allclose(run_function(f, [y, g])[0], want, rtol=1e-6, atol=1e-6)


def test_pipeline_folds_relu_gradient_into_pool_adjoint():
    rng = np.random.default_rng(5)
    x_np = rng.standard_normal((4, 8, 8, 6)).astype(np.float32)
    gr = tk.Graph()
    with gr.as_default():
        x = tk.placeholder(tk.float32, [None, 8, 8, 6])
        y = tk.nn.relu(x)
        p = tk.nn.max_pool(y, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        w_np = rng.standard_normal((4, 4, 6)).astype(np.float32)
        loss = tk.reduce_sum(p * tk.constant(w_np))
        (dx,) = tk.gradients(loss, [x])
        with tk.Session() as sess:
            got = sess.run(dx, {x: x_np})
        text = get_ir(dx, {x: x_np}, stage="optimized", graph=gr)
    assert "mask_positive = true" in text and "graph.where" not in text
    y_np = np.maximum(x_np, 0)
    want = numpy_masked_adjoint(y_np, np.broadcast_to(w_np, (4, 4, 4, 6)), (2, 2), (2, 2), "VALID")
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("k,s,padding", [((2, 2), (2, 2), "VALID"), ((3, 3), (2, 2), "SAME")])
def test_relu_pool_gradient_matches_finite_differences(k, s, padding):
    rng = np.random.default_rng(11)
    # f64, values spread apart so no tap changes window or sign within h = 1e-6
    x = rng.permutation(np.linspace(-2, 2, 2 * 6 * 6 * 3)).reshape(2, 6, 6, 3)
    oh, _ = window_geometry(6, k[0], s[0], 1, padding)
    ow, _ = window_geometry(6, k[1], s[1], 1, padding)

    def body(b, p):
        return b.op("graph.max_pool", b.op("graph.relu", p), ksize=k, strides=s, padding=padding)

    check_grad([tt(x.shape, DTYPES["f64"])], body, [x], (2, oh, ow, 3), rng)


# ------------------------------------------------------------------ conv2d + bias (+ relu)

def numpy_conv(x: np.ndarray, f: np.ndarray, s, padding: str) -> np.ndarray:
    """NHWC x HWIO, TF's SAME/VALID geometry, by summing shifted slices of the padded input (f64)."""
    n, h, w, _ = x.shape
    kh, kw, _, o = f.shape
    oh, ph = window_geometry(h, kh, s[0], 1, padding)
    ow, pw = window_geometry(w, kw, s[1], 1, padding)
    xp = np.zeros((n, h + kh + s[0] * oh, w + kw + s[1] * ow, x.shape[3]))
    xp[:, ph:ph + h, pw:pw + w] = x
    out = np.zeros((n, oh, ow, o))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1]]
            out += patch @ f[i, j]
    return out


# (input shape, filter shape, strides, padding): the direct nest (<= 32 taps) and im2col + GEMM
CONVS = [((3, 12, 12, 1), (5, 5, 1, 32), (1, 1), "SAME"),
         ((2, 9, 7, 1), (3, 3, 1, 8), (2, 1), "VALID"),
         ((3, 8, 8, 6), (3, 3, 6, 16), (1, 1), "SAME"),
         ((2, 9, 10, 5), (3, 2, 5, 20), (2, 2), "SAME")]


@pytest.mark.parametrize("xs,fs,s,padding", CONVS)
@pytest.mark.parametrize("activation", ["relu", ""])
def test_conv_bias_activation_matches_numpy(xs, fs, s, padding, activation):
    rng = np.random.default_rng(sum(xs) + sum(fs))
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(fs).astype(np.float32)
    bias = rng.standard_normal(fs[3]).astype(np.float32)
    f = Function("f", [tt(["N", *xs[1:]]), tt(fs), tt((fs[3],))], [], ["x", "w", "b"])
    b = Builder(f.body)
    out = b.op("graph.conv2d", *f.args, strides=s, padding=padding, activation=activation)
    b.create("return", [out])
    f.result_types = [out.type]
    want = numpy_conv(x.astype(np.float64), w.astype(np.float64), s, padding) + bias
    if activation:
        want = np.maximum(want, 0)
    got = compile_graph_module(Module([f]))["f"].call([x, w, bias])[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(run_function(f, [x, w, bias])[0], want, rtol=1e-4, atol=1e-4)


def test_layers_conv_relu_is_one_op_and_trains():
    """tk.layers.conv2d(activation=relu): the optimized step holds conv2d(x, f, b) {relu}; the
    gradients of all three still match numpy (the ReLU gradient through the output's mask)."""
    rng = np.random.default_rng(2)
    x_np = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    gr = tk.Graph()
    with gr.as_default():
        x = tk.placeholder(tk.float32, [None, 6, 6, 3])
        y = tk.layers.conv2d(x, 4, 3, padding="same", activation=tk.nn.relu)
        loss = tk.reduce_sum(y * y) * 0.5
        params = tk.trainable_variables()
        grads = tk.gradients(loss, [x, *params])
        with tk.Session() as sess:
            sess.run(tk.global_variables_initializer())
            got = sess.run([y, *grads], {x: x_np})
            w_np, b_np = sess.run(params)
        text = get_ir(grads, {x: x_np}, stage="optimized", graph=gr)
    assert 'activation = "relu"' in text
    pre = numpy_conv(x_np.astype(np.float64), w_np.astype(np.float64), (1, 1), "SAME") + b_np
    y_np = np.maximum(pre, 0)
    g = y_np * (pre > 0)  # d(loss)/d(pre)
    np.testing.assert_allclose(got[0], y_np, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[3], g.sum(axis=(0, 1, 2)), rtol=1e-4, atol=1e-4)
    xp = np.pad(x_np.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    dw = np.zeros_like(w_np, dtype=np.float64)
    dx = np.zeros_like(xp)
    for i in range(3):
        for j in range(3):
            dw[i, j] = np.einsum("nhwc,nhwo->co", xp[:, i:i + 6, j:j + 6], g)
            dx[:, i:i + 6, j:j + 6] += g @ w_np[i, j].astype(np.float64).T
    np.testing.assert_allclose(got[2], dw, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[1], dx[:, 1:7, 1:7], rtol=1e-4, atol=1e-4)
