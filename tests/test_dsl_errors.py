"""Malformed DSL programs: each must raise a CompileError at the offending token, with a caret.

Table-driven: (id, source, exception type, message substring, line, column). ``fn(body)`` wraps a
body in ``def f(x: f32[N]) -> f32[N] { ... }`` so the body's first line is line 2.
"""
from __future__ import annotations

import pytest

from tensorkiln.compiler.frontend.dsl import parse_dsl
from tensorkiln.ir.diagnostics import CompileError
from tensorkiln.ir.dialects.graph import ShapeMismatch


def fn(body: str, sig: str = "x: f32[N]", ret: str = "f32[N]") -> str:
    return f"def f({sig}) -> {ret} {{\n{body}\n}}\n"


G2 = "def g(x: f32[N], y: f32[N]) -> f32[N] {\n    return x + y\n}\n"  # 3 lines; a callee for inlining

CASES = [
    # --- syntax (lark errors mapped to the unexpected token)
    ("syntax-unexpected-name", fn("    y = x z\n    return y"), CompileError, "syntax error: unexpected 'z'", 2, 11),
    ("syntax-end-of-line", fn("    y = x +\n    return y"), CompileError, "unexpected end of line", 2, 12),
    ("syntax-bad-character", fn("    y = x $ 2\n    return y"), CompileError, "unexpected character '$'", 2, 11),
    ("syntax-end-of-input", "def f(x: f32) -> f32 {\n    return x\n", CompileError, "unexpected end of input", 2, 13),
    ("syntax-missing-paren", "def f(x: f32[N] -> f32[N] {\n    return x\n}\n", CompileError, "unexpected '->'; expected ')' or ','", 1, 17),
    ("syntax-missing-arrow", "def f(x: f32[N]) f32[N] {\n    return x\n}\n", CompileError, "expected '->'", 1, 18),
    ("syntax-expression-statement", fn("    x\n    return x"), CompileError, "expected ',' or '='", 2, 6),
    ("syntax-double-operator", fn("    return x @@ x"), CompileError, "unexpected '@'", 2, 15),
    ("syntax-missing-brace", "def f(x: f32) -> f32\n    return x\n}\n", CompileError, "expected '{'", 2, 5),
    # --- names
    ("undefined-name", fn("    return q"), CompileError, "undefined name 'q'", 2, 12),
    ("undefined-name-suggestion", fn("    value = x\n    return valeu"), CompileError, "did you mean 'value'?", 3, 12),
    ("dim-name-as-value", fn("    return x * N"), CompileError, "dimension names are only usable in shape attributes", 2, 16),
    ("unknown-function", fn("    return exq(x)"), CompileError, "unknown function 'exq'; did you mean 'exp'?", 2, 12),
    ("unknown-op", fn("    return frobnicate(x)"), CompileError, "unknown function 'frobnicate'", 2, 12),
    ("call-later-function", fn("    return g(x, x)") + G2, CompileError, "only earlier functions can be called", 2, 12),
    ("recursion", fn("    return f(x)"), CompileError, "'f' cannot call itself", 2, 12),
    # --- attributes
    ("unknown-attribute", fn("    return max(x, axes=1)", "x: f32[N, K]"), CompileError, "'max' has no attribute 'axes' (it has: axis, keepdims)", 2, 19),
    ("missing-attribute", fn("    return argmax(x)", "x: f32[N, K]", "i64[N]"), CompileError, "'argmax' needs attribute 'axis'", 2, 12),
    ("missing-attribute-one-hot", fn("    return one_hot(i)", "i: i32[N]", "f32[N, 3]"), CompileError, "'one_hot' needs attribute 'depth'", 2, 12),
    ("attribute-kind-int", fn("    return sum(x, axis=1.5)"), CompileError, "attribute 'axis' of 'sum' must be an integer or a list of integers, got 1.5", 2, 24),
    ("attribute-kind-bool", fn("    return sum(x, keepdims=1)"), CompileError, "attribute 'keepdims' of 'sum' must be true or false, got 1", 2, 28),
    ("attribute-not-constant", fn("    return sum(x, axis=x)"), CompileError, "must be a constant, but 'x' is a tensor", 2, 24),
    ("attribute-twice", fn("    return sum(x, axis=0, axis=0)"), CompileError, "'sum' got attribute 'axis' twice", 2, 27),
    ("positional-after-keyword", fn("    return sum(axis=0, x)"), CompileError, "positional argument after keyword argument", 2, 24),
    ("unknown-dim-in-shape", fn("    return reshape(x, shape=[M])"), CompileError, "unknown dimension 'M' (signature dims: N)", 2, 30),
    ("unknown-dtype-in-cast", fn("    return cast(x, f16)"), CompileError, "unknown dtype 'f16'", 2, 20),
    ("axis-out-of-range", fn("    return sum(x, axis=3)", ret="f32"), CompileError, "'sum': axis 3 is out of range for rank 1", 2, 12),
    # --- argument counts
    ("too-many-arguments", fn("    return exp(x, x)"), CompileError, "'exp' takes 1 positional argument(s), got 2", 2, 19),
    ("too-few-arguments", fn("    return maximum(x)"), CompileError, "'maximum' takes 2 tensor argument(s), got 1", 2, 12),
    ("max-of-two-tensors", fn("    return max(x, x)"), CompileError, "the elementwise maximum is maximum(a, b)", 2, 19),
    ("inline-argument-count", G2 + fn("    return g(x)"), CompileError, "'g' takes 2 argument(s), got 1", 5, 12),
    ("inline-keyword-argument", G2 + fn("    return g(x, y=x)"), CompileError, "'g' takes no keyword arguments", 5, 17),
    # --- dtypes
    ("dtype-mismatch", fn("    return x + y", "x: f32[N], y: i32[N]"), CompileError, "'+': dtype mismatch, f32 vs i32", 2, 14),
    ("float-literal-int-tensor", fn("    return x * 1.5", "x: i32[N]", "i32[N]"), CompileError, "float literal 1.5 used as i32", 2, 16),
    ("int-literal-bool-tensor", fn("    return x == 1", "x: i1[N]", "i1[N]"), CompileError, "int literal 1 used as i1", 2, 17),
    ("int-true-division", fn("    return x / 2", "x: i32[N]", "i32[N]"), CompileError, "'/' is true division and needs float operands, got i32", 2, 14),
    ("literal-out-of-range", fn("    return x + 3000000000", "x: i32[N]", "i32[N]"), CompileError, "out of range for i32", 2, 16),
    ("unary-on-bool", fn("    return exp(x)", "x: i1[N]", "i1[N]"), CompileError, "'exp' is not defined for dtype i1", 2, 12),
    ("inline-argument-dtype", G2 + fn("    return g(x, i)", "x: f32[N], i: i32[N]"), CompileError, "argument 'y' of 'g' has type i32[N] but the parameter is f32[N]", 5, 17),
    # --- shapes (the location is the operator's token)
    ("broadcast-mismatch", fn("    return x + y", "x: f32[N], y: f32[M]"), ShapeMismatch, "'+': shapes [N] and [M] are not broadcast-compatible", 2, 14),
    ("matmul-inner-dims", fn("    return x @ w", "x: f32[N, 4], w: f32[5, 3]", "f32[N, 3]"), ShapeMismatch, "[N, 4] @ [5, 3]", 2, 14),
    ("reshape-impossible", fn("    return reshape(x, shape=[3, -1])"), ShapeMismatch, "cannot reshape [N] into [3, -1]", 2, 12),
    ("bad-permutation", fn("    return transpose(x, perm=[0, 0])", "x: f32[N, 3]"), CompileError, "perm [0, 0] is not a permutation of rank 2", 2, 12),
    ("rebroadcast-needs-same-source-shape", fn("    m = max(y, axis=1)\n    return x - m", "x: f32[B, K], y: f32[B, J]", "f32[B, K]"), ShapeMismatch, "shapes [B, K] and [B]", 3, 14),
    ("inline-dim-binding", G2 + fn("    return g(x, z)", "x: f32[K], z: f32[M]", "f32[K]"), CompileError, "has type f32[M] but the parameter is f32[N] (N is bound to K by an earlier argument)", 5, 17),
    # --- results and returns
    ("return-shape-mismatch", fn("    return x", ret="f32[N, 1]"), CompileError, "'f' returns f32[N] but is declared to return f32[N, 1]", 2, 12),
    ("return-dtype-mismatch", fn("    return x", ret="i32[N]"), CompileError, "'f' returns f32[N] but is declared to return i32[N]", 2, 12),
    ("return-count", fn("    return x", ret="(f32[N], f32[N])"), CompileError, "'f' returns 1 value(s) but is declared to return 2", 2, 5),
    ("missing-return", fn("    y = x"), CompileError, "function 'f' has no return statement", 3, 1),
    ("statement-after-return", fn("    return x\n    y = x"), CompileError, "unreachable statement after 'return'", 3, 5),
    # --- signatures
    ("duplicate-parameter", fn("    return x", "x: f32[N], x: f32[N]"), CompileError, "duplicate parameter 'x' in 'f'", 1, 18),
    ("duplicate-function", fn("    return x") + fn("    return x"), CompileError, "function 'f' is already defined at line 1", 4, 5),
    ("shadows-builtin", "def exp(x: f32) -> f32 {\n    return x\n}\n", CompileError, "shadows the builtin 'exp'", 1, 5),
    ("unknown-dtype-in-type", fn("    return x", "x: f16[N]"), CompileError, "unknown dtype 'f16' (known: f32, f64, i32, i64, i1)", 1, 10),
    ("bad-dim-float", fn("    return x", "x: f32[1.5]"), CompileError, "bad dimension '1.5'", 1, 14),
    ("bad-dim-negative", fn("    return x", "x: f32[-3]"), CompileError, "dimension must be >= 0, got -3", 1, 14),
    ("bad-dim-expression-in-param", fn("    return x", "x: f32[N+1]"), CompileError, "parameter dims are integers, names or '?'", 1, 14),
    ("result-dim-not-in-params", fn("    return x", ret="f32[M]"), CompileError, "result dimension 'M' does not appear in the parameters", 1, 25),
    # --- values
    ("tuple-as-value", "def s(x: f32) -> (f32, f32) {\n    return x, x\n}\n" + fn("    a = s(x)\n    return a", "x: f32", "f32"), CompileError, "the call returns 2 values; unpack them into 2 names", 5, 9),
    ("unpack-count", fn("    a, b = exp(x)\n    return a"), CompileError, "cannot unpack 1 value(s) into 2 names", 2, 5),
    ("list-of-tensors", fn("    return x + [x]"), CompileError, "a list literal holds numbers only", 2, 17),
    ("ragged-list", fn("    return x + [[1.0], [2.0, 3.0]]"), CompileError, "ragged list literal", 2, 16),
    ("fold-division-by-zero", fn("    return x + 1 / 0"), CompileError, "division by zero", 2, 18),
]


