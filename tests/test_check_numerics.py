"""``tk.debugging.check_numerics`` and ``tk.add_check_numerics_ops``: the NaN/Inf status is computed by
the compiled function in the one native call, and the Session raises TF's InvalidArgumentError for the
first op (in production order) whose tensor had a NaN or an Inf; finite tensors pass unchanged.

References: numpy for values (``np.log``, ``np.isnan``) computed outside the Session, and the reference
interpreter for the ``graph.check_numerics`` status on random tensors with NaNs and Infs planted.
"""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


def test_nan_from_log_is_reported_at_the_log_not_downstream(run_error):
    x = tk.placeholder(tk.float32, [None, 3], name="x")
    l = tk.log(x, name="log")  # log(-1) = NaN; every op below inherits it
    y = tk.multiply(l, 2.0, name="scaled")
    z = tk.reduce_sum(tk.exp(y, name="e"), name="z")
    check = tk.add_check_numerics_ops()
    with tk.Session() as sess:
        feed = {x: np.array([[1.0, -1.0, 2.0]], np.float32)}
        msg = run_error(sess, [z, check], feed)
        assert msg.startswith("log:0 : Tensor had NaN values"), msg
        # the same run without the checks computes NaN quietly (what the checks guard against)
        assert np.isnan(sess.run(z, feed))
        ok = np.array([[1.0, 0.5, 2.0]], np.float32)
        got, none = sess.run([z, check], {x: ok})
        assert none is None
        np.testing.assert_allclose(got, np.exp(2 * np.log(ok)).sum(), rtol=1e-5)


def test_checks_created_in_reverse_order_still_name_the_producer(run_error):
    x = tk.placeholder(tk.float32, [4], name="x")
    l = tk.log(x, name="log")
    y = tk.square(l, name="sq")
    late = tk.check_numerics(y, "square")  # created first, no control dependency between the two
    early = tk.check_numerics(l, "log")
    with tk.Session() as sess:
        msg = run_error(sess, [tk.group(late.op, early.op)], {x: [1.0, 2.0, -3.0, 4.0]})
        assert msg.startswith("log : Tensor had NaN values"), msg


def test_inf_from_division_by_zero_and_both_kinds(run_error):
    x = tk.placeholder(tk.float32, [None], name="x")
    d = tk.check_numerics(1.0 / x, "one over x")
    with tk.Session() as sess:
        msg = run_error(sess, d, {x: [1.0, 0.0, 2.0]})
        assert msg.startswith("one over x : Tensor had Inf values"), msg
        assert "CheckNumerics" in msg  # the check op is named, as TF's "[[node ...]]" does
        both = tk.check_numerics(tk.sqrt(x) + 1.0 / x, "both")  # sqrt(-1) = NaN, 1/0 = Inf
        assert run_error(sess, both, {x: [-1.0, 0.0]}).startswith("both : Tensor had Inf and NaN values")
        neg_inf = tk.check_numerics(tk.log(x), "log")
        assert run_error(sess, neg_inf, {x: [0.0, 1.0]}).startswith("log : Tensor had Inf values")


def test_finite_values_pass_through_unchanged_float32_and_float64(run_error):
    rng = np.random.default_rng(0)
    for dt, np_dt in ((tk.float32, np.float32), (tk.float64, np.float64)):
        x = tk.placeholder(dt, [None, 5])
        y = tk.check_numerics(tk.tanh(x) * 3.0, "t")
        assert y.dtype == dt and y.shape.as_list() == [None, 5]
        v = rng.standard_normal((7, 5)).astype(np_dt)
        v[0, 0] = np.finfo(np_dt).max  # huge but finite: tanh saturates, nothing to report
        with tk.Session() as sess:
            got = sess.run(y, {x: v})
            want = sess.run(tk.tanh(x) * 3.0, {x: v})
        assert got.dtype == np_dt
        np.testing.assert_array_equal(got, want)  # bit-identical to the unchecked computation
        np.testing.assert_allclose(got, np.tanh(v) * 3.0, rtol=1e-6 if np_dt == np.float32 else 1e-12)
        with tk.Session() as sess:
            bad = v.copy()
            bad[3, 2] = np.nan
            assert "t : Tensor had NaN values" in run_error(sess, y, {x: bad})


def test_symbolic_batch_compiles_once_and_empty_batches_are_finite(run_error):
    x = tk.placeholder(tk.float64, [None, None], name="x")
    y = tk.check_numerics(tk.log(x), "log of x")
    with tk.Session() as sess:
        for n, m in ((1, 1), (3, 8), (64, 33), (0, 4), (5, 0)):
            v = np.full((n, m), 2.0)
            np.testing.assert_allclose(sess.run(y, {x: v}), np.log(v))
            if n * m:
                v[n - 1, m - 1] = -1.0
                assert "log of x : Tensor had NaN values" in run_error(sess, y, {x: v})
        assert sess.compile_count == 1


