"""Differential fuzzing through ``Session.run``: random TF-1 graphs (tests/fuzz_session.py) run at
two batch sizes on one Session must agree with an independent numpy evaluation of the same graph
and with the reference interpreter on the IR the Session compiled; gradients must agree with the
reference interpreter and, in float64, with central finite differences of the numpy evaluation.
The second batch size must not recompile (symbolic dims). CI runs a bounded number, some with
bounds-checked code; ``make fuzz MINUTES=n`` runs longer (tools/fuzz.py).

Tolerances (``scale`` = max(1, max |expected|), so they are relative to the result's magnitude):

* compiled vs reference interpreter (same IR): f32 rtol 2e-4, atol 1e-4·scale; f64 1e-9, 1e-9·scale;
  ints and bools exact. An f64 value computed from f32 arithmetic (cast up) gets the f32 tolerance.
* compiled vs numpy (different formulas, summation orders and vector math within 1–2 ulp, after
  chains of up to a dozen ops): f32 rtol 1e-3, atol 2e-4·scale; f64 rtol 1e-8, atol 1e-9·scale;
  ints and bools exact.
* gradients vs central differences (f64, step 1e-6·max(1, |x|)): rtol 1e-4, atol 1e-6·max(1, |loss|, |grad|).
* a training step (GradientDescent or Momentum, from zero slots) vs ``var - LR * gradient`` from
  the fetched gradients: the compiled-vs-numpy tolerance.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
from hypothesis import given, settings

import tensorkiln as tk
from tensorkiln.runtime.reference_run import reference_run

from fuzz_session import LR, BrokenCase, SessionCase, session_graphs  # type: ignore[import-not-found]


def _flat(result: Any, fetches: Any) -> list[np.ndarray]:
    if isinstance(fetches, dict):
        return [np.asarray(result[k]) for k in fetches]
    if isinstance(fetches, list):
        return [np.asarray(r) for r in result]
    return [np.asarray(result)]


def _close(got: np.ndarray, want: np.ndarray, what: str, loose: bool, lowp: bool = False) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    if want.dtype == np.float32 or lowp:
        rtol, atol = (1e-3, 2e-4) if loose else (2e-4, 1e-4)
    else:
        rtol, atol = (1e-8, 1e-9) if loose else (1e-9, 1e-9)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale, err_msg=what)


def _finite_differences(case: SessionCase, variant: int, grads: list[np.ndarray | None]) -> None:
    """Central differences of the numpy evaluation at up to 3 coordinates per x."""
    loss = case.loss
    assert loss is not None
    lval = float(case.evaluate(variant)[loss.index])
    for x, g in zip(case.grad_xs, grads):
        if x.dtype != np.float64:  # an f32 leaf cannot be nudged by a small enough step
            continue
        base = case.leaves[x.leaf].values[variant]
        if g is None:  # unconnected: tk.gradients gives None, the derivative is 0
            g = np.zeros_like(base)
        rng = np.random.default_rng(x.index)
        for flat in rng.choice(base.size, size=min(3, base.size), replace=False) if base.size else []:
            idx = np.unravel_index(int(flat), base.shape)
            h = 1e-6 * max(1.0, abs(float(base[idx])))
            plus, minus = base.copy(), base.copy()
            plus[idx] += h
            minus[idx] -= h
            fd = (float(case.evaluate(variant, {x.index: plus})[loss.index]) -
                  float(case.evaluate(variant, {x.index: minus})[loss.index])) / (2 * h)
            atol = 1e-6 * max(1.0, abs(lval), float(np.max(np.abs(g))) if g.size else 0.0)
            assert abs(float(g[idx]) - fd) <= atol + 1e-4 * abs(fd), \
                f"d loss / d v{x.index}{list(idx)}: autodiff {float(g[idx])!r}, finite differences {fd!r}"


def _check_training_step(sess: Any, case: SessionCase, grads: list) -> None:
    """One optimizer step (GD, or Momentum from zero slots) moves each variable by -LR * gradient."""
    by_x = {x.index: g for x, g in zip(case.grad_xs, grads)}
    variables = [v.tensor for v in case.train_vars]
    old = sess.run(variables)
    sess.run(case.train, case.feed(0))
    new = sess.run(variables)
    for v, o, n in zip(case.train_vars, old, new):
        want = (o - LR * by_x[v.index]).astype(o.dtype)
        _close(np.asarray(n), want, f"v{v.index} after one training step", loose=True, lowp=case.loss.lowp)


def check_session_case(case: SessionCase | BrokenCase) -> None:
    if isinstance(case, BrokenCase):
        raise case.error
    with tk.Session(graph=case.graph) as sess:
        if case.has_variables():
            with case.graph.as_default():
                sess.run(tk.global_variables_initializer())
        compiled = None
        first_grads: list = []
        for variant in range(2):
            feed = case.feed(variant)
            got = _flat(sess.run(case.fetches, feed), case.fetches)
            if variant == 0:
                compiled = sess.compile_count
            else:  # a new batch size runs the same native function
                assert sess.compile_count == compiled, "a second batch size recompiled the signature"
            ref = _flat(reference_run(sess, case.fetches, feed), case.fetches)
            want = case.evaluate(variant)
            b = case.batches[variant]
            lowp = [n.lowp for n in case.fetch_nodes] + [any(n.lowp for n in case.nodes)] * len(got)
            for k, (g, r) in enumerate(zip(got, ref)):
                _close(g, r, f"batch {b}: fetch {k}: compiled vs reference interpreter", loose=False, lowp=lowp[k])
            for k, node in enumerate(case.fetch_nodes):
                static = node.tensor.shape.as_tuple() if node.tensor.shape.ndims is not None else None
                if static is not None:  # the graph's static shape must hold for what ran
                    assert len(static) == got[k].ndim and all(s in (None, d) for s, d in zip(static, got[k].shape)), \
                        f"v{node.index}: static shape {static} but ran with {got[k].shape}"
                _close(got[k], np.asarray(want[node.index]), f"batch {b}: v{node.index}: compiled vs numpy", loose=True,
                       lowp=node.lowp)
            if case.loss is not None:
                present = iter(got[len(case.fetch_nodes):])
                grads = [next(present) if t is not None else None for t in case.grads]
                first_grads = first_grads or grads
                if case.loss.dtype == np.float64 and case.loss.smooth:
                    _finite_differences(case, variant, grads)
        if case.train is not None:
            _check_training_step(sess, case, first_grads)


@settings(max_examples=20, deadline=None)
@given(session_graphs())
def test_random_session_graphs_agree_with_numpy_and_the_reference(case: SessionCase) -> None:
    check_session_case(case)


@settings(max_examples=6, deadline=None)
@given(session_graphs(max_ops=6))
def test_random_session_graphs_under_bounds_checks(case: SessionCase) -> None:
    """Compiled with every load and store range-checked: an access outside its buffer returns an
    error code, which Session.run raises (so the case fails) instead of reading stray memory."""
    old = os.environ.get("TENSORKILN_BOUNDS_CHECK")
    os.environ["TENSORKILN_BOUNDS_CHECK"] = "1"
    try:
        check_session_case(case)
    finally:
        if old is None:
            del os.environ["TENSORKILN_BOUNDS_CHECK"]
        else:
            os.environ["TENSORKILN_BOUNDS_CHECK"] = old


@settings(max_examples=3, deadline=None)
@given(session_graphs(max_ops=4, gradients=False))
def test_the_checker_catches_a_wrong_value(case: SessionCase) -> None:
    """The comparison is live: the same case with one fetch's numpy twin off by one must fail."""
    from hypothesis import assume

    assume(isinstance(case, SessionCase) and case.fetch_nodes[0].leaf is None and not case.fed_nodes)
    node = case.fetch_nodes[0]
    right = node.np_fn
    node.np_fn = lambda *a: (right(*a) + 1).astype(node.dtype) if node.dtype != np.bool_ else ~right(*a)
    try:
        check_session_case(case)
    except AssertionError as e:
        assert "compiled vs numpy" in str(e)
    else:
        raise AssertionError("a wrong expected value went unnoticed")


