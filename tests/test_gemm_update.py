"""SGD updates folded into the weight-gradient GEMM (compiler/passes/gemm_update.py):
``W := W - c * (A @ B)`` computed in place lowers to one accumulating ``loops.matmul`` into W.

Each case compiles a graph function with assignments through the whole pipeline, checks from the
loops stage whether the fold happened, and compares the outputs and updated arguments with the
reference interpreter (assignments land at the end, from entry values) and, for the folded cases,
with the update written in numpy (f64). A dense layer trained for two steps through the Session
API is checked against numpy too. Tolerances: f32 rtol 2e-5 / atol 2e-6.
"""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.backends.reference.interpreter import run_function
from tensorkiln.compiler.pipeline import run_to_stages
from tensorkiln.ir.core import Builder, Function, Module
from tensorkiln.ir.printer import print_module
from tensorkiln.ir.types import DTYPES, TensorType
from tensorkiln.runtime.compiled_module import compile_graph_module

RNG = np.random.default_rng(11)
F32 = DTYPES["f32"]


def tt(*shape: int) -> TensorType:
    return TensorType(tuple(shape), F32)


def const(b: Builder, v: float):
    return b.op("graph.constant", value=np.array(v, np.float32))


def build(arg_types, fn) -> Function:
    f = Function("f", arg_types, [], [f"a{i}" for i in range(len(arg_types))])
    b = Builder(f.body)
    outs = fn(b, *f.args)
    b.create("return", outs)
    f.result_types = [v.type for v in outs]
    return f


def run_both(make, arg_types):
    """(loops-stage text, compiled args after, reference args after, the entry arrays)."""
    arrays = [RNG.uniform(-2, 2, size=t.shape).astype(np.float32) for t in arg_types]
    loops = print_module(run_to_stages(Module([make()]))["loops"])
    ref_args = [a.copy() for a in arrays]
    want = run_function(make(), ref_args)
    got_args = [a.copy() for a in arrays]
    got = compile_graph_module(Module([make()]))["f"].call(got_args)
    for g, w in zip(list(got) + got_args, list(want) + ref_args):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)
    return loops, got_args, arrays


