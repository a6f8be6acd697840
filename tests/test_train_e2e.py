"""End-to-end training on the embedded Fashion-MNIST subset: softmax regression, an MLP built with
tk.layers, and a tiny convnet; plus a train / save / restore / keep-training cycle."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.datasets import mnist


@pytest.fixture(scope="module")
def data():
    return mnist.read_data_sets(str(mnist.EMBEDDED_DIR), validation_size=0, seed=0)


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    tk.set_random_seed(0)
    yield


def _accuracy(logits, y):
    return tk.reduce_mean(tk.cast(tk.equal(tk.argmax(logits, 1), y), tk.float32))


def test_softmax_regression_reaches_70_percent(data):
    x = tk.placeholder(tk.float32, [None, 784])
    y = tk.placeholder(tk.int64, [None])
    W = tk.Variable(tk.zeros([784, 10]), name="W")
    b = tk.Variable(tk.zeros([10]), name="b")
    logits = tk.matmul(x, W) + b
    loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    gs = tk.train.get_or_create_global_step()
    train_op = tk.train.GradientDescentOptimizer(0.5).minimize(loss, global_step=gs)
    acc = _accuracy(logits, y)
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        first = sess.run(loss, {x: data.test.images, y: data.test.labels})
        for _ in range(300):
            bx, by = data.train.next_batch(100)
            sess.run(train_op, {x: bx, y: by})
        assert sess.compile_count == 3  # initializer, the first loss, the step
        test_acc, last = sess.run([acc, loss], {x: data.test.images, y: data.test.labels})
        assert sess.run(gs) == 300
    assert test_acc > 0.70, test_acc
    assert last < first


def test_mlp_with_layers_and_adam_trains(data):
    x = tk.placeholder(tk.float32, [None, 784])
    y = tk.placeholder(tk.int64, [None])
    h = tk.layers.dense(x, 64, activation=tk.nn.relu)
    logits = tk.layers.dense(h, 10)
    loss = tk.losses.sparse_softmax_cross_entropy(y, logits)
    train_op = tk.train.AdamOptimizer(1e-3).minimize(loss)
    acc = _accuracy(logits, y)
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        before = sess.run(acc, {x: data.test.images, y: data.test.labels})
        for _ in range(200):
            bx, by = data.train.next_batch(100)
            sess.run(train_op, {x: bx, y: by})
        after = sess.run(acc, {x: data.test.images, y: data.test.labels})
    assert after > 0.75 and after > before + 0.3, (before, after)


def test_tiny_convnet_loss_decreases(data):
    x = tk.placeholder(tk.float32, [None, 28, 28, 1])
    y = tk.placeholder(tk.int64, [None])
    c = tk.layers.conv2d(x, 4, 5, strides=(2, 2), padding="same", activation=tk.nn.relu)
    p = tk.layers.max_pooling2d(c, 2, 2)
    logits = tk.layers.dense(tk.layers.flatten(p), 10)
    loss = tk.losses.sparse_softmax_cross_entropy(y, logits)
    train_op = tk.train.AdamOptimizer(0.01).minimize(loss)
    bx, by = data.train.next_batch(100)
    bx = bx.reshape(-1, 28, 28, 1)
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        losses = [sess.run([train_op, loss], {x: bx, y: by})[1] for _ in range(10)]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.7 * losses[0], losses


def test_train_save_restore_continue(data, tmp_path):
    x = tk.placeholder(tk.float32, [None, 784])
    y = tk.placeholder(tk.int64, [None])
    logits = tk.layers.dense(x, 10)
    loss = tk.losses.sparse_softmax_cross_entropy(y, logits)
    gs = tk.train.get_or_create_global_step()
    train_op = tk.train.AdamOptimizer(1e-3).minimize(loss, global_step=gs)
    saver = tk.train.Saver()
    bx, by = data.train.next_batch(100)
    feed = {x: bx, y: by}
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, feed)
        path = saver.save(sess, str(tmp_path / "model"), global_step=gs)
        sess.run(train_op, feed)
        want = sess.run(loss, feed)
    assert path.endswith("model-3")
    with tk.Session() as sess:  # slots and beta powers are restored too: the next step is identical
        saver.restore(sess, tk.train.latest_checkpoint(str(tmp_path)))
        assert sess.run(gs) == 3
        sess.run(train_op, feed)
        np.testing.assert_allclose(sess.run(loss, feed), want, rtol=1e-6)
