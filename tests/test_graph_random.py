"""Random ops and dropout: generated code, TF's seed rules (graph seed, op seed), a new draw on every
run, the same sequence in every new Session, sensible distributions."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.runtime.executable import NativeFunction


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


def draws(build, runs=2, graph_seed=None):
    g = tk.Graph()
    with g.as_default():
        if graph_seed is not None:
            tk.set_random_seed(graph_seed)
        t = build()
        with tk.Session() as sess:
            return [sess.run(t) for _ in range(runs)]


def test_op_seed_is_deterministic_across_graphs_and_sessions():
    a = draws(lambda: tk.random_uniform([5], seed=7))
    b = draws(lambda: tk.random_uniform([5], seed=7))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])  # each run draws new numbers
    c = draws(lambda: tk.random_uniform([5], seed=8))
    assert not np.array_equal(a[0], c[0])


def test_new_session_restarts_the_sequence():
    t = tk.random_normal([3], seed=1)
    with tk.Session() as s1:
        first = [s1.run(t) for _ in range(3)]
    with tk.Session() as s2:
        again = [s2.run(t) for _ in range(3)]
    for x, y in zip(first, again):
        np.testing.assert_array_equal(x, y)


def test_graph_seed_alone_makes_ops_deterministic():
    def build():
        tk.constant(0.0)
        return tk.stack([tk.random_uniform([4]), tk.random_uniform([4])])
    a = draws(build, graph_seed=123)
    b = draws(build, graph_seed=123)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0][0], a[0][1])  # the two ops get different op seeds
    c = draws(build, graph_seed=124)
    assert not np.array_equal(a[0], c[0])


def test_unseeded_ops_differ_between_graphs():
    a = draws(lambda: tk.random_uniform([8]), runs=1)
    b = draws(lambda: tk.random_uniform([8]), runs=1)
    assert not np.array_equal(a[0], b[0])


def test_uniform_distribution():
    (x,) = draws(lambda: tk.random_uniform([100000], seed=3), runs=1)
    assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.std() - np.sqrt(1 / 12)) < 0.01
    hist, _ = np.histogram(x, bins=10, range=(0, 1))
    assert hist.min() > 9000 and hist.max() < 11000
    (y,) = draws(lambda: tk.random_uniform([20000], minval=-3.0, maxval=5.0, dtype=tk.float64, seed=4), runs=1)
    assert y.dtype == np.float64 and y.min() >= -3 and y.max() < 5 and abs(y.mean() - 1.0) < 0.1
    (k,) = draws(lambda: tk.random_uniform([20000], minval=2, maxval=7, dtype=tk.int32, seed=5), runs=1)
    assert k.dtype == np.int32 and set(np.unique(k)) == {2, 3, 4, 5, 6}
    with pytest.raises(ValueError):
        tk.random_uniform([2], dtype=tk.int32)


def test_normal_and_truncated_normal_distributions():
    (z,) = draws(lambda: tk.random_normal([100000], mean=1.0, stddev=2.0, seed=9), runs=1)
    assert abs(z.mean() - 1.0) < 0.03 and abs(z.std() - 2.0) < 0.03
    assert abs(((z - 1.0) / 2.0 > 1.0).mean() - 0.1587) < 0.01
    (t,) = draws(lambda: tk.truncated_normal([100000], stddev=0.5, seed=10), runs=1)
    assert np.abs(t).max() <= 1.0 + 1e-6 and abs(t.mean()) < 0.01
    assert abs(t.std() - 0.5 * 0.8796) < 0.01  # std of a normal truncated at two sigma
    (d,) = draws(lambda: tk.random_normal([3, 4], dtype=tk.float64, seed=11), runs=1)
    assert d.dtype == np.float64 and d.shape == (3, 4)


def test_random_initializers_run_as_compiled_code(monkeypatch):
    calls = []
    original = NativeFunction.call_prepared
    monkeypatch.setattr(NativeFunction, "call_prepared", lambda self, arrays: calls.append(1) or original(self, arrays))
    tk.set_random_seed(42)
    w = tk.Variable(tk.truncated_normal([64, 32], stddev=0.1), name="w")
    b = tk.Variable(tk.random_uniform([32], -1.0, 1.0), name="b")
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        assert len(calls) == 1
        wv, bv = sess.run([w, b])
        assert np.abs(wv).max() <= 0.2 + 1e-6 and wv.std() > 0.05 and np.abs(bv).max() < 1
        np.testing.assert_array_equal(sess.run(w), wv)  # reading does not redraw
    assert "graph.mod" in tk.get_ir(w.initializer)


def test_dropout():
    x = tk.placeholder(tk.float32, [None, 100], name="x")
    keep = tk.placeholder(tk.float32, [], name="keep")
    y = tk.nn.dropout(x, keep, seed=1)
    data = np.ones((50, 100), np.float32)
    with tk.Session() as sess:
        a = sess.run(y, {x: data, keep: 0.25})
        b = sess.run(y, {x: data, keep: 0.25})
        assert set(np.unique(a)) <= {0.0, 4.0}
        assert abs((a > 0).mean() - 0.25) < 0.03
        assert not np.array_equal(a, b)  # a new mask on every run
        c = sess.run(y, {x: data[:7], keep: 0.5})  # another batch size, same compiled function
        assert c.shape == (7, 100) and set(np.unique(c)) <= {0.0, 2.0}
        np.testing.assert_array_equal(sess.run(y, {x: data, keep: 1.0}), data)
        assert sess.compile_count == 1
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: data, keep: 0.25}), a)  # seeded sequence restarts
    z = tk.nn.dropout(x, 1.0)
    assert z is x
    r = tk.nn.dropout(x, rate=0.75, seed=2)
    with tk.Session() as sess:
        out = sess.run(r, {x: data})
        assert set(np.unique(out)) <= {0.0, 4.0}


def test_dropout_noise_shape_broadcasts():
    x = tk.ones([4, 6])
    y = tk.nn.dropout(x, 0.5, noise_shape=[4, 1], seed=3)
    with tk.Session() as sess:
        out = sess.run(y)
    for row in out:
        assert len(set(row.tolist())) == 1
