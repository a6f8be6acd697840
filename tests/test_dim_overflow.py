"""Dim arithmetic never overflows silently: static shapes whose byte size exceeds int64 are compile
errors (with a caret in DSL/IR text), and sizes computed from fed dims at run time (outputs in the
per-shape plan, temporaries in the generated code) are checked before anything is allocated.

The run-time cases run in a subprocess: before these checks one of them was a segfault (a wrapped
temporary size made malloc return a 1-byte buffer for a huge matrix), and a regression must be
reported by the test, not kill the test run.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.ir.diagnostics import CompileError
from tensorkiln.ir.types import INT64_MAX, DimOverflowError, MemRefType, SymDim, TensorType, f32, f64, i1
from tensorkiln.runtime.executable import ArgSpec, NativeFunction, ShapeError


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


def test_static_types_at_the_int64_limit():
    TensorType((INT64_MAX,), i1)  # 1 byte per element: exactly the limit
    TensorType(((1 << 61) - 1, 0), f32)  # no elements; the zero counts as 1: 2**63 - 4 bytes fits
    TensorType((SymDim.sym("N"), 1 << 60), f32)  # symbolic dims are checked when bound, at run time
    for shape, dt in (((INT64_MAX + 1,), i1), ((1 << 61,), f32), ((1 << 60, 2), f64), ((0, 1 << 62, 4), f32),
                      ((1 << 40, 1 << 40), f32)):
        with pytest.raises(DimOverflowError, match="too large") as info:
            TensorType(shape, dt)
        assert isinstance(info.value, CompileError) and isinstance(info.value, ValueError)
        with pytest.raises(DimOverflowError):
            MemRefType(shape, dt)
    big = 1 << 61
    assert big * 4 > INT64_MAX >= (big - 1) * 4
    TensorType((big - 1,), f32)


def _caret(err: CompileError, source: str) -> None:
    lines = str(err).splitlines()
    assert lines[1] == source.splitlines()[err.line - 1]
    assert lines[2] == " " * (err.column - 1) + "^"


def test_ir_static_type_overflow_is_a_compile_error_at_the_type():
    src = "func @f(%x: tensor<4611686018427387904x4xf32>) -> tensor<f32> {\n  %0 = graph.reduce_sum %x : tensor<f32>\n  return %0 : tensor<f32>\n}\n"
    with pytest.raises(CompileError) as info:
        tk.parse(src, "big.tkir")
    e = info.value
    assert (e.file, e.line, e.column) == ("big.tkir", 1, 13)
    assert "tensor<4611686018427387904x4xf32> is too large" in e.message and "int64" in e.message
    _caret(e, src)


def test_ir_inferred_type_overflow_points_at_the_op():
    src = ("func @f(%x: tensor<f32>) -> tensor<f32> {\n"
           "  %0 = graph.broadcast_to %x {shape = [4294967296, 4294967296]} : tensor<4294967296x4294967296xf32>\n"
           "  %1 = graph.reduce_sum %0 : tensor<f32>\n  return %1 : tensor<f32>\n}\n")
    with pytest.raises(CompileError) as info:
        tk.parse(src, "b.tkir")
    line2 = src.splitlines()[1]
    # the written result type is parsed before the op infers its own
    assert (info.value.line, info.value.column) == (2, line2.index("tensor<4294967296") + 1)
    _caret(info.value, src)


def test_dsl_signature_and_inferred_overflow():
    src = "def f(x: f32[N, 4611686018427387904]) -> f32 {\n    return sum(x)\n}\n"
    with pytest.raises(CompileError) as info:
        tk.parse(src, "p.tk")
    assert (info.value.line, info.value.column) == (1, 10) and "too large" in info.value.message
    _caret(info.value, src)
    src = "def f(x: f32[N]) -> f32 {\n    return sum(broadcast_to(reshape(x, shape=[N, 1]), shape=[N, 4611686018427387904]))\n}\n"
    with pytest.raises(CompileError) as info:
        tk.parse(src, "p.tk")
    assert (info.value.line, info.value.column) == (2, 16) and "too large" in info.value.message
    _caret(info.value, src)


def test_graph_api_huge_static_shapes_are_clear_errors():
    z = tk.zeros([2 ** 40, 2 ** 40])  # TF builds this; using it is the error
    with pytest.raises(ValueError, match=r"too large.*for 'Sum'"):
        tk.reduce_sum(z)
    with pytest.raises(ValueError, match="too large"):
        tk.one_hot(tk.placeholder(tk.int32, [2 ** 31]), 2 ** 40)
    v = tk.Variable(tk.zeros([2 ** 31, 2 ** 31, 4]), name="huge")
    with tk.Session() as sess:
        with pytest.raises(tk.errors.InvalidArgumentError, match="cannot compile 'huge'.*too large"):
            sess.run(v.initializer)


def test_plan_checks_output_sizes_exactly():
    n, m = SymDim.sym("N"), SymDim.sym("M")
    fn = NativeFunction.__new__(NativeFunction)  # only the planning half: no native code is called
    fn.name, fn.symbols, fn._plans = "outer", ["N", "M"], {}
    fn.inputs = [ArgSpec("x", TensorType((n,), f32)), ArgSpec("y", TensorType((m,), f32))]
    fn.outputs = [ArgSpec("out", TensorType((n, m), f32))]
    assert fn.plan(((3,), (4,))) == ((3, 4), [(3, 4)], None)  # small: no byte sizes needed
    assert fn.plan(((0,), (1 << 40,))) == ((0, 1 << 40), [(0, 1 << 40)], None)  # empty, and its strides fit
    assert fn.plan(((1024,), (1024,))) == ((1024, 1024), [(1024, 1024)], [4 << 20])  # large: bytes planned
    with pytest.raises(ShapeError, match="overflows int64"):
        fn.plan(((0,), (1 << 62,)))  # no elements, but 2**64 bytes of strides
    with pytest.raises(ShapeError, match="overflows int64"):
        fn.plan(((1 << 32,), (1 << 32,)))
    with pytest.raises(ShapeError, match="too large to allocate"):
        fn.plan(((1 << 24,), (1 << 24,)))  # 2**50 bytes: fits int64, but no machine has it


RUNTIME = r'''
import json, numpy as np, tensorkiln as tk
out = {}
def record(name, f):
    try:
        v = f()
        out[name] = ["ok", repr(getattr(v, "shape", v))]
    except Exception as e:
        out[name] = [type(e).__name__, str(e)[:300]]
x = tk.placeholder(tk.float32, [None, None], name="x")
gram = tk.reduce_sum(tk.matmul(tk.transpose(x), x))   # a [M, M] temporary, M fed
outer = tk.matmul(tk.transpose(x), x)                   # a [M, M] output
sess = tk.Session()
zeros = lambda m: np.zeros((0, m), np.float32)
record("temp ok", lambda: sess.run(gram, {x: zeros(7)}))
record("temp wraps", lambda: sess.run(gram, {x: zeros(2 ** 33)}))
record("temp too big", lambda: sess.run(gram, {x: zeros(2 ** 26)}))
record("output wraps", lambda: sess.run(outer, {x: zeros(2 ** 33)}))
record("output too big", lambda: sess.run(outer, {x: zeros(2 ** 25)}))
record("empty huge", lambda: sess.run(tk.transpose(x) * 2.0, {x: zeros(2 ** 40)}))
a = tk.placeholder(tk.float32, [None, None], name="a")
b = tk.placeholder(tk.float32, [None, None], name="b")
size = tk.size(tk.matmul(a, b), out_type=tk.int64)      # only dim arithmetic: N0*N3, no buffer
record("dim product ok", lambda: int(sess.run(size, {a: np.zeros((3, 0), np.float32), b: np.zeros((0, 5), np.float32)})))
record("dim product wraps", lambda: sess.run(size, {a: np.zeros((2 ** 40, 0), np.float32), b: np.zeros((0, 2 ** 40), np.float32)}))
mod = tk.compile("def f(x: f32[N, M]) -> f32 {\n    return sum(transpose(x) @ x)\n}\n")
record("compiled temp wraps", lambda: mod.f(zeros(2 ** 33)))
print("RESULTS " + json.dumps(out))
'''


def test_runtime_sizes_are_checked_in_a_subprocess():
    r = subprocess.run([sys.executable, "-c", RUNTIME], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"the process died (exit {r.returncode}):\n{r.stderr[-3000:]}"
    got = json.loads(next(line for line in r.stdout.splitlines() if line.startswith("RESULTS "))[8:])
    assert got["temp ok"] == ["ok", "()"]
    for case in ("temp wraps", "temp too big"):
        assert got[case][0] == "ResourceExhaustedError" and "temporary buffer" in got[case][1], (case, got[case])
    assert got["output wraps"][0] == "ResourceExhaustedError" and "overflows int64" in got["output wraps"][1]
    assert got["output too big"][0] == "ResourceExhaustedError" and "too large" in got["output too big"][1]
    assert got["empty huge"] == ["ok", repr((2 ** 40, 0))]
    assert got["compiled temp wraps"][0] == "RuntimeError" and "returned 2" in got["compiled temp wraps"][1]
    # 2**40 * 2**40 wrapped to 0 before the entry check of dim products
    assert got["dim product ok"] == ["ok", "15"]
    assert got["dim product wraps"][0] == "ResourceExhaustedError" and "overflows int64" in got["dim product wraps"][1]
    assert np.iinfo(np.int64).max == INT64_MAX
