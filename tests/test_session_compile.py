"""Compilation of Session signatures: one native function per (fetches, feeds), pruned to what the
fetches need, compiled once (symbolic batch dims), cached per graph, IR visible and dumpable."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


def test_each_run_is_one_native_call(native_calls):
    x = tk.placeholder(tk.float32, [None, 4], name="x")
    w = tk.Variable(tk.ones([4, 2]), name="w")
    b = tk.Variable(tk.zeros([2]), name="b")
    y = tk.nn.relu(tk.matmul(x, w) + b)
    loss = tk.reduce_mean(tk.square(y))
    step = tk.group(w.assign(w * 0.5), b.assign_add(tk.ones([2])))
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        assert len(native_calls) == 1
        out = sess.run([loss, y, step], {x: np.ones((3, 4))})
        assert len(native_calls) == 2
        assert out[1].shape == (3, 2) and out[2] is None
        np.testing.assert_allclose(sess.run(w), 0.5 * np.ones((4, 2)))
        np.testing.assert_allclose(sess.run(b), np.ones(2))


def test_signature_is_pruned_to_what_fetches_need():
    x = tk.placeholder(tk.float32, [None], name="x")
    unused = tk.placeholder(tk.float32, [None], name="unused")
    v = tk.Variable(1.0, name="v")
    y = x * 2.0
    z = unused + v  # not needed for y
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [1.0, 2.0]}), [2, 4])  # no feed for `unused`, v uninitialized
        ir = tk.get_ir(y, [x])
        assert "unused" not in ir and "%v" not in ir and "graph.mul" in ir
        with pytest.raises(tk.errors.InvalidArgumentError, match="unused"):
            sess.run(z)


def test_control_dependencies_are_part_of_the_signature():
    v = tk.Variable(0.0, name="v")
    with tk.control_dependencies([v.assign_add(1.0)]):
        y = tk.constant(5.0) + 1.0
    with tk.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(y) == 6.0
        assert sess.run(y) == 6.0
        assert sess.run(v) == 2.0


def test_no_recompile_when_batch_size_changes():
    x = tk.placeholder(tk.float32, [None, 3], name="x")
    y = tk.reduce_sum(x * x, axis=1)
    with tk.Session() as sess:
        for n in (1, 2, 7, 100, 0):
            data = np.random.rand(n, 3).astype(np.float32)
            np.testing.assert_allclose(sess.run(y, {x: data}), (data * data).sum(1), rtol=1e-5)
        assert sess.compile_count == 1
        ir = tk.get_ir(y, [x])
        assert "tensor<N0x3xf32>" in ir


def test_feed_order_does_not_matter():
    a = tk.placeholder(tk.float32, [2], name="a")
    b = tk.placeholder(tk.float32, [2], name="b")
    c = a - b
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(c, {a: [5, 5], b: [1, 2]}), [4, 3])
        np.testing.assert_array_equal(sess.run(c, {b: [1, 2], a: [5, 5]}), [4, 3])
        np.testing.assert_array_equal(sess.run(c, {"b:0": [1, 2], a: [5, 5]}), [4, 3])
        assert sess.compile_count == 1


def test_compiled_functions_cached_per_graph_and_shared_by_sessions():
    x = tk.placeholder(tk.float32, [None], name="x")
    y = tk.exp(x)
    s1 = tk.Session()
    s1.run(y, {x: [0.0]})
    s2 = tk.Session()
    assert s2.run(y, {x: [0.0, 1.0]})[0] == 1.0
    assert s1.compile_count == 1 and s2.compile_count == 0


def test_graph_extended_after_compile_keeps_old_signatures():
    x = tk.placeholder(tk.float32, [None], name="x")
    y = x + 1.0
    g = tk.get_default_graph()
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [1.0]}), [2])
        version = g.version
        z = y * 10.0  # the graph grows
        assert g.version > version
        np.testing.assert_array_equal(sess.run(z, {x: [1.0]}), [20])
        np.testing.assert_array_equal(sess.run(y, {x: [3.0]}), [4])
        assert sess.compile_count == 2


def test_get_ir_at_every_stage():
    x = tk.placeholder(tk.float32, [None, 4], name="x")
    y = tk.nn.softmax(x)
    graph_ir = tk.get_ir(y, [x])
    assert graph_ir.startswith("func @") and "graph.softmax" in graph_ir and "%x: tensor<N0x4xf32>" in graph_ir
    assert "graph." in tk.get_ir(y, [x], stage="optimized")
    assert "loops.for" in tk.get_ir(y, [x], stage="loops")
    assert "define" in tk.get_ir(y, [x], stage="llvm")
    assert "define" in tk.get_ir(y, [x], stage="llvm-opt")
    assert tk.get_ir(y, [x], stage="asm").strip()
    p = tk.placeholder(tk.float32, name="p")
    assert "tensor<N0xN1xf32>" in tk.get_ir(p * 2.0, {p: np.zeros((2, 3))})
    with pytest.raises(ValueError):
        tk.get_ir(y, [x], stage="nope")


def test_ir_shows_variables_and_assignments():
    v = tk.Variable(tk.zeros([3]), name="v")
    step = v.assign_add(tk.ones([3]))
    ir = tk.get_ir(step)
    assert "%v: tensor<3xf32>" in ir and "graph.assign %v" in ir


def test_dump_dir_gets_every_session_compile(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORKILN_DUMP_DIR", str(tmp_path))
    x = tk.placeholder(tk.float32, [None], name="x")
    y = tk.identity(x * 3.0, name="tripled")
    with tk.Session() as sess:
        sess.run(y, {x: [1.0]})
    files = sorted(p.name for p in tmp_path.iterdir())
    assert any("tripled_0" in f and f.endswith(".graph.tkir") for f in files)
    for stage in ("graph", "optimized", "loops", "llvm", "asm"):
        assert any(f.endswith(f".{stage}.tkir") or f.endswith(f".{stage}.ll") or f.endswith(f".{stage}.s") for f in files)
    assert all("feed_x_0" in f for f in files)


def test_signature_with_hidden_symbol_unification():
    a = tk.placeholder(tk.float32, [None, 2], name="a")
    b = tk.placeholder(tk.float32, [None, 2], name="b")
    s = tk.concat([a, b], 0) * 2.0
    t = a * b
    with tk.Session() as sess:
        assert sess.run(s, {a: np.ones((1, 2)), b: np.ones((3, 2))}).shape == (4, 2)
        assert sess.run(t, {a: np.ones((3, 2)), b: np.ones((3, 2))}).shape == (3, 2)
    assert "%b: tensor<N0x2xf32>" in tk.get_ir(t, [a, b])  # a*b forces one batch symbol


def test_dynamic_reshape_compiles_once():
    x = tk.placeholder(tk.float32, [None, 4, 2], name="x")
    flat = tk.reshape(x, [tk.shape(x)[0], -1])
    back = tk.reshape(flat * 2.0, tk.shape(x))
    with tk.Session() as sess:
        for n in (1, 3, 5):
            data = np.random.rand(n, 4, 2).astype(np.float32)
            f, b = sess.run([flat, back], {x: data})
            np.testing.assert_array_equal(f, data.reshape(n, 8))
            np.testing.assert_allclose(b, data * 2)
        assert sess.compile_count == 1
        np.testing.assert_array_equal(sess.run(tk.shape(x), {x: np.zeros((7, 4, 2))}), [7, 4, 2])


def test_fills_with_dynamic_dims():
    x = tk.placeholder(tk.float32, [None, 3], name="x")
    z = tk.zeros(tk.shape(x))
    o = tk.ones([tk.shape(x)[0], 2], dtype=tk.int32)
    f = tk.fill(tk.shape(x), 7.0)
    assert z.shape.as_list() == [None, 3] and o.shape.as_list() == [None, 2]
    with tk.Session() as sess:
        for n in (1, 4):
            zz, oo, ff = sess.run([z, o, f], {x: np.ones((n, 3))})
            np.testing.assert_array_equal(zz, np.zeros((n, 3)))
            np.testing.assert_array_equal(oo, np.ones((n, 2), np.int32))
            np.testing.assert_array_equal(ff, np.full((n, 3), 7.0))
        assert sess.compile_count == 1
