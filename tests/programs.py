"""A hypothesis generator of random DSL programs with numpy-computed expected outputs.

This module owns :func:`programs`, a strategy drawing a :class:`Program`: the DSL text of one
function built from elementwise, broadcast and reduction expressions over 1–3 ``f32`` inputs of
random shapes that broadcast together (some dims symbolic, e.g. ``f32[N, 3]``), the input arrays,
and the expected output. The generator builds an expression tree (:class:`Node`) once and renders
it twice: as DSL text (:func:`render`) and as a numpy evaluation (:func:`evaluate`, in float32), so
the expectation never depends on the compiler.

Values stay finite and well-conditioned by construction: every node carries a bound on its
magnitude, and an operand that would push a result past :data:`LIMIT` is squashed with ``tanh``
first; ``log``/``sqrt`` are taken of ``abs(x) + 1.0`` and division is by ``abs(y) + 1.0``. As a last
guard a drawn program is kept only if its float32 evaluation agrees with a float64 one to a tenth of
the test tolerance and no ``where`` condition is closer to a tie than :data:`MIN_MARGIN`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st

RTOL = 1e-4
ATOL = 1e-5
LIMIT = 10.0  # bound on |value| of every node
MIN_MARGIN = 1e-3  # smallest |p - q| allowed in a where condition
INPUT_RANGE = 2.0  # inputs are uniform in [-INPUT_RANGE, INPUT_RANGE]
CONSTANTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
INPUT_NAMES = ("x", "y", "z")
SYMBOLS = ("N", "M", "B")
LONG_DIMS = (7, 8, 16, 17, 33)  # innermost sizes that cross common vector widths

UNARY = ("neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "square")
BINARY_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
BINARY_CALLS = ("maximum", "minimum")
COMPARE_OPS = {"gt": ">", "lt": "<", "ge": ">=", "le": "<="}
REDUCTIONS = ("sum", "mean", "max", "min")

SymShape = tuple[Any, ...]  # int or symbol name per dim


# --------------------------------------------------------------------------- the tree


@dataclass(eq=False)
class Node:
    """One expression. ``kind`` is ``input``, ``const``, a unary/binary/compare op name, ``where`` or
    a reduction; ``shape`` is the concrete shape, ``sym`` its spelling in the DSL signature."""

    kind: str
    args: tuple["Node", ...] = ()
    shape: tuple[int, ...] = ()
    sym: SymShape = ()
    bound: float = 0.0
    value: float = 0.0  # const
    index: int = 0  # input
    axis: int = 0  # reduction
    keepdims: bool = False  # reduction
    spell_keepdims: bool = True  # reduction: write keepdims=false rather than leave it out
    hoist: bool = False  # render as a named statement


def broadcast(a: Sequence[Any], b: Sequence[Any]) -> tuple[Any, ...]:
    """numpy broadcasting of concrete or symbolic shapes (a symbol broadcasts against 1 only)."""
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + tuple(a)
    pb = (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(pa, pb):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ValueError(f"shapes {a} and {b} do not broadcast")
    return tuple(out)


def inp(index: int, shape: Sequence[int], sym: Sequence[Any]) -> Node:
    return Node("input", shape=tuple(shape), sym=tuple(sym), bound=INPUT_RANGE, index=index)


def const(value: float) -> Node:
    return Node("const", bound=abs(value), value=float(value))


def unary(kind: str, a: Node) -> Node:
    """A unary node; ``log``/``sqrt`` get their ``abs(a) + 1.0`` argument built here."""
    if kind in ("log", "sqrt"):
        a = binary("add", unary("abs", a), const(1.0))
    b = a.bound
    bound = {"neg": b, "abs": b, "relu": b, "square": b * b, "exp": math.exp(min(b, 50.0)),
             "log": math.log(b) if b > 0 else 0.0, "sqrt": math.sqrt(b), "tanh": 1.0, "sigmoid": 1.0}[kind]
    return Node(kind, (a,), a.shape, a.sym, bound)


def binary(kind: str, a: Node, b: Node) -> Node:
    """A binary node (``add sub mul div maximum minimum`` or a comparison); ``div`` divides by
    ``abs(b) + 1.0``, or by ``b`` itself when it is a (positive) constant."""
    if kind == "div" and b.kind != "const":
        b = binary("add", unary("abs", b), const(1.0))
    if kind in ("add", "sub"):
        bound = a.bound + b.bound
    elif kind == "mul":
        bound = a.bound * b.bound
    elif kind == "div":
        bound = a.bound / min(b.value, 1.0) if b.kind == "const" else a.bound
    elif kind in BINARY_CALLS:
        bound = max(a.bound, b.bound)
    else:  # comparison
        bound = 1.0
    return Node(kind, (a, b), broadcast(a.shape, b.shape), broadcast(a.sym, b.sym), bound)


def where(cond: Node, a: Node, b: Node) -> Node:
    shape = broadcast(broadcast(cond.shape, a.shape), b.shape)
    sym = broadcast(broadcast(cond.sym, a.sym), b.sym)
    return Node("where", (cond, a, b), shape, sym, max(a.bound, b.bound))


def reduce(kind: str, a: Node, axis: int, keepdims: bool) -> Node:
    assert 0 <= axis < len(a.shape)
    size = a.shape[axis]
    pick = (lambda s: s[:axis] + (1,) + s[axis + 1:]) if keepdims else (lambda s: s[:axis] + s[axis + 1:])
    bound = a.bound * size if kind == "sum" else a.bound
    return Node(kind, (a,), pick(a.shape), pick(a.sym), bound, axis=axis, keepdims=keepdims)


def squash(a: Node) -> Node:
    return unary("tanh", a)


def _bounded_binary(kind: str, a: Node, b: Node) -> Node:
    """``binary(kind, a, b)``, with the non-constant operands squashed if the result could exceed
    :data:`LIMIT` (a literal is never wrapped in a call of its own)."""
    n = binary(kind, a, b)
    if n.bound <= LIMIT:
        return n
    return binary(kind, a if a.kind == "const" else squash(a), b if b.kind == "const" else squash(b))


def _bounded_reduce(kind: str, a: Node, axis: int, keepdims: bool) -> Node:
    """``reduce(kind, a, ...)``; a sum that could exceed :data:`LIMIT` squashes its operand, or
    becomes a mean when the axis is longer than the limit itself."""
    if kind == "sum" and a.bound * a.shape[axis] > LIMIT:
        if a.shape[axis] > LIMIT:
            kind = "mean"
        else:
            a = squash(a)
    return reduce(kind, a, axis, keepdims)


# --------------------------------------------------------------------------- numpy evaluation

_NP_UNARY = {
    "neg": np.negative, "abs": np.abs, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "relu": lambda x: np.maximum(x, 0), "square": lambda x: x * x,
}
_NP_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "maximum": np.maximum, "minimum": np.minimum,
    "gt": np.greater, "lt": np.less, "ge": np.greater_equal, "le": np.less_equal,
}
_NP_REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}


def evaluate(root: Node, inputs: Sequence[np.ndarray], dtype: Any = np.float32,
             margins: list[float] | None = None) -> np.ndarray:
    """Evaluate the tree with numpy, every intermediate in ``dtype``. ``margins`` collects, per
    comparison, the smallest ``|p - q|`` seen."""
    dt = np.dtype(dtype)
    memo: dict[int, np.ndarray] = {}

    def ev(n: Node) -> np.ndarray:
        if id(n) in memo:
            return memo[id(n)]
        if n.kind == "input":
            r = np.asarray(inputs[n.index], dt)
        elif n.kind == "const":
            r = np.asarray(n.value, dt)
        elif n.kind in _NP_UNARY:
            r = _NP_UNARY[n.kind](ev(n.args[0]))
        elif n.kind in _NP_BINARY:
            a, b = ev(n.args[0]), ev(n.args[1])
            r = _NP_BINARY[n.kind](a, b)
            if n.kind in COMPARE_OPS and margins is not None:
                margins.append(float(np.min(np.abs(a - b))) if np.size(r) else math.inf)
        elif n.kind == "where":
            r = np.where(ev(n.args[0]), ev(n.args[1]), ev(n.args[2]))
        elif n.kind in _NP_REDUCE:
            kw = {"dtype": dt} if n.kind in ("sum", "mean") else {}
            r = _NP_REDUCE[n.kind](ev(n.args[0]), axis=n.axis, keepdims=n.keepdims, **kw)
        else:
            raise AssertionError(n.kind)
        r = np.asarray(r)
        if r.dtype != np.bool_:
            r = r.astype(dt, copy=False)
        assert r.shape == n.shape, (n.kind, r.shape, n.shape)
        memo[id(n)] = r
        return r

    with np.errstate(all="ignore"):
        return ev(root)


# --------------------------------------------------------------------------- DSL text

_PREC = {"add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3}
_ATOM = 4


def type_text(sym: SymShape) -> str:
    return "f32" if not sym else "f32[" + ", ".join(str(d) for d in sym) + "]"


def _float_text(v: float) -> str:
    text = repr(float(v))
    assert "e" not in text and "inf" not in text and "nan" not in text, text
    return text


class _Renderer:
    def __init__(self, names: Sequence[str]):
        self.names = names
        self.lines: list[str] = []
        self.hoisted: dict[int, str] = {}

    def expr(self, n: Node) -> tuple[str, int]:
        if id(n) in self.hoisted:
            return self.hoisted[id(n)], _ATOM
        text, prec = self._expr(n)
        if n.hoist and n.kind not in ("input", "const"):
            name = f"t{len(self.hoisted)}"
            self.lines.append(f"    {name} = {text}")
            self.hoisted[id(n)] = name
            return name, _ATOM
        return text, prec

    def _expr(self, n: Node) -> tuple[str, int]:
        if n.kind == "input":
            return self.names[n.index], _ATOM
        if n.kind == "const":
            return _float_text(n.value), (_ATOM if n.value >= 0 else _PREC["neg"])
        if n.kind == "neg":
            a, p = self.expr(n.args[0])
            return ("-" + a if p == _ATOM else f"-({a})"), _PREC["neg"]
        if n.kind in UNARY:
            return f"{n.kind}({self.expr(n.args[0])[0]})", _ATOM
        if n.kind in BINARY_OPS:
            p = _PREC[n.kind]
            (a, pa), (b, pb) = self.expr(n.args[0]), self.expr(n.args[1])
            if pa < p:
                a = f"({a})"
            if pb <= p or b.startswith("-"):  # keep the tree's association; wrap a negation on the right
                b = f"({b})"
            return f"{a} {BINARY_OPS[n.kind]} {b}", p
        if n.kind in BINARY_CALLS:
            return f"{n.kind}({self.expr(n.args[0])[0]}, {self.expr(n.args[1])[0]})", _ATOM
        if n.kind in COMPARE_OPS:
            return f"{self.expr(n.args[0])[0]} {COMPARE_OPS[n.kind]} {self.expr(n.args[1])[0]}", 0
        if n.kind == "where":
            c, a, b = (self.expr(x)[0] for x in n.args)
            return f"where({c}, {a}, {b})", _ATOM
        if n.kind in REDUCTIONS:
            kd = ", keepdims=true" if n.keepdims else (", keepdims=false" if n.spell_keepdims else "")
            return f"{n.kind}({self.expr(n.args[0])[0]}, axis={n.axis}{kd})", _ATOM
        raise AssertionError(n.kind)


def render(name: str, params: Sequence[tuple[str, SymShape]], root: Node) -> str:
    """The DSL text of ``def name(params) -> type { ... return root }``."""
    r = _Renderer([p for p, _ in params])
    ret, _ = r.expr(root)
    sig = ", ".join(f"{p}: {type_text(s)}" for p, s in params)
    body = "\n".join(r.lines + [f"    return {ret}"])
    return f"def {name}({sig}) -> {type_text(root.sym)} {{\n{body}\n}}\n"


# --------------------------------------------------------------------------- programs


@dataclass
class Program:
    name: str
    text: str
    inputs: list[np.ndarray]
    expected: np.ndarray  # float32, computed by numpy from the tree
    root: Node = field(repr=False)
    well_conditioned: bool = field(default=True, repr=False)

    def __repr__(self) -> str:  # hypothesis prints this on failure
        shapes = ", ".join(str(list(a.shape)) for a in self.inputs)
        return f"Program(shapes=[{shapes}])\n{self.text}"


def check_conditioning(root: Node, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, bool]:
    """The float32 expectation, and whether it is trustworthy (finite, close to float64, no near-ties)."""
    margins: list[float] = []
    e32 = evaluate(root, inputs, np.float32, margins)
    e64 = evaluate(root, inputs, np.float64)
    ok = bool(np.all(np.isfinite(e64)) and np.all(np.isfinite(e32)))
    ok = ok and bool(np.all(np.abs(e32 - e64) <= 0.1 * (ATOL + RTOL * np.abs(e64))))
    ok = ok and all(m >= MIN_MARGIN for m in margins)
    return e32, ok


@st.composite
def _raw_programs(draw: st.DrawFn, max_ops: int = 8) -> Program:
    rank = (draw(st.integers(0, 6)) + 1) // 2  # 0 rarely, 1-3 evenly
    sizes = [draw(st.integers(1, 5)) for _ in range(rank)]
    if rank and draw(st.integers(0, 3)) == 0:  # a longer innermost dim: vector loops and their tails
        sizes[-1] = draw(st.sampled_from(LONG_DIMS))
    symbolic = [draw(st.integers(0, 2)) == 0 for _ in range(rank)]
    syms = [SYMBOLS[i] if s else None for i, s in enumerate(symbolic)]
    n_inputs = draw(st.integers(1, 3))
    params: list[tuple[str, SymShape]] = []
    terms: list[Node] = []
    for i in range(n_inputs):
        r = draw(st.integers(0, rank)) if draw(st.integers(0, 3)) == 0 else rank
        shape, sym = [], []
        for axis in range(rank - r, rank):
            full = draw(st.integers(0, 3)) > 0
            shape.append(sizes[axis] if full else 1)
            sym.append((syms[axis] or sizes[axis]) if full else 1)
        params.append((INPUT_NAMES[i], tuple(sym)))
        terms.append(inp(i, shape, sym))

    def fit(n: Node, limit: float = LIMIT) -> Node:
        return n if n.bound <= limit else squash(n)

    def pop() -> Node:
        return terms.pop(draw(st.integers(0, len(terms) - 1)))

    n_ops = draw(st.integers(1, max_ops))
    for _ in range(n_ops):
        action = draw(st.sampled_from(["unary", "unary", "binary", "binary", "const", "reduce", "where"]))
        if action == "binary" and len(terms) < 2:
            action = "const"
        if action == "reduce" and not any(t.shape for t in terms):
            action = "unary"
        if action == "unary":
            a = pop()
            kind = draw(st.sampled_from(UNARY))
            limit = {"exp": math.log(LIMIT), "square": math.sqrt(LIMIT)}.get(kind, LIMIT)
            terms.append(unary(kind, fit(a, limit)))
        elif action in ("binary", "const"):
            a = pop()
            b = pop() if action == "binary" else const(draw(st.sampled_from(CONSTANTS)))
            if action == "const" and draw(st.booleans()):
                a, b = b, a
            kind = draw(st.sampled_from(list(BINARY_OPS) + list(BINARY_CALLS)))
            terms.append(_bounded_binary(kind, a, b))
        elif action == "reduce":
            a = terms.pop(draw(st.sampled_from([i for i, t in enumerate(terms) if t.shape])))
            kind = draw(st.sampled_from(REDUCTIONS))
            axis = draw(st.integers(0, len(a.shape) - 1))
            terms.append(_bounded_reduce(kind, a, axis, keepdims=True))  # keepdims: it broadcasts back
        else:  # where(p > q, a, b) with p, q drawn from existing terms and constants
            p = pop()
            q = pop() if terms and draw(st.booleans()) else const(draw(st.sampled_from(CONSTANTS)) - 1.0)
            cond = binary(draw(st.sampled_from(list(COMPARE_OPS))), p, q)
            other = terms.pop() if terms and draw(st.booleans()) else unary(draw(st.sampled_from(UNARY[:3] + ("tanh",))), fit(p, math.log(LIMIT)))
            branches = [p, other] if draw(st.booleans()) else [other, p]
            terms.append(where(cond, *branches))
        if draw(st.integers(0, 3)) == 0:
            terms[-1].hoist = True
    while len(terms) > 1:
        a, b = pop(), pop()
        kind = draw(st.sampled_from(list(BINARY_OPS) + list(BINARY_CALLS)))
        terms.append(_bounded_binary(kind, a, b))
    root = terms[0]
    if root.shape and draw(st.booleans()):
        axis = draw(st.integers(0, len(root.shape) - 1))
        kind = draw(st.sampled_from(REDUCTIONS))
        root = _bounded_reduce(kind, root, axis, keepdims=draw(st.booleans()))
        root.spell_keepdims = draw(st.booleans())
        root.hoist = draw(st.integers(0, 3)) == 0

    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-INPUT_RANGE, INPUT_RANGE, size=t.shape).astype(np.float32) for t in _inputs(root, n_inputs)]
    name = draw(st.sampled_from(["prog", "f", "kernel"]))
    text = render(name, params, root)
    expected, ok = check_conditioning(root, arrays)
    return Program(name, text, arrays, expected, root, ok)


def _inputs(root: Node, n_inputs: int) -> list[Node]:
    """The input nodes of the tree, by index (every input is used: the generator combines them all)."""
    found: dict[int, Node] = {}
    stack = [root]
    while stack:
        n = stack.pop()
        if n.kind == "input":
            found[n.index] = n
        stack.extend(n.args)
    assert sorted(found) == list(range(n_inputs)), (sorted(found), n_inputs)
    return [found[i] for i in range(n_inputs)]


def programs(max_ops: int = 8) -> st.SearchStrategy[Program]:
    """Random well-conditioned DSL programs with their inputs and float32 expected outputs."""
    return _raw_programs(max_ops).filter(lambda p: p.well_conditioned)


def make_program(name: str, params: Sequence[tuple[str, SymShape]], root: Node, inputs: Sequence[np.ndarray]) -> Program:
    """A :class:`Program` from a hand-built tree (for unit tests of the generator itself)."""
    expected, ok = check_conditioning(root, inputs)
    return Program(name, render(name, params, root), list(inputs), expected, root, ok)
