"""Common-subexpression elimination over pure, region-free ops, scoped by block nesting."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...ir.core import Block, Operation
from .base import Pass
from .rewrite import is_pure, replace_op


def _freeze(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return ("dense", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, float) and v != v:
        return ("nan",)
    return (type(v).__name__, v)


def _key(op: Operation) -> tuple:
    attrs = tuple(sorted((k, _freeze(v)) for k, v in op.attributes.items()))
    return (op.name, tuple(id(v) for v in op.operands), attrs, tuple(str(r.type) for r in op.results))


def _cse_block(block: Block, scopes: list[dict]) -> None:
    scopes.append({})
    for op in list(block.ops):
        if op.regions:
            for region in op.regions:
                for b in region.blocks:
                    _cse_block(b, scopes)
            continue
        if not is_pure(op) or not op.results:
            continue
        key = _key(op)
        found = next((s[key] for s in reversed(scopes) if key in s), None)
        if found is not None:
            replace_op(op, found.results)
        else:
            scopes[-1][key] = op
    scopes.pop()


class CommonSubexpressionElimination(Pass):
    name = "cse"

    def apply_function(self, func) -> None:
        _cse_block(func.body, [])
