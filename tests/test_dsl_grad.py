"""`grad(f, wrt=(a, b))(args...)` in the DSL: the IR autodiff inside a DSL function, checked against
central finite differences (f64, h = 1e-6, rtol 1e-5), and a DSL train_step that updates W and b."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.ir.diagnostics import CompileError

SRC = """
def loss(x: f64[N, 4], y: f64[N, 3], W: f64[4, 3], b: f64[3]) -> f64 {
    return mean(-sum(y * log_softmax(x @ W + b, axis=1), axis=1), axis=0)
}

def grads(x: f64[N, 4], y: f64[N, 3], W: f64[4, 3], b: f64[3]) -> (f64[4, 3], f64[3]) {
    gW, gb = grad(loss, wrt=(W, b))(x, y, W, b)
    return gW, gb
}

def gx(x: f64[N, 4], y: f64[N, 3], W: f64[4, 3], b: f64[3]) -> f64[N, 4] {
    return grad(loss, wrt=x)(x, y, W, b)
}

def train_step(x: f64[N, 4], y: f64[N, 3], W: f64[4, 3], b: f64[3]) -> (f64[4, 3], f64[3]) {
    gW, gb = grad(loss, wrt=(W, b))(x, y, W, b)
    return W - 0.5 * gW, b - 0.5 * gb
}
"""


def numeric(f, args, i, h=1e-6):
    g = np.zeros_like(args[i])
    for j in range(args[i].size):
        p = [a.copy() for a in args]
        m = [a.copy() for a in args]
        p[i].flat[j] += h
        m[i].flat[j] -= h
        g.flat[j] = (f(*p) - f(*m)) / (2 * h)
    return g


def test_grad_matches_finite_differences():
    m = tk.compile(SRC)
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    y = np.eye(3)[rng.integers(0, 3, 5)]
    args = [x, y, W, b]
    gW, gb = m.grads(*args)
    np.testing.assert_allclose(gW, numeric(m.loss, args, 2), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(gb, numeric(m.loss, args, 3), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(m.gx(*args), numeric(m.loss, args, 0), rtol=1e-5, atol=1e-8)


def test_train_step_updates_and_lowers_the_loss():
    m = tk.compile(SRC)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 4))
    y = np.eye(3)[(x[:, 0] > 0).astype(int) + (x[:, 1] > 1)]
    W, b = np.zeros((4, 3)), np.zeros(3)
    first = m.loss(x, y, W, b)
    gW, gb = m.grads(x, y, W, b)
    W1, b1 = m.train_step(x, y, W, b)
    np.testing.assert_allclose(W1, W - 0.5 * gW, rtol=1e-12)
    np.testing.assert_allclose(b1, b - 0.5 * gb, rtol=1e-12)
    for _ in range(50):
        W, b = m.train_step(x, y, W, b)
    assert m.loss(x, y, W, b) < 0.6 * first


@pytest.mark.parametrize("src,message", [
    ("def f(x: f64[3]) -> f64[3] {\n    return grad(g, wrt=x)(x)\n}", "grad of unknown function 'g'"),
    ("def g(x: f64[3]) -> f64 {\n    return sum(x)\n}\ndef f(x: f64[3]) -> f64[3] {\n    return grad(g, wrt=y)(x)\n}", "wrt must name parameters of 'g'"),
    ("def g(x: f64[3]) -> i64 {\n    return argmax(x, axis=0)\n}\ndef f(x: f64[3]) -> f64[3] {\n    return grad(g, wrt=x)(x)\n}", "one floating-point value"),
    ("def g(x: f64[3]) -> f64 {\n    return sum(x)\n}\ndef f(x: f64[3]) -> f64[3] {\n    return max(x, axis=0)(x)\n}", "only grad(f, wrt=...)"),
])
def test_grad_errors(src, message):
    with pytest.raises(CompileError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        tk.compile(src)
