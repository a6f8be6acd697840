"""The IR text parser: reads what :mod:`tensorkiln.ir.printer` writes back into a Module.

The grammar (``ir.lark``) is parsed with lark's LALR parser; this module turns the tree into ops,
resolving value names in scope order, reading type tokens (``tensor<Nx784xf32>``), normalising
attributes by the kinds their op declares, and re-inferring result types to check the written ones.
Every error is a :class:`CompileError` with file, line, column and a caret.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .core import Block, Function, Module, Operation, Region, Value
from .diagnostics import CompileError, Location, location_in
from .opdef import lookup
from .types import (
    DTYPES,
    INDEX,
    Dim,
    DimOverflowError,
    MemRefType,
    ScalarType,
    SymDim,
    TensorType,
    Type,
    dim_add,
    dim_mul,
    fresh_anonymous_dim,
)


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = (Path(__file__).with_name("ir.lark")).read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


# --------------------------------------------------------------------------- types


def parse_dim_expr(text: str, anon: dict[str, SymDim] | None = None) -> Dim:
    """``784*N+M-1`` → a Dim. ``?`` is a fresh unknown dim; ``?3`` names one unknown dim, the same
    one everywhere ``anon`` (one table per function) is shared."""
    text = text.replace(" ", "")
    if not text:
        raise ValueError("empty dim")
    total: Dim = 0
    for sign, term in re.findall(r"([+-]?)([^+-]+)", text):
        prod: Dim = -1 if sign == "-" else 1
        for f in term.split("*"):
            if re.fullmatch(r"\d+", f):
                prod = dim_mul(prod, int(f))
            elif f == "?":
                prod = dim_mul(prod, fresh_anonymous_dim())
            elif re.fullmatch(r"\?\d+", f):
                table = anon if anon is not None else {}
                if f not in table:
                    table[f] = fresh_anonymous_dim()
                prod = dim_mul(prod, table[f])
            elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", f):
                prod = dim_mul(prod, SymDim.sym(f))
            else:
                raise ValueError(f"bad dim expression {text!r}")
        total = dim_add(total, prod)
    if sum(len(m.group()) for m in re.finditer(r"[+-]?[^+-]+", text)) != len(text):
        raise ValueError(f"bad dim {text!r}")
    return total


def _split_dims(inner: str) -> list[str]:
    """Split ``Nx(784*N)x10xf32`` on the ``x`` separators outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "x" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def parse_type_text(text: str, anon: dict[str, SymDim] | None = None) -> Type:
    text = text.strip()
    if text in DTYPES:
        return ScalarType(DTYPES[text])
    if text == "index":
        return INDEX
    m = re.fullmatch(r"(tensor|memref)<(.*)>", text)
    if not m:
        raise ValueError(f"unknown type '{text}'")
    kind, inner = m.groups()
    parts = _split_dims(inner)
    dt = parts[-1]
    if dt not in DTYPES:
        raise ValueError(f"unknown dtype '{dt}' in {text}")
    dims: list[Dim] = []
    for p in parts[:-1]:
        p = p.strip()
        if p.startswith("(") and p.endswith(")"):
            p = p[1:-1]
        dims.append(parse_dim_expr(p, anon))
    cls = TensorType if kind == "tensor" else MemRefType
    return cls(tuple(dims), DTYPES[dt])


# --------------------------------------------------------------------------- parser


