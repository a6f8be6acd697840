"""Unit tests of the numpy reference interpreter (``tensorkiln.backends.reference``), op group by op
group, against hand-written numpy expectations; plus symbolic-dim binding and its errors."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import pytest

from tensorkiln.backends.reference import InterpreterError, evaluate_op, run_function, supported_ops
from tensorkiln.ir.core import Builder, Function, Value
from tensorkiln.ir.parser import parse_module
from tensorkiln.ir.types import TensorType, f32, f64, i1, i32, i64, tensor

FLOATS = [f32, f64]
INTS = [i32, i64]


def build(arg_types: Sequence[TensorType], body: Callable[..., Sequence[Value] | Value], names: Sequence[str] | None = None) -> Function:
    f = Function("f", list(arg_types), [], list(names) if names else [f"a{i}" for i in range(len(arg_types))])
    b = Builder(f.body)
    outs = body(b, *f.args)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    b.create("return", outs)
    f.result_types = [o.type for o in outs]
    return f


def run1(op: str, *arrays: np.ndarray, **attrs) -> np.ndarray:
    """Build a one-op function over static argument types and run it."""
    types = [TensorType(a.shape, _dt(a.dtype)) for a in arrays]
    f = build(types, lambda b, *xs: b.op(op, *xs, **attrs))
    (out,) = run_function(f, list(arrays))
    return out


def _dt(npdt: np.dtype):
    return {np.dtype(d.np_dtype): d for d in (f32, f64, i32, i64, i1)}[np.dtype(npdt)]


def rnd(shape, dtype, lo=-3.0, hi=3.0, seed=0) -> np.ndarray:
    r = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return r.uniform(lo, hi, size=shape).astype(dtype)
    return r.integers(int(lo), int(hi) + 1, size=shape).astype(dtype)


# --------------------------------------------------------------------------- unary


FLOAT_UNARY = {
    "neg": lambda x: -x, "abs": np.abs, "square": lambda x: x * x, "sign": np.sign,
    "relu": lambda x: np.maximum(x, 0), "exp": np.exp, "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "floor": np.floor, "ceil": np.ceil,
    "expm1": np.expm1, "sin": np.sin, "cos": np.cos,
    "erf": np.vectorize(math.erf),
}
POSITIVE_UNARY = {"log": np.log, "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x),
                  "reciprocal": lambda x: 1 / x, "log1p": np.log1p}


@pytest.mark.parametrize("dt", FLOATS, ids=str)
@pytest.mark.parametrize("name", sorted(FLOAT_UNARY))
def test_float_unary(name, dt):
    x = rnd((3, 4), dt.np_dtype)
    out = run1(f"graph.{name}", x)
    assert out.dtype == dt.np_dtype and out.shape == (3, 4)
    np.testing.assert_allclose(out, FLOAT_UNARY[name](x.astype(np.float64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dt", FLOATS, ids=str)
@pytest.mark.parametrize("name", sorted(POSITIVE_UNARY))
def test_float_unary_positive_domain(name, dt):
    x = rnd((5,), dt.np_dtype, 0.1, 4.0)
    out = run1(f"graph.{name}", x)
    assert out.dtype == dt.np_dtype
    np.testing.assert_allclose(out, POSITIVE_UNARY[name](x.astype(np.float64)), rtol=1e-5)


def test_round_is_half_to_even_and_sigmoid_is_stable():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6], np.float32)
    np.testing.assert_array_equal(run1("graph.round", x), [0, 2, 2, -0.0, -2, 2, -3])
    big = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], np.float32)
    s = run1("graph.sigmoid", big)
    assert np.all(np.isfinite(s)) and s.dtype == np.float32
    np.testing.assert_allclose(s, [0, 1.9287e-22, 0.5, 1, 1], rtol=1e-3, atol=0)


@pytest.mark.parametrize("dt", INTS, ids=str)
def test_int_unary(dt):
    x = np.array([-3, -1, 0, 2, 5], dt.np_dtype)
    for name, want in {"neg": -x, "abs": np.abs(x), "square": x * x, "sign": np.sign(x),
                       "relu": np.maximum(x, 0)}.items():
        out = run1(f"graph.{name}", x)
        assert out.dtype == dt.np_dtype, name
        np.testing.assert_array_equal(out, want, err_msg=name)


def test_logical_not():
    x = np.array([True, False, True])
    out = run1("graph.logical_not", x)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, [False, True, False])


# --------------------------------------------------------------------------- binary


@pytest.mark.parametrize("dt", FLOATS + INTS, ids=str)
def test_binary_arithmetic_with_broadcast(dt):
    a = rnd((2, 3), dt.np_dtype, 1, 5, seed=1)
    b = rnd((3,), dt.np_dtype, 1, 5, seed=2)
    for name, fn in {"add": np.add, "sub": np.subtract, "mul": np.multiply,
                     "maximum": np.maximum, "minimum": np.minimum}.items():
        out = run1(f"graph.{name}", a, b)
        assert out.dtype == dt.np_dtype and out.shape == (2, 3), name
        np.testing.assert_allclose(out, fn(a, b), rtol=1e-6, err_msg=name)


def test_div_float_is_true_division():
    a = np.array([7.0, -7.0, 1.0], np.float32)
    b = np.array([2.0, 2.0, 3.0], np.float32)
    out = run1("graph.div", a, b)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [3.5, -3.5, 1 / 3], rtol=1e-7)


@pytest.mark.parametrize("dt", INTS, ids=str)
def test_int_div_truncates_floordiv_floors_mod_follows_divisor(dt):
    a = np.array([7, -7, 7, -7, 6, 0], dt.np_dtype)
    b = np.array([2, 2, -2, -2, 3, 5], dt.np_dtype)
    np.testing.assert_array_equal(run1("graph.div", a, b), [3, -3, -3, 3, 2, 0])
    np.testing.assert_array_equal(run1("graph.floordiv", a, b), [3, -4, -4, 3, 2, 0])
    np.testing.assert_array_equal(run1("graph.mod", a, b), [1, 1, -1, -1, 0, 0])
    for name in ("div", "floordiv", "mod"):
        assert run1(f"graph.{name}", a, b).dtype == dt.np_dtype


def test_float_floordiv_and_mod():
    a = np.array([-7.5, 7.5, -1.0], np.float64)
    b = np.array([2.0, -2.0, 3.0], np.float64)
    np.testing.assert_array_equal(run1("graph.floordiv", a, b), np.floor_divide(a, b))
    np.testing.assert_array_equal(run1("graph.mod", a, b), [0.5, -0.5, 2.0])


def test_pow():
    a = np.array([2.0, 9.0, 0.5], np.float32)
    b = np.array([3.0, 0.5, -1.0], np.float32)
    out = run1("graph.pow", a, b)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [8, 3, 2], rtol=1e-6)
    ia = np.array([2, -3, 1, -1, -1, 5], np.int32)
    ib = np.array([3, 3, -4, -3, -2, -1], np.int32)
    np.testing.assert_array_equal(run1("graph.pow", ia, ib), [8, -27, 1, -1, 1, 0])


def test_comparisons_give_i1():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = np.array([2.0, 2.0, 2.0], np.float32)
    want = {"eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}
    for name, w in want.items():
        out = run1(f"graph.{name}", a, b)
        assert out.dtype == np.bool_, name
        np.testing.assert_array_equal(out, w, err_msg=name)


def test_logical_binary():
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    np.testing.assert_array_equal(run1("graph.logical_and", a, b), a & b)
    np.testing.assert_array_equal(run1("graph.logical_or", a, b), a | b)
    np.testing.assert_array_equal(run1("graph.logical_xor", a, b), a ^ b)


def test_where_broadcasts():
    c = np.array([[True], [False]])
    a = np.arange(3, dtype=np.float32)
    b = np.array(-1.0, np.float32)
    out = run1("graph.where", c, a, b)
    assert out.dtype == np.float32 and out.shape == (2, 3)
    np.testing.assert_array_equal(out, [[0, 1, 2], [-1, -1, -1]])


def test_cast():
    x = np.array([-1.7, -0.2, 0.0, 0.9, 2.5], np.float32)
    out = run1("graph.cast", x, dtype=i32)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [-1, 0, 0, 0, 2])
    np.testing.assert_array_equal(run1("graph.cast", x, dtype=i1), [True, True, False, True, True])
    bools = np.array([True, False])
    np.testing.assert_array_equal(run1("graph.cast", bools, dtype=f32), [1.0, 0.0])
    assert run1("graph.cast", x, dtype=f64).dtype == np.float64
    np.testing.assert_array_equal(run1("graph.cast", np.array([3, 0], np.int64), dtype=i1), [True, False])


# --------------------------------------------------------------------------- shapes


def test_broadcast_to_with_symbolic_shape():
    f = build([tensor(["N", 1], f32)], lambda b, x: b.op("graph.broadcast_to", x, shape=[x.type.shape[0], 3]))
    x = np.array([[1.0], [2.0]], np.float32)
    (out,) = run_function(f, [x])
    np.testing.assert_array_equal(out, [[1, 1, 1], [2, 2, 2]])
    assert out.flags.writeable and out.flags.c_contiguous


def test_constant_is_a_copy():
    v = np.arange(6, dtype=np.int32).reshape(2, 3)
    f = build([], lambda b: b.op("graph.constant", value=v))
    (out,) = run_function(f, [])
    np.testing.assert_array_equal(out, v)
    assert out.dtype == np.int32 and not np.shares_memory(out, v)


def test_transpose_reshape_concat():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(run1("graph.transpose", x, perm=[2, 0, 1]), x.transpose(2, 0, 1))
    np.testing.assert_array_equal(run1("graph.reshape", x, shape=[6, -1]), x.reshape(6, 4))
    y = np.ones((2, 1, 4), np.float32)
    np.testing.assert_array_equal(run1("graph.concat", x, y, axis=1), np.concatenate([x, y], axis=1))
    np.testing.assert_array_equal(run1("graph.concat", x, x, axis=-1), np.concatenate([x, x], axis=-1))


def test_symbolic_reshape():
    f = parse_module("""
