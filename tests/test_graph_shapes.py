"""Static shape and dtype inference at graph construction (TF: ``ValueError`` naming the op and both
shapes; dtype mismatches are ``TypeError``), placeholders with unknown dims, and op signatures."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


def shape(t):
    return t.shape.as_list()


def test_placeholder_shapes():
    a = tk.placeholder(tk.float32, [None, 3], name="a")
    assert a.op.type == "Placeholder" and shape(a) == [None, 3] and a.dtype == tk.float32
    assert str(a.shape) == "(?, 3)"
    u = tk.placeholder(tk.int32)
    assert u.shape.ndims is None
    assert shape(tk.placeholder(tk.float32, [])) == []


def test_broadcasting_and_unknown_dims():
    a = tk.placeholder(tk.float32, [None, 3])
    b = tk.placeholder(tk.float32, [None, 3])
    assert shape(a + b) == [None, 3]
    assert shape(a + tk.constant([1.0, 2.0, 3.0])) == [None, 3]
    assert shape(a * 2.0) == [None, 3]
    c = tk.placeholder(tk.float32, [None])
    assert shape(c + tk.zeros([4])) == [4]  # an unknown dim meeting 4 must be 4 (or 1)
    d = tk.placeholder(tk.float32, [None, 1])
    assert shape(d * tk.zeros([1, 5])) == [None, 5]
    assert (a + tk.placeholder(tk.float32)).shape.ndims is None  # unknown rank stays unknown


def test_incompatible_shapes_raise_value_error_naming_op_and_shapes():
    a = tk.placeholder(tk.float32, [2, 3], name="a")
    b = tk.placeholder(tk.float32, [2, 4], name="b")
    with pytest.raises(ValueError) as e:
        tk.add(a, b, name="sum")
    msg = str(e.value)
    assert "'sum'" in msg and "[2,3]" in msg and "[2,4]" in msg and "Dimensions must be equal, but are 3 and 4" in msg
    with pytest.raises(ValueError, match=r"MatMul.*\[2,3\], \[2,4\]"):
        tk.matmul(a, b)
    with pytest.raises(ValueError, match=r"\[2,3\].*\[5\]"):
        a * tk.zeros([5])


def test_dtype_mismatch_is_type_error():
    a = tk.placeholder(tk.float32, [2])
    b = tk.placeholder(tk.float64, [2])
    with pytest.raises(TypeError, match="float64.*float32"):
        a + b
    i = tk.placeholder(tk.int32, [2])
    with pytest.raises(TypeError):
        i + 1.5
    with pytest.raises(TypeError):
        tk.exp(i)
    with pytest.raises(TypeError):
        tk.logical_and(a, a)


def test_python_numbers_take_tensor_dtype():
    a = tk.placeholder(tk.float64, [2])
    assert (a + 1).dtype == tk.float64
    assert (1 + a).dtype == tk.float64
    i = tk.placeholder(tk.int64, [2])
    assert (i * 2).dtype == tk.int64
    assert (a + np.float64(2)).dtype == tk.float64


def test_truediv_of_ints_is_float64():
    i = tk.placeholder(tk.int32, [3])
    q = i / 2
    assert q.dtype == tk.float64 and q.op.name == "truediv"
    assert (i // 2).dtype == tk.int32
    assert tk.divide(tk.constant(1.0), 2.0).dtype == tk.float32


def test_comparison_and_logic_dtypes():
    a = tk.placeholder(tk.float32, [None, 2])
    assert (a < 1.0).dtype == tk.bool and tk.equal(a, a).dtype == tk.bool
    m = a > 0.0
    assert (m & ~m).dtype == tk.bool and tk.logical_or(m, m).shape.as_list() == [None, 2]


def test_reduction_shapes():
    x = tk.placeholder(tk.float32, [None, 3, 4])
    assert shape(tk.reduce_sum(x)) == []
    assert shape(tk.reduce_sum(x, axis=1)) == [None, 4]
    assert shape(tk.reduce_mean(x, axis=[1, 2], keepdims=True)) == [None, 1, 1]
    assert shape(tk.reduce_max(x, reduction_indices=[0])) == [3, 4]
    assert shape(tk.reduce_min(x, axis=-1, keep_dims=True)) == [None, 3, 1]
    assert shape(tk.reduce_prod(x, 0)) == [3, 4]
    assert tk.reduce_sum(x).op.type == "Sum" and tk.reduce_mean(x).op.type == "Mean"
    with pytest.raises(ValueError):
        tk.reduce_sum(x, axis=1, reduction_indices=1)
    with pytest.raises(ValueError):
        tk.reduce_sum(x, axis=3)


def test_matmul_shapes():
    a = tk.placeholder(tk.float32, [None, 3])
    w = tk.zeros([3, 5])
    assert shape(tk.matmul(a, w)) == [None, 5]
    assert shape(a @ w) == [None, 5]
    assert shape(tk.matmul(w, a, transpose_a=True, transpose_b=True)) == [5, None]
    assert shape(tk.matmul(tk.zeros([2, 4, 3]), tk.zeros([2, 3, 6]))) == [2, 4, 6]
    with pytest.raises(ValueError):
        tk.matmul(tk.zeros([3]), w)


def test_array_op_shapes():
    x = tk.placeholder(tk.float32, [None, 4])
    assert shape(tk.reshape(x, [-1, 2, 2])) == [None, 2, 2]
    assert shape(tk.reshape(tk.zeros([6, 4]), [-1, 8])) == [3, 8]
    with pytest.raises(ValueError):
        tk.reshape(tk.zeros([6, 4]), [5, -1])
    assert shape(tk.transpose(x)) == [4, None]
    assert shape(tk.transpose(tk.zeros([2, 3, 4]), [1, 0, 2])) == [3, 2, 4]
    assert shape(tk.concat([x, x], 1)) == [None, 8]
    assert shape(tk.concat([tk.zeros([2, 4]), tk.zeros([3, 4])], 0)) == [5, 4]
    with pytest.raises(ValueError):
        tk.concat([tk.zeros([2, 4]), tk.zeros([3, 5])], 0)
    assert shape(tk.stack([x, x])) == [2, None, 4]
    assert shape(tk.stack([x, x], axis=-1)) == [None, 4, 2]
    assert [shape(t) for t in tk.unstack(tk.zeros([3, 2]), axis=1)] == [[3], [3]]
    assert len(tk.unstack(tk.zeros([3, 2]))) == 3
    assert shape(tk.expand_dims(x, 1)) == [None, 1, 4]
    assert shape(tk.expand_dims(x, -1)) == [None, 4, 1]
    assert shape(tk.squeeze(tk.zeros([1, 3, 1]))) == [3]
    assert shape(tk.squeeze(tk.zeros([1, 3, 1]), [0])) == [3, 1]
    with pytest.raises(ValueError, match="squeeze"):
        tk.squeeze(tk.zeros([2, 3]), [0])
    assert shape(tk.slice(tk.zeros([5, 4]), [1, 0], [2, -1])) == [2, 4]
    assert shape(tk.gather(tk.zeros([5, 4]), [0, 3, 3])) == [3, 4]
    assert shape(tk.gather(tk.zeros([5, 4]), tk.placeholder(tk.int32, [None]), axis=0)) == [None, 4]
    assert shape(tk.one_hot(tk.placeholder(tk.int32, [None]), 7)) == [None, 7]
    assert tk.one_hot([1], 3).dtype == tk.float32 and tk.one_hot([1], 3, dtype=tk.int64).dtype == tk.int64
    assert shape(tk.argmax(tk.zeros([5, 4]), 1)) == [5] and tk.argmax(tk.zeros([5, 4]), 1).dtype == tk.int64
    assert tk.argmin(tk.zeros([5, 4]), 0, output_type=tk.int32).dtype == tk.int32
    assert shape(tk.where(x > 0.0, x, -x)) == [None, 4]
    assert shape(tk.cast(x, tk.int32)) == [None, 4] and tk.cast(x, tk.int32).dtype == tk.int32
    assert tk.cast(x, tk.float32) is x


def test_fills_and_likes():
    assert shape(tk.zeros([2, 3])) == [2, 3] and tk.zeros([2]).dtype == tk.float32
    assert tk.ones([2], dtype=tk.int32).dtype == tk.int32
    assert shape(tk.fill([2, 2], 7)) == [2, 2] and tk.fill([2, 2], 7).dtype == tk.int32
    x = tk.placeholder(tk.float32, [None, 3])
    assert shape(tk.zeros_like(x)) == [None, 3] and tk.ones_like(x, dtype=tk.int64).dtype == tk.int64
    with tk.Graph().as_default():
        assert tk.zeros([2]).op.name == "zeros" and tk.ones([2]).op.name == "ones"
    assert shape(tk.shape(x)) == [2] and tk.shape(x).dtype == tk.int32
    assert shape(tk.size(x)) == [] and shape(tk.rank(x)) == []


def test_getitem_shapes():
    x = tk.placeholder(tk.float32, [None, 5, 6])
    assert shape(x[:, 1]) == [None, 6]
    assert shape(x[:, 1:3]) == [None, 2, 6]
    assert shape(x[..., 0]) == [None, 5]
    assert shape(x[:, ::2, ::-1]) == [None, 3, 6]
    assert shape(x[:, tk.newaxis, -1, :2]) == [None, 1, 2]
    assert shape(x[1:]) == [None, 5, 6]
    c = tk.zeros([4, 3])
    assert shape(c[1]) == [3] and shape(c[-1, -2]) == [] and shape(c[::-1]) == [4, 3]
    i = tk.placeholder(tk.int32, [])
    assert shape(c[i]) == [3]
    with pytest.raises(ValueError):
        c[4]
    assert shape(x[0]) == [5, 6] and shape(x[-1, 2]) == [6]  # checked at run time
    with pytest.raises(ValueError):
        x[:3]  # min(3, N) is not a symbolic dim
    with pytest.raises(TypeError):
        c[1.5]


def test_nn_shapes():
    logits = tk.placeholder(tk.float32, [None, 10])
    labels = tk.placeholder(tk.int64, [None])
    assert shape(tk.nn.softmax(logits)) == [None, 10]
    assert shape(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)) == [None]
    assert shape(tk.nn.softmax_cross_entropy_with_logits(labels=tk.zeros([4, 10]), logits=logits)) == [4]
    assert shape(tk.nn.in_top_k(logits, tk.cast(labels, tk.int32), 3)) == [None]
    assert tk.nn.in_top_k(logits, tk.cast(labels, tk.int32), 3).dtype == tk.bool
    assert shape(tk.nn.dropout(logits, 0.5)) == [None, 10]
    with pytest.raises(ValueError):
        tk.nn.softmax_cross_entropy_with_logits(logits, labels)
    with pytest.raises(ValueError):
        tk.nn.softmax_cross_entropy_with_logits(labels=tk.zeros([4, 9]), logits=logits)
    with pytest.raises(ValueError):
        tk.nn.dropout(logits, 1.5)


def test_variable_and_random_shapes():
    v = tk.Variable(tk.zeros([3, 2]))
    assert shape(v) == [3, 2] and v.dtype == tk.float32
    assert shape(tk.random_normal([2, 5])) == [2, 5] and tk.random_uniform([3], dtype=tk.float64).dtype == tk.float64
    assert shape(tk.truncated_normal((4,))) == [4]
    with pytest.raises(ValueError):
        tk.Variable(tk.placeholder(tk.float32, [None]))


def test_reshape_with_dims_of_other_tensors():
    x = tk.placeholder(tk.float32, [None, 4, 2])
    y = tk.reshape(x, [tk.shape(x)[0], -1])
    assert shape(y) == [None, 8]
    assert shape(tk.reshape(y, tk.shape(x))) == [None, 4, 2]
    assert shape(tk.reshape(tk.zeros([6]), [tk.shape(tk.zeros([2, 3]))[1], 2])) == [3, 2]
    with pytest.raises(ValueError):
        tk.reshape(x, [tk.placeholder(tk.int32, []), -1])  # a dim must be known or a tensor's dim
