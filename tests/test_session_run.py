"""``Session.run``: fetch structures, feeds (by tensor or name, any layout, converted to the
placeholder's dtype), errors with TF's classes and messages, eval/run helpers, session lifetime."""
from __future__ import annotations

import collections

import numpy as np
import pytest

import tensorkiln as tk


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


@pytest.fixture
def graph():
    a = tk.placeholder(tk.float32, [None, 3], name="a")
    b = tk.constant([1.0, 2.0, 3.0], name="b")
    c = tk.add(a, b, name="c")
    d = tk.reduce_sum(c, axis=1, name="d")
    return a, b, c, d


A = np.arange(6, dtype=np.float32).reshape(2, 3)


def test_fetch_a_tensor(graph):
    a, b, c, d = graph
    with tk.Session() as sess:
        out = sess.run(c, {a: A})
        assert isinstance(out, np.ndarray) and out.dtype == np.float32
        np.testing.assert_array_equal(out, A + [1, 2, 3])


def test_scalar_fetch_is_numpy_scalar():
    with tk.Session() as sess:
        v = sess.run(tk.constant(2.5) * 2.0)
        assert v == 5.0 and isinstance(v, np.float32)
        assert isinstance(sess.run(tk.constant(3)), np.int32)


def test_fetch_structures(graph):
    a, b, c, d = graph
    Pair = collections.namedtuple("Pair", ["x", "y"])
    with tk.Session() as sess:
        feed = {a: A}
        r = sess.run([c, d], feed)
        assert isinstance(r, list) and len(r) == 2
        r = sess.run((c, [d, {"k": c}]), feed)
        assert isinstance(r, tuple) and isinstance(r[1], list) and isinstance(r[1][1], dict)
        np.testing.assert_array_equal(r[1][1]["k"], r[0])
        r = sess.run(Pair(x=c, y=d), feed)
        assert isinstance(r, Pair)
        np.testing.assert_array_equal(r.y, (A + [1, 2, 3]).sum(1))
        r = sess.run({"c": c, "d": d, "again": c}, feed)
        assert list(r) == ["c", "d", "again"]
        r = sess.run(collections.OrderedDict([("d", d)]), feed)
        assert isinstance(r, collections.OrderedDict)
        assert sess.run([], feed) == []


def test_fetch_by_name_and_operation(graph):
    a, b, c, d = graph
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run("c:0", {"a:0": A}), A + [1, 2, 3])
        assert sess.run(c.op, {a: A}) is None
        assert sess.run("c", {a: A}) is None  # a name without ":N" is an operation
        r = sess.run([c.op, d], {a: A})
        assert r[0] is None and r[1].shape == (2,)


def test_feed_values_are_converted(graph):
    a, b, c, d = graph
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(c, {a: [[0, 0, 0]]}), [[1, 2, 3]])
        out = sess.run(c, {a: np.ones((1, 3), dtype=np.float64)})
        assert out.dtype == np.float32
        i = tk.placeholder(tk.int32, [])
        assert sess.run(i * 2, {i: 21}) == 42
        assert sess.run(i * 2, {i: 2.9}) == 4  # np.asarray(2.9, int32) truncates, as TF


def test_feeds_of_any_layout(graph):
    a, b, c, d = graph
    big = np.arange(24, dtype=np.float32).reshape(4, 6)
    strided = big[::2, ::2]  # (2, 3), non-contiguous
    transposed = np.arange(6, dtype=np.float32).reshape(3, 2).T
    fortran = np.asfortranarray(np.arange(9, dtype=np.float32).reshape(3, 3))
    with tk.Session() as sess:
        for arr in (strided, transposed, fortran):
            assert not arr.flags.c_contiguous
            np.testing.assert_array_equal(sess.run(c, {a: arr}), arr + [1, 2, 3])
        neg = big[::-1, 3:]
        np.testing.assert_array_equal(sess.run(c, {a: neg}), neg + [1, 2, 3])


def test_feed_any_tensor_not_just_placeholders(graph):
    a, b, c, d = graph
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(d, {c: np.ones((2, 3), np.float32)}), [3, 3])
        np.testing.assert_array_equal(sess.run(c, {a: A, b: [0.0, 0.0, 0.0]}), A)
        np.testing.assert_array_equal(sess.run(a, {a: A}), A)


def test_missing_feed_is_invalid_argument_naming_the_placeholder(graph):
    a, b, c, d = graph
    with tk.Session() as sess:
        with pytest.raises(tk.errors.InvalidArgumentError, match="You must feed a value for placeholder tensor 'a' "
                           r"with dtype float and shape \[\?,3\]") as e:
            sess.run(d)
        assert e.value.op is a.op and isinstance(e.value, tk.errors.OpError)
        assert e.value.error_code == tk.errors.INVALID_ARGUMENT


def test_wrong_shape_feed_is_tf_value_error(graph):
    a, b, c, d = graph
    with tk.Session() as sess:
        with pytest.raises(ValueError) as e:
            sess.run(c, {a: np.zeros((2, 4))})
        assert str(e.value) == "Cannot feed value of shape (2, 4) for Tensor 'a:0', which has shape '(?, 3)'"
        with pytest.raises(ValueError, match=r"shape \(3,\)"):
            sess.run(c, {a: np.zeros(3)})


def test_inconsistent_symbolic_dims_are_invalid_argument():
    x = tk.placeholder(tk.float32, [None, 2], name="x")
    y = tk.placeholder(tk.float32, [None, 2], name="y")
    s = x + y
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(s, {x: np.ones((3, 2)), y: np.ones((3, 2))}), 2 * np.ones((3, 2)))
        with pytest.raises(tk.errors.InvalidArgumentError):
            sess.run(s, {x: np.ones((3, 2)), y: np.ones((4, 2))})