func @f(%x: tensor<Nx4xf32>) -> tensor<(4*N)xf32> {
  %0 = graph.reshape %x {shape = [-1]} : tensor<(4*N)xf32>
  return %0 : tensor<(4*N)xf32>
}
""")["f"]
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    (out,) = run_function(f, [x])
    np.testing.assert_array_equal(out, x.ravel())


def test_slice():
    x = np.arange(30, dtype=np.int64).reshape(5, 6)
    np.testing.assert_array_equal(run1("graph.slice", x, begin=[1, 2], size=[3, -1]), x[1:4, 2:])
    np.testing.assert_array_equal(run1("graph.slice", x, begin=[0, 1], size=[-1, 3], strides=[2, 2]), x[0::2, 1:6:2])
    np.testing.assert_array_equal(run1("graph.slice", x, begin=[4, 0], size=[0, 6]), x[4:4, :])
    with pytest.raises(InterpreterError, match="out of bounds"):
        evaluate_op("graph.slice", {"begin": [3, 0], "size": [3, 6]}, [x])


def test_gather():
    p = np.arange(12, dtype=np.float32).reshape(3, 4)
    idx = np.array([[2, 0], [1, 1]], np.int32)
    out = run1("graph.gather", p, idx)
    assert out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out, p[idx])
    np.testing.assert_array_equal(run1("graph.gather", p, np.array([3, 0], np.int64), axis=1), p[:, [3, 0]])
    for bad in ([0, 3], [-1]):
        with pytest.raises(InterpreterError, match="out of range"):
            evaluate_op("graph.gather", {}, [p, np.array(bad, np.int32)])


def test_one_hot():
    idx = np.array([0, 2, -1, 3], np.int64)
    out = run1("graph.one_hot", idx, depth=3)
    assert out.dtype == np.float32 and out.shape == (4, 3)
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    out = run1("graph.one_hot", idx[:2], depth=3, axis=0, on_value=5.0, off_value=-1.0, dtype=i32)
    assert out.dtype == np.int32 and out.shape == (3, 2)
    np.testing.assert_array_equal(out, [[5, -1], [-1, -1], [-1, 5]])
    m = np.array([[1, 0], [2, 2]], np.int32)
    out = run1("graph.one_hot", m, depth=3, axis=1)
    assert out.shape == (2, 3, 2)
    np.testing.assert_array_equal(out, np.moveaxis(np.eye(3, dtype=np.float32)[m], -1, 1))


# --------------------------------------------------------------------------- reductions


@pytest.mark.parametrize("name,fn", [("reduce_sum", np.sum), ("reduce_mean", np.mean), ("reduce_max", np.max),
                                     ("reduce_min", np.min), ("reduce_prod", np.prod)])
def test_float_reductions(name, fn):
    x = rnd((2, 3, 4), np.float32, 0.5, 1.5)
    cases = [({}, None, False), ({"axes": [1]}, 1, False), ({"axes": [-1, 0], "keepdims": True}, (0, 2), True),
             ({"keepdims": True}, None, True)]
    for attrs, axis, keep in cases:
        out = run1(f"graph.{name}", x, **attrs)
        want = fn(x.astype(np.float64), axis=axis, keepdims=keep)
        assert out.dtype == np.float32 and out.shape == np.shape(want), attrs
        np.testing.assert_allclose(out, want, rtol=1e-5)


def test_reduce_all_gives_0d_array():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    out = run1("graph.reduce_sum", x)
    assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == np.float64 and out == 15


@pytest.mark.parametrize("dt", INTS, ids=str)
def test_int_reductions_stay_in_dtype(dt):
    x = np.array([[1, -2, 3], [4, 5, -6]], dt.np_dtype)
    for name, want in {"reduce_sum": x.sum(1), "reduce_max": x.max(1), "reduce_min": x.min(1),
                       "reduce_prod": x.prod(1)}.items():
        out = run1(f"graph.{name}", x, axes=[1])
        assert out.dtype == dt.np_dtype, name
        np.testing.assert_array_equal(out, want, err_msg=name)
    big = np.full((4,), 2**30, np.int32)
    assert run1("graph.reduce_sum", big).dtype == np.int32  # wraps like the compiled code


def test_empty_reductions():
    x = np.zeros((0, 3), np.float32)
    np.testing.assert_array_equal(run1("graph.reduce_sum", x, axes=[0]), [0, 0, 0])
    np.testing.assert_array_equal(run1("graph.reduce_max", x, axes=[0]), [-np.inf] * 3)
    np.testing.assert_array_equal(run1("graph.reduce_min", np.zeros((0,), np.int32)), np.iinfo(np.int32).max)


def test_argmax_argmin_first_occurrence():
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, -1.0]], np.float32)
    out = run1("graph.argmax", x, axis=1)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [1, 0])
    out = run1("graph.argmin", x, axis=-1, dtype=i32)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [3, 2])
    np.testing.assert_array_equal(run1("graph.argmax", x, axis=0), [1, 0, 0, 0])


def test_softmax_and_log_softmax_are_stable():
    x = np.array([[1000.0, 1001.0, 999.0], [-1.0, 0.0, 1.0]], np.float32)
    s = run1("graph.softmax", x)
    assert s.dtype == np.float32
    ref = np.exp(x - x.max(1, keepdims=True)) / np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)
    np.testing.assert_allclose(s, ref, rtol=1e-6)
    np.testing.assert_allclose(s.sum(1), 1, rtol=1e-6)
    ls = run1("graph.log_softmax", x, axis=1)
    assert np.all(np.isfinite(ls))
    np.testing.assert_allclose(ls, np.log(ref), rtol=1e-5, atol=1e-6)
    s0 = run1("graph.softmax", x, axis=0)
    np.testing.assert_allclose(s0.sum(0), 1, rtol=1e-6)


# --------------------------------------------------------------------------- matmul


@pytest.mark.parametrize("dt", [f32, f64, i32], ids=str)
def test_matmul_2d_and_transposes(dt):
    a = rnd((3, 4), dt.np_dtype, seed=3)
    b = rnd((4, 5), dt.np_dtype, seed=4)
    out = run1("graph.matmul", a, b)
    assert out.dtype == dt.np_dtype and out.shape == (3, 5)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
    out = run1("graph.matmul", a.T.copy(), b.T.copy(), transpose_a=True, transpose_b=True)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)


def test_batched_matmul_broadcasts_batch_dims():
    a = rnd((2, 1, 3, 4), np.float32, seed=5)
    b = rnd((5, 4, 2), np.float32, seed=6)
    out = run1("graph.matmul", a, b)
    assert out.shape == (2, 5, 3, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.matmul(a.astype(np.float64), b), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- fused regions


FUSED = """
func @f(%x: tensor<Nx3xf32>, %b: tensor<3xf32>) -> tensor<Nx3xf32> {
  %0 = graph.fused %x, %b : tensor<Nx3xf32> {
  ^bb0(%1: tensor<Nx3xf32>, %2: tensor<3xf32>):
    %3 = graph.add %1, %2 : tensor<Nx3xf32>
    %4 = graph.fused %3 : tensor<Nx3xf32> {
    ^bb0(%5: tensor<Nx3xf32>):
      %6 = graph.relu %5 : tensor<Nx3xf32>
      graph.yield %6
    }
    %7 = graph.mul %4, %4 : tensor<Nx3xf32>
    graph.yield %7
  }
  return %0 : tensor<Nx3xf32>
}
"""


def test_nested_fused_regions():
    f = parse_module(FUSED)["f"]
    x = rnd((4, 3), np.float32, seed=7)
    b = np.array([0.5, -0.5, 0.0], np.float32)
    (out,) = run_function(f, [x, b])
    np.testing.assert_allclose(out, np.maximum(x + b, 0) ** 2, rtol=1e-6)
    assert "graph.fused" in supported_ops()


# --------------------------------------------------------------------------- signatures and errors


TWO_ARGS = """
func @g(%x: tensor<Nx3xf32>, %y: tensor<Nxf32>) -> tensor<Nx3xf32> {
  %0 = graph.reshape %y {shape = [N, 1]} : tensor<Nx1xf32>
  %1 = graph.add %x, %0 : tensor<Nx3xf32>
  return %1 : tensor<Nx3xf32>
}
"""


def test_symbolic_dims_bind_per_call():
    g = parse_module(TWO_ARGS)["g"]
    for n in (1, 4, 0):
        x = rnd((n, 3), np.float32)
        y = rnd((n,), np.float32, seed=9)
        (out,) = run_function(g, [x, y])
        assert out.shape == (n, 3)
        np.testing.assert_allclose(out, x + y[:, None])


def test_symbol_bound_inconsistently_names_argument_and_shapes():
    g = parse_module(TWO_ARGS)["g"]
    with pytest.raises(ValueError, match=r"argument 1 \('y'\).*\[N\].*\[5\].*N=4"):
        run_function(g, [np.zeros((4, 3), np.float32), np.zeros((5,), np.float32)])


def test_static_dim_rank_and_dtype_mismatches():
    g = parse_module(TWO_ARGS)["g"]
    with pytest.raises(ValueError, match=r"argument 0 \('x'\).*\[N, 3\].*\[4, 2\]"):
        run_function(g, [np.zeros((4, 2), np.float32), np.zeros((4,), np.float32)])
    with pytest.raises(ValueError, match=r"argument 0 \('x'\).*\[N, 3\].*\[4\]"):
        run_function(g, [np.zeros((4,), np.float32), np.zeros((4,), np.float32)])
    with pytest.raises(ValueError, match=r"argument 1 \('y'\).*f32.*f64"):
        run_function(g, [np.zeros((4, 3), np.float32), np.zeros((4,), np.float64)])
    with pytest.raises(ValueError, match="takes 2 argument"):
        run_function(g, [np.zeros((4, 3), np.float32)])


def test_composite_dims_are_solved_and_checked():
    f = parse_module("""
