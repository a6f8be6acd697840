"""tk.nn convolution/pooling ops against numpy references, their gradients against finite
differences, and tk.layers (naming, shapes, initializers, reuse, dropout)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.framework.gradients_impl import gradients

RNG = np.random.default_rng(1)


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


# --------------------------------------------------------------------------- numpy references


def _geometry(size, k, stride, dil, padding):
    eff = (k - 1) * dil + 1
    if padding == "VALID":
        return (size - eff) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + eff - size, 0) // 2


def np_conv2d(x, f, strides, padding, dil=(1, 1)):
    n, h, w, c = x.shape
    kh, kw, _, o = f.shape
    (oh, top), (ow, left) = _geometry(h, kh, strides[0], dil[0], padding), _geometry(w, kw, strides[1], dil[1], padding)
    out = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    r, s = i * strides[0] + a * dil[0] - top, j * strides[1] + b * dil[1] - left
                    if 0 <= r < h and 0 <= s < w:
                        out[:, i, j, :] += x[:, r, s, :].astype(np.float64) @ f[a, b].astype(np.float64)
    return out


def np_pool(x, k, strides, padding, kind):
    n, h, w, c = x.shape
    (oh, top), (ow, left) = _geometry(h, k[0], strides[0], 1, padding), _geometry(w, k[1], strides[1], 1, padding)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, s0 = i * strides[0] - top, j * strides[1] - left
            win = x[:, max(r0, 0):min(r0 + k[0], h), max(s0, 0):min(s0 + k[1], w), :]
            out[:, i, j, :] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


# --------------------------------------------------------------------------- tk.nn ops


CONV_CASES = [((1, 1), "VALID", (1, 1)), ((2, 2), "SAME", (1, 1)), ((1, 2), "SAME", (1, 1)), ((2, 1), "VALID", (1, 1)),
              ((1, 1), "SAME", (2, 2)), ((1, 1), "VALID", (1, 2))]


@pytest.mark.parametrize("strides,padding,dil", CONV_CASES)
def test_conv2d_matches_numpy(strides, padding, dil):
    xv = RNG.normal(size=(2, 7, 6, 3)).astype(np.float32)
    fv = RNG.normal(size=(3, 2, 3, 4)).astype(np.float32)
    x = tk.placeholder(tk.float32, [None, 7, 6, 3])
    y = tk.nn.conv2d(x, tk.constant(fv), strides=[1, *strides, 1], padding=padding, dilations=[1, *dil, 1])
    want = np_conv2d(xv, fv, strides, padding, dil)
    assert y.shape.as_list() == [None, *want.shape[1:]]
    assert y.op.type == "Conv2D"
    with tk.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: xv}), want, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(sess.run(y, {x: xv[:1]}), want[:1], rtol=1e-4, atol=1e-4)


def test_conv2d_nchw_and_argument_errors():
    xv = RNG.normal(size=(2, 3, 5, 5)).astype(np.float32)
    fv = RNG.normal(size=(3, 3, 3, 2)).astype(np.float32)
    y = tk.nn.conv2d(tk.constant(xv), tk.constant(fv), strides=[1, 1, 2, 2], padding="SAME", data_format="NCHW")
    want = np_conv2d(xv.transpose(0, 2, 3, 1), fv, (2, 2), "SAME").transpose(0, 3, 1, 2)
    assert y.shape.as_list() == [2, 2, 3, 3]
    with tk.Session() as sess:
        np.testing.assert_allclose(sess.run(y), want, rtol=1e-4, atol=1e-4)
    x = tk.placeholder(tk.float32, [None, 5, 5, 3])
    with pytest.raises(ValueError, match="batch and depth"):
        tk.nn.conv2d(x, fv, strides=[2, 1, 1, 1], padding="SAME")
    with pytest.raises(ValueError, match="padding"):
        tk.nn.conv2d(x, fv, strides=[1, 1, 1, 1], padding="FULL")
    with pytest.raises(ValueError, match="Dimensions must be equal"):
        tk.nn.conv2d(x, np.zeros((3, 3, 4, 2), np.float32), strides=[1, 1, 1, 1], padding="SAME")


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("k,strides,padding", [((2, 2), (2, 2), "VALID"), ((3, 3), (2, 2), "SAME"),
                                               ((2, 3), (1, 2), "SAME"), ((3, 2), (2, 1), "VALID")])
def test_pools_match_numpy(kind, k, strides, padding):
    xv = RNG.normal(size=(2, 7, 6, 3)).astype(np.float32)
    x = tk.placeholder(tk.float32, [None, 7, 6, 3])
    op = tk.nn.max_pool if kind == "max" else tk.nn.avg_pool
    y = op(x, ksize=[1, *k, 1], strides=[1, *strides, 1], padding=padding)
    want = np_pool(xv, k, strides, padding, kind)
    assert y.shape.as_list() == [None, *want.shape[1:]]
    with tk.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: xv}), want, rtol=1e-5, atol=1e-6)


def test_bias_add_and_l2_loss():
    xv = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    bv = RNG.normal(size=(4,)).astype(np.float32)
    y = tk.nn.bias_add(tk.constant(xv), tk.constant(bv))
    l2 = tk.nn.l2_loss(tk.constant(xv))
    with tk.Session() as sess:
        np.testing.assert_allclose(sess.run(y), xv + bv, rtol=1e-6)
        np.testing.assert_allclose(sess.run(l2), 0.5 * np.sum(xv.astype(np.float64) ** 2), rtol=1e-5)
    with pytest.raises(ValueError):
        tk.nn.bias_add(tk.constant(xv), tk.constant(np.zeros(3, np.float32)))


def _finite_diff(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f(x)
        x[i] = old - eps
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


@pytest.mark.parametrize("strides,padding,pool", [((1, 1), "SAME", "max"), ((2, 2), "VALID", "avg")])
def test_conv_and_pool_gradients_match_finite_differences(strides, padding, pool):
    xv = RNG.normal(size=(2, 5, 5, 2))
    fv = RNG.normal(size=(3, 3, 2, 3))
    weights = RNG.normal(size=(2, 2, 2, 3))
    x = tk.placeholder(tk.float64, xv.shape)
    f = tk.placeholder(tk.float64, fv.shape)
    y = tk.nn.conv2d(x, f, strides=[1, *strides, 1], padding=padding)
    pool_op = tk.nn.max_pool if pool == "max" else tk.nn.avg_pool
    p = pool_op(tk.tanh(y), ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    loss = tk.reduce_sum(p * weights[:, :p.shape[1].value, :p.shape[2].value, :])
    gx, gf = gradients(loss, [x, f])
    with tk.Session() as sess:
        got_x, got_f = sess.run([gx, gf], {x: xv, f: fv})
        np.testing.assert_allclose(got_x, _finite_diff(lambda v: sess.run(loss, {x: v, f: fv}), xv.copy()),
                                   rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got_f, _finite_diff(lambda v: sess.run(loss, {x: xv, f: v}), fv.copy()),
                                   rtol=1e-5, atol=1e-7)


def test_conv_layer_gradients_match_finite_differences():
    xv = RNG.normal(size=(2, 4, 4, 2))
    x = tk.placeholder(tk.float64, xv.shape)
    y = tk.layers.conv2d(x, 3, (2, 2), padding="same", activation=tk.tanh)
    layer_vars = tk.trainable_variables()
    assert [v.op.name for v in layer_vars] == ["conv2d/kernel", "conv2d/bias"]
    assert all(v.dtype == tk.float64 for v in layer_vars)
    loss = tk.reduce_sum(tk.square(y - 0.3))
    grads = gradients(loss, [x] + layer_vars)
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        sess.run(layer_vars[1].assign(RNG.normal(size=3)))
        got = sess.run(grads, {x: xv})
        np.testing.assert_allclose(got[0], _finite_diff(lambda v: sess.run(loss, {x: v}), xv.copy()), rtol=1e-5,
                                   atol=1e-7)
        for var, g in zip(layer_vars, got[1:]):
            value = sess.run(var)

            def at(v, var=var):
                var.load(v, sess)
                return sess.run(loss, {x: xv})
            fd = _finite_diff(at, value.copy())
            var.load(value, sess)
            np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- tk.layers


def test_dense_names_shapes_and_glorot_init():
    tk.set_random_seed(3)
    x = tk.placeholder(tk.float32, [None, 20])
    h = tk.layers.dense(x, 30, activation=tk.nn.relu)
    out = tk.layers.dense(h, 5, use_bias=False, name="logits")
    names = [v.op.name for v in tk.trainable_variables()]
    assert names == ["dense/kernel", "dense/bias", "logits/kernel"]
    assert h.op.name == "dense/Relu" and out.shape.as_list() == [None, 5]
    assert tk.get_default_graph().get_operation_by_name("dense/MatMul").type == "MatMul"
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        k, b = sess.run(tk.trainable_variables()[:2])
        limit = np.sqrt(6.0 / (20 + 30))
        assert np.all(np.abs(k) <= limit) and np.abs(k).max() > 0.8 * limit and np.std(k) > 0.4 * limit
        np.testing.assert_array_equal(b, np.zeros(30))
        xv = RNG.normal(size=(4, 20)).astype(np.float32)
        np.testing.assert_allclose(sess.run(h, {x: xv}), np.maximum(xv @ k + b, 0), rtol=1e-5, atol=1e-5)
    tk.layers.dense(x, 3)
    assert tk.trainable_variables()[-1].op.name == "dense_1/bias"


def test_dense_reuse_and_layer_objects():
    x = tk.placeholder(tk.float32, [None, 4])
    a = tk.layers.dense(x, 2, name="fc", kernel_initializer=tk.constant_initializer(0.5))
    with pytest.raises(ValueError, match="already exists"):
        tk.layers.dense(x, 2, name="fc")
    b = tk.layers.dense(x * 2.0, 2, name="fc", reuse=True)
    assert len(tk.trainable_variables()) == 2
    layer = tk.layers.Dense(3, name="shared")
    c1, c2 = layer(x), layer(x + 1.0)
    assert [v.op.name for v in layer.trainable_weights] == ["shared/kernel", "shared/bias"]
    assert len(tk.trainable_variables()) == 4
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        va, vb = sess.run([a, b], {x: np.ones((1, 4))})
        np.testing.assert_allclose(va, [[2.0, 2.0]])
        np.testing.assert_allclose(vb, [[4.0, 4.0]])
        assert sess.run(c2, {x: np.zeros((1, 4))}).shape == sess.run(c1, {x: np.zeros((1, 4))}).shape


def test_conv_pool_flatten_layers():
    x = tk.placeholder(tk.float32, [None, 8, 8, 1])
    c = tk.layers.conv2d(x, 4, 3, strides=(1, 1), padding="same", activation=tk.nn.relu)
    p = tk.layers.max_pooling2d(c, pool_size=2, strides=2)
    a = tk.layers.average_pooling2d(c, pool_size=(2, 2), strides=(2, 2), padding="same")
    f = tk.layers.flatten(p)
    assert c.shape.as_list() == [None, 8, 8, 4] and p.shape.as_list() == [None, 4, 4, 4]
    assert a.shape.as_list() == [None, 4, 4, 4] and f.shape.as_list() == [None, 64]
    kernel = tk.trainable_variables()[0]
    assert kernel.op.name == "conv2d/kernel" and kernel.shape.as_list() == [3, 3, 1, 4]
    xv = RNG.normal(size=(2, 8, 8, 1)).astype(np.float32)
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        kv, cv, pv, fv = sess.run([kernel, c, p, f], {x: xv})
        np.testing.assert_allclose(cv, np.maximum(np_conv2d(xv, kv, (1, 1), "SAME"), 0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(pv, np_pool(cv, (2, 2), (2, 2), "VALID", "max"), rtol=1e-6)
        np.testing.assert_array_equal(fv, pv.reshape(2, -1))
    with pytest.raises(ValueError):
        tk.layers.conv2d(x, 4, 3, padding="full")


def test_dropout_layer():
    tk.set_random_seed(5)
    x = tk.ones([1000, 10])
    training = tk.placeholder(tk.bool, [])
    off = tk.layers.dropout(x, rate=0.3)
    on = tk.layers.dropout(x, rate=0.3, training=True)
    switch = tk.layers.dropout(x, rate=0.3, training=training)
    assert off is x or off.op.type != "Dropout"
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(off), np.ones((1000, 10)))
        v = sess.run(on)
        np.testing.assert_allclose(v[v != 0], 1 / 0.7, rtol=1e-6)
        assert 0.25 < np.mean(v == 0) < 0.35
        np.testing.assert_array_equal(sess.run(switch, {training: False}), np.ones((1000, 10)))
        assert 0.25 < np.mean(sess.run(switch, {training: True}) == 0) < 0.35
