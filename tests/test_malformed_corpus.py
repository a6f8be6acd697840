"""The malformed-program corpus (``tests/corpus/malformed``: DSL and IR files with their expected
CompileErrors) compiled in a subprocess, so a crash or a hang in the compiler is caught and named
instead of taking the test run down; and the harness itself shown to catch both.
"""
from __future__ import annotations

import time

from malformed_corpus import expectations, problems, run_in_subprocesses  # type: ignore[import-not-found]


def test_corpus_compiles_to_its_documented_errors_in_a_subprocess():
    expected = expectations()
    assert len(expected) >= 50
    assert sum(n.startswith("dsl/") for n in expected) >= 35 and sum(n.startswith("ir/") for n in expected) >= 30
    results, crashed = run_in_subprocesses(sorted(expected))
    assert not crashed, f"cases crashed or hung: {crashed}"
    bad = {n: problems(n, expected[n], results.get(n, {})) for n in sorted(expected)}
    bad = {n: p for n, p in bad.items() if p}
    assert not bad, "\n".join(f"{n}: {'; '.join(p)}" for n, p in bad.items())


def test_harness_names_a_segfault_and_a_hang_and_goes_on(monkeypatch):
    names = sorted(expectations())[:6]
    monkeypatch.setenv("TENSORKILN_CORPUS_INJECT", f"{names[1]}=segfault,{names[4]}=hang")
    start = time.perf_counter()
    results, crashed = run_in_subprocesses(names, case_timeout=1.5)
    assert set(crashed) == {names[1], names[4]}, crashed
    assert "confirmed alone" in crashed[names[1]] and "Segmentation fault" in crashed[names[1]]
    assert "confirmed alone" in crashed[names[4]] and "Timeout" in crashed[names[4]]
    # every other case still ran, in later children, and passed
    assert sorted(results) == sorted(set(names) - set(crashed))
    expected = expectations()
    assert all(not problems(n, expected[n], results[n]) for n in results)
    assert time.perf_counter() - start < 60
