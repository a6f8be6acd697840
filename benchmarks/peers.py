"""The peer contenders the issue's targets name, built when their framework is importable:
TensorFlow 1.x graph mode (``tf.compat.v1.Session``, the programming model tensorkiln implements)
and JAX (``jax.jit``) for the rows models.py and run.py time. Each builder returns a zero-argument
callable that does one unit of the row's work, so the caller times every contender the same way.

They are written against TensorFlow 2.x's ``tf.compat.v1`` (graph mode, eager execution off) with
raw ops — ``tf.compat.v1.layers`` is gone from recent TensorFlow — configured for this machine's two
cores (``intra_op_parallelism_threads=2``, one inter-op thread), as ../shared/PEERS.md measured.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

B, H = 100, 256


def _tf1():
    import tensorflow as tf

    v1 = tf.compat.v1
    v1.disable_eager_execution()
    return tf, v1


def _session(tf, v1, g):
    cfg = v1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=1)
    return v1.Session(graph=g, config=cfg)


def tf1_chain(x: np.ndarray) -> Callable[[], object]:
    tf, v1 = _tf1()
    g = tf.Graph()
    with g.as_default():
        p = v1.placeholder(tf.float32, [None])
        out = tf.tanh(p * 1.5 + 0.25) * tf.sigmoid(p) + p * p
    sess = _session(tf, v1, g)
    return lambda: sess.run(out, {p: x})


def tf1_matmul(a: np.ndarray, b: np.ndarray) -> Callable[[], object]:
    tf, v1 = _tf1()
    g = tf.Graph()
    with g.as_default():
        pa, pb = v1.placeholder(tf.float32, a.shape), v1.placeholder(tf.float32, b.shape)
        out = tf.matmul(pa, pb)
    sess = _session(tf, v1, g)
    return lambda: sess.run(out, {pa: a, pb: b})


def tf1_tiny() -> Callable[[], object]:
    tf, v1 = _tf1()
    g = tf.Graph()
    with g.as_default():
        a = v1.placeholder(tf.float32, [4])
        out = a + 1.0
    sess = _session(tf, v1, g)
    v = np.ones(4, np.float32)
    return lambda: sess.run(out, {a: v})


def _tf1_logits(tf, v1, model: str, x, rng):
    def var(shape, scale):
        return tf.Variable((rng.standard_normal(shape) * scale).astype(np.float32))

    if model == "softmax":
        return tf.matmul(x, tf.Variable(tf.zeros([784, 10]))) + tf.Variable(tf.zeros([10]))
    if model == "mlp":
        h = tf.nn.relu(tf.matmul(x, var((784, H), np.sqrt(2 / 784))) + tf.Variable(tf.zeros([H])))
        return tf.matmul(h, var((H, 10), np.sqrt(2 / H))) + tf.Variable(tf.zeros([10]))
    img = tf.reshape(x, [-1, 28, 28, 1])
    c1 = tf.nn.relu(tf.nn.conv2d(img, var((5, 5, 1, 32), 0.1), 1, "SAME") + tf.Variable(tf.zeros([32])))
    p1 = tf.nn.max_pool2d(c1, 2, 2, "VALID")
    c2 = tf.nn.relu(tf.nn.conv2d(p1, var((5, 5, 32, 64), 0.05), 1, "SAME") + tf.Variable(tf.zeros([64])))
    p2 = tf.reshape(tf.nn.max_pool2d(c2, 2, 2, "VALID"), [-1, 7 * 7 * 64])
    d = tf.nn.relu(tf.matmul(p2, var((3136, 1024), 0.02)) + tf.Variable(tf.zeros([1024])))
    return tf.matmul(d, var((1024, 10), 0.03)) + tf.Variable(tf.zeros([10]))


def tf1_train_step(model: str, lr: float, x: np.ndarray, y: np.ndarray) -> Callable[[], object]:
    """The same train step as models.tk_step (sparse softmax cross-entropy, plain SGD)."""
    tf, v1 = _tf1()
    g = tf.Graph()
    with g.as_default():
        px, py = v1.placeholder(tf.float32, [None, 784]), v1.placeholder(tf.int64, [None])
        logits = _tf1_logits(tf, v1, model, px, np.random.default_rng(1))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=py, logits=logits))
        train = v1.train.GradientDescentOptimizer(lr).minimize(loss)
        init = v1.global_variables_initializer()
    sess = _session(tf, v1, g)
    sess.run(init)
    return lambda: sess.run(train, {px: x, py: y})


def jax_tiny() -> Callable[[], object]:
    import jax

    f = jax.jit(lambda a: a + 1.0)
    v = np.ones(4, np.float32)
    f(v).block_until_ready()
    return lambda: f(v).block_until_ready()


# The first call of the jitted softmax train step (trace + XLA compile + run) in a fresh process,
# after `import jax` and with the parameters already on the device (so XLA's CPU client is up), as
# ../shared/PEERS.md measured it: the counterpart of tensorkiln's "compile + first train step".
JAX_COLD = """
import time, numpy as np
import jax, jax.numpy as jnp
P = [jnp.zeros((784, 10)), jnp.zeros(10)]
x, y = np.zeros((100, 784), np.float32), np.zeros(100, np.int32)
@jax.jit
def step(P, x, y):
    def loss(P):
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(x @ P[0] + P[1]), y[:, None], 1))
    return [p - 0.5 * g for p, g in zip(P, jax.grad(loss)(P))]
t0 = time.perf_counter()
step(P, x, y)[0].block_until_ready()
print(f"{time.perf_counter() - t0:.5f}")
"""
