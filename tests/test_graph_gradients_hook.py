"""The hook for ``tk.gradients``: a ``gradients`` graph node lowered through the IR autodiff transform,
in the same native function as the forward pass and the variable updates."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.framework.gradients_impl import gradients


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


def test_gradients_of_a_quadratic_loss():
    x = tk.placeholder(tk.float32, [None, 3], name="x")
    y = tk.placeholder(tk.float32, [None], name="y")
    w = tk.Variable(tk.constant([0.5, -1.0, 2.0]), name="w")
    pred = tk.reduce_sum(x * w, axis=1)
    loss = tk.reduce_mean(tk.square(pred - y))
    (gw,) = gradients(loss, [w])
    assert gw.shape.as_list() == [3] and gw.op.type == "Gradients"
    X = np.random.RandomState(0).rand(5, 3).astype(np.float32)
    Y = np.random.RandomState(1).rand(5).astype(np.float32)
    W = np.array([0.5, -1.0, 2.0], np.float32)
    want = 2 * X.T @ (X @ W - Y) / 5
    with tk.Session() as sess:
        sess.run(w.initializer)
        np.testing.assert_allclose(sess.run(gw, {x: X, y: Y}), want, rtol=1e-5)
        step = w.assign_sub(0.1 * gw)
        sess.run(step, {x: X, y: Y})
        np.testing.assert_allclose(sess.run(w), W - 0.1 * want, rtol=1e-5)


def test_unconnected_xs_get_none_and_grad_ys_weight():
    a = tk.placeholder(tk.float32, [2], name="a")
    b = tk.placeholder(tk.float32, [2], name="b")
    y = a * a
    ga, gb = gradients(y, [a, b])
    assert gb is None
    (gw,) = gradients(y, [a], grad_ys=tk.constant([1.0, 10.0]))
    with tk.Session() as sess:
        np.testing.assert_allclose(sess.run(ga, {a: [1.0, 3.0]}), [2, 6])
        np.testing.assert_allclose(sess.run(gw, {a: [1.0, 3.0]}), [2, 60])


def test_gradient_ir_is_in_the_signature():
    x = tk.placeholder(tk.float32, [None, 4], name="x")
    w = tk.Variable(tk.ones([4, 2]), name="w")
    loss = tk.reduce_sum(tk.nn.softmax(tk.matmul(x, w)))
    (g,) = gradients(loss, [w])
    ir = tk.get_ir(g, [x])
    assert "graph.matmul" in ir and "%w: tensor<4x2xf32>" in ir