def test_reference_run_leaves_the_session_alone() -> None:
    """reference_run evaluates the signature Session.run compiles (variables, assignments, symbolic
    batch) without applying its assignments."""
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float64, [None, 3])
        w = tk.Variable(np.arange(6.0).reshape(3, 2))
        y = tk.nn.softmax(tk.matmul(x, w))
        step = tk.assign_add(w, tk.ones_like(w))
        init = tk.global_variables_initializer()
    xv = np.linspace(-1, 1, 12).reshape(4, 3)
    with tk.Session(graph=g) as sess:
        sess.run(init)
        ref_y, ref_w = reference_run(sess, [y, step], {x: xv})
        np.testing.assert_allclose(ref_w, np.arange(6.0).reshape(3, 2) + 1, rtol=1e-12)
        np.testing.assert_allclose(sess.run(w), np.arange(6.0).reshape(3, 2), rtol=0)  # not applied
        e = np.exp(xv @ np.arange(6.0).reshape(3, 2))
        np.testing.assert_allclose(ref_y, e / e.sum(1, keepdims=True), rtol=1e-12)
        got_y, got_w = sess.run([y, step], {x: xv})
        np.testing.assert_allclose(got_y, ref_y, rtol=1e-12)
        np.testing.assert_allclose(got_w, ref_w, rtol=1e-12)