func @h(%x: tensor<(N+1)xf32>, %y: tensor<(2*N)xf32>) -> tensor<(N+1)xf32> {
  return %x : tensor<(N+1)xf32>
}
""")["h"]
    x = np.arange(5, dtype=np.float32)
    (out,) = run_function(f, [x, np.zeros(8, np.float32)])
    np.testing.assert_array_equal(out, x)
    assert not np.shares_memory(out, x)
    with pytest.raises(ValueError, match=r"argument 1 \('y'\).*\[7\]"):
        run_function(f, [x, np.zeros(7, np.float32)])
    with pytest.raises(ValueError, match=r"argument 0 \('x'\).*\(N\+1\).*\[0\]"):
        run_function(f, [np.zeros(0, np.float32), np.zeros(0, np.float32)])  # N would be -1


def test_wrong_declared_result_type_is_reported():
    f = Function("bad", [tensor([3], f32)], [], ["x"])
    b = Builder(f.body)
    r = b.create("graph.exp", [f.args[0]], result_types=[tensor([4], f32)]).result
    b.create("return", [r])
    f.result_types = [r.type]
    with pytest.raises(InterpreterError, match=r"graph.exp.*\[3\].*tensor<4xf32>"):
        run_function(f, [np.zeros(3, np.float32)])


def test_unknown_op_is_a_clear_error():
    with pytest.raises(InterpreterError, match="no implementation of op 'graph.frobnicate'"):
        evaluate_op("graph.frobnicate", {}, [np.zeros(2)])
    with pytest.raises(InterpreterError, match="graph.fused.*run_function"):
        evaluate_op("graph.fused", {}, [np.zeros(2)])


def test_evaluate_op_normalises_attributes_and_checks_result_types():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (out,) = evaluate_op("graph.reduce_sum", {"axes": [1]}, [x])
    np.testing.assert_array_equal(out, [3, 12])
    (out,) = evaluate_op("graph.broadcast_to", {"shape": [tensor(["N"], f32).shape[0], 3]},
                         [np.ones(3, np.float32)], dims={"N": 2})
    assert out.shape == (2, 3)
    with pytest.raises(InterpreterError, match="declares"):
        evaluate_op("graph.add", {}, [x, x], [tensor([2, 3], f64)])
    with pytest.raises(InterpreterError, match="no size bound"):
        evaluate_op("graph.broadcast_to", {"shape": [tensor(["M"], f32).shape[0]]}, [np.ones(1, np.float32)])


def test_f32_math_stays_f32():
    x = rnd((8,), np.float32, 0.5, 2.0)
    f = build([tensor(["N"], f32)], lambda b, x: b.op(
        "graph.reduce_mean", b.op("graph.div", b.op("graph.exp", x), b.op("graph.sqrt", x))))
    (out,) = run_function(f, [x])
    assert out.dtype == np.float32 and out.shape == ()
    np.testing.assert_allclose(out, np.mean(np.exp(x) / np.sqrt(x)), rtol=1e-6)


def test_every_graph_op_has_a_reference_implementation():
    from tensorkiln.ir.opdef import registered_ops

    graph_ops = {n for n in registered_ops() if n.startswith("graph.")} - {"graph.yield"}
    assert graph_ops - supported_ops() == set()


def test_assign_updates_the_argument_in_place_when_the_function_ends():
    f = parse_module("""
