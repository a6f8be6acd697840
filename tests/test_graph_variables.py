"""Variables: naming, initializers, assignments (in place, in the one native call), collections,
uninitialized reads (FailedPreconditionError naming the variable), per-Session state."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


def test_variable_ops_are_named_like_tf():
    v = tk.Variable([1.0, 2.0])
    w = tk.Variable(3, name="w")
    assert v.name == "Variable:0" and v.op.name == "Variable" and v.op.type == "VariableV2"
    assert v.initializer.name == "Variable/Assign" and v.initializer.type == "Assign"
    assert v.value().name == "Variable/read:0"
    assert v.initial_value.name == "Variable/initial_value:0"
    assert w.name == "w:0" and w.dtype == tk.int32 and w.shape.as_list() == []
    assert tk.Variable(1.0).name == "Variable_1:0"
    assert v.graph is tk.get_default_graph()


def test_collections_and_trainable():
    a = tk.Variable(1.0, name="a")
    b = tk.Variable(2.0, name="b", trainable=False)
    c = tk.Variable(3.0, name="c", collections=["mine"])
    assert tk.global_variables() == [a, b]
    # TF adds a trainable variable to TRAINABLE_VARIABLES even with explicit collections
    assert tk.trainable_variables() == [a, c]
    assert tk.get_collection("mine") == [c]
    assert tk.get_collection(tk.GraphKeys.TRAINABLE_VARIABLES) == [a, c]


def test_initialize_and_read():
    v = tk.Variable(tk.constant([1.0, 2.0, 3.0]), name="v")
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(v), [1, 2, 3])
        np.testing.assert_array_equal(v.eval(), [1, 2, 3])
        np.testing.assert_array_equal(sess.run(v * 2.0), [2, 4, 6])
        assert sess.run(v).dtype == np.float32


def test_uninitialized_read_is_failed_precondition_naming_the_variable():
    v = tk.Variable(1.0, name="weights")
    w = tk.Variable(2.0, name="other")
    with tk.Session() as sess:
        with pytest.raises(tk.errors.FailedPreconditionError, match="uninitialized value weights") as e:
            sess.run(v + 1.0)
        assert isinstance(e.value, tk.errors.OpError) and e.value.op is v.op
        sess.run(tk.variables_initializer([v]))
        assert sess.run(v) == 1.0
        with pytest.raises(tk.errors.FailedPreconditionError, match="other"):
            sess.run(w)


def test_assign_ops_return_new_value_and_update_in_place():
    v = tk.Variable([1.0, 2.0], name="v")
    set_op = v.assign([5.0, 6.0])
    add_op = tk.assign_add(v, [1.0, 1.0])
    sub_op = v.assign_sub(tk.constant([0.5, 0.5]))
    assert set_op.op.type == "Assign" and add_op.op.type == "AssignAdd" and sub_op.op.type == "AssignSub"
    with tk.Session() as sess:
        sess.run(v.initializer)
        buf = sess._variables[v.op._node]
        np.testing.assert_array_equal(sess.run(set_op), [5, 6])
        np.testing.assert_array_equal(sess.run(add_op), [6, 7])
        np.testing.assert_array_equal(sess.run(sub_op), [5.5, 6.5])
        assert sess._variables[v.op._node] is buf  # the same buffer, updated in place
        np.testing.assert_array_equal(buf, [5.5, 6.5])
        np.testing.assert_array_equal(sess.run(tk.assign(v, [0.0, 0.0])), [0, 0])


def test_counter_loop():
    counter = tk.Variable(0, name="counter")
    inc = tk.assign_add(counter, 1)
    with tk.Session() as sess:
        sess.run(counter.initializer)
        for _ in range(50):
            sess.run(inc)
        assert sess.run(counter) == 50
        assert sess.run(counter).dtype == np.int32


def test_initializer_only_writes_needs_no_prior_value():
    v = tk.Variable(tk.zeros([2, 2]))
    with tk.Session() as sess:
        sess.run(v.initializer)  # must not complain that v is uninitialized
        np.testing.assert_array_equal(sess.run(v), np.zeros((2, 2)))


def test_sessions_own_their_variables():
    v = tk.Variable(10, name="v")
    inc = v.assign_add(1)
    s1, s2 = tk.Session(), tk.Session()
    s1.run(v.initializer)
    s2.run(v.initializer)
    for _ in range(3):
        s1.run(inc)
    assert s1.run(v) == 13 and s2.run(v) == 10
    s3 = tk.Session()
    with pytest.raises(tk.errors.FailedPreconditionError):
        s3.run(v)
    for s in (s1, s2, s3):
        s.close()


def test_control_dependencies_order_reads_after_assignment():
    v = tk.Variable(1.0, name="v")
    inc = v.assign_add(1.0)
    with tk.control_dependencies([inc]):
        after = v.read_value()
        via_identity = tk.identity(v.read_value())
    snapshot = v.value()  # TF's snapshot: not ordered after inc
    with tk.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(after) == 2.0  # one native call: the add, then the read of the new value
        assert sess.run(v) == 2.0
        assert sess.run(via_identity) == 3.0
        assert sess.run([after, snapshot]) == [4.0, 3.0]


def test_chained_assignments_in_one_run():
    v = tk.Variable(1.0)
    a = v.assign(v.read_value() * 10.0)
    with tk.control_dependencies([a]):
        b = v.assign_add(5.0)
    with tk.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(b) == 15.0
        assert sess.run(v) == 15.0


def test_swap_two_variables_in_one_run():
    a = tk.Variable(1.0, name="a")
    b = tk.Variable(2.0, name="b")
    swap = tk.group(a.assign(b.value()), b.assign(a.value()))
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        sess.run(swap)
        assert sess.run([a, b]) == [2.0, 1.0]


def test_assign_shape_and_ref_checks():
    v = tk.Variable(tk.zeros([3]))
    with pytest.raises(ValueError, match=r"\[3\].*\[2,2\]"):
        v.assign(tk.zeros([2, 2]))
    with pytest.raises(TypeError, match="mutable"):
        tk.assign(tk.constant(1.0), 2.0)
    p = tk.placeholder(tk.float32, [None])
    fill = v.assign(p)  # an unknown dim fits 3
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(fill, {p: [7, 8, 9]}), [7, 8, 9])
        with pytest.raises(ValueError, match="Cannot feed value of shape"):
            sess.run(fill, {p: np.ones((1, 3))})
        with pytest.raises(tk.errors.InvalidArgumentError):
            sess.run(fill, {p: [1.0, 2.0]})  # the compiled function needs 3


def test_variable_dtype_argument_and_callable_initial_value():
    v = tk.Variable([1, 2], dtype=tk.float64)
    w = tk.Variable(lambda: tk.ones([2]), name="w")
    assert v.dtype == tk.float64 and w.shape.as_list() == [2]
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        assert sess.run(v).dtype == np.float64
        np.testing.assert_array_equal(sess.run(w), [1, 1])


def test_initialized_value_and_load():
    w = tk.Variable(tk.constant([1.0, 2.0]), name="w")
    w2 = tk.Variable(w.initialized_value() * 2.0, name="w2")
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(w2), [2, 4])
        w.load([9.0, 9.0], sess)
        np.testing.assert_array_equal(sess.run(w), [9, 9])
        with sess.as_default():
            w.load(np.array([3.0, 4.0]))
        np.testing.assert_array_equal(w.eval(session=sess), [3, 4])


def test_variable_operators_and_fetch_by_variable():
    v = tk.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tk.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(v + v), [[2, 4], [6, 8]])
        np.testing.assert_array_equal(sess.run(v[1]), [3, 4])
        np.testing.assert_array_equal(sess.run(v @ v), np.array([[1, 2], [3, 4]]) @ np.array([[1, 2], [3, 4]]))
        np.testing.assert_array_equal(sess.run(-v), -np.array([[1, 2], [3, 4]]))
        np.testing.assert_array_equal(sess.run(tk.reduce_sum(v)), 10)


def test_feeding_a_variable_overrides_its_value():
    v = tk.Variable(1.0)
    y = v * 3.0
    with tk.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(y, {v.value(): 5.0}) == 15.0
        assert sess.run(y) == 3.0
