"""Convolution and pooling: compiled code against the reference interpreter, and gradients against
central finite differences (f64, h = 1e-6, rtol 1e-5).

The reference itself is checked on a hand-computed case so the two cannot agree on a shared error.
"""
from __future__ import annotations

import numpy as np
import pytest

from tensorkiln.backends.reference.interpreter import run_function
from tensorkiln.ir.core import Builder, Function, Module
from tensorkiln.ir.types import DTYPES, SymDim, TensorType
from tensorkiln.runtime.compiled_module import compile_graph_module

from test_gradients import check_grad

f32, f64 = DTYPES["f32"], DTYPES["f64"]


def tt(shape, dt=f32):
    return TensorType(tuple(SymDim.sym(d) if isinstance(d, str) else d for d in shape), dt)


def compare(arg_types, body, arrays, rtol=1e-5, atol=1e-5):
    f = Function("f", arg_types, [], [f"a{i}" for i in range(len(arg_types))])
    b = Builder(f.body)
    out = body(b, *f.args)
    b.create("return", [out])
    f.result_types = [out.type]
    want = run_function(f, arrays)[0]
    got = compile_graph_module(Module([f]))["f"].call(arrays)[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    return got


def test_reference_conv_matches_hand_computation():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    w = np.ones((2, 2, 1, 1), np.float32)
    got = compare([tt(x.shape), tt(w.shape)], lambda b, p, q: b.op("graph.conv2d", p, q, strides=(2, 2)), [x, w])
    np.testing.assert_array_equal(got[0, :, :, 0], [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]])


CONV_CASES = [((1, 1), "VALID", (1, 1)), ((1, 1), "SAME", (1, 1)), ((2, 2), "SAME", (1, 1)),
              ((2, 1), "VALID", (1, 1)), ((1, 1), "SAME", (2, 2)), ((3, 2), "SAME", (1, 1))]


@pytest.mark.parametrize("strides,padding,dil", CONV_CASES)
def test_conv2d_forward(strides, padding, dil):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 5)).astype(np.float32)
    compare([tt(["N", 7, 6, 3]), tt(w.shape)],
            lambda b, p, q: b.op("graph.conv2d", p, q, strides=strides, padding=padding, dilations=dil), [x, w])


@pytest.mark.parametrize("op", ["max_pool", "avg_pool"])
@pytest.mark.parametrize("k,s,padding", [((2, 2), (2, 2), "SAME"), ((3, 3), (2, 2), "SAME"), ((2, 3), (1, 2), "VALID")])
def test_pool_forward(op, k, s, padding):
    x = np.random.default_rng(1).standard_normal((3, 7, 5, 4)).astype(np.float32)
    compare([tt(["N", 7, 5, 4])], lambda b, p: b.op(f"graph.{op}", p, ksize=k, strides=s, padding=padding), [x])


@pytest.mark.parametrize("strides,padding,dil", CONV_CASES)
def test_conv2d_gradients(strides, padding, dil):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 5, 4, 2))
    w = rng.standard_normal((3, 2, 2, 3))
    out = run_function(_one(lambda b, p, q: b.op("graph.conv2d", p, q, strides=strides, padding=padding, dilations=dil),
                            [tt(x.shape, f64), tt(w.shape, f64)]), [x, w])[0].shape
    check_grad([tt(x.shape, f64), tt(w.shape, f64)],
               lambda b, p, q: b.op("graph.conv2d", p, q, strides=strides, padding=padding, dilations=dil), [x, w], out, rng)


@pytest.mark.parametrize("op", ["max_pool", "avg_pool"])
@pytest.mark.parametrize("k,s,padding", [((2, 2), (2, 2), "SAME"), ((3, 3), (2, 2), "SAME"), ((2, 3), (1, 2), "VALID")])
def test_pool_gradients(op, k, s, padding):
    rng = np.random.default_rng(3)
    x = rng.permutation(2 * 5 * 5 * 2).reshape(2, 5, 5, 2) / 7.0  # distinct values: no ties in max
    body = lambda b, p: b.op(f"graph.{op}", p, ksize=k, strides=s, padding=padding)  # noqa: E731
    out = run_function(_one(body, [tt(x.shape, f64)]), [x])[0].shape
    check_grad([tt(x.shape, f64)], body, [x], out, rng)


def _one(body, types):
    f = Function("f", types, [], None)
    b = Builder(f.body)
    out = body(b, *f.args)
    b.create("return", [out])
    f.result_types = [out.type]
    return f


