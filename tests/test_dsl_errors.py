"""Malformed DSL programs: each must raise a CompileError at the offending token, with a caret.

The cases are the ``dsl/*.tk`` files of the malformed-program corpus (``tests/corpus/malformed``,
expectations in its ``expected.json``); here they run in this process, one test per file, and
``test_malformed_corpus.py`` runs the whole corpus again in a subprocess so a crash would be caught.
"""
from __future__ import annotations

import pytest

from malformed_corpus import CORPUS, expectations, outcome, problems  # type: ignore[import-not-found]
from tensorkiln.compiler.frontend.dsl import parse_dsl
from tensorkiln.ir.diagnostics import CompileError
from tensorkiln.ir.dialects.graph import ShapeMismatch

EXPECTED = {k: v for k, v in expectations().items() if k.startswith("dsl/")}


def fn(body: str, sig: str = "x: f32[N]", ret: str = "f32[N]") -> str:
    return f"def f({sig}) -> {ret} {{\n{body}\n}}\n"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_error(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)  # error messages name the file as given: dsl/<case>.tk
    assert problems(name, EXPECTED[name], outcome(name)) == []


def test_enough_cases() -> None:
    assert len(EXPECTED) >= 35
    assert sorted(p.relative_to(CORPUS).as_posix() for p in (CORPUS / "dsl").glob("*.tk")) == sorted(EXPECTED)


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
