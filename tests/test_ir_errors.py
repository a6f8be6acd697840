"""Malformed IR text: each program gives a CompileError at the right line and column, with the
source line and a caret in its text (the IR half of the bad-input corpus).

The cases are the ``ir/*.tkir`` files of ``tests/corpus/malformed`` (expectations in its
``expected.json``), run here in this process; ``test_malformed_corpus.py`` runs them in a subprocess.
"""
from __future__ import annotations

import pytest

from malformed_corpus import CORPUS, expectations, outcome, problems  # type: ignore[import-not-found]

EXPECTED = {k: v for k, v in expectations().items() if k.startswith("ir/")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_ir(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)  # error messages name the file as given: ir/<case>.tkir
    assert problems(name, EXPECTED[name], outcome(name)) == []


def test_there_are_at_least_thirty_malformed_ir_programs():
    assert len(EXPECTED) >= 30
    assert sorted(p.relative_to(CORPUS).as_posix() for p in (CORPUS / "ir").glob("*.tkir")) == sorted(EXPECTED)
