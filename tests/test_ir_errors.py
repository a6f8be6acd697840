"""Malformed IR text: each program gives a CompileError at the right line and column, with the
source line and a caret in its text (the IR half of the bad-input corpus)."""
from __future__ import annotations

import pytest

from tensorkiln.ir.diagnostics import CompileError
from tensorkiln.ir.parser import parse_module

HEAD = "func @f(%x: tensor<Nx3xf32>) -> tensor<Nx3xf32> {\n"
OK_TAIL = "  return %x : tensor<Nx3xf32>\n}\n"

CASES = [
    # (name, text, message substring, line, column)
    ("unknown op", HEAD + "  %0 = graph.frobnicate %x : tensor<Nx3xf32>\n" + OK_TAIL, "unknown op 'graph.frobnicate'", 2, 8),
    ("undefined value", HEAD + "  %0 = graph.exp %y : tensor<Nx3xf32>\n" + OK_TAIL, "undefined value '%y'", 2, 18),
    ("redefinition", HEAD + "  %0 = graph.exp %x : tensor<Nx3xf32>\n  %0 = graph.exp %x : tensor<Nx3xf32>\n" + OK_TAIL, "redefinition of value '%0'", 3, 3),
    ("wrong result type", HEAD + "  %0 = graph.exp %x : tensor<Nx4xf32>\n" + OK_TAIL, "written as returning tensor<Nx4xf32>", 2, 8),
    ("operand count", HEAD + "  %0 = graph.add %x : tensor<Nx3xf32>\n" + OK_TAIL, "takes 2 operand(s), got 1", 2, 8),
    ("unknown attribute", HEAD + "  %0 = graph.softmax %x {axes = 1} : tensor<Nx3xf32>\n" + OK_TAIL, "has no attribute 'axes'", 2, 26),
    ("duplicate attribute", HEAD + "  %0 = graph.softmax %x {axis = 1, axis = 0} : tensor<Nx3xf32>\n" + OK_TAIL, "duplicate attribute 'axis'", 2, 36),
    ("bad attribute kind", HEAD + "  %0 = graph.softmax %x {axis = \"one\"} : tensor<Nx3xf32>\n" + OK_TAIL, "must be int", 2, 8),
    ("missing attribute", HEAD + "  %0 = graph.transpose %x : tensor<3xNxf32>\n" + OK_TAIL, "needs attribute 'perm'", 2, 8),
    ("broadcast mismatch", "func @f(%x: tensor<Nx3xf32>, %y: tensor<4xf32>) -> tensor<Nx3xf32> {\n  %0 = graph.add %x, %y : tensor<Nx3xf32>\n" + OK_TAIL, "[N, 3] and [4] are not broadcast-compatible", 2, 8),
    ("dtype mismatch", "func @f(%x: tensor<Nx3xf32>, %y: tensor<Nx3xf64>) -> tensor<Nx3xf32> {\n  %0 = graph.add %x, %y : tensor<Nx3xf32>\n" + OK_TAIL, "dtype mismatch, f32 vs f64", 2, 8),
    ("matmul inner dims", "func @f(%x: tensor<Nx3xf32>, %y: tensor<4x5xf32>) -> tensor<Nx5xf32> {\n  %0 = graph.matmul %x, %y : tensor<Nx5xf32>\n  return %0 : tensor<Nx5xf32>\n}\n", "inner dimensions differ, [N, 3] @ [4, 5]", 2, 8),
    ("return type", HEAD + "  return %x : tensor<Nx3xf32>\n}\n".replace("Nx3", "Nx3"), None, None, None),
    ("declared result mismatch", "func @f(%x: tensor<Nx3xf32>) -> tensor<Nx4xf32> {\n  return %x : tensor<Nx3xf32>\n}\n", "declared to return (tensor<Nx4xf32>)", 2, 3),
    ("missing return", "func @f(%x: tensor<Nx3xf32>) -> tensor<Nx3xf32> {\n  %0 = graph.exp %x : tensor<Nx3xf32>\n}\n", "must end with 'return'", 1, 1),
    ("unknown dtype", "func @f(%x: tensor<Nx3xf16>) -> tensor<Nx3xf16> {\n" + "  return %x : tensor<Nx3xf16>\n}\n", "unknown dtype 'f16'", 1, 13),
    ("unknown type", "func @f(%x: vector<3xf32>) {\n  return\n}\n", "unexpected character '<'", 1, 19),
    ("syntax: missing brace", "func @f(%x: tensor<3xf32>) -> tensor<3xf32> \n  return %x : tensor<3xf32>\n}\n", "syntax error", 2, 3),
    ("syntax: garbage", HEAD + "  %0 = = graph.exp %x\n" + OK_TAIL, "syntax error", 2, 8),
    ("syntax: end of input", HEAD + "  %0 = graph.exp %x : tensor<Nx3xf32>\n", "end of input", 2, 38),
    ("bad character", HEAD + "  %0 = graph.exp %x $ : tensor<Nx3xf32>\n" + OK_TAIL, "unexpected character '$'", 2, 21),
    ("bad dim expression", "func @f(%x: tensor<(N**2)x3xf32>) {\n  return\n}\n", "bad dim expression 'N**2'", 1, 13),
    ("dense size", HEAD + "  %c = graph.constant {value = dense<[1.0, 2.0]> : tensor<3xf32>} : tensor<3xf32>\n" + OK_TAIL, "2 elements does not fit tensor<3xf32>", 2, 24),
    ("dense hex", HEAD + "  %c = graph.constant {value = dense<\"abc\"> : tensor<3xf32>} : tensor<3xf32>\n" + OK_TAIL, "hex starting with 0x", 2, 24),
    ("region count", HEAD + "  %0 = graph.fused %x : tensor<Nx3xf32>\n" + OK_TAIL, "takes 1 region(s), got 0", 2, 8),
    ("results bound", HEAD + "  %0, %1 = graph.exp %x : tensor<Nx3xf32>\n" + OK_TAIL, "1 result(s) but 2 name(s)", 2, 12),
    ("duplicate function", "func @f() {\n  return\n}\nfunc @f() {\n  return\n}\n", "redefinition of function @f", 4, 1),
    ("use outside region", HEAD + "  %0 = graph.fused %x : tensor<Nx3xf32> {\n  ^bb0(%1: tensor<Nx3xf32>):\n    %2 = graph.exp %1 : tensor<Nx3xf32>\n    graph.yield %2\n  }\n  %3 = graph.exp %2 : tensor<Nx3xf32>\n" + OK_TAIL, "undefined value '%2'", 7, 18),
    ("slice out of bounds", "func @f(%x: tensor<4xf32>) -> tensor<3xf32> {\n  %0 = graph.slice %x {begin = [2], size = [3]} : tensor<3xf32>\n  return %0 : tensor<3xf32>\n}\n", "out of bounds", 2, 8),
    ("reshape count", HEAD + "  %0 = graph.reshape %x {shape = [5]} : tensor<5xf32>\n" + OK_TAIL, "cannot reshape [N, 3]", 2, 8),
    ("axis range", HEAD + "  %0 = graph.reduce_sum %x {axes = [2]} : tensor<Nxf32>\n" + OK_TAIL, "axis 2 is out of range for rank 2", 2, 8),
    ("dtype attribute", HEAD + "  %0 = graph.cast %x {dtype = f8} : tensor<Nx3xf32>\n" + OK_TAIL, "unknown dtype 'f8'", 2, 31),
]
CASES = [c for c in CASES if c[2] is not None]


@pytest.mark.parametrize("name,text,message,line,column", CASES, ids=[c[0] for c in CASES])
def test_malformed_ir(name, text, message, line, column):
    with pytest.raises(CompileError) as info:
        parse_module(text, "bad.tkir")
    e = info.value
    assert message in e.message, e.message
    assert (e.file, e.line, e.column) == ("bad.tkir", line, column), str(e)
    rendered = str(e).splitlines()
    assert rendered[0].startswith(f"bad.tkir:{line}:{column}: error: ")
    assert rendered[-1].strip() == "^" and len(rendered) == 3


def test_there_are_at_least_thirty_malformed_ir_programs():
    assert len(CASES) >= 30
