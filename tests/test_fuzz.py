"""Differential fuzzing: random graphs (tests/fuzz_graphs.py) compiled to native code must agree
with the reference interpreter. CI runs a bounded number; `make fuzz MINUTES=n` runs longer
(tools/fuzz.py). Tolerance: rtol 2e-4 (f32) / 1e-9 (f64), atol scaled by the result's magnitude."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from tensorkiln.backends.reference.interpreter import run_function
from tensorkiln.ir.core import Module
from tensorkiln.runtime.compiled_module import compile_graph_module

from fuzz_graphs import Case, graphs  # type: ignore[import-not-found]


def check_case(case: Case) -> None:
    want = run_function(case.func, [a.copy() for a in case.args])
    cm = compile_graph_module(Module([case.func]), use_cache=False)
    got = cm["fuzz"].call([a.copy() for a in case.args])
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        f32 = w.dtype == np.float32
        scale = max(1.0, float(np.max(np.abs(w)))) if w.size else 1.0
        np.testing.assert_allclose(g, w, rtol=2e-4 if f32 else 1e-9, atol=(1e-4 if f32 else 1e-9) * scale)


@settings(max_examples=120, deadline=None)
@given(graphs())
def test_random_graphs_agree_with_the_reference(case: Case) -> None:
    check_case(case)


@settings(max_examples=40, deadline=None)
@given(graphs())
def test_random_graphs_under_bounds_checks(case: Case) -> None:
    """The same corpus compiled with every load and store range-checked: no access may fall outside
    its buffer (native code would return ERR_OUT_OF_BOUNDS, raised as RuntimeError)."""
    import os

    old = os.environ.get("TENSORKILN_BOUNDS_CHECK")
    os.environ["TENSORKILN_BOUNDS_CHECK"] = "1"
    try:
        check_case(case)
    finally:
        if old is None:
            del os.environ["TENSORKILN_BOUNDS_CHECK"]
        else:
            os.environ["TENSORKILN_BOUNDS_CHECK"] = old