@pytest.mark.parametrize("n_out", [9, 40])   # the skinny kernels (N <= 16) and the blocked GEMM
@pytest.mark.parametrize("const_left", [False, True])
def test_sgd_of_weight_gradient_accumulates_into_weight(n_out, const_left):
    types = [tt(6, 7), tt(6, n_out), tt(7, n_out)]

    def make():
        def body(b, x, g, w):
            dw = b.op("graph.matmul", x, g, transpose_a=True)
            c = const(b, 0.25)
            step = b.op("graph.mul", c, dw) if const_left else b.op("graph.mul", dw, c)
            b.create("graph.assign", [w, b.op("graph.sub", w, step)])
            return [b.op("graph.reduce_sum", g, axes=[0])]
        return build(types, body)

    loops, got, (x, g, w) = run_both(make, types)
    assert loops.count("loops.matmul") == 1 and "accumulate = true" in loops
    want = w.astype(np.float64) - 0.25 * (x.astype(np.float64).T @ g.astype(np.float64))
    np.testing.assert_allclose(got[2], want, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("n_out", [9, 40])
@pytest.mark.parametrize("keep", [True, False])
def test_guarded_sgd_update_still_folds(n_out, keep):
    """``where(ok, W - dW * c, W)`` with a bool scalar ``ok`` (the Session's guard of a run whose
    index check failed) folds too, scaling by ``-c`` or 0: a false guard leaves W's values."""
    types = [tt(6, 7), tt(6, n_out), tt(7, n_out)]

    def make():
        def body(b, x, g, w):
            dw = b.op("graph.matmul", x, g, transpose_a=True)
            ok = b.op("graph.lt", b.op("graph.reduce_sum", b.op("graph.abs", x)), const(b, 1e9 if keep else -1.0))
            new = b.op("graph.sub", w, b.op("graph.mul", dw, const(b, 0.25)))
            b.create("graph.assign", [w, b.op("graph.where", ok, new, w)])
            return [b.op("graph.reduce_sum", g, axes=[0])]
        return build(types, body)

    loops, got, (x, g, w) = run_both(make, types)
    assert loops.count("loops.matmul") == 1 and "accumulate = true" in loops
    if keep:
        want = w.astype(np.float64) - 0.25 * (x.astype(np.float64).T @ g.astype(np.float64))
        np.testing.assert_allclose(got[2], want, rtol=2e-5, atol=2e-6)
    else:
        np.testing.assert_array_equal(got[2], w)


def test_product_read_elsewhere_is_not_folded():
    types = [tt(6, 7), tt(6, 9), tt(7, 9)]

    def make():
        def body(b, x, g, w):
            dw = b.op("graph.matmul", x, g, transpose_a=True)
            b.create("graph.assign", [w, b.op("graph.sub", w, b.op("graph.mul", dw, const(b, 0.5)))])
            return [dw]
        return build(types, body)

    loops, _, _ = run_both(make, types)
    assert "accumulate = true" not in loops


def test_product_of_the_variable_itself_is_not_folded():
    """W := W - c * (W @ G): the deferred product would read W after other updates of it."""
    types = [tt(5, 5), tt(5, 5), tt(5, 5)]

    def make():
        def body(b, g, w, v):
            b.create("graph.assign", [w, b.op("graph.sub", w, b.op("graph.mul", b.op("graph.matmul", w, g), const(b, 0.5)))])
            b.create("graph.assign", [v, b.op("graph.sub", v, b.op("graph.mul", b.op("graph.matmul", g, w), const(b, 0.5)))])
            return [b.op("graph.reduce_sum", g, axes=[0])]
        return build(types, body)

    loops, _, _ = run_both(make, types)
    assert "accumulate = true" not in loops


def test_non_sgd_update_is_not_folded():
    types = [tt(6, 7), tt(6, 9), tt(7, 9)]

    def make():
        def body(b, x, g, w):
            dw = b.op("graph.matmul", x, g, transpose_a=True)
            b.create("graph.assign", [w, b.op("graph.sub", b.op("graph.mul", w, const(b, 0.9)), b.op("graph.mul", dw, const(b, 0.5)))])
            return [b.op("graph.reduce_sum", g, axes=[0])]
        return build(types, body)

    loops, _, _ = run_both(make, types)
    assert "accumulate = true" not in loops


def test_dense_layer_training_matches_numpy():
    """Two SGD steps of relu(x @ W1 + b1) @ W2 with a symbolic batch: both weight updates fold."""
    rng = np.random.default_rng(3)
    xv = rng.standard_normal((12, 20)).astype(np.float32)
    tv = rng.standard_normal((12, 24)).astype(np.float32)
    w1 = (rng.standard_normal((20, 32)) * 0.3).astype(np.float32)
    w2 = (rng.standard_normal((32, 24)) * 0.3).astype(np.float32)
    gr = tk.Graph()
    with gr.as_default():
        x = tk.placeholder(tk.float32, [None, 20])
        t = tk.placeholder(tk.float32, [None, 24])
        v1, v2 = tk.Variable(w1), tk.Variable(w2)
        out = tk.matmul(tk.nn.relu(tk.matmul(x, v1)), v2)
        loss = tk.reduce_sum(tk.square(out - t)) * 0.5
        train = tk.train.GradientDescentOptimizer(0.05).minimize(loss)
        with tk.Session() as sess:
            sess.run(tk.global_variables_initializer())
            for _ in range(2):
                sess.run(train, {x: xv, t: tv})
            got1, got2 = sess.run([v1, v2])
        loops = tk.get_ir(train, {x: xv, t: tv}, stage="loops", graph=gr)
    a, b = w1.astype(np.float64), w2.astype(np.float64)
    for _ in range(2):
        h = np.maximum(xv @ a, 0)
        d = h @ b - tv
        gb = h.T @ d
        gh = (d @ b.T) * (h > 0)
        ga = xv.T @ gh
        a, b = a - 0.05 * ga, b - 0.05 * gb
    np.testing.assert_allclose(got1, a, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(got2, b, rtol=2e-5, atol=2e-5)
    assert loops.count("accumulate = true") == 2
    # the scaled operands are allocated where the products stood, before the first update: an
    # allocation that fails leaves every variable as it was (see inplace_assign.py)
    assert loops.rindex("loops.alloc") < loops.index("accumulate = true")
