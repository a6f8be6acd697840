"""Index range checks: ``tk.gather`` (and ``embedding_lookup``), ``x[i]`` with a tensor ``i`` (or an
int ``i`` on a dim unknown to the graph) and ``sparse_softmax_cross_entropy_with_logits``'s labels
raise TF's InvalidArgumentError from ``Session.run`` when an index is outside ``[0, dim)``, naming
the first bad one (the largest bad label for labels); a run that fails such a check assigns no
variable; in-range indices give numpy's values.

References: numpy indexing (``params[idx]``, ``np.take``) and numpy's own search for the first
out-of-range index (``np.flatnonzero``, ``np.unravel_index``); TF 1.x's messages on the CPU.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorkiln as tk


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


# run_error is a stateless helper: sharing it across examples is fine
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(0, 6), shape=st.sampled_from([(5,), (2, 3), (1,), (0,), (3, 1, 2)]), data=st.data())
def test_gather_matches_numpy_or_names_the_first_bad_index(rows, shape, data, run_error):
    n = int(np.prod(shape))
    idx = np.array(data.draw(st.lists(st.integers(-3, rows + 2), min_size=n, max_size=n)), np.int32).reshape(shape)
    tk.reset_default_graph()
    p = tk.placeholder(tk.float32, [None, 2], name="params")
    i = tk.placeholder(tk.int32, [None] * len(shape), name="idx")
    g = tk.gather(p, i)
    pv = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)
    bad = np.flatnonzero((idx < 0) | (idx >= rows))
    with tk.Session() as sess:
        if bad.size == 0:
            np.testing.assert_array_equal(sess.run(g, {p: pv, i: idx}), pv[idx])
        else:
            where = ",".join(str(int(k)) for k in np.unravel_index(bad[0], shape))
            msg = run_error(sess, g, {p: pv, i: idx})
            assert msg.startswith(f"indices[{where}] = {idx.flat[bad[0]]} is not in [0, {rows})"), msg
            assert "[[node GatherV2]]" in msg


def test_gather_along_a_known_axis_and_embedding_lookup(run_error):
    p = tk.constant(np.arange(12, dtype=np.float32).reshape(3, 4))
    i = tk.placeholder(tk.int64, [None])
    cols = tk.gather(p, i, axis=1)
    emb = tk.nn.embedding_lookup(p, i)
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(cols, {i: [3, 0, 3]}), np.arange(12).reshape(3, 4)[:, [3, 0, 3]])
        assert run_error(sess, cols, {i: [0, 4]}).startswith("indices[1] = 4 is not in [0, 4)")
        np.testing.assert_array_equal(sess.run(emb, {i: [2, 0]}), np.arange(12).reshape(3, 4)[[2, 0]])
        assert run_error(sess, emb, {i: [2, 3]}).startswith("indices[1] = 3 is not in [0, 3)")


def test_the_first_failing_gather_in_production_order_is_reported(run_error):
    p = tk.constant(np.arange(10, dtype=np.float32))
    q = tk.constant(np.arange(5, dtype=np.float32))
    i = tk.placeholder(tk.int32, [2])
    first = tk.gather(p, i, name="first")
    second = tk.gather(q, tk.cast(first, tk.int32), name="second")  # first's values index a 5-vector
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(second, {i: [3, 2]}), [3.0, 2.0])
        msg = run_error(sess, second, {i: [7, 2]})
        assert msg.startswith("indices[0] = 7 is not in [0, 5)") and "[[node second]]" in msg, msg
        # both fail (first clamps 12 to 9, which second then refuses): the producer's is reported
        msg = run_error(sess, second, {i: [12, 2]})
        assert msg.startswith("indices[0] = 12 is not in [0, 10)") and "[[node first]]" in msg, msg


def test_tensor_index_counts_from_the_end_and_raises_out_of_range(run_error):
    x = tk.placeholder(tk.float32, [None, 3])
    k = tk.placeholder(tk.int32, [])
    row, col = x[k], x[:, k]
    xv = np.arange(12, dtype=np.float32).reshape(4, 3)
    with tk.Session() as sess:
        for kv in (0, 3, -1, -4):
            np.testing.assert_array_equal(sess.run(row, {x: xv, k: kv}), xv[kv])
        for kv in (2, -3):
            np.testing.assert_array_equal(sess.run(col, {x: xv, k: kv}), xv[:, kv])
        assert run_error(sess, row, {x: xv, k: 4}).startswith("slice index 4 of dimension 0 out of bounds.")
        assert run_error(sess, row, {x: xv, k: -5}).startswith("slice index -5 of dimension 0 out of bounds.")
        assert run_error(sess, col, {x: xv, k: 3}).startswith("slice index 3 of dimension 1 out of bounds.")


def test_int_index_on_an_unknown_dim_is_checked_at_run_time(run_error):
    x = tk.placeholder(tk.float32, [None, None])
    first, last, corner = x[0], x[-1], x[-1, 1]
    assert first.shape.as_list() == [None] and corner.shape.as_list() == []
    xv = np.arange(12, dtype=np.float32).reshape(4, 3)
    with tk.Session() as sess:
        got = sess.run([first, last, corner], {x: xv})
        for g, w in zip(got, [xv[0], xv[-1], xv[-1, 1]]):
            np.testing.assert_array_equal(g, w)
        assert run_error(sess, first, {x: np.zeros((0, 3), np.float32)}).startswith("slice index 0 of dimension 0 out of bounds.")
        assert run_error(sess, corner, {x: xv[:, :1]}).startswith("slice index 1 of dimension 1 out of bounds.")
        assert run_error(sess, x[-5], {x: xv}).startswith("slice index -5 of dimension 0 out of bounds.")


def test_bad_labels_raise_and_leave_the_variables_as_they_were(run_error):
    x = tk.placeholder(tk.float32, [None, 3])
    y = tk.placeholder(tk.int64, [None])
    w = tk.Variable(init := np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), name="w")
    b = tk.Variable(np.zeros(4, np.float32), name="b")
    loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=tk.matmul(x, w) + b))
    step = tk.train.GradientDescentOptimizer(0.5).minimize(loss)
    xv = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        for labels in ([0, 1, 4, 3, 2], [0, -1, 2, 3, 1], [9, -1, 5, 3, -7]):
            msg = run_error(sess, [step, loss], {x: xv, y: labels})
            lab = np.array(labels)
            bad = lab[(lab < 0) | (lab >= 4)].max()  # the message names the largest bad label
            assert msg.startswith(f"Received a label value of {bad} which is outside the valid range of [0, 4)."), msg
            np.testing.assert_array_equal(sess.run(w), init)  # bit for bit: nothing landed
            np.testing.assert_array_equal(sess.run(b), np.zeros(4, np.float32))
        # a valid step afterwards trains, and equals numpy's one SGD step
        labels = np.array([0, 1, 2, 3, 2])
        _, lv = sess.run([step, loss], {x: xv, y: labels})
        z = xv @ init
        e = np.exp(z - z.max(1, keepdims=True))
        sm = e / e.sum(1, keepdims=True)
        assert abs(lv - np.mean(-np.log(sm[np.arange(5), labels]))) < 1e-5
        grad = sm.copy()
        grad[np.arange(5), labels] -= 1
        np.testing.assert_allclose(sess.run(w), init - 0.5 * xv.T @ grad / 5, rtol=1e-5, atol=1e-6)


def test_index_and_numerics_checks_in_one_run_split_their_results(run_error):
    p = tk.placeholder(tk.float32, [None])
    i = tk.placeholder(tk.int32, [None])
    g = tk.debugging.check_numerics(tk.gather(p, i), "gathered")
    s = tk.reduce_sum(g)
    with tk.Session() as sess:
        out = sess.run([g, s], {p: [1.0, 2.0, 3.0], i: [2, 2, 0]})
        np.testing.assert_array_equal(out[0], [3.0, 3.0, 1.0])
        assert out[1] == 7.0
        assert run_error(sess, [g, s], {p: [1.0, np.nan, 3.0], i: [1]}).startswith("gathered : Tensor had NaN values")
        assert run_error(sess, [g, s], {p: [1.0, 2.0], i: [2]}).startswith("indices[0] = 2 is not in [0, 2)")


def test_an_exported_gather_has_no_checks_and_clamps(tmp_path):
    """``tk.aot`` exports only the fetched values: the index check (and its index vector, which
    only a Session supplies) is left out, and the exported gather clamps, as documented."""
    from tensorkiln import aot

    p = tk.placeholder(tk.float32, [None, 2], name="p")
    i = tk.placeholder(tk.int32, [None], name="i")
    g = tk.gather(p, i, name="g")
    pv = np.arange(8, dtype=np.float32).reshape(4, 2)
    with tk.Session() as sess:
        so, _ = aot.export(sess, [p, i], [g], "gathered", tmp_path)
    fn = aot.load(so)
    np.testing.assert_array_equal(fn(pv, np.array([3, 1], np.int32)), pv[[3, 1]])
    np.testing.assert_array_equal(fn(pv, np.array([7, -2], np.int32)), pv[[3, 0]])
