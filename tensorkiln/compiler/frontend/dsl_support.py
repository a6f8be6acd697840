"""Support for the DSL front end: the builtin table, literals, syntax-error messages and type
helpers that :mod:`.dsl` uses while elaborating a program into graph-dialect IR."""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Union

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex
from lark.lexer import PatternStr

from ...ir.core import Value
from ...ir.diagnostics import CompileError, location_in
from ...ir.dialects.graph import UNARY_OPS
from ...ir.types import Dim, DType, SymDim, TensorType, f32, i64



Node = Union[Tree, Token]


# --------------------------------------------------------------------------- parsing


class _NewlinesInBrackets(PostLex):
    """Newlines end statements, except inside (...) and [...] where calls and lists may wrap."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        for tok in stream:
            if tok.type == "_NL":
                if depth:
                    continue
            elif tok.value in ("(", "["):
                depth += 1
            elif tok.value in (")", "]"):
                depth = max(depth - 1, 0)
            elif tok.value in ("{", "}"):
                depth = 0  # braces never nest in brackets; resetting keeps later errors precise
            yield tok


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = Path(__file__).with_name("dsl.lark").read_text()
    return Lark(grammar, parser="lalr", postlex=_NewlinesInBrackets(), propagate_positions=True,
                maybe_placeholders=True)



_TERMINAL_NAMES = {"NAME": "a name", "INT": "an integer", "FLOAT": "a number", "_NL": "a newline",
                   "CMP": "a comparison", "$END": "end of input"}


def _syntax_error(e: UnexpectedInput, text: str, file: str) -> CompileError:
    line, col = getattr(e, "line", 0) or 0, getattr(e, "column", 0) or 0
    if isinstance(e, UnexpectedToken):
        tok = e.token
        if tok.type == "$END":
            line, col = _end_of_text(text)
            what = "end of input"
        else:
            line, col = tok.line or line, tok.column or col
            what = "end of line" if tok.type == "_NL" else f"'{tok}'"
        msg = f"syntax error: unexpected {what}{_expected(e.accepts or e.expected)}"
    elif isinstance(e, UnexpectedCharacters):
        msg = f"syntax error: unexpected character {text[e.pos_in_stream]!r}"
    elif isinstance(e, UnexpectedEOF):
        line, col = _end_of_text(text)
        msg = "syntax error: unexpected end of input"
    else:  # pragma: no cover - lark has no other UnexpectedInput kinds
        msg = "syntax error"
    return CompileError(msg, location_in(text, file, line, col))


def _end_of_text(text: str) -> tuple[int, int]:
    body = text.rstrip()
    return body.count("\n") + 1, len(body) - (body.rfind("\n") + 1) + 1


def _expected(names: set[str]) -> str:
    if not names or len(names) > 4:
        return ""  # a long list of every operator helps nobody
    shown = []
    for n in names:
        if n in _TERMINAL_NAMES:
            shown.append(_TERMINAL_NAMES[n])
            continue
        pattern = _lark().get_terminal(n).pattern
        shown.append(f"'{pattern.value}'" if isinstance(pattern, PatternStr) else n.lower())
    return "; expected " + " or ".join(sorted(shown))


# --------------------------------------------------------------------------- builtins

_REQUIRED = object()


@dataclass(frozen=True)
class Builtin:
    """A DSL builtin: the graph op it becomes, how many tensor operands it takes (None: any
    number), its attributes ``name -> (kind, default)`` and which attributes may be positional."""

    op: str
    kind: str  # elementwise | plain | reduce | matmul | transpose | concat | fill
    tensors: int | None = 1
    attrs: dict[str, tuple[str, Any]] = field(default_factory=dict)
    positional: tuple[str, ...] = ()


def _builtins() -> dict[str, Builtin]:
    t: dict[str, Builtin] = {n: Builtin(f"graph.{n}", "elementwise") for n in UNARY_OPS}
    for n in ("maximum", "minimum", "pow", "floordiv", "mod", "logical_and", "logical_or", "logical_xor"):
        t[n] = Builtin(f"graph.{n}", "elementwise", 2)
    t["where"] = Builtin("graph.where", "elementwise", 3)
    t["cast"] = Builtin("graph.cast", "elementwise", 1, {"dtype": ("dtype", _REQUIRED)}, ("dtype",))
    for n in ("sum", "mean", "max", "min", "prod"):
        t[n] = Builtin(f"graph.reduce_{n}", "reduce", 1, {"axis": ("axes", None), "keepdims": ("bool", False)})
    for n in ("argmax", "argmin"):
        t[n] = Builtin(f"graph.{n}", "reduce", 1, {"axis": ("int", _REQUIRED), "dtype": ("dtype", i64)})
    t["matmul"] = Builtin("graph.matmul", "matmul", 2, {"transpose_a": ("bool", False), "transpose_b": ("bool", False)})
    t["transpose"] = Builtin("graph.transpose", "transpose", 1, {"perm": ("ints", None)}, ("perm",))
    t["reshape"] = Builtin("graph.reshape", "plain", 1, {"shape": ("dims", _REQUIRED)}, ("shape",))
    t["broadcast_to"] = Builtin("graph.broadcast_to", "plain", 1, {"shape": ("dims", _REQUIRED)}, ("shape",))
    t["concat"] = Builtin("graph.concat", "concat", None, {"axis": ("int", 0)})
    for n in ("softmax", "log_softmax"):
        t[n] = Builtin(f"graph.{n}", "plain", 1, {"axis": ("int", -1)})
    t["one_hot"] = Builtin("graph.one_hot", "plain", 1, {
        "depth": ("int", _REQUIRED), "axis": ("int", -1), "on_value": ("float", 1.0),
        "off_value": ("float", 0.0), "dtype": ("dtype", None)})
    t["slice"] = Builtin("graph.slice", "plain", 1, {"begin": ("ints", _REQUIRED), "size": ("dims", _REQUIRED),
                                                     "strides": ("ints", None)}, ("begin", "size"))
    t["gather"] = Builtin("graph.gather", "plain", 2, {"axis": ("int", 0)})
    for n in ("zeros", "ones"):
        t[n] = Builtin("graph.broadcast_to", "fill", 0, {"shape": ("dims", _REQUIRED), "dtype": ("dtype", f32)}, ("shape",))
    t["fill"] = Builtin("graph.broadcast_to", "fill", 0, {
        "shape": ("dims", _REQUIRED), "value": ("scalar", _REQUIRED), "dtype": ("dtype", None)}, ("shape", "value"))
    return t


BUILTINS: dict[str, Builtin] = _builtins()

_BINOPS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "//": "floordiv", "%": "mod", "**": "pow",
           "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
_FOLD = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
         "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "<": operator.lt,
         "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
_KIND_TEXT = {"int": "an integer", "axes": "an integer or a list of integers", "ints": "a list of integers",
              "dims": "a list of dims (integers or signature dim names)", "bool": "true or false",
              "float": "a number", "scalar": "a number or a boolean", "dtype": "a dtype"}


# --------------------------------------------------------------------------- values


@dataclass
class Lit:
    """A literal not yet given a dtype: it takes the dtype of the tensors it meets."""

    value: Any  # a Python scalar or nested lists of them
    kind: str  # "int" | "float" | "bool"
    node: Node

    @property
    def is_scalar(self) -> bool:
        return not isinstance(self.value, list)


def _leaves(v: Any) -> list[Any]:
    return [x for item in v for x in _leaves(item)] if isinstance(v, list) else [v]


@dataclass
class _Sig:
    name: str
    name_tok: Token
    param_names: list[str]
    param_types: list[TensorType]
    result_types: list[TensorType]
    dim_names: list[str]
    body: Tree


@dataclass
class _Scope:
    fname: str
    dims: dict[str, Dim]
    vars: dict[str, Value | Lit] = field(default_factory=dict)


Operand = Union[Value, Lit]


def _is_anon(d: Dim) -> bool:
    return isinstance(d, SymDim) and d.is_symbol and d.name.startswith("?")


def type_str(t: TensorType) -> str:
    """DSL spelling of a tensor type: ``f32[N, 10]``, ``f32`` for a scalar."""
    dims = ", ".join("?" if _is_anon(d) else str(d) for d in t.shape)
    return t.dtype.name + (f"[{dims}]" if t.shape else "")


def _matches(want: TensorType, got: TensorType) -> bool:
    return (want.dtype == got.dtype and want.rank == got.rank
            and all(_is_anon(w) or w == g for w, g in zip(want.shape, got.shape)))


def _subst(t: TensorType, binding: dict[str, Dim]) -> TensorType:
    return TensorType(tuple(d.substitute(binding) if isinstance(d, SymDim) else d for d in t.shape), t.dtype)


def _kids(node: Tree) -> list[Any]:
    return [c for c in node.children if c is not None]


# --------------------------------------------------------------------------- elaboration


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _fits(v: Any, kind: str) -> bool:
    """Whether a static attribute value has the attribute's kind."""
    if kind in ("ints", "dims", "axes") and isinstance(v, list):
        return all(_is_int(x) or (kind == "dims" and isinstance(x, SymDim)) for x in v)
    return {"int": _is_int(v), "axes": _is_int(v), "bool": isinstance(v, bool), "dtype": isinstance(v, DType),
            "float": _is_int(v) or isinstance(v, float), "scalar": isinstance(v, (int, float))}.get(kind, False)


def _bind(param: TensorType, arg: TensorType, binding: dict[str, Dim]) -> str | None:
    """Bind ``param``'s dim names to ``arg``'s dims; None when they fit, else the reason."""
    if param.dtype != arg.dtype or param.rank != arg.rank:
        return ""
    for p, a in zip(param.shape, arg.shape):
        if isinstance(p, SymDim):
            if _is_anon(p):
                continue
            if p.name in binding and binding[p.name] != a:
                return f" ({p.name} is bound to {binding[p.name]} by an earlier argument)"
            binding[p.name] = a
        elif p != a:
            return ""
    return None
