"""The IR text printer: deterministic, MLIR-like text for modules, functions and ops.

Names are handed out at print time (function arguments keep their source names when they are valid
and unique, every other value is ``%0, %1, …`` in order of definition), attributes are sorted by key,
and every value's type is shown where it is defined — so the text is stable and golden tests can
compare it. :mod:`tensorkiln.ir.parser` reads this text back.
"""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from .core import Block, Function, Module, Operation, Value
from .types import DType, SymDim, Type, anonymous_symbols, dim_str, format_type

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def param_names(f: Function) -> list[str]:
    """The names the printer writes for ``f``'s parameters (and the parser reads back): the name
    hint when it is a free identifier, else ``argN``."""
    used: set[str] = set()
    names = []
    for i, a in enumerate(f.args):
        hint = a.name_hint
        if not hint or not _IDENT.match(hint) or hint in used:
            hint = f"arg{i}"
            while hint in used:
                hint += "_"
        used.add(hint)
        names.append(hint)
    return names
# Above this many elements a dense attribute is printed as hex bytes (exact and compact).
DENSE_HEX_THRESHOLD = 16


def format_float(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    r = repr(float(x))
    return r if ("." in r or "e" in r or "n" in r) else r + ".0"


def _scalar_str(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return format_float(float(x))


def format_dense(value: np.ndarray) -> str:
    t = f"tensor<{''.join(f'{d}x' for d in value.shape)}{_dtype_name(value.dtype)}>"
    if value.size > DENSE_HEX_THRESHOLD:
        body = '"0x' + np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<")).tobytes().hex().upper() + '"'
    else:
        body = _nested(value.tolist()) if value.ndim else _scalar_str(value.item())
    return f"dense<{body}> : {t}"


def _nested(x: Any) -> str:
    if isinstance(x, list):
        return "[" + ", ".join(_nested(v) for v in x) + "]"
    return _scalar_str(x)


def _dtype_name(dt: np.dtype) -> str:
    from .types import dtype_from_numpy

    return dtype_from_numpy(dt).name


def format_attr(value: Any, rename: dict[str, str] | None = None) -> str:
    if isinstance(value, np.ndarray):
        return format_dense(value)
    if isinstance(value, (bool, np.bool_, int, float, np.number)):
        return _scalar_str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, SymDim):
        return dim_str(value, rename)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(format_attr(v, rename) for v in value) + "]"
    if isinstance(value, Type):
        return format_type(value, rename)
    if isinstance(value, DType):
        return str(value)
    raise TypeError(f"cannot print attribute {value!r}")


def _non_default_attrs(op: Operation) -> dict[str, Any]:
    """Attributes that differ from their declared defaults (defaults are elided, as in MLIR)."""
    from .opdef import lookup

    specs = lookup(op.name).attrs
    out = {}
    for k, v in op.attributes.items():
        spec = specs.get(k)
        if spec is not None and not spec.required and _same(spec.default, v):
            continue
        out[k] = v
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    return type(a) is type(b) and a == b


class Printer:
    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.counter = 0
        self.lines: list[str] = []
        self.rename: dict[str, str] = {}

    def t(self, t: Type) -> str:
        return format_type(t, self.rename)

    def _collect_anonymous(self, f: Function) -> None:
        """Anonymous dims print as ?0, ?1, … in order of first appearance in the function."""
        seen: list[str] = []

        def add(t: Type) -> None:
            for s in anonymous_symbols(t):
                if s not in seen:
                    seen.append(s)

        for a in f.args:
            add(a.type)
        for t in f.result_types:
            add(t)
        for op in f.walk():
            for r in op.results:
                add(r.type)
            for region in op.regions:
                for block in region.blocks:
                    for a in block.args:
                        add(a.type)
            for v in op.attributes.values():
                for d in (v if isinstance(v, tuple) else (v,)):
                    if isinstance(d, SymDim):
                        for s in sorted(d.symbols):
                            if s.startswith("?") and s not in seen:
                                seen.append(s)
        self.rename = {s: f"?{i}" for i, s in enumerate(seen)}

    def name(self, v: Value) -> str:
        try:
            return self.names[id(v)]
        except KeyError:
            return "%<<undefined>>"

    def define(self, v: Value) -> str:
        n = f"%{self.counter}"
        self.counter += 1
        self.names[id(v)] = n
        return n

    def print_function(self, f: Function) -> str:
        self._collect_anonymous(f)
        params = []
        for a, hint in zip(f.args, param_names(f)):
            self.names[id(a)] = f"%{hint}"
            params.append(f"%{hint}: {self.t(a.type)}")
        res = f.result_types
        rs = ""
        if len(res) == 1:
            rs = f" -> {self.t(res[0])}"
        elif res:
            rs = " -> (" + ", ".join(self.t(t) for t in res) + ")"
        self.lines.append(f"func @{f.name}({', '.join(params)}){rs} {{")
        for op in f.body.ops:
            self.print_op(op, 1)
        self.lines.append("}")
        return "\n".join(self.lines)

    def print_op(self, op: Operation, depth: int) -> None:
        ind = "  " * depth
        lhs = ", ".join(self.define(r) for r in op.results)
        text = f"{ind}{lhs} = {op.name}" if lhs else f"{ind}{op.name}"
        if op.operands:
            text += " " + ", ".join(self.name(v) for v in op.operands)
        shown = _non_default_attrs(op)
        if shown:
            text += " {" + ", ".join(f"{k} = {format_attr(shown[k], self.rename)}" for k in sorted(shown)) + "}"
        types = op.results if op.results else (op.operands if op.name == "return" else ())
        if types:
            text += " : " + ", ".join(self.t(v.type) for v in types)
        if not op.regions:
            self.lines.append(text)
            return
        for region in op.regions:
            self.lines.append(text + " {")
            for block in region.blocks:
                self.print_block_header(block, depth)
                for inner in block.ops:
                    self.print_op(inner, depth + 1)
            text = ind + "}"
        self.lines.append(ind + "}")

    def print_block_header(self, block: Block, depth: int) -> None:
        args = ", ".join(f"{self.define(a)}: {self.t(a.type)}" for a in block.args)
        self.lines.append(f"{'  ' * depth}^bb0({args}):")


def print_function(f: Function) -> str:
    return Printer().print_function(f) + "\n"


def print_module(m: Module) -> str:
    return "\n".join(print_function(f) for f in m)


def print_op(op: Operation) -> str:
    p = Printer()
    p.print_op(op, 0)
    return "\n".join(p.lines)
