"""Large outputs of native calls live in the scratch allocator's blocks (runtime/out_buffers.py).

Checked: values against numpy; the block goes back to the allocator once the array and all its views
are gone (the next call gets the same memory, so no fresh page faults); a view that outlives its
array keeps the block, so a later call cannot overwrite it; small outputs stay plain numpy arrays;
Session.run results take the same path.
"""
from __future__ import annotations

import gc

import numpy as np

import tensorkiln as tk
from tensorkiln.runtime import out_buffers

SRC = """
def f(x: f32[N]) -> f32[N] {
    return x * 2.0 + 1.0
}
def two(x: f32[N]) -> (f32[N], f32[N]) {
    return x + 1.0, x * 3.0
}
"""
BIG = out_buffers.LARGE_OUTPUT_BYTES // 4 * 3  # f32 elements: 3 MiB


def test_large_output_values_and_owner() -> None:
    mod = tk.compile(SRC)
    x = np.random.default_rng(0).standard_normal(BIG).astype(np.float32)
    y = mod.f(x)
    np.testing.assert_array_equal(y, x * np.float32(2) + np.float32(1))
    assert isinstance(y.base, out_buffers._Block)
    assert y.flags.c_contiguous and y.flags.writeable and y.dtype == np.float32 and y.shape == (BIG,)
    a, b = mod.two(x)
    np.testing.assert_array_equal(a, x + np.float32(1))
    np.testing.assert_array_equal(b, x * np.float32(3))
    assert a.ctypes.data != b.ctypes.data


def test_block_reused_after_the_array_dies() -> None:
    mod = tk.compile(SRC)
    x = np.ones(BIG, np.float32)
    y = mod.f(x)
    addr = y.ctypes.data
    del y
    gc.collect()
    y2 = mod.f(x)
    assert y2.ctypes.data == addr  # the freed block came back from the allocator's cache
    np.testing.assert_array_equal(y2, np.full(BIG, 3, np.float32))


def test_view_keeps_the_block_alive() -> None:
    mod = tk.compile(SRC)
    x = np.arange(BIG, dtype=np.float32)
    view = mod.f(x)[10:20]
    gc.collect()
    z = mod.f(np.zeros(BIG, np.float32))  # must not land in the block the view still uses
    np.testing.assert_array_equal(view, np.arange(10, 20, dtype=np.float32) * 2 + 1)
    np.testing.assert_array_equal(z, np.ones(BIG, np.float32))


def test_small_outputs_stay_numpy() -> None:
    mod = tk.compile(SRC)
    y = mod.f(np.ones(1000, np.float32))
    assert y.base is None
    np.testing.assert_array_equal(y, np.full(1000, 3, np.float32))


def test_session_run_large_fetch() -> None:
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [None], name="x")
        y = tk.exp(x) - 1.0
    xs = np.random.default_rng(1).standard_normal(BIG).astype(np.float32) * 0.1
    with tk.Session(graph=g) as sess:
        out = [sess.run(y, {x: xs}) for _ in range(3)]
    for o in out:
        np.testing.assert_allclose(o, np.expm1(xs.astype(np.float64)), rtol=2e-6, atol=2e-7)
    assert all(isinstance(o.base, out_buffers._Block) for o in out)
    assert len({o.ctypes.data for o in out}) == 3  # all alive at once: three distinct blocks
