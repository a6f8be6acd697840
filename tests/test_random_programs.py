"""Random DSL programs (``tests/programs.py``) checked end to end against numpy: the reference
interpreter on the front end's IR, and the compiled native code (``tk.compile``). Also unit tests of
the generator itself on hand-built trees, so the numpy side is known to be right independently."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import tensorkiln as tk
from tensorkiln.backends.reference import run_function

try:  # tests/ on sys.path (pytest's default rootdir-relative import mode)
    import programs as P
except ImportError:  # pragma: no cover - tests/ as a package
    from tests import programs as P

SETTINGS = settings(max_examples=60, deadline=None)


def assert_matches(got: object, prog: "P.Program") -> None:
    if isinstance(got, (tuple, list)):
        assert len(got) == 1, f"expected one result, got {len(got)}"
        got = got[0]
    got = np.asarray(got)
    assert got.dtype == np.float32, f"result dtype {got.dtype}, expected float32\n{prog.text}"
    assert got.shape == prog.expected.shape, f"result shape {got.shape}, expected {prog.expected.shape}\n{prog.text}"
    np.testing.assert_allclose(got, prog.expected, rtol=P.RTOL, atol=P.ATOL, err_msg=prog.text)


# --------------------------------------------------------------------------- end to end


@SETTINGS
@given(P.programs())
def test_reference_interpreter_on_dsl_agrees_with_numpy(prog: "P.Program") -> None:
    from tensorkiln.compiler.frontend.dsl import parse_dsl

    module = parse_dsl(prog.text)
    outs = run_function(module[prog.name], prog.inputs)
    assert_matches(outs, prog)


@SETTINGS
@given(P.programs())
def test_compiled_program_agrees_with_numpy(prog: "P.Program") -> None:
    mod = tk.compile(prog.text)
    out = getattr(mod, prog.name)(*prog.inputs)
    assert_matches(out, prog)


# --------------------------------------------------------------------------- the generator itself


def _x(shape=(4,), sym=("N",), index=0) -> "P.Node":
    return P.inp(index, shape, sym)


def test_render_and_evaluate_chain_example():
    x = _x()
    inner = P.binary("add", P.binary("mul", x, P.const(1.5)), P.const(0.25))
    root = P.binary("add", P.binary("mul", P.unary("tanh", inner), P.unary("sigmoid", x)), P.binary("mul", x, x))
    xv = np.array([-2.0, -0.5, 0.0, 1.25], np.float32)
    prog = P.make_program("chain", [("x", ("N",))], root, [xv])
    assert prog.text == (
        "def chain(x: f32[N]) -> f32[N] {\n"
        "    return tanh(x * 1.5 + 0.25) * sigmoid(x) + x * x\n"
        "}\n")
    want = np.tanh(xv * np.float32(1.5) + np.float32(0.25)) * (1 / (1 + np.exp(-xv))) + xv * xv
    assert prog.expected.dtype == np.float32 and prog.well_conditioned
    np.testing.assert_allclose(prog.expected, want, rtol=1e-6)


def test_render_reductions_with_keepdims_and_hoisting():
    x = _x((2, 3), ("B", 3))
    m = P.reduce("max", x, 1, keepdims=True)
    m.hoist = True
    root = P.reduce("mean", P.unary("exp", P.binary("sub", x, m)), 1, keepdims=False)
    xv = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    prog = P.make_program("stats", [("x", ("B", 3))], root, [xv])
    assert prog.text == (
        "def stats(x: f32[B, 3]) -> f32[B] {\n"
        "    t0 = max(x, axis=1, keepdims=true)\n"
        "    return mean(exp(x - t0), axis=1, keepdims=false)\n"
        "}\n")
    np.testing.assert_allclose(prog.expected, np.mean(np.exp(xv - xv.max(1, keepdims=True)), axis=1), rtol=1e-6)
    root.spell_keepdims = False
    assert "axis=1)\n" in P.render("stats", [("x", ("B", 3))], root)


def test_render_precedence_and_safe_forms():
    a, b, c = (_x((2,), (2,), i) for i in range(3))
    params = [("x", (2,)), ("y", (2,)), ("z", (2,))]

    def text(root: "P.Node") -> str:
        return P.render("f", params, root).splitlines()[1].strip()

    assert text(P.binary("sub", a, P.binary("sub", b, c))) == "return x - (y - z)"
    assert text(P.binary("sub", P.binary("sub", a, b), c)) == "return x - y - z"
    assert text(P.binary("mul", P.binary("add", a, b), c)) == "return (x + y) * z"
    assert text(P.binary("add", a, P.binary("mul", b, c))) == "return x + y * z"
    assert text(P.unary("neg", P.binary("add", a, b))) == "return -(x + y)"
    assert text(P.binary("sub", a, P.unary("neg", b))) == "return x - (-y)"
    assert text(P.binary("mul", P.unary("neg", a), b)) == "return -x * y"
    assert text(P.binary("div", a, b)) == "return x / (abs(y) + 1.0)"
    assert text(P.binary("div", a, P.const(0.5))) == "return x / 0.5"
    assert text(P.unary("log", a)) == "return log(abs(x) + 1.0)"
    assert text(P.unary("sqrt", a)) == "return sqrt(abs(x) + 1.0)"
    assert text(P.binary("maximum", a, P.const(1.5))) == "return maximum(x, 1.5)"
    w = P.where(P.binary("gt", a, P.const(-0.5)), a, P.binary("add", b, c))
    assert text(w) == "return where(x > -0.5, x, y + z)"
    xv, yv, zv = (np.array(v, np.float32) for v in ([1.0, -1.0], [3.0, 4.0], [0.5, 0.25]))
    prog = P.make_program("f", params, P.binary("div", w, c), [xv, yv, zv])
    np.testing.assert_allclose(prog.expected, np.where(xv > -0.5, xv, yv + zv) / (np.abs(zv) + 1), rtol=1e-6)


def test_broadcast_of_symbolic_shapes():
    assert P.broadcast(("N", 1), (3,)) == ("N", 3)
    assert P.broadcast((1, "M"), ("N", 1, 1)) == ("N", 1, "M")
    with pytest.raises(ValueError):
        P.broadcast((2,), (3,))


def test_conditioning_rejects_ties_and_non_finite_values():
    x, y = _x((3,), ("N",), 0), _x((3,), ("N",), 1)
    xv = np.array([0.5, 1.0, -1.0], np.float32)
    tie = P.make_program("f", [("x", ("N",)), ("y", ("N",))], P.where(P.binary("gt", x, y), x, y), [xv, xv.copy()])
    assert not tie.well_conditioned
    apart = P.make_program("f", [("x", ("N",)), ("y", ("N",))], P.where(P.binary("gt", x, y), x, y), [xv, xv + 0.5])
    assert apart.well_conditioned
    raw_log = P.Node("log", (x,), x.shape, x.sym, 1.0)  # log of a negative number: what unary() prevents
    assert not P.make_program("f", [("x", ("N",))], raw_log, [xv]).well_conditioned


@settings(max_examples=200, deadline=None)
@given(P.programs())
def test_generated_programs_are_consistent(prog: "P.Program") -> None:
    assert prog.expected.dtype == np.float32 and prog.expected.shape == prog.root.shape
    assert np.all(np.isfinite(prog.expected))
    assert prog.text.startswith(f"def {prog.name}(") and "return " in prog.text
    assert 1 <= len(prog.inputs) <= 3
    # Every node stays within the magnitude bound, and the bound holds for the actual values.
    for n in _walk(prog.root):
        assert n.bound <= P.LIMIT + 1.0 or n.kind == "const", (n.kind, n.bound)  # +1: abs(x) + 1.0
    assert np.all(np.abs(prog.expected) <= prog.root.bound * (1 + 1e-5) + 1e-6)
    # A symbol names one size throughout the signature.
    sizes: dict[str, int] = {}
    header = prog.text.splitlines()[0]
    for name in P.INPUT_NAMES[:len(prog.inputs)]:
        assert f"{name}: " in header
    leaves = [n for n in _walk(prog.root) if n.kind == "input"]
    for leaf in leaves:
        for d, s in zip(leaf.sym, prog.inputs[leaf.index].shape):
            if isinstance(d, str):
                assert sizes.setdefault(d, s) == s
            else:
                assert d == s


def _walk(root: "P.Node"):
    seen, stack = set(), [root]
    while stack:
        n = stack.pop()
        if id(n) not in seen:
            seen.add(id(n))
            yield n
            stack.extend(n.args)