def test_training_step_with_checks_is_one_native_call_and_gradient_is_identity(native_calls, run_error):
    x = tk.placeholder(tk.float32, [None, 2], name="x")
    w = tk.Variable([[1.0], [2.0]], name="w")
    pred = tk.check_numerics(tk.matmul(x, w), "pred")
    loss = tk.reduce_mean(tk.square(pred))
    g_checked, = tk.gradients(loss, [w])
    g_plain, = tk.gradients(tk.reduce_mean(tk.square(tk.matmul(x, w))), [w])
    train = tk.train.GradientDescentOptimizer(0.1).minimize(loss)
    check = tk.add_check_numerics_ops()
    xv = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        gc, gp = sess.run([g_checked, g_plain], {x: xv})
        np.testing.assert_array_equal(gc, gp)
        wv = np.array([[1.0], [2.0]], np.float32)
        np.testing.assert_allclose(gc, 2 * xv.T @ (xv @ wv) / 2, rtol=1e-6)  # d mean((xw)^2) / dw
        del native_calls[:]
        sess.run([train, check], {x: xv})
        assert len(native_calls) == 1
        np.testing.assert_allclose(sess.run(w), wv - 0.1 * gc, rtol=1e-6)
        bad = xv.copy()
        bad[0, 0] = np.inf
        msg = run_error(sess, [train, check], {x: bad})
        assert msg.startswith("x:0 : Tensor had Inf values"), msg  # the feed is the first bad tensor


def test_verify_tensor_all_finite_runs_its_check_through_a_control_dependency(run_error):
    x = tk.placeholder(tk.float32, [3])
    y = tk.verify_tensor_all_finite(x * 2.0, "doubled")
    z = tk.debugging.assert_all_finite(x, msg="input")
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [1, 2, 3]}), [2, 4, 6])
        assert run_error(sess, y, {x: [1, np.nan, 3]}).startswith("doubled : Tensor had NaN values")
        assert run_error(sess, z, {x: [np.inf, 0, 0]}).startswith("input : Tensor had Inf values")


def test_no_numpy_reduction_on_the_run_path(monkeypatch, run_error):
    x = tk.placeholder(tk.float32, [None])
    y = tk.check_numerics(x, "x")
    with tk.Session() as sess:
        sess.run(y, {x: [1.0]})  # compiled before numpy's checks are booby-trapped
        for fn in ("isnan", "isinf", "isfinite", "any"):
            monkeypatch.setattr(np, fn, lambda *a, **k: (_ for _ in ()).throw(AssertionError("numpy on the run path")))
        msg = run_error(sess, y, {x: [1.0, np.nan]})
        got = sess.run(y, {x: [1.0, 2.0]})
        monkeypatch.undo()
    assert msg.startswith("x : Tensor had NaN values")
    np.testing.assert_array_equal(got, [1.0, 2.0])


def test_status_matches_the_reference_interpreter():
    from tensorkiln.backends.reference import run_function

    src = ("func @f(%x: tensor<Nx7xf32>) -> tensor<i32> {\n  %0 = graph.check_numerics %x : tensor<i32>\n"
           "  return %0 : tensor<i32>\n}\n")
    mod = tk.compile(src)
    func = tk.parse(src)[0]["f"]
    rng = np.random.default_rng(1)
    for trial in range(40):
        v = rng.standard_normal((int(rng.integers(0, 40)), 7)).astype(np.float32)
        for value in (np.nan, np.inf, -np.inf):
            if v.size and rng.random() < 0.3:
                v.flat[int(rng.integers(v.size))] = value
        want = int(run_function(func, [v])[0])
        assert want == (2 if np.isnan(v).any() else 0) + (1 if np.isinf(v).any() else 0)
        assert int(mod.f(v)) == want, (trial, v)


def test_errors_at_construction():
    with pytest.raises(TypeError, match="DataType int32"):
        tk.check_numerics(tk.constant([1, 2]), "ints")
    with pytest.raises(TypeError, match="message"):
        tk.check_numerics(tk.constant([1.0]), 3)


def test_compat_v1_names():
    import tensorkiln.compat.v1 as tf

    assert tf.check_numerics is tk.debugging.check_numerics
    assert tf.debugging.check_numerics is tk.debugging.check_numerics
    assert tf.add_check_numerics_ops is tk.debugging.add_check_numerics_ops
    assert tf.verify_tensor_all_finite is tk.debugging.verify_tensor_all_finite
    assert tf.debugging.assert_all_finite is tk.debugging.verify_tensor_all_finite
    x = tf.placeholder(tf.float32, [2])
    c = tf.add_check_numerics_ops()
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Tensor had NaN values"):
            sess.run(c, {x: [np.nan, 1.0]})