class _Builder:
    def __init__(self, text: str, file: str):
        self.text = text
        self.file = file
        self.scopes: list[dict[str, Value]] = []
        self.anon: dict[str, SymDim] = {}

    def loc(self, node: Tree | Token) -> Location:
        if isinstance(node, Token):
            return location_in(self.text, self.file, node.line or 0, node.column or 0)
        meta = node.meta
        return location_in(self.text, self.file, getattr(meta, "line", 0), getattr(meta, "column", 0))

    def err(self, msg: str, node: Tree | Token) -> CompileError:
        return CompileError(msg, self.loc(node))

    # scopes --------------------------------------------------------------
    def lookup(self, tok: Token) -> Value:
        for scope in reversed(self.scopes):
            if str(tok) in scope:
                return scope[str(tok)]
        raise self.err(f"use of undefined value '{tok}'", tok)

    def define(self, tok: Token, v: Value) -> None:
        if any(str(tok) in s for s in self.scopes):
            raise self.err(f"redefinition of value '{tok}'", tok)
        self.scopes[-1][str(tok)] = v

    # pieces --------------------------------------------------------------
    def type(self, node: Tree) -> Type:
        tok = node.children[0]
        try:
            return parse_type_text(str(tok), self.anon)
        except ValueError as e:
            raise self.err(getattr(e, "message", str(e)), tok) from None

    def module(self, tree: Tree) -> Module:
        m = Module()
        for fn in tree.children:
            f = self.function(fn)
            if f.name in m.functions:
                raise self.err(f"redefinition of function @{f.name}", fn)
            m.add(f)
        return m

    def function(self, node: Tree) -> Function:
        name_tok, *rest = node.children
        params = [c for c in rest if isinstance(c, Tree) and c.data == "param"]
        results = next((c for c in rest if isinstance(c, Tree) and c.data in ("one_result", "many_results")), None)
        ops = [c for c in rest if isinstance(c, Tree) and c.data == "op"]
        self.anon = {}
        arg_types = [self.type(p.children[1]) for p in params]
        arg_names = [str(p.children[0])[1:] for p in params]
        res_types: list[Type] = []
        if results is not None:
            res_types = [self.type(t) for t in results.children if t is not None]
        f = Function(str(name_tok)[1:], arg_types, res_types, arg_names, loc=self.loc(node))
        self.scopes = [{}]
        for p, a in zip(params, f.args):
            self.define(p.children[0], a)
        for o in ops:
            self.op(o, f.body)
        term = f.body.terminator
        if term is None or term.name != "return":
            raise self.err(f"function @{f.name} must end with 'return'", node)
        got = [v.type for v in term.operands]
        if got != res_types:
            raise CompileError(
                f"@{f.name} returns ({', '.join(map(str, got))}) but is declared to return ({', '.join(map(str, res_types))})",
                term.loc)
        return f

    def op(self, node: Tree, block: Block) -> Operation:
        results: list[Token] = []
        operands: list[Token] = []
        name_node = attrs_node = None
        types: list[Tree] = []
        regions: list[Tree] = []
        for c in node.children:
            if c is None:
                continue
            if isinstance(c, Token) and c.type == "VALUE":
                (operands if name_node is not None else results).append(c)
            elif isinstance(c, Tree) and c.data == "opname":
                name_node = c
            elif isinstance(c, Tree) and c.data == "attr_dict":
                attrs_node = c
            elif isinstance(c, Tree) and c.data == "type":
                types.append(c)
            elif isinstance(c, Tree) and c.data == "region":
                regions.append(c)
        assert name_node is not None
        name = str(name_node.children[0])
        loc = self.loc(name_node)
        opdef = lookup(name, loc)
        vals = [self.lookup(t) for t in operands]
        opdef.check_operand_count(len(vals), loc)
        raw = self.attrs(attrs_node, opdef) if attrs_node is not None else {}
        attrs = opdef.complete_attributes(raw, loc)
        written = [self.type(t) for t in types]
        if name == "return":
            if written and written != [v.type for v in vals]:
                raise CompileError("return types do not match its operands", loc)
            result_types: list[Type] = []
        elif opdef.can_infer():
            try:
                result_types = opdef.infer([v.type for v in vals], attrs, loc)
            except DimOverflowError as e:  # raised by the result type, which has no location
                raise CompileError(e.message, loc) from None
            if written and written != result_types:
                raise CompileError(
                    f"'{name}' is written as returning {', '.join(map(str, written))} but its operands give "
                    f"{', '.join(map(str, result_types))}", loc)
        else:
            result_types = written
        if len(result_types) != len(results):
            raise CompileError(f"'{name}' has {len(result_types)} result(s) but {len(results)} name(s) are bound", loc)
        op = Operation(name, vals, result_types, attrs, loc=loc)
        block.append(op)
        for rnode in regions:
            op.add_region(self.region(rnode))
        if len(op.regions) != opdef.num_regions:
            raise CompileError(f"'{name}' takes {opdef.num_regions} region(s), got {len(op.regions)}", loc)
        for tok, r in zip(results, op.results):
            self.define(tok, r)
        return op

    def region(self, node: Tree) -> Region:
        region = Region()
        for bnode in node.children:
            label, *rest = bnode.children
            params = [c for c in rest if isinstance(c, Tree) and c.data == "param"]
            block = Block([self.type(p.children[1]) for p in params])
            region.add_block(block)
            self.scopes.append({})
            for p, a in zip(params, block.args):
                self.define(p.children[0], a)
            for o in rest:
                if isinstance(o, Tree) and o.data == "op":
                    self.op(o, block)
            self.scopes.pop()
        return region

    def attrs(self, node: Tree, opdef) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for a in node.children:
            if a is None:
                continue
            key_tok, value = a.children
            key = str(key_tok)
            if key in out:
                raise self.err(f"duplicate attribute '{key}'", key_tok)
            spec = opdef.attrs.get(key)
            if spec is None:
                raise self.err(f"'{opdef.name}' has no attribute '{key}'", key_tok)
            out[key] = self.attr_value(value, spec.kind, key_tok)
        return out

    def attr_value(self, node: Any, kind: str, where: Token) -> Any:
        data = node.data if isinstance(node, Tree) else None
        ch = node.children if isinstance(node, Tree) else []
        if data == "int":
            return int(ch[0])
        if data == "float":
            return float(str(ch[0]))
        if data == "true":
            return True
        if data == "false":
            return False
        if data == "string":
            return _unquote(str(ch[0]))
        if data == "list":
            sub = {"ints": "int", "dims": "dim"}.get(kind, kind)
            return [self.attr_value(c, sub, where) for c in ch if c is not None]
        if data == "anon_dim":
            return parse_dim_expr(str(ch[0]), self.anon)
        if data == "paren_dim":
            try:
                return parse_dim_expr(str(ch[0])[1:-1], self.anon)
            except ValueError as e:
                raise self.err(str(e), ch[0]) from None
        if data == "name":
            text = str(ch[0])
            if kind == "dtype":
                if text not in DTYPES:
                    raise self.err(f"unknown dtype '{text}'", ch[0])
                return DTYPES[text]
            if kind in ("dim", "dims"):
                return SymDim.sym(text)
            if kind == "type":
                try:
                    return parse_type_text(text)
                except ValueError as e:
                    raise self.err(str(e), ch[0]) from None
            raise self.err(f"unexpected name '{text}' for attribute '{where}'", ch[0])
        if data == "type_attr":
            return parse_type_text(str(ch[0]), self.anon)
        if data == "dense":
            _, body, t = ch
            ty = self.type(t)
            if not isinstance(ty, TensorType) or not ty.is_static:
                raise self.err("dense attribute needs a static tensor type", where)
            npdt = ty.dtype.np_dtype
            shape = tuple(int(d) for d in ty.shape)
            if isinstance(body, Tree) and body.data == "string":
                raw = _unquote(str(body.children[0]))
                if not raw.startswith("0x"):
                    raise self.err("dense string must be hex starting with 0x", where)
                try:
                    arr = np.frombuffer(bytes.fromhex(raw[2:]), dtype=npdt.newbyteorder("<")).astype(npdt)
                except ValueError as e:  # odd digits, or a byte count that is no whole number of elements
                    raise self.err(f"bad hex data for {ty}: {e}", where) from None
            else:
                try:
                    arr = np.array(self.attr_value(body, "dense_elem", where), dtype=npdt)
                except (OverflowError, ValueError) as e:
                    raise self.err(f"dense value does not fit {ty}: {e}", where) from None
                if arr.ndim == 0:  # a splat, as in MLIR: one value for every element
                    arr = np.full(shape, arr, dtype=npdt)
            try:
                return arr.reshape(shape)
            except ValueError:
                raise self.err(f"dense value with {arr.size} elements does not fit {ty}", where) from None
        raise self.err(f"bad attribute value for '{where}'", where)


def _unquote(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s[1:-1])


def parse_module(text: str, file: str = "<string>") -> Module:
    """Parse IR text into a Module. Raises CompileError (with caret) on any error."""
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(e, text, file) from None
    return _Builder(text, file).module(tree)


def _syntax_error(e: UnexpectedInput, text: str, file: str) -> CompileError:
    line, col = getattr(e, "line", 0) or 0, getattr(e, "column", 0) or 0
    if isinstance(e, UnexpectedToken):
        tok = e.token
        what = "end of input" if tok.type == "$END" else f"'{tok}'"
        msg = f"syntax error: unexpected {what}"
        if tok.type == "$END":
            lines = text.splitlines() or [""]
            line, col = len(lines), len(lines[-1]) + 1
    elif isinstance(e, UnexpectedCharacters):
        msg = f"syntax error: unexpected character {text[e.pos_in_stream]!r}" if e.pos_in_stream < len(text) else "syntax error"
    elif isinstance(e, UnexpectedEOF):
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        msg = "syntax error: unexpected end of input"
    else:
        msg = "syntax error"
    return CompileError(msg, location_in(text, file, line, col))