@pytest.mark.parametrize("source, exc, message, line, column", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error(source: str, exc: type, message: str, line: int, column: int) -> None:
    with pytest.raises(exc) as info:
        parse_dsl(source, "prog.tk")
    err = info.value
    assert isinstance(err, CompileError)
    assert message in err.message
    assert (err.file, err.line, err.column) == ("prog.tk", line, column), str(err)
    text = str(err)
    src_line = source.splitlines()[line - 1]
    # file:line:col header, then the source line, then a caret under the column.
    assert text.startswith(f"prog.tk:{line}:{column}: error: ")
    assert text.splitlines()[1:] == [src_line, " " * (column - 1) + "^"]


def test_enough_cases() -> None:
    assert len(CASES) >= 35
    assert len({c[0] for c in CASES}) == len(CASES)


def test_default_file_name() -> None:
    with pytest.raises(CompileError) as info:
        parse_dsl(fn("    return q"))
    assert str(info.value).startswith("<string>:2:12: error: undefined name 'q'")


def test_tab_indented_caret_lines_up() -> None:
    with pytest.raises(CompileError) as info:
        parse_dsl("def f(x: f32) -> f32 {\n\treturn y\n}\n")
    assert str(info.value).splitlines()[1:] == ["\treturn y", "\t       ^"]


def test_error_inside_inlined_function_names_the_call_site() -> None:
    src = "def g(x: f32[N], y: f32[M]) -> f32[N] {\n    return x\n}\n" + fn("    return g(x, x) + zz")
    with pytest.raises(CompileError, match="undefined name 'zz'"):
        parse_dsl(src)
    # A shape error raised while inlining points into the callee and mentions the call site.
    # (symbolically the slice is fine; with N bound to 4 it is out of bounds).
    src = "def h(x: f32[N]) -> f32[3] {\n    return slice(x, begin=[2], size=[3])\n}\n" + fn("    return h(z)", "z: f32[4]", "f32[3]")
    with pytest.raises(ShapeMismatch) as info:
        parse_dsl(src)
    assert (info.value.line, info.value.column) == (2, 12)
    assert "out of bounds of dim 4" in info.value.message
    assert "(in 'h' inlined at <string>:5:12)" in info.value.message
