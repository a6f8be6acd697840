"""Deep copies of IR: a Module, with its own functions, blocks, ops and use-lists, made structurally.

The pipeline keeps one Module per printable stage, so each stage starts from a copy of the last.
Copying by walking the structure costs a small fraction of printing the text and parsing it back
(the parser's LALR tables alone take ~0.1 s to build in a new process), and it keeps the ops'
source locations, so an error from a later pass still points at the user's line. The copy prints
exactly as ``parse_module(print_module(m))`` does: function parameters get the names the printer
would give them, and attribute values that are mutable (lists, arrays) are copied, not shared.
Types and dims are immutable and shared.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .core import Block, Function, Module, Operation, Region, Value
from .printer import param_names

def _copy_attr(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, list):
        return [_copy_attr(x) for x in v]
    if isinstance(v, dict):
        return {k: _copy_attr(x) for k, x in v.items()}
    return v  # ints, floats, strings, dtypes, types and dims are immutable


def _clone_block_ops(src: Block, dst: Block, mapping: dict[int, Value]) -> None:
    for op in src.ops:
        new = Operation(op.name, [mapping[id(v)] for v in op.operands], [r.type for r in op.results],
                        {k: _copy_attr(v) for k, v in op.attributes.items()}, loc=op.loc)
        dst.append(new)
        for r, nr in zip(op.results, new.results):
            mapping[id(r)] = nr
        for region in op.regions:
            new_region = new.add_region(Region())
            for block in region.blocks:
                nb = new_region.add_block(Block([a.type for a in block.args]))
                for a, na in zip(block.args, nb.args):
                    mapping[id(a)] = na
                _clone_block_ops(block, nb, mapping)


def clone_function(f: Function) -> Function:
    """A deep copy of ``f`` (the same name, types, attributes and locations)."""
    new = Function(f.name, f.arg_types, list(f.result_types), param_names(f), loc=f.loc)
    new.attributes = {k: _copy_attr(v) for k, v in f.attributes.items()}
    mapping: dict[int, Value] = {id(a): na for a, na in zip(f.args, new.args)}
    _clone_block_ops(f.body, new.body, mapping)
    return new


def clone_module(m: Module) -> Module:
    """A deep copy of ``m``: passes may rewrite it without touching ``m``."""
    return Module(clone_function(f) for f in m)
