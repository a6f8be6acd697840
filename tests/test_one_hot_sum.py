"""The one-hot row-sum rewrite (``canonicalize``'s ``sum_of_one_hot_select``) and the softmax form of
the log-softmax gradient, end to end through ``Session.run`` against numpy: labels out of range,
NaN and infinities in the selected values, a training step of the sparse cross-entropy."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorkiln as tk

SETTINGS = settings(max_examples=25, deadline=None)
where = getattr(tk, "where_v2", tk.where)


@SETTINGS
@given(n=st.integers(1, 40), depth=st.integers(1, 12), keep=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_sum_of_one_hot_select_matches_numpy(n: int, depth: int, keep: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(-3, depth + 3, n)  # some out of range: their one-hot rows are all zero
    u = rng.standard_normal((n, 1)).astype(np.float32)
    u[rng.random(n) < 0.2] = np.nan
    u[rng.random(n) < 0.1] = np.inf
    g = tk.Graph()
    with g.as_default():
        y = tk.placeholder(tk.int64, [None])
        pu = tk.placeholder(tk.float32, [None, 1])
        mask = tk.equal(tk.one_hot(y, depth, dtype=tk.int32), 1)
        s = tk.reduce_sum(where(mask, pu, 0.0), axis=-1, keepdims=keep)
        text = tk.get_ir(s, [y, pu], stage="optimized")
        with tk.Session(graph=g) as sess:
            got = sess.run(s, {y: labels, pu: u})
    assert "reduce_sum" not in text  # the rewrite fired: no pass over the [n, depth] selection
    onehot = (labels[:, None] == np.arange(depth)[None, :])
    want = np.where(onehot, np.broadcast_to(u, (n, depth)), np.float32(0)).sum(axis=-1, keepdims=keep)
    np.testing.assert_array_equal(got, want)  # exact: one selected value (or none) per row


def test_sparse_cross_entropy_step_matches_numpy() -> None:
    """One gradient-descent step of softmax regression: W -= lr * x^T (softmax - onehot) / N."""
    rng = np.random.default_rng(3)
    n, d, c, lr = 37, 20, 7, 0.3
    x = rng.standard_normal((n, d)).astype(np.float32)
    labels = rng.integers(0, c, n)
    w0 = rng.standard_normal((d, c)).astype(np.float32) * 0.5
    b0 = rng.standard_normal(c).astype(np.float32) * 0.5
    g = tk.Graph()
    with g.as_default():
        px = tk.placeholder(tk.float32, [None, d])
        py = tk.placeholder(tk.int64, [None])
        w = tk.Variable(w0)
        b = tk.Variable(b0)
        loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=py, logits=tk.matmul(px, w) + b))
        train = tk.train.GradientDescentOptimizer(lr).minimize(loss)
        with tk.Session(graph=g) as sess:
            sess.run(tk.global_variables_initializer())
            sess.run(train, {px: x, py: labels})
            w1, b1 = sess.run([w, b])
    z = x.astype(np.float64) @ w0 + b0
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dz = (p - np.eye(c)[labels]) / n
    np.testing.assert_allclose(w1, w0 - lr * x.T.astype(np.float64) @ dz, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b0 - lr * dz.sum(axis=0), rtol=1e-5, atol=1e-6)
