"""tk.losses against numpy: cross entropies, mean squared error, weights and reductions."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk

RNG = np.random.default_rng(2)
LOGITS = RNG.normal(size=(6, 4)).astype(np.float32)
LABELS = np.array([0, 3, 1, 2, 2, 0], np.int64)


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


def _xent(logits, labels):
    z = logits.astype(np.float64)
    logp = z - z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    return -logp[np.arange(len(labels)), labels]


def test_sparse_and_dense_softmax_cross_entropy():
    want = _xent(LOGITS, LABELS)
    sparse = tk.losses.sparse_softmax_cross_entropy(LABELS, LOGITS)
    column = tk.losses.sparse_softmax_cross_entropy(LABELS[:, None], LOGITS)
    dense = tk.losses.softmax_cross_entropy(np.eye(4)[LABELS], LOGITS)
    w = np.array([1, 0, 2, 0, 1, 1], np.float32)
    weighted = tk.losses.sparse_softmax_cross_entropy(LABELS, LOGITS, weights=w)
    smooth = tk.losses.softmax_cross_entropy(np.eye(4)[LABELS], LOGITS, label_smoothing=0.2)
    assert tk.get_collection(tk.GraphKeys.LOSSES) == [sparse, column, dense, weighted, smooth]
    soft = np.eye(4)[LABELS] * 0.8 + 0.05
    z = LOGITS.astype(np.float64)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    with tk.Session() as sess:
        got = sess.run([sparse, column, dense, weighted, smooth])
    np.testing.assert_allclose(got[:3], [want.mean()] * 3, rtol=1e-5)
    np.testing.assert_allclose(got[3], np.sum(w * want) / np.count_nonzero(w), rtol=1e-5)
    np.testing.assert_allclose(got[4], np.mean(-(soft * logp).sum(1)), rtol=1e-5)


def test_mean_squared_error_and_reductions():
    p = RNG.normal(size=(4, 3)).astype(np.float32)
    y = RNG.normal(size=(4, 3)).astype(np.float32)
    w = np.array([[1.0], [0.0], [2.0], [0.5]], np.float32)
    sq = (p.astype(np.float64) - y) ** 2
    R = tk.losses.Reduction
    cases = {
        "default": (tk.losses.mean_squared_error(y, p), sq.mean()),
        "scalar_w": (tk.losses.mean_squared_error(y, p, weights=3.0), 3 * sq.mean()),
        "zero_w": (tk.losses.mean_squared_error(y, p, weights=0.0), 0.0),
        "nonzero": (tk.losses.mean_squared_error(y, p, weights=w), (sq * w).sum() / 9),
        "sum": (tk.losses.mean_squared_error(y, p, weights=w, reduction=R.SUM), (sq * w).sum()),
        "mean": (tk.losses.mean_squared_error(y, p, weights=w, reduction=R.MEAN), (sq * w).sum() / (w.sum() * 3)),
        "batch": (tk.losses.mean_squared_error(y, p, weights=w, reduction=R.SUM_OVER_BATCH_SIZE), (sq * w).sum() / 12),
        "none": (tk.losses.mean_squared_error(y, p, weights=w, reduction=R.NONE), sq * w),
        "abs": (tk.losses.absolute_difference(y, p), np.abs(p - y.astype(np.float64)).mean()),
    }
    with tk.Session() as sess:
        for key, (t, want) in cases.items():
            np.testing.assert_allclose(sess.run(t), want, rtol=1e-5, atol=1e-7, err_msg=key)
    with pytest.raises(ValueError):
        tk.losses.mean_squared_error(np.zeros((4, 2), np.float32), p)


def test_total_loss_includes_regularization():
    x = tk.placeholder(tk.float32, [None, 3])
    out = tk.layers.dense(x, 2, kernel_regularizer=lambda k: 0.1 * tk.nn.l2_loss(k),
                          kernel_initializer=tk.constant_initializer(1.0))
    data = tk.losses.mean_squared_error(tk.zeros_like(out), out)
    total = tk.losses.get_total_loss()
    assert tk.losses.get_losses() == [data] and len(tk.losses.get_regularization_losses()) == 1
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        got = sess.run(total, {x: np.ones((2, 3))})
    np.testing.assert_allclose(got, 9.0 + 0.1 * 0.5 * 6, rtol=1e-6)


def test_loss_gradient_matches_softmax_minus_onehot():
    from tensorkiln.framework.gradients_impl import gradients

    logits = tk.placeholder(tk.float64, [None, 4])
    loss = tk.losses.sparse_softmax_cross_entropy(LABELS, logits)
    (g,) = gradients(loss, [logits])
    z = LOGITS.astype(np.float64)
    probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    with tk.Session() as sess:
        np.testing.assert_allclose(sess.run(g, {logits: z}), (probs - np.eye(4)[LABELS]) / len(z), rtol=1e-9)
