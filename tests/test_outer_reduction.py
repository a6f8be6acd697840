"""Reductions over leading axes (the innermost axis kept) lower to the accumulate form
(``lower_outer_reduction.py``): results match numpy for sum/mean/max/min/prod, keepdims, fused
producers, symbolic batch and f64, and the loops stage shows the accumulator form: in memory for a
wide kept axis, in loop-carried values for a few kept elements."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.runtime.session import get_ir

OPS = {"sum": (tk.reduce_sum, np.sum), "mean": (tk.reduce_mean, np.mean), "max": (tk.reduce_max, np.max),
       "min": (tk.reduce_min, np.min), "prod": (tk.reduce_prod, np.prod)}
CASES = [((7, 5), [0]), ((4, 3, 6), [0, 1]), ((4, 3, 6), [0]), ((4, 3, 6), [1]), ((2, 3, 4, 5), [0, 1, 2]),
         ((2, 3, 4, 5), [0, 2]), ((1, 17), [0])]


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("shape,axes", CASES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_leading_axis_reductions_match_numpy(op, shape, axes, keepdims):
    tk_op, np_op = OPS[op]
    rng = np.random.default_rng(len(shape) * 7 + len(axes))
    x_np = (rng.random(shape) + 0.5).astype(np.float32)
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [None, *shape[1:]])
        plain = tk_op(x, axis=axes, keepdims=keepdims)
        fused = tk_op(tk.exp(x * 0.5) - 1.0, axis=axes, keepdims=keepdims)  # producer fused in
        with tk.Session() as sess:
            got_plain, got_fused = sess.run([plain, fused], {x: x_np})
            # a different batch size through the same compiled function (symbolic N)
            got_small = sess.run(plain, {x: x_np[:1]})
    rtol = 1e-5 if op != "prod" else 1e-4
    np.testing.assert_allclose(got_plain, np_op(x_np, axis=tuple(axes), keepdims=keepdims), rtol=rtol)
    ref_fused = np_op(np.exp(x_np.astype(np.float64) * 0.5) - 1.0, axis=tuple(axes), keepdims=keepdims)
    np.testing.assert_allclose(got_fused, ref_fused, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got_small, np_op(x_np[:1], axis=tuple(axes), keepdims=keepdims), rtol=rtol)


def test_f64_bias_gradient_and_loop_form():
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal((6, 5, 5, 24))
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float64, [None, 5, 5, 24])
        s = tk.reduce_sum(x, axis=[0, 1, 2])
        with tk.Session() as sess:
            got = sess.run(s, {x: x_np})
        loops = get_ir(s, {x: x_np}, stage="loops", graph=g)
    np.testing.assert_allclose(got, x_np.sum(axis=(0, 1, 2)), rtol=1e-12)
    # Accumulate form: after the loop that sets the output to 0, one walk over the input whose
    # innermost loop (over the kept channel axis) loads, adds to and stores the output.
    walk = loops.split("loops.dim {value = N0}", 1)[1]
    assert "loops.load %out0, %9" in walk and "loops.store %12, %out0, %9" in walk, loops
    assert "parallel = true" not in walk  # threads would race on the accumulator


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_few_kept_elements_accumulate_in_loop_carried_values(op):
    # [N, 10] -> [10] (a dense layer's bias gradient): ten carried accumulators, stored once after
    # the walk; no load of the output inside it. Batch sizes 100, 1 and 0 (the identity, or NaN for
    # the mean of nothing, as in TF) through the same code.
    tk_op, np_op = OPS[op]
    x_np = np.random.default_rng(5).standard_normal((100, 10)).astype(np.float32)
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [None, 10])
        r = tk_op(tk.exp(x) * 2.0, axis=[0], keepdims=True)
        with tk.Session() as sess:
            got = [sess.run(r, {x: x_np[:n]}) for n in (100, 1)]
            empty = sess.run(r, {x: x_np[:0]})
        loops = get_ir(r, {x: x_np}, stage="loops", graph=g)
    for n, value in zip((100, 1), got):
        ref = np_op(np.exp(x_np[:n].astype(np.float64)) * 2.0, axis=0, keepdims=True)
        np.testing.assert_allclose(value, ref, rtol=2e-6)
    expected_empty = {"sum": 0.0, "mean": np.nan, "max": -np.inf}[op]
    np.testing.assert_array_equal(empty, np.full((1, 10), expected_empty, np.float32))
    walk = loops.split("loops.dim {value = N0}", 1)[1]
    header = next(line for line in walk.splitlines() if "loops.for" in line)
    results, operands = header.split(" = loops.for ")
    assert results.count("%") == 10 and operands.split(":")[0].count("%") == 2 + 10, header  # bounds, inits
    assert "loops.load %out0" not in walk, loops
    assert walk.count("loops.store") == 10, loops
