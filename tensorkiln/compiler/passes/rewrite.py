"""Small helpers shared by rewriting passes: replacing an op's results, cloning ops, splat tests,
matching an operand's producer."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ...ir.core import Operation, Value


def replace_op(op: Operation, new_values: Sequence[Value]) -> None:
    """Redirect every use of op's results to new_values, then erase op."""
    for old, new in zip(op.results, new_values):
        old.replace_all_uses_with(new)
    op.erase()


def constant_value(v: Value) -> np.ndarray | None:
    """The value of v when it is produced by ``graph.constant``."""
    op = getattr(v, "op", None)
    if op is not None and op.name == "graph.constant":
        return op.attributes["value"]
    return None


def splat_value(v: Value) -> float | int | bool | None:
    """The single repeated scalar of a constant (all elements equal), else None."""
    c = constant_value(v)
    if c is None or c.size == 0:
        return None
    first = c.flat[0]
    if c.size == 1 or bool(np.all(c == first)) and not (isinstance(first, np.floating) and np.isnan(first)):
        return first.item()
    return None


def is_pure(op: Operation) -> bool:
    from ...ir.opdef import lookup

    return lookup(op.name).has("pure")


def producer(v: Value, name: str) -> Operation | None:
    """The op named ``name`` that defines v, else None (a block argument, another op)."""
    op = getattr(v, "op", None)
    return op if op is not None and op.name == name else None


def is_zero_splat(v: Value) -> bool:
    """A splat 0 constant (not a bool), or one broadcast to a shape."""
    bc = producer(v, "graph.broadcast_to")
    if bc is not None:
        v = bc.operands[0]
    z = splat_value(v)
    return z is not None and not isinstance(z, bool) and z == 0
