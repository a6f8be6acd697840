"""The Graph/Operation/Tensor API, names, scopes, control dependencies, devices, collections, dtypes
and TensorShape — checked against TensorFlow 1.x's documented behaviour."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


# --------------------------------------------------------------------------- graphs


def test_default_graph_and_as_default():
    g0 = tk.get_default_graph()
    c = tk.constant(1.0)
    assert c.graph is g0
    g = tk.Graph()
    with g.as_default() as entered:
        assert entered is g
        assert tk.get_default_graph() is g
        d = tk.constant(2.0)
    assert d.graph is g
    assert tk.get_default_graph() is g0
    assert g.get_operations() == [d.op]


def test_reset_default_graph():
    g0 = tk.get_default_graph()
    tk.constant(1.0)
    tk.reset_default_graph()
    g1 = tk.get_default_graph()
    assert g1 is not g0 and g1.get_operations() == []
    with g1.as_default():
        with pytest.raises(AssertionError):
            tk.reset_default_graph()


def test_get_operation_and_tensor_by_name():
    a = tk.placeholder(tk.float32, name="a")
    b = tk.add(a, 1.0, name="b")
    g = tk.get_default_graph()
    assert g.get_operation_by_name("b") is b.op
    assert g.get_tensor_by_name("b:0") is b
    assert g.get_tensor_by_name("a:0") is a
    with pytest.raises(KeyError, match="does not exist"):
        g.get_tensor_by_name("nope:0")
    with pytest.raises(KeyError, match="only has 1 outputs"):
        g.get_tensor_by_name("b:1")
    with pytest.raises(KeyError, match="not in the graph"):
        g.get_operation_by_name("nope")
    with pytest.raises(ValueError):
        g.get_operation_by_name("b:0")
    with pytest.raises(ValueError):
        g.get_tensor_by_name("b")
    with pytest.raises(TypeError):
        g.get_operation_by_name(3)


def test_get_operations_in_creation_order_and_version():
    g = tk.get_default_graph()
    v0 = g.version
    a = tk.constant(1.0)
    b = tk.constant(2.0)
    c = a + b
    assert [op.name for op in g.get_operations()] == ["Const", "Const_1", "add"]
    assert g.version == v0 + 3
    assert c.op.type == "Add"


def test_finalize():
    g = tk.get_default_graph()
    tk.constant(1.0)
    g.finalize()
    assert g.finalized
    with pytest.raises(RuntimeError, match="finalized"):
        tk.constant(2.0)
    with pytest.raises(RuntimeError, match="finalized"):
        g.add_to_collection("x", 1)


# --------------------------------------------------------------------------- names


def test_unique_names():
    assert tk.constant(1.0).name == "Const:0"
    assert tk.constant(1.0).name == "Const_1:0"
    a = tk.placeholder(tk.float32)
    assert a.name == "Placeholder:0"
    assert (a + a).name == "add:0"
    assert (a + a).name == "add_1:0"
    # TF keeps names unique case-insensitively: "Add" collides with "add"
    assert tk.add(a, a).name == "Add_2:0"
    assert tk.constant(1.0, name="add_4").name == "add_4:0"
    assert (a + a).name == "add_3:0"
    assert (a + a).name == "add_5:0"  # skips the taken add_4
    assert tk.identity(a, name="x").name == "x:0"
    assert tk.identity(a, name="x").name == "x_1:0"


def test_operator_op_names_and_types():
    a = tk.placeholder(tk.float32, [2, 2])
    cases = [
        (a + a, "add", "Add"), (a - a, "sub", "Sub"), (a * a, "mul", "Mul"), (a / a, "truediv", "RealDiv"),
        (a // a, "floordiv", "FloorDiv"), (a % a, "mod", "FloorMod"), (a ** a, "pow", "Pow"), (-a, "Neg", "Neg"),
        (abs(a), "Abs", "Abs"), (a @ a, "MatMul", "MatMul"), (a < a, "Less", "Less"), (a[0], "strided_slice", "StridedSlice"),
    ]
    for t, name, op_type in cases:
        assert t.op.name == name and t.op.type == op_type, (t.op.name, t.op.type)


def test_constant_operand_of_operator_is_named_under_the_op():
    a = tk.placeholder(tk.float32)
    c = a + 2.0
    assert c.op.inputs[1].name == "add/y:0"
    assert c.op.inputs[1].op.type == "Const"
    d = 3.0 * a
    assert d.op.inputs[0].name == "mul/x:0"


def test_name_scope():
    with tk.name_scope("layer") as scope:
        assert scope == "layer/"
        a = tk.constant(1.0, name="w")
        with tk.name_scope("inner"):
            b = tk.identity(a)
        with tk.name_scope(None):
            top = tk.constant(0.0, name="top")
    assert a.name == "layer/w:0"
    assert b.name == "layer/inner/Identity:0"
    assert top.name == "top:0"
    with tk.name_scope("layer") as scope2:
        assert scope2 == "layer_1/"
    with tk.name_scope("layer/") as again:  # a trailing slash re-enters exactly
        assert again == "layer/"
        assert tk.constant(1.0, name="w").name == "layer/w_1:0"
    with tk.name_scope(None, default_name="dflt") as s:
        assert s == "dflt/"
    assert tk.get_default_graph().get_name_scope() == ""


def test_name_scope_op_name_from_scope_string():
    with tk.name_scope("block") as scope:
        x = tk.add(1.0, 2.0, name=scope)
    assert x.op.name == "block"


def test_invalid_names():
    with pytest.raises(ValueError):
        tk.constant(1.0, name="bad name!")


# --------------------------------------------------------------------------- Operation / Tensor


def test_operation_and_tensor_attributes():
    a = tk.placeholder(tk.float32, [None, 3], name="a")
    b = tk.constant(np.ones(3, np.float32), name="b")
    c = tk.add(a, b, name="c")
    op = c.op
    assert op.name == "c" and op.type == "Add"
    assert list(op.inputs) == [a, b]
    assert op.outputs == [c]
    assert op.graph is tk.get_default_graph()
    assert op.device == ""
    assert c.name == "c:0" and c.dtype == tk.float32 and c.value_index == 0
    assert c.shape.as_list() == [None, 3] and c.get_shape().as_list() == [None, 3]
    assert c.op is op and c.graph is op.graph
    assert a.consumers() == [op]
    assert op.get_attr("T") == tk.float32
    assert op.node_def["op"] == "Add" and op.node_def["input"] == ["a", "b"]
    assert "c:0" in repr(c) and "float32" in str(c)


def test_tensor_is_hashable_and_eq_is_identity():
    a = tk.constant(1.0)
    b = tk.constant(1.0)
    assert a != b and a == a
    assert {a: 1, b: 2}[a] == 1
    with pytest.raises(TypeError):
        bool(a)


def test_tensor_iteration_needs_known_first_dim():
    a = tk.constant([[1, 2], [3, 4]])
    parts = list(a)
    assert len(parts) == 2 and parts[0].shape.as_list() == [2]
    with pytest.raises(TypeError):
        list(tk.placeholder(tk.float32, [None, 2]))


def test_set_shape_merges():
    p = tk.placeholder(tk.float32, [None, None])
    p.set_shape([None, 4])
    assert p.shape.as_list() == [None, 4]
    with pytest.raises(ValueError):
        p.set_shape([3, 5])


# --------------------------------------------------------------------------- control deps, group, devices


def test_control_dependencies():
    a = tk.constant(1.0, name="a")
    b = tk.constant(2.0, name="b")
    with tk.control_dependencies([a, b.op]):
        c = tk.constant(3.0, name="c")
        with tk.control_dependencies(None):
            free = tk.constant(4.0)
        with tk.control_dependencies([free]):
            d = tk.identity(c)
    assert c.op.control_inputs == [a.op, b.op]
    assert free.op.control_inputs == []
    assert set(d.op.control_inputs) == {a.op, b.op, free.op}
    e = tk.constant(5.0)
    assert e.op.control_inputs == []


def test_group_and_no_op():
    a = tk.constant(1.0)
    b = tk.constant(2.0)
    g = tk.group(a, b.op)
    assert g.type == "NoOp" and g.name == "group_deps"
    assert g.control_inputs == [a.op, b.op] and g.outputs == []
    n = tk.no_op(name="nothing")
    assert n.type == "NoOp" and n.name == "nothing" and n.control_inputs == []
    assert tk.group(name="empty").type == "NoOp"


def test_identity():
    a = tk.constant([1, 2])
    i = tk.identity(a, name="i")
    assert i.op.type == "Identity" and i.shape.as_list() == [2] and i.dtype == tk.int32


def test_device_scopes_recorded_and_merged():
    with tk.device("/cpu:0"):
        a = tk.constant(1.0)
        with tk.device("/job:localhost"):
            b = tk.constant(2.0)
        with tk.device(None):
            c = tk.constant(3.0)
    d = tk.constant(4.0)
    assert a.op.device == "/device:CPU:0"
    assert a.device == "/device:CPU:0"
    assert b.op.device == "/job:localhost/device:CPU:0"
    assert c.op.device == "" and d.op.device == ""
    with tk.device(lambda op: "/cpu:0" if op.type == "Const" else None):
        e = tk.constant(1.0)
        f = tk.identity(e)
    assert e.op.device == "/device:CPU:0" and f.op.device == ""


# --------------------------------------------------------------------------- collections


def test_collections():
    g = tk.get_default_graph()
    tk.add_to_collection("stuff", 1)
    tk.add_to_collections(["stuff", "other"], 2)
    assert tk.get_collection("stuff") == [1, 2]
    assert g.get_collection("other") == [2]
    ref = tk.get_collection_ref("stuff")
    ref.append(3)
    assert tk.get_collection("stuff") == [1, 2, 3]
    assert tk.get_collection("missing") == []
    assert set(g.get_all_collection_keys()) >= {"stuff", "other"}
    g.clear_collection("other")
    assert g.get_collection("other") == []


def test_collection_scope_filter_and_graphkeys():
    with tk.name_scope("a"):
        va = tk.Variable(1.0, name="v")
    vb = tk.Variable(2.0, name="v")
    assert tk.GraphKeys.GLOBAL_VARIABLES == "variables"
    assert tk.GraphKeys.TRAINABLE_VARIABLES == "trainable_variables"
    assert tk.get_collection(tk.GraphKeys.GLOBAL_VARIABLES) == [va, vb]
    assert tk.get_collection(tk.GraphKeys.GLOBAL_VARIABLES, scope="a") == [va]


# --------------------------------------------------------------------------- dtypes and shapes


def test_dtypes():
    assert tk.float32.name == "float32" and tk.float32.as_numpy_dtype is np.float32
    assert tk.float64.as_numpy_dtype is np.float64 and tk.double is tk.float64
    assert tk.int32.as_numpy_dtype is np.int32 and tk.int64.as_numpy_dtype is np.int64
    assert tk.bool.as_numpy_dtype is np.bool_ and tk.bool.name == "bool"
    assert tk.as_dtype("float32") is tk.float32
    assert tk.as_dtype(np.float64) is tk.float64
    assert tk.as_dtype(np.dtype("int32")) is tk.int32
    assert tk.as_dtype(tk.int64) is tk.int64
    assert tk.as_dtype(bool) is tk.bool
    assert tk.float32 == np.float32 and tk.float32 != tk.float64
    assert tk.float32.is_floating and tk.int32.is_integer and tk.bool.is_bool
    assert tk.int32.max == 2**31 - 1 and tk.float32.as_datatype_enum == 1
    with pytest.raises(TypeError):
        tk.as_dtype("complex64")
    with pytest.raises(TypeError):
        tk.as_dtype(np.uint8)


def test_constant_dtype_rules():
    assert tk.constant(1.0).dtype == tk.float32
    assert tk.constant(1).dtype == tk.int32
    assert tk.constant(2**40).dtype == tk.int64
    assert tk.constant(True).dtype == tk.bool
    assert tk.constant([1, 2.5]).dtype == tk.float32
    assert tk.constant(np.zeros(3)).dtype == tk.float64
    assert tk.constant(np.zeros(3, np.int64)).dtype == tk.int64
    assert tk.constant(1, dtype=tk.float64).dtype == tk.float64
    assert tk.constant(np.array([1.7]), dtype=tk.int32).op.get_attr("value").tolist() == [1]
    with pytest.raises(TypeError):
        tk.constant(1.5, dtype=tk.int32)
    with pytest.raises(TypeError):
        tk.constant("text")


def test_constant_shape_fill_and_pad():
    assert tk.constant(7, shape=[2, 3]).op.get_attr("value").tolist() == [[7] * 3] * 2
    assert tk.constant([1, 2], shape=[4]).op.get_attr("value").tolist() == [1, 2, 2, 2]
    assert tk.constant([1, 2, 3, 4], shape=[2, 2]).shape.as_list() == [2, 2]
    with pytest.raises(TypeError):
        tk.constant([1, 2, 3], shape=[2])
    with pytest.raises(TypeError):
        tk.constant([1, 2], shape=[4], verify_shape=True)


def test_tensor_shape():
    s = tk.TensorShape([None, 3])
    assert s.as_list() == [None, 3] and s.ndims == 2 and len(s) == 2
    assert str(s) == "(?, 3)" and str(tk.TensorShape([3])) == "(3,)" and str(tk.TensorShape([])) == "()"
    assert s.dims[1].value == 3 and s[0].value is None and s[1] == 3
    assert s.is_compatible_with([5, 3]) and not s.is_compatible_with([5, 4]) and not s.is_compatible_with([3])
    assert s.merge_with([5, None]).as_list() == [5, 3]
    with pytest.raises(ValueError):
        s.merge_with([5, 4])
    u = tk.TensorShape(None)
    assert u.ndims is None and str(u) == "<unknown>" and u.is_compatible_with([1, 2, 3])
    with pytest.raises(ValueError):
        u.as_list()
    assert tk.TensorShape([2, 3]).is_fully_defined() and tk.TensorShape([2, 3]).num_elements() == 6
    assert not s.is_fully_defined() and s.num_elements() is None
    assert s == tk.TensorShape([None, 3]) and s.concatenate([4]).as_list() == [None, 3, 4]
    assert s[1:].as_list() == [3]
    with pytest.raises(ValueError):
        s.with_rank(3)
    assert (tk.Dimension(None) == 3) is None and tk.Dimension(2) + 3 == 5
