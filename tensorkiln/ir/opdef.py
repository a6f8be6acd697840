"""Declarative op definitions and the dialect registry.

An op is a small class: its ``name``, how many operands it takes, which attributes it has (with
kinds and defaults), its traits, and a ``infer`` class method computing result types from operand
types and attributes. Dialect files define these classes with ``@register``; the builder, parser and
verifier look them up by name, so adding an op is one class (plus its lowering and gradient).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from .diagnostics import CompileError, Location
from .types import DType, Type

_MISSING = object()

# Attribute kinds; the printer and parser use them to spell and read values back.
ATTR_KINDS = ("int", "float", "number", "bool", "str", "ints", "dim", "dims", "dtype", "dense", "type")


@dataclass(frozen=True)
class Attr:
    kind: str
    default: Any = _MISSING

    @property
    def required(self) -> bool:
        return self.default is _MISSING


class OpDef:
    name: ClassVar[str] = ""
    num_operands: ClassVar[int | None] = None  # None: variadic
    min_operands: ClassVar[int] = 0
    attrs: ClassVar[dict[str, Attr]] = {}
    traits: ClassVar[frozenset[str]] = frozenset()
    num_regions: ClassVar[int] = 0

    @classmethod
    def complete_attributes(cls, attrs: dict[str, Any], loc: Location | None) -> dict[str, Any]:
        """Check attribute names and kinds, fill defaults, normalise values."""
        for key in attrs:
            if key not in cls.attrs:
                raise CompileError(f"'{cls.name}' has no attribute '{key}' (it has: {', '.join(sorted(cls.attrs)) or 'none'})", loc)
        out = {}
        for key, spec in cls.attrs.items():
            if key in attrs and attrs[key] is None and not spec.required and spec.default is None:
                continue  # None stands for "absent" where the attribute is optional
            if key in attrs:
                out[key] = _normalise(cls.name, key, spec.kind, attrs[key], loc)
            elif spec.required:
                raise CompileError(f"'{cls.name}' needs attribute '{key}'", loc)
            elif spec.default is not None:
                out[key] = spec.default
        return out

    @classmethod
    def check_operand_count(cls, n: int, loc: Location | None) -> None:
        if cls.num_operands is not None and n != cls.num_operands:
            raise CompileError(f"'{cls.name}' takes {cls.num_operands} operand(s), got {n}", loc)
        if n < cls.min_operands:
            raise CompileError(f"'{cls.name}' takes at least {cls.min_operands} operand(s), got {n}", loc)

    @classmethod
    def infer(cls, types: Sequence[Type], attrs: dict[str, Any], loc: Location | None) -> list[Type]:
        raise CompileError(f"'{cls.name}' cannot infer its result types; give them explicitly", loc)

    @classmethod
    def can_infer(cls) -> bool:
        return cls.infer.__func__ is not OpDef.infer.__func__  # type: ignore[attr-defined]

    @classmethod
    def has(cls, trait: str) -> bool:
        return trait in cls.traits


class _BadAttribute(Exception):
    pass


def _normalise(opname: str, key: str, kind: str, value: Any, loc: Location | None) -> Any:
    try:
        return _normalise_value(kind, value)
    except _BadAttribute:
        # The message is built only on failure: repr() of a large dense array costs milliseconds.
        raise CompileError(f"attribute '{key}' of '{opname}' must be {kind}, got {value!r}", loc) from None


def _normalise_value(kind: str, value: Any) -> Any:
    bad = _BadAttribute
    if kind == "int":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise bad
        return int(value)
    if kind == "float":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise bad
        return float(value)
    if kind == "number":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise bad
        return int(value) if isinstance(value, (int, np.integer)) else float(value)
    if kind == "dim":
        from .types import SymDim

        if isinstance(value, SymDim):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise bad
        return int(value)
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise bad
        return bool(value)
    if kind == "str":
        if not isinstance(value, str):
            raise bad
        return value
    if kind == "ints":
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return (int(value),)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            raise bad
        return tuple(int(v) for v in value)
    if kind == "dims":
        from .types import SymDim

        if not isinstance(value, (list, tuple)) or not all(isinstance(v, (int, np.integer, SymDim)) and not isinstance(v, bool) for v in value):
            raise bad
        return tuple(v if isinstance(v, SymDim) else int(v) for v in value)
    if kind == "dtype":
        if not isinstance(value, DType):
            raise bad
        return value
    if kind == "dense":
        if not isinstance(value, np.ndarray):
            raise bad
        return value
    if kind == "type":
        if not isinstance(value, Type):
            raise bad
        return value
    raise AssertionError(kind)


_REGISTRY: dict[str, type[OpDef]] = {}


def register(cls: type[OpDef]) -> type[OpDef]:
    assert cls.name and cls.name not in _REGISTRY, cls.name
    _REGISTRY[cls.name] = cls
    return cls


def lookup(name: str, loc: Location | None = None) -> type[OpDef]:
    try:
        return _REGISTRY[name]
    except KeyError:
        pass
    _load_dialects(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise CompileError(f"unknown op '{name}'", loc) from None


def registered_ops() -> dict[str, type[OpDef]]:
    _load_dialects()
    return dict(_REGISTRY)


_loaded: set[str] = set()


def _load_dialects(op_name: str | None = None) -> None:
    """Import the dialect modules an op name may come from (all of them for None); importing one
    registers its ops. Done lazily to keep imports acyclic, and by prefix because the ``loops``
    dialect is only needed by lowering, which a process running code from the disk cache never
    does (its import is ~1 ms of a ~9 ms warm start)."""
    if op_name is None or op_name.startswith("loops."):
        if "loops" not in _loaded:
            from .dialects import loops  # noqa: F401
            _loaded.add("loops")
    if op_name is None or not op_name.startswith("loops."):
        if "graph" not in _loaded:
            from .dialects import builtin, graph, graph_debug, graph_nn  # noqa: F401
            _loaded.add("graph")