@pytest.mark.parametrize("op", ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter"])
def test_conv_chunked_batches(op):
    """Batches above the GEMM chunk (8 images) take the chunked path plus the one-by-one remainder."""
    rng = np.random.default_rng(9)
    n = 11
    x = rng.standard_normal((n, 6, 5, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    g = rng.standard_normal((n, 3, 3, 4)).astype(np.float32)
    attrs = dict(strides=(2, 2), padding="SAME")
    if op == "conv2d":
        compare([tt(["N", 6, 5, 3]), tt(w.shape)], lambda b, p, q: b.op("graph.conv2d", p, q, **attrs), [x, w])
    elif op == "conv2d_backprop_input":
        compare([tt(["N", 3, 3, 4]), tt(w.shape)], lambda b, p, q: b.op("graph.conv2d_backprop_input", p, q, input_shape=(SymDim.sym("N"), 6, 5, 3), **attrs), [g, w])
    else:
        compare([tt(["N", 6, 5, 3]), tt(["N", 3, 3, 4])], lambda b, p, q: b.op("graph.conv2d_backprop_filter", p, q, filter_shape=(3, 3, 3, 4), **attrs), [x, g])


def _conv_op(b, op, p, q, n, x_shape, f_shape, attrs):
    if op == "conv2d":
        return b.op("graph.conv2d", p, q, **attrs)
    if op == "conv2d_backprop_input":
        return b.op("graph.conv2d_backprop_input", p, q, input_shape=(n, *x_shape[1:]), **attrs)
    return b.op("graph.conv2d_backprop_filter", p, q, filter_shape=f_shape, **attrs)


def _conv_case(op, dt, n, hw, cin, cout, k, attrs, rng):
    """(arg types, body, arrays) of one conv op with a symbolic batch, plus its output shape."""
    npdt = np.float32 if dt is f32 else np.float64
    x_shape, f_shape = (n, *hw, cin), (*k, cin, cout)
    out_shape = run_function(_one(lambda b, p, q: b.op("graph.conv2d", p, q, **attrs), [tt(x_shape, dt), tt(f_shape, dt)]),
                             [np.zeros(x_shape, npdt), np.zeros(f_shape, npdt)])[0].shape
    x = rng.standard_normal(x_shape).astype(npdt)
    w = rng.standard_normal(f_shape).astype(npdt)
    g = rng.standard_normal(out_shape).astype(npdt)
    sym = SymDim.sym("N")
    if op == "conv2d":
        types, arrays = [tt(["N", *x_shape[1:]], dt), tt(f_shape, dt)], [x, w]
    elif op == "conv2d_backprop_input":
        types, arrays = [tt(["N", *out_shape[1:]], dt), tt(f_shape, dt)], [g, w]
    else:
        types, arrays = [tt(["N", *x_shape[1:]], dt), tt(["N", *out_shape[1:]], dt)], [x, g]
    return types, (lambda b, p, q: _conv_op(b, op, p, q, sym, x_shape, f_shape, attrs)), arrays


CONV_OPS = ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter"]
# (dtype, batch, spatial, cin, cout, kernel, attrs): Cin = 1 and Cin > 1, odd sizes, stride 2,
# SAME and VALID, batch 1, f64.
KERNEL_CASES = [
    (f32, 1, (7, 9), 1, 5, (3, 3), dict(padding="SAME")),
    (f32, 3, (9, 8), 1, 16, (5, 5), dict(padding="SAME", strides=(2, 2))),
    (f32, 5, (8, 7), 6, 3, (2, 3), dict(padding="VALID", strides=(2, 1))),
    (f64, 2, (6, 6), 4, 7, (3, 3), dict(padding="VALID")),
    (f64, 1, (5, 7), 1, 2, (5, 3), dict(padding="SAME", strides=(2, 2), dilations=(1, 2))),
    # direct nests (KH*KW*Cin <= 32) with rows of 5 and 2 output pixels (groups of 1 and 2)
    (f64, 2, (6, 5), 2, 3, (3, 3), dict(padding="SAME")),
    (f32, 3, (6, 4), 3, 5, (3, 3), dict(padding="VALID")),
]


@pytest.mark.parametrize("op", CONV_OPS)
@pytest.mark.parametrize("case", range(len(KERNEL_CASES)))
def test_conv_kernels_against_reference(op, case):
    dt, n, hw, cin, cout, k, attrs = KERNEL_CASES[case]
    types, body, arrays = _conv_case(op, dt, n, hw, cin, cout, k, attrs, np.random.default_rng(case))
    tol = 1e-4 if dt is f32 else 1e-11
    compare(types, body, arrays, rtol=tol, atol=tol)


@pytest.mark.parametrize("op", CONV_OPS)
def test_conv_slots_chunks_and_threads(op):
    """A batch big enough that each of the 8 slots takes a full GEMM chunk (as many 16x16x8 images
    with a 3x3 kernel as fit the column budget) and then the rest in power-of-two GEMMs (chunk + 3
    images in four slots: 2 + 1 after the chunk; chunk + 2 in the others): against the reference,
    and bit-identical on 1 and 2
    threads (the filter gradient sums its slots in a fixed order)."""
    from tensorkiln.compiler.passes.lower_conv import COL_BYTES, SLOTS

    chunk = COL_BYTES // (16 * 16 * 3 * 3 * 8 * 4)
    assert chunk >= 4
    n = SLOTS * (chunk + 3) - 4
    types, body, arrays = _conv_case(op, f32, n, (16, 16), 8, 4, (3, 3), dict(padding="SAME"), np.random.default_rng(7))
    got = compare(types, body, arrays, rtol=2e-4, atol=2e-4)
    f = _one(body, types)
    for threads in (1, 2):
        again = compile_graph_module(Module([f]), threads=threads, use_cache=False)["f"].call(arrays)[0]
        np.testing.assert_array_equal(again, got)


@pytest.mark.parametrize("dt", [f32, f64])
@pytest.mark.parametrize("k,s,padding,hw", [((2, 2), (2, 2), "VALID", (8, 6)), ((2, 2), (2, 2), "SAME", (6, 4)),
                                             ((2, 2), (2, 2), "SAME", (7, 5)), ((3, 3), (1, 1), "SAME", (5, 6))])
def test_max_pool_and_adjoint_with_ties(dt, k, s, padding, hw):
    """Windows that tile the input exactly (the adjoint is stored, no zero fill) and ones that do
    not; small integers make ties, where the adjoint goes to the first maximum, as in TF."""
    rng = np.random.default_rng(11)
    npdt = np.float32 if dt is f32 else np.float64
    x = rng.integers(0, 3, (3, *hw, 5)).astype(npdt)
    attrs = dict(ksize=k, strides=s, padding=padding)
    out = compare([tt(["N", *hw, 5], dt)], lambda b, p: b.op("graph.max_pool", p, **attrs), [x])
    g = rng.standard_normal(out.shape).astype(npdt)
    compare([tt(["N", *hw, 5], dt), tt(["N", *out.shape[1:]], dt)],
            lambda b, p, q: b.op("graph.max_pool_grad", p, q, **attrs), [x, g], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("op", ["conv2d", "conv2d_backprop_filter"])
def test_direct_conv_threads(op):
    """The direct nests (a 5x5 filter on one channel, as the convnet's first layer) on a batch
    spread over all slots: against the reference, and bit-identical on 1 and 2 threads."""
    from tensorkiln.compiler.passes.lower_conv_direct import use_direct

    assert use_direct((5, 5, 1, 16))
    # big enough for the code generator to thread both loops (2^18 elements of work)
    types, body, arrays = _conv_case(op, f32, 170, (20, 20), 1, 16, (5, 5), dict(padding="SAME"), np.random.default_rng(5))
    # The filter gradient sums 68,000 f32 products of N(0, 1) values (|sum| ~ 260): rounding
    # bound ~ 68,000 * 6e-8 = 4e-3 absolute.
    got = compare(types, body, arrays, rtol=1e-4, atol=4e-3)
    f = _one(body, types)
    for threads in (1, 2):
        again = compile_graph_module(Module([f]), threads=threads, use_cache=False)["f"].call(arrays)[0]
        np.testing.assert_array_equal(again, got)


@pytest.mark.parametrize("op", ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter"])
@pytest.mark.parametrize("n", [1, 3, 8, 9, 13])
def test_conv_slot_shares(op, n):
    """Batches split over the 8 slots as q or q+1 images (q = n // 8, the first n % 8 slots take
    the extra one): fewer images than slots (empty slots), exactly one each, and uneven shares,
    on the im2col path (3x3x3 filter) and the direct one (filter gradient of a one-channel 3x3)."""
    rng = np.random.default_rng(n)
    for cin in (3, 1):
        types, body, arrays = _conv_case(op, f32, n, (5, 4), cin, 4, (3, 3), dict(padding="SAME"), rng)
        compare(types, body, arrays, rtol=2e-5, atol=2e-5)
