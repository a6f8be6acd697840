"""The DSL front end: golden IR for the contract program and a feature tour, IR round trips, and
feature tests for the language rules (broadcasting, literal dtypes, reductions and the re-broadcast
rule, reshapes, concat, matmul, comparisons, inlining, locations).

tests/golden/dsl/NAME.tk must compile to exactly tests/golden/dsl/NAME.tkir. Set
TENSORKILN_UPDATE_GOLDEN=1 to rewrite the .tkir files (then read the diff before committing).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tensorkiln.compiler.frontend.dsl import parse_dsl
from tensorkiln.ir.core import Function, Module
from tensorkiln.ir.parser import parse_module
from tensorkiln.ir.printer import print_module
from tensorkiln.ir.types import SymDim, TensorType, dim_add, dim_mul, f32, f64, i1, i32, i64
from tensorkiln.ir.verifier import verify_module

GOLDEN = Path(__file__).parent / "golden" / "dsl"
SOURCES = sorted(GOLDEN.glob("*.tk"))
N, M, B, K = (SymDim.sym(s) for s in "NMBK")


def compile_one(body: str, sig: str, ret: str) -> Function:
    m = parse_dsl(f"def f({sig}) -> {ret} {{\n{body}\n}}\n")
    verify_module(m)
    return m["f"]


def ops(f: Function) -> list[str]:
    return [op.name for op in f.walk()]


def result(f: Function, i: int = 0) -> TensorType:
    t = f.result_types[i]
    assert isinstance(t, TensorType)
    return t


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_golden(path: Path) -> None:
    m = parse_dsl(path.read_text(), path.name)
    verify_module(m)
    got = print_module(m)
    expected = path.with_suffix(".tkir")
    if os.environ.get("TENSORKILN_UPDATE_GOLDEN"):
        expected.write_text(got)
    assert got == expected.read_text()
    # The printed IR parses back and prints identically.
    assert print_module(parse_module(got)) == got


def test_contract_program() -> None:
    m = parse_dsl((GOLDEN / "contract.tk").read_text(), "contract.tk")
    assert isinstance(m, Module)
    assert list(m.functions) == ["predict", "axpy", "chain", "stats"]
    predict = m["predict"]
    assert [a.name_hint for a in predict.args] == ["x", "W", "b"]
    assert result(predict) == TensorType((N, 10), f32)
    assert ops(predict) == ["graph.matmul", "graph.add", "graph.softmax", "return"]
    assert predict.body.ops[2].attributes["axis"] == -1
    assert m["axpy"].arg_types[0] == TensorType((), f32)
    stats = m["stats"]
    assert stats.result_types == [TensorType((B,), f32), TensorType((B,), i64)]
    # x - m re-broadcasts the row max along the reduced axis.
    reshape = next(op for op in stats.walk() if op.name == "graph.reshape")
    assert reshape.result.type == TensorType((B, 1), f32)
    assert stats.return_op.loc is not None and stats.return_op.loc.line == 17


def test_every_op_has_the_location_of_its_token() -> None:
    text = (GOLDEN / "contract.tk").read_text()
    m = parse_dsl(text, "contract.tk")
    for f in m:
        for op in f.walk():
            loc = op.loc
            assert loc is not None and loc.file == "contract.tk" and loc.line > 0, op.name
            assert loc.source_line == text.splitlines()[loc.line - 1]
    # `x @ W + b` on line 3: the matmul sits on '@', the add on '+'.
    matmul, add = m["predict"].body.ops[:2]
    assert (matmul.loc.line, matmul.loc.column) == (3, 16)
    assert (add.loc.line, add.loc.column) == (3, 20)
    # Literal constants sit on the literal.
    const = m["chain"].body.ops[0]
    assert const.name == "graph.constant" and (const.loc.line, const.loc.column) == (12, 21)


def test_numpy_broadcasting() -> None:
    f = compile_one("    return x + y + s", "x: f32[N, 1], y: f32[3], s: f32", "f32[N, 3]")
    assert result(f) == TensorType((N, 3), f32)
    assert ops(f) == ["graph.add", "graph.add", "return"]


def test_literal_dtypes() -> None:
    f = compile_one("    return x * 2, i + 1, 2.5, 7, true, 1 / 4, [[1, 2], [3, 4]]",
                    "x: f32[N], i: i32[N]", "(f32[N], i32[N], f32, i64, i1, f32, i64[2, 2])")
    consts = [op.attributes["value"] for op in f.walk() if op.name == "graph.constant"]
    assert [c.dtype for c in consts] == [np.float32, np.int32, np.float32, np.int64, np.bool_, np.float32, np.int64]
    assert consts[0] == 2.0 and consts[5] == 0.25  # 1 / 4 folds with Python's true division
    assert consts[6].tolist() == [[1, 2], [3, 4]]
    # A float literal in a list makes the whole list float.
    f = compile_one("    return x + [1, 2.5]", "x: f64[2]", "f64[2]")
    assert f.body.ops[0].attributes["value"].dtype == np.float64


def test_literals_outside_elementwise_ops() -> None:
    f = compile_one("    return gather(x, [0, 2]), concat([[1, 2], [3.5, 4]], axis=0), maximum(1, 2.5), sum([1.0, 2.0])",
                    "x: f32[5, 3]", "(f32[2, 3], f32[4], f32, f32)")
    consts = [op.attributes["value"] for op in f.walk() if op.name == "graph.constant"]
    assert [c.dtype for c in consts] == [np.int64] + [np.float32] * 5  # gather's indices stay i64


def test_reductions_and_keepdims() -> None:
    f = compile_one("    return sum(x, axis=0, keepdims=True), mean(x, axis=[0, 1]), prod(x, axis=-1), min(x)",
                    "x: f32[N, 784]", "(f32[1, 784], f32, f32[N], f32)")
    assert [result(f, i) for i in range(4)] == [
        TensorType((1, 784), f32), TensorType((), f32), TensorType((N,), f32), TensorType((), f32)]
    assert f.body.ops[0].attributes == {"axes": (0,), "keepdims": True}
    assert "axes" not in f.body.ops[3].attributes  # no axis: reduce everything


def test_rebroadcast_rule() -> None:
    # 3-D, two reduced axes: [A, B, C] - [B] becomes [A, B, C] - [1, B, 1].
    f = compile_one("    s = sum(x, axis=[0, 2])\n    return x - s * 2", "x: f32[A, B, C]", "f32[A, B, C]")
    reshape = next(op for op in f.walk() if op.name == "graph.reshape")
    assert reshape.attributes["shape"] == (1, B, 1)
    # Where numpy's rule applies ([N, N] - [N]) it wins: no reshape is inserted.
    f = compile_one("    return x - max(x, axis=1)", "x: f32[N, N]", "f32[N, N]")
    assert "graph.reshape" not in ops(f)
    # keepdims needs no help.
    f = compile_one("    return x - max(x, axis=1, keepdims=true)", "x: f32[B, K]", "f32[B, K]")
    assert ops(f) == ["graph.reduce_max", "graph.sub", "return"]


def test_reshape_with_minus_one_and_symbolic_dims() -> None:
    f = compile_one("    return reshape(x, shape=[N, -1]), reshape(x, [-1, 28])", "x: f32[N, 28, 28]", "(f32[N, 784], f32[28*N, 28])")
    assert result(f, 0) == TensorType((N, 784), f32)
    assert result(f, 1) == TensorType((dim_mul(N, 28), 28), f32)
    assert f.body.ops[0].attributes["shape"] == (N, -1)


def test_concat_symbolic_sum() -> None:
    f = compile_one("    return concat([x, y], axis=0), concat(x, x, axis=1)", "x: f32[N, 3], y: f32[M, 3]", "(f32[N+M, 3], f32[N, 6])")
    assert result(f, 0) == TensorType((dim_add(N, M), 3), f32)
    assert result(f, 1) == TensorType((N, 6), f32)


def test_matmul_batched_and_vector() -> None:
    f = compile_one("    return a @ b, matmul(a, c, transpose_b=true), v @ w",
                    "a: f32[G, N, K], b: f32[G, K, P], c: f32[P, K], v: f32[K], w: f32[K]", "(f32[G, N, P], f32[G, N, P], f32)")
    G, P = SymDim.sym("G"), SymDim.sym("P")
    assert result(f, 0) == TensorType((G, N, P), f32)
    assert result(f, 1) == TensorType((G, N, P), f32)
    assert result(f, 2) == TensorType((), f32)


def test_comparisons_and_where() -> None:
    f = compile_one("    c = x < y\n    return c, x == 0, where(c, x, 0), logical_not(c)", "x: f32[N], y: f32[N]",
                    "(i1[N], i1[N], f32[N], i1[N])")
    assert [result(f, i).dtype for i in range(4)] == [i1, i1, f32, i1]
    assert [op.name for op in f.walk()][:3] == ["graph.lt", "graph.constant", "graph.eq"]


def test_builtins_map_to_graph_ops() -> None:
    f = compile_one(
        "    t = transpose(x)\n"
        "    h = one_hot(argmax(x, axis=1), depth=5, dtype=f64)\n"
        "    k = cast(x, dtype=i32) + cast(x, i32)\n"
        "    g = gather(x, cast(k, i64), axis=0)\n"
        "    z = zeros(shape=[N, 5]) + ones([5]) + fill([N, 1], 0.5) + log_softmax(x) + relu(-x) ** 2\n"
        "    return t, h, g, z, slice(x, begin=[0, 1], size=[-1, 2])",
        "x: f32[N, 5]", "(f32[5, N], f64[N, 5], f32[N, 5, 5], f32[N, 5], f32[N, 2])")
    names = set(ops(f))
    assert {"graph.transpose", "graph.one_hot", "graph.argmax", "graph.cast", "graph.gather", "graph.broadcast_to",
            "graph.log_softmax", "graph.relu", "graph.neg", "graph.pow", "graph.slice"} <= names
    assert f.body.ops[0].attributes["perm"] == (1, 0)


def test_question_mark_dims() -> None:
    f = compile_one("    return x * 2", "x: f32[?, 3]", "f32[?, 3]")
    assert result(f) == f.arg_types[0]
    text = print_module(Module([f]))
    assert print_module(parse_module(text)) == text


def test_inlined_calls_bind_dims() -> None:
    src = (
        "def axpy(a: f32, x: f32[N], y: f32[N]) -> f32[N] {\n    return a * x + y\n}\n"
        "def pair(x: f32[N]) -> (f32[N], f32[2*N]) {\n    return x, concat([x, x], axis=0)\n}\n"
        "def main(u: f32[K], v: f32[K]) -> f32[2*K] {\n"
        "    w = axpy(2, u, v)\n"
        "    p, q = pair(w)\n"
        "    return q + concat([p, v], axis=0)\n"
        "}\n"
    )
    m = parse_dsl(src)
    verify_module(m)
    main = m["main"]
    assert ops(main) == ["graph.constant", "graph.mul", "graph.add", "graph.concat", "graph.concat", "graph.add", "return"]
    assert main.result_types == [TensorType((dim_mul(K, 2),), f32)]
    assert main.body.ops[0].attributes["value"].dtype == np.float32  # literal argument takes the parameter's dtype
    # Inlined ops keep the callee's source locations.
    assert main.body.ops[1].loc.line == 2


def test_layout_freedom() -> None:
    src = (
        "# leading comment\n\n"
        "def f(x: f32[N],\n      y: f32[N])   # a comment after the signature\n"
        "    -> f32[N]\n"
    )
    # A signature may wrap inside its parentheses, not around the arrow.
    with pytest.raises(Exception):
        parse_dsl(src + "{ return x }\n")
    src = (
        "# leading comment\n\n"
        "def f(x: f32[N],\n      y: f32[N]) -> f32[N]\n"
        "{\n"
        "    a = x + y; b = a * 2   # two statements on one line\n"
        "    return maximum(a,\n                   b)\n"
        "}\n"
        "def g(x: f32) -> f32 { return -x }\n"
    )
    m = parse_dsl(src)
    verify_module(m)
    assert list(m.functions) == ["f", "g"]


def test_reassignment_and_dtypes_of_every_kind() -> None:
    f = compile_one("    x = x + 1\n    x = x * x\n    return x, cast(x, f64), cast(x, i64)", "x: i32[3]", "(i32[3], f64[3], i64[3])")
    assert [result(f, i).dtype for i in range(3)] == [i32, f64, i64]