func @step(%w: tensor<3xf32>, %g: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>) {
  %0 = graph.sub %w, %g : tensor<3xf32>
  graph.assign %w, %0
  %1 = graph.mul %w, %w : tensor<3xf32>
  return %w, %1 : tensor<3xf32>, tensor<3xf32>
}
""")["step"]
    w = np.array([1.0, 2.0, 3.0], np.float32)
    g = np.array([0.5, 0.5, 0.5], np.float32)
    old, sq = run_function(f, [w, g])
    np.testing.assert_array_equal(old, [1, 2, 3])  # reads see the value on entry
    np.testing.assert_array_equal(sq, [1, 4, 9])
    np.testing.assert_array_equal(w, [0.5, 1.5, 2.5])  # ...and the write lands at the end
    with pytest.raises(InterpreterError, match="graph.assign.*run_function"):
        evaluate_op("graph.assign", {}, [w, g])


def test_dim_size_insert_slice_scatter_add():
    f = parse_module("""
func @d(%x: tensor<Nx3xf32>) -> tensor<i64> {
  %0 = graph.dim_size {dim = (3*N), dtype = i64} : tensor<i64>
  return %0 : tensor<i64>
}
""")["d"]
    (out,) = run_function(f, [np.zeros((5, 3), np.float32)])
    assert out.dtype == np.int64 and out.shape == () and out == 15

    x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    out = run1("graph.insert_slice", x, begin=[1, 0], strides=[1, 2], shape=[4, 6])
    want = np.zeros((4, 6), np.float32)
    want[1:3, 0:6:2] = x
    np.testing.assert_array_equal(out, want)
    with pytest.raises(InterpreterError, match="does not fit"):
        evaluate_op("graph.insert_slice", {"begin": [3, 0], "shape": [4, 3]}, [x])

    upd = np.arange(8, dtype=np.float32).reshape(2, 4)
    idx = np.array([1, 3, 1, 7], np.int32)  # repeated index accumulates, 7 is dropped
    out = run1("graph.scatter_add", upd, idx, axis=1, size=4)
    np.testing.assert_array_equal(out, [[0, 0 + 2, 0, 1], [0, 4 + 6, 0, 5]])
    # the adjoint of gather: <gather(p, i), u> == <p, scatter_add(u, i)>
    p = rnd((5, 3), np.float64, seed=11)
    i = np.array([[4, 0], [0, 2]], np.int64)
    u = rnd((2, 2, 3), np.float64, seed=12)
    lhs = np.sum(run1("graph.gather", p, i) * u)
    rhs = np.sum(p * run1("graph.scatter_add", u, i, size=5))
    np.testing.assert_allclose(lhs, rhs)