def test_bad_feed_values_and_keys(graph):
    a, b, c, d = graph
    with tk.Session() as sess:
        with pytest.raises(TypeError, match="feed cannot be a tk.Tensor"):
            sess.run(c, {a: b})
        with pytest.raises(ValueError):
            sess.run(c, {a: [["x", "y", "z"]]})
        with pytest.raises(TypeError, match="Cannot interpret feed_dict key"):
            sess.run(c, {"nope:0": A})
        with pytest.raises(TypeError, match="Cannot interpret feed_dict key"):
            sess.run(c, {c.op: A})


def test_bad_fetches(graph):
    a, b, c, d = graph
    with tk.Session() as sess:
        with pytest.raises(TypeError, match="has invalid type"):
            sess.run(None)
        with pytest.raises(TypeError):
            sess.run(3)
        with pytest.raises(ValueError, match="cannot be interpreted as a Tensor"):
            sess.run("nope:0")
        other = tk.Graph()
        with other.as_default():
            foreign = tk.constant(1.0)
        with pytest.raises(ValueError, match="not an element of this graph"):
            sess.run(foreign)


def test_eval_and_operation_run(graph):
    a, b, c, d = graph
    v = tk.Variable(0.0)
    with tk.Session():
        np.testing.assert_array_equal(c.eval(feed_dict={a: A}), A + [1, 2, 3])
        v.initializer.run()
        assert v.eval() == 0.0
        v.assign(4.0).op.run()
        assert v.eval() == 4.0
    sess2 = tk.Session()
    np.testing.assert_array_equal(b.eval(session=sess2), [1, 2, 3])
    with pytest.raises(ValueError, match="No default session"):
        b.eval()
    other = tk.Session(graph=tk.Graph())
    with pytest.raises(ValueError, match="graph is different"):
        b.eval(session=other)


def test_interactive_session(graph):
    a, b, c, d = graph
    sess = tk.InteractiveSession()
    try:
        assert tk.get_default_session() is sess
        np.testing.assert_array_equal(b.eval(), [1, 2, 3])
        np.testing.assert_array_equal(d.eval({a: A}), (A + [1, 2, 3]).sum(1))
    finally:
        sess.close()
    assert tk.get_default_session() is None


def test_session_with_explicit_graph_and_close():
    g = tk.Graph()
    with g.as_default():
        x = tk.constant(3.0) * 2.0
    sess = tk.Session(graph=g)
    assert sess.graph is g
    assert sess.run(x) == 6.0
    sess.close()
    with pytest.raises(RuntimeError, match="closed Session"):
        sess.run(x)
    with tk.Session(graph=g) as s2:
        assert tk.get_default_session() is s2 and tk.get_default_graph() is g
    assert tk.get_default_session() is None
    with pytest.raises(RuntimeError):
        s2.run(x)


def test_placeholder_with_default():
    base = tk.constant([1.0, 2.0])
    p = tk.placeholder_with_default(base, shape=[None])
    y = p * 10.0
    assert p.shape.as_list() == [None] and p.op.type == "PlaceholderWithDefault"
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(y), [10, 20])
        np.testing.assert_array_equal(sess.run(y, {p: [3.0, 4.0, 5.0]}), [30, 40, 50])
    with pytest.raises(ValueError):
        tk.placeholder_with_default(base, shape=[3])


def test_unknown_rank_placeholder_compiles_per_rank():
    p = tk.placeholder(tk.float32, name="p")
    y = p * 2.0 + 1.0
    with tk.Session() as sess:
        assert sess.run(y, {p: 3.0}) == 7.0
        np.testing.assert_array_equal(sess.run(y, {p: [1.0, 2.0]}), [3, 5])
        np.testing.assert_array_equal(sess.run(y, {p: [[1.0], [2.0]]}), [[3], [5]])
        np.testing.assert_array_equal(sess.run(y, {p: [1.0, 2.0, 3.0]}), [3, 5, 7])
        assert sess.compile_count == 3  # one per rank, none for the new length


def test_run_no_op_and_group():
    v = tk.Variable(1.0)
    with tk.Session() as sess:
        assert sess.run(tk.no_op()) is None
        sess.run(tk.group(v.initializer))
        assert sess.run(v) == 1.0


def test_make_callable(graph):
    a, b, c, d = graph
    with tk.Session() as sess:
        f = sess.make_callable([c, d], [a])
        r = f(A)
        np.testing.assert_array_equal(r[1], (A + [1, 2, 3]).sum(1))


def test_run_options_and_metadata(graph):
    a, b, c, d = graph
    opts = tk.RunOptions(trace_level=tk.RunOptions.FULL_TRACE, output_partition_graphs=True)
    md = tk.RunMetadata()
    with tk.Session() as sess:
        sess.run(d, {a: A}, options=opts, run_metadata=md)
        assert md.compiled and md.signature and md.run_seconds >= 0
        assert md.step_stats.dev_stats[0].device.endswith("CPU:0")
        assert md.step_stats.dev_stats[0].node_stats[0].node_name == md.signature
        assert "graph.reduce_sum" in md.partition_graphs[0]
        md2 = tk.RunMetadata()
        sess.run(d, {a: A}, run_metadata=md2)
        assert not md2.compiled
    with pytest.raises(ValueError, match="no \"bogus\" field"):
        tk.RunOptions(bogus=1)
