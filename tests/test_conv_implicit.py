"""The direct (implicit im2col) convolution kernels, ``loops.conv_image`` and
``loops.conv_filter_grad``: forward convolutions and filter gradients with unit dilation and output
channels in whole vectors, and stride-1 input gradients, against a float64
numpy reference (relative error 1e-5 of the largest magnitude: f32 sums of up to 800 products).
Shapes cover several tiles per output row and an edge tile, strides 2 and 3, 'VALID' and 'SAME'
(even filters: asymmetric padding), filters taller than the image, the fused bias + ReLU, f64."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tensorkiln as tk
from tensorkiln.backends.llvm.conv_kernel import tile_for
from tensorkiln.ir.parser import parse_module
from tensorkiln.ir.printer import print_module
from tensorkiln.ir.verifier import verify_module


def _pads(size: int, k: int, s: int, padding: str) -> tuple[int, int, int]:
    """(out size, padding before, padding after) as TensorFlow computes them."""
    if padding == "VALID":
        return (size - k) // s + 1, 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def reference(x: np.ndarray, f: np.ndarray, gy: np.ndarray | None, s: int, padding: str):
    """Forward convolution and (with gy) its input and filter gradients, in float64."""
    n, h, w, c = x.shape
    kh, kw, _, co = f.shape
    oh, pt, pb = _pads(h, kh, s, padding)
    ow, pl, pr = _pads(w, kw, s, padding)
    xp = np.zeros((n, h + pt + pb, w + pl + pr, c))
    xp[:, pt:pt + h, pl:pl + w] = x
    out = np.zeros((n, oh, ow, co))
    dxp = np.zeros_like(xp)
    dw = np.zeros(f.shape)
    for ky in range(kh):
        for kx in range(kw):
            win = (slice(None), slice(ky, ky + (oh - 1) * s + 1, s), slice(kx, kx + (ow - 1) * s + 1, s))
            out += np.einsum("nhwc,co->nhwo", xp[win], f[ky, kx].astype(np.float64))
            if gy is not None:
                dxp[win] += np.einsum("nhwo,co->nhwc", gy.astype(np.float64), f[ky, kx].astype(np.float64))
                dw[ky, kx] = np.einsum("nhwc,nhwo->co", xp[win], gy.astype(np.float64))
    return out, dxp[:, pt:pt + h, pl:pl + w], dw


def run_conv(shape, filt, s, padding, dtype=np.float32, bias_relu=False, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    f = rng.standard_normal(filt).astype(dtype)
    bias = rng.standard_normal(filt[3]).astype(dtype)
    g = tk.Graph()
    with g.as_default():
        tdt = tk.float32 if dtype == np.float32 else tk.float64
        xt, ft = tk.placeholder(tdt, shape), tk.placeholder(tdt, filt)
        y = tk.nn.conv2d(xt, ft, strides=[1, s, s, 1], padding=padding)
        if bias_relu:
            y = tk.nn.relu(tk.nn.bias_add(y, tk.constant(bias)))
        gyt = tk.placeholder(tdt, y.shape)
        dx, df = tk.gradients(y, [xt, ft], grad_ys=gyt)
        sess = tk.Session()
    ref = reference(x, f, None, s, padding)[0]
    gy = rng.standard_normal(ref.shape).astype(dtype)
    if bias_relu:
        ref = np.maximum(ref + bias, 0)
        _, rdx, rdw = reference(x, f, np.where(ref > 0, gy, 0), s, padding)
    else:
        _, rdx, rdw = reference(x, f, gy, s, padding)
    got, gdx, gdw = sess.run([y, dx, df], {xt: x, ft: f, gyt: gy})
    return got, ref, gdx, rdx, gdw, rdw


def _close(got, ref, tol):
    scale = max(np.abs(ref).max(), 1e-30)
    assert np.abs(got - ref).max() / scale < tol


CASES = [
    # batch, H, W, Cin | KH, KW, Cout | stride, padding
    ((3, 14, 14, 32), (5, 5, 32, 64), 1, "SAME"),     # the convnet's conv2: one 14-pixel tile a row
    ((2, 9, 11, 16), (3, 3, 16, 32), 1, "SAME"),
    ((2, 10, 7, 16), (3, 3, 16, 48), 1, "VALID"),     # 48 channels: three one-vector tiles
    ((2, 5, 37, 16), (3, 3, 16, 16), 1, "SAME"),      # 37 pixels a row: tiles of 13, 12, 12
    ((2, 9, 11, 8), (3, 2, 8, 16), 2, "SAME"),        # stride 2, even filter width (padding 0 / 1)
    ((2, 13, 17, 3), (4, 4, 3, 16), 3, "SAME"),       # stride 3; input gradient by the im2col path
    ((1, 3, 6, 16), (5, 3, 16, 16), 1, "SAME"),       # filter taller than the image
    ((5, 6, 30, 16), (1, 1, 16, 16), 1, "VALID"),     # 1x1: direct forward, kernel input gradient
]


@pytest.mark.parametrize("shape,filt,s,padding", CASES, ids=[f"{c[0]}x{c[1]}s{c[2]}{c[3]}" for c in CASES])
def test_forward_and_input_gradient_match_numpy(shape, filt, s, padding):
    got, ref, gdx, rdx, gdw, rdw = run_conv(shape, filt, s, padding)
    _close(got, ref, 1e-5)
    _close(gdx, rdx, 1e-5)
    _close(gdw, rdw, 1e-5)


def test_fused_bias_relu_and_f64():
    got, ref, gdx, rdx, gdw, rdw = run_conv((2, 8, 9, 16), (3, 3, 16, 32), 1, "SAME", bias_relu=True)
    _close(got, ref, 1e-5)
    _close(gdx, rdx, 1e-5)
    _close(gdw, rdw, 1e-5)
    got, ref, gdx, rdx, gdw, rdw = run_conv((2, 7, 15, 16), (3, 3, 16, 16), 1, "SAME", dtype=np.float64)
    _close(got, ref, 1e-12)
    _close(gdx, rdx, 1e-12)
    _close(gdw, rdw, 1e-12)


@settings(max_examples=12, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 33), k=st.integers(1, 4), s=st.integers(1, 2),
       cout=st.sampled_from([16, 32, 64]), padding=st.sampled_from(["SAME", "VALID"]))
def test_random_geometries_match_numpy(h, w, k, s, cout, padding):
    if padding == "VALID" and (k > h or k > w):
        return  # no output
    got, ref, gdx, rdx, gdw, rdw = run_conv((2, h, w, 16), (k, k, 16, cout), s, padding, seed=h * 100 + w)
    _close(got, ref, 1e-5)
    _close(gdx, rdx, 1e-5)
    _close(gdw, rdw, 1e-5)


def test_the_kernel_takes_the_convnets_convolutions():
    """conv2's forward, input and filter gradients take the kernels; the ops' text round-trips."""
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [4, 14, 14, 32])
        f = tk.Variable(tk.zeros([5, 5, 32, 64]))
        y = tk.nn.conv2d(x, f, strides=[1, 1, 1, 1], padding="SAME")
        dx, df = tk.gradients(tk.reduce_sum(y), [x, f])
        text = tk.get_ir([y, dx, df], [x], stage="loops")
    assert text.count("loops.conv_image") == 2 and text.count("loops.conv_filter_grad") == 1
    m = parse_module(text)
    verify_module(m)
    assert print_module(m) == text


def test_tiles_cover_the_row_with_the_least_waste():
    avx512 = "+avx512f,+avx2,+fma"
    assert tile_for(avx512, 32, 14, 64) == (14, 2)   # not 6 x 4: tiles of 6, 6, 2
    assert tile_for(avx512, 32, 28, 64) == (14, 2)
    assert tile_for(avx512, 32, 37, 16) == (13, 1)   # 13 + 12 + 12
    assert tile_for(avx512, 32, 12, 64) == (6, 4)    # 6 fits 12 exactly: the widest tile
    assert tile_for(avx512, 32, 14, 40) is None      # not whole vectors
    assert tile_for("+avx2,+fma", 32, 14, 64)[0] * tile_for("+avx2,+fma", 32, 14, 64)[1] <= 13


def test_exported_library_runs_the_kernel(tmp_path):
    """The kernels are generated into the model's own code, so an AOT library has them too: a
    conv layer exported with tk.aot.export and loaded back agrees with the Session."""
    from tensorkiln import aot

    rng = np.random.default_rng(3)
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [2, 9, 10, 16], name="x")
        f = tk.Variable(rng.standard_normal((3, 3, 16, 32)).astype(np.float32))
        y = tk.nn.relu(tk.nn.conv2d(x, f, strides=[1, 1, 1, 1], padding="SAME"))
        sess = tk.Session()
        sess.run(tk.global_variables_initializer())
        xv = rng.standard_normal((2, 9, 10, 16)).astype(np.float32)
        want = sess.run(y, {x: xv})
        so, _ = aot.export(sess, [x], y, "convlayer", tmp_path)
    got = aot.load(so)(xv)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert "loops.conv_image" in tk.get_ir(y, [x], stage="loops", graph=g)


@pytest.mark.parametrize("shape", [(2, 5, 0, 16), (2, 0, 5, 16), (0, 5, 5, 16)])
def test_empty_images_and_batches(shape):
    """Zero-width or zero-height images stay on the im2col path (the padded copy would read a row
    of width 0); an empty batch runs no image. Results are empty or zero, like numpy's."""
    got, ref, gdx, rdx, gdw, rdw = run_conv(shape, (3, 3, 16, 16), 1, "SAME")
    assert got.shape == ref.shape and gdx.shape == rdx.shape
    np.testing.assert_array_equal(gdw, np.zeros_like(rdw))


def test_the_ops_reject_buffers_that_do_not_fit():
    from tensorkiln.errors import CompileError
    from tensorkiln.ir.dialects.loops import ConvFilterGradOp, ConvImageOp
    from tensorkiln.ir.types import DTYPES, MemRefType

    f32 = DTYPES["f32"]
    xp, w, out = MemRefType((14, 18, 32), f32), MemRefType((5, 160, 64), f32), MemRefType((14, 14, 64), f32)
    attrs = {"pad": 2, "strides": [1, 1]}
    assert ConvImageOp.infer([xp, w, out], attrs, None) == []
    assert ConvFilterGradOp.infer([xp, out, w], attrs, None) == []
    bad = [([xp, MemRefType((800, 64), f32), out], "3-D"),                      # a 2-D filter
           ([xp, w, MemRefType((14, 14, 32), f32)], "do not fit"),              # channels differ
           ([xp, MemRefType((5, 150, 64), f32), out], "do not fit"),            # taps not whole pixels
           ([xp, w, MemRefType((14, 14, 64), DTYPES["f64"])], "do not fit")]    # dtypes differ
    for types, msg in bad:
        with pytest.raises(CompileError, match=msg):
            ConvImageOp.infer(types, attrs, None)
