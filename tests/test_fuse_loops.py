"""Row-wise loop fusion (compiler/passes/fuse_loops.py) computes what the separate nests did.

Softmax, log-softmax and a softmax cross-entropy train step over rows long enough to fuse (and
short rows that stay apart) run through Session.run against numpy in float64, with one and two
threads and batch sizes on both sides of the parallel threshold; the `loops` stage shows which fused
(nests that read other rows stay apart: tests/golden/passes/fuse_loops.tkir). Tolerances: f32
rtol 2e-5 / atol 1e-6.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import tensorkiln as tk


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _top_level_loops(ir: str) -> int:
    return len(re.findall(r"^  (?:%\d+ = )?loops\.for", ir, re.M))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("rows,cols", [(1, 100), (7, 300), (700, 128), (50, 10)])
def test_softmax_forward_and_train_step(threads: int, rows: int, cols: int) -> None:
    rng = np.random.default_rng(rows * cols)
    xs = (rng.standard_normal((rows, cols)) * 3).astype(np.float32)
    labels = rng.integers(0, cols, rows)
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [None, cols])
        y = tk.placeholder(tk.int64, [None])
        b = tk.Variable(tk.zeros([cols]))
        logits = x + b
        sm, lsm = tk.nn.softmax(logits), tk.nn.log_softmax(logits)
        loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train = tk.train.GradientDescentOptimizer(0.5).minimize(loss)
        init = tk.global_variables_initializer()
    config = tk.ConfigProto(intra_op_parallelism_threads=threads)
    with tk.Session(graph=g, config=config) as sess:
        sess.run(init)
        got_sm, got_lsm, got_loss = sess.run([sm, lsm, loss], {x: xs, y: labels})
        sess.run(train, {x: xs, y: labels})
        got_b = sess.run(b)
    x64 = xs.astype(np.float64)
    p = _softmax(x64)
    np.testing.assert_allclose(got_sm, p, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(got_lsm, np.log(p), rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(got_loss, -np.log(p[np.arange(rows), labels]).mean(), rtol=2e-5)
    onehot = np.eye(cols)[labels]
    np.testing.assert_allclose(got_b, -0.5 * (p - onehot).mean(axis=0), rtol=2e-5, atol=1e-6)


def test_long_rows_fuse_short_rows_do_not() -> None:
    src = """
def long(x: f32[N, 128]) -> f32[N, 128] {
    return softmax(x)
}
def short(x: f32[N, 10]) -> f32[N, 10] {
    return softmax(x)
}
def columns(x: f32[128, 128]) -> f32[128, 128] {
    return transpose(exp(x)) + x
}
"""
    m = tk.compile(src)
    assert _top_level_loops(m.ir("long", "loops")) == 1
    assert _top_level_loops(m.ir("short", "loops")) > 1
    xs = np.random.default_rng(2).standard_normal((128, 128)).astype(np.float32)
    np.testing.assert_allclose(m.long(xs), _softmax(xs.astype(np.float64)), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(m.short(xs[:, :10]), _softmax(xs[:, :10].astype(np.float64)), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(m.columns(xs), np.exp(xs.astype(np.float64)).T + xs, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("axis", [-1, 0])
def test_one_hot_fuses_into_its_user(axis: int) -> None:
    """``one_hot`` is fused as an index map (compiler/passes/fuse.py): in ``one_hot(...) * x + 1`` it
    has no top-level op (so no nest or integer temporary) of its own, and the numbers match numpy
    (labels out of range give all-off rows, as in TF). The cross-entropy train steps above cover
    the gradient's fused one-hot mask numerically."""
    rng = np.random.default_rng(7)
    labels = np.array([0, 3, 9, -1, 10, 4], np.int64)
    xs = rng.standard_normal((6, 10) if axis == -1 else (10, 6)).astype(np.float32)
    g = tk.Graph()
    with g.as_default():
        y = tk.placeholder(tk.int64, [None])
        x = tk.placeholder(tk.float32, [None, None])
        out = tk.one_hot(y, 10, on_value=2.0, off_value=-1.0, axis=axis) * x + 1.0
        with tk.Session(graph=g) as sess:
            got = sess.run(out, {y: labels, x: xs})
    from tensorkiln.runtime.session import get_ir

    optimized = get_ir(out, {y: labels, x: xs}, stage="optimized", graph=g)
    assert re.search(r"^  %\d+ = graph\.one_hot", optimized, re.M) is None, optimized
    assert "graph.one_hot" in optimized  # inside the fused region
    eye = np.where(np.arange(10)[None, :] == labels[:, None], 2.0, -1.0)
    want = (eye if axis == -1 else eye.T) * xs.astype(np.float64) + 1.0
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
