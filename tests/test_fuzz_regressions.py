"""Regression tests for bugs the Session-level fuzzer (tests/fuzz_session.py, tools/fuzz.py) found,
each reduced to a small graph and checked against an independent numpy expectation.

* reduce_prod's gradient was ``g * prod / x``: NaN (0/0) wherever an element of a reduced group is
  zero (fuzz seed 1555631878: softmax over a size-1 axis made a cross entropy of exactly 0, whose
  tanh went into a reduce_prod). The gradient is the product of the *other* elements.
* collapse-loops rewrote the loads of the collapsed indices into the loop body only, and failed on
  one inside a reduction loop nested in the body (fuzz seed 2107454501: ``reduce_any`` over a
  comparison with a ``[1, 1]`` variable read inside the reduction): the replacement now goes where
  the load is.
"""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk


def _others_product(x: np.ndarray, axis: int) -> np.ndarray:
    """d prod(x, axis) / dx: for each element, the product of the rest of its group."""
    xm = np.moveaxis(x, axis, -1)
    out = np.stack([np.prod(np.delete(xm, i, axis=-1), axis=-1) for i in range(xm.shape[-1])], axis=-1)
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [0, 1])
def test_reduce_prod_gradient_with_zeros(axis: int, keepdims: bool) -> None:
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float64, [None, 3])
        y = tk.reduce_prod(x, axis=axis, keepdims=keepdims)
        (dx,) = tk.gradients(y, [x])
    # rows: no zero, one zero, two zeros, a zero at the end; columns have 0, 1, 2 zeros too
    xv = np.array([[2.0, 3.0, 4.0], [0.0, 5.0, 6.0], [0.0, 0.0, 7.0], [1.5, -2.0, 0.0]])
    with tk.Session(graph=g) as sess:
        for rows in (xv, xv[1:3]):  # two batch sizes, one compiled function
            got = sess.run(dx, {x: rows})
            assert np.isfinite(got).all()
            np.testing.assert_allclose(got, _others_product(rows, axis), rtol=1e-12, atol=0)


def test_fuzz_case_prod_of_a_zero_cross_entropy() -> None:
    """The fuzzer's graph, reduced: softmax over a size-1 axis is exactly 1, the cross entropy 0."""
    g = tk.Graph()
    with g.as_default():
        a = tk.placeholder(tk.float64, [1, 2, 3, 1])
        b = tk.placeholder(tk.float64, [1, 2, 3, 1])
        ce = tk.nn.softmax_cross_entropy_with_logits_v2(labels=tk.nn.softmax(a), logits=b)
        p = tk.reduce_prod(tk.tanh(ce), axis=[0])
        w = tk.placeholder(tk.float64, [3, 3])
        loss = tk.reduce_sum(tk.sin(tk.matmul(p, w)))
        da, db, dw = tk.gradients(loss, [a, b, w])
    rng = np.random.default_rng(0)
    av, bv, wv = rng.uniform(-1, 1, (1, 2, 3, 1)), rng.uniform(-1, 1, (1, 2, 3, 1)), rng.uniform(-1, 1, (3, 3))
    with tk.Session(graph=g) as sess:
        got_a, got_b, got_w = sess.run([da, db, dw], {a: av, b: bv, w: wv})
    # ce == 0 exactly, so p == tanh(0) == 0 and loss == sum(sin(0)) == 0; d loss / d p = cos(0) @ w.T
    # and d p / d ce = 1 (a group of one element), d ce / d a = d ce / d b = 0 (size-1 softmax axis)
    for got in (got_a, got_b):
        np.testing.assert_array_equal(got, np.zeros((1, 2, 3, 1)))
    np.testing.assert_allclose(got_w, np.zeros((3, 3)), atol=0)  # d loss / d w = p.T @ cos(...) = 0


@pytest.mark.parametrize("threads", [1, 2])
def test_collapsed_indices_read_inside_a_nested_reduction(threads: int) -> None:
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.int32, [5, 4, 2])
        m = tk.reduce_mean(tk.abs(x), axis=None, keepdims=True)      # [1, 1, 1]
        v = tk.Variable(np.array([[3, 7], [1, 9]], np.int32)[:1, :1])  # [1, 1], read inside the reduction
        anyv = tk.reduce_any(tk.less(m, v), axis=0, keepdims=True)
        w = tk.placeholder(tk.float32, [6, 3, 4])
        wv = tk.Variable(np.arange(12, dtype=np.float32).reshape(3, 4))
        rows = tk.reduce_max(w * wv, axis=0, keepdims=True)          # [1, 3, 4]
        init = tk.global_variables_initializer()
    xs = np.arange(40, dtype=np.int32).reshape(5, 4, 2) - 20
    ws = np.random.default_rng(3).standard_normal((6, 3, 4)).astype(np.float32)
    with tk.Session(graph=g, config=tk.ConfigProto(intra_op_parallelism_threads=threads)) as sess:
        sess.run(init)
        got_any, got_rows = sess.run([anyv, rows], {x: xs, w: ws})
    mean = np.abs(xs).sum() // xs.size  # integer mean, as TF's for int32
    np.testing.assert_array_equal(got_any, np.array([[[mean < 3]]]))
    np.testing.assert_array_equal(got_rows, (ws * np.arange(12, dtype=np.float32).reshape(3, 4)).max(axis=0, keepdims=True))
