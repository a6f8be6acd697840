"""Constant folding: an op whose operands are all constants becomes a constant.

The evaluation itself is injected (the pipeline passes the reference interpreter's ``evaluate_op``)
so the compiler layer does not import a backend. Results larger than ``max_elements`` are left alone
so a fold never bloats the binary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ...ir.core import Block, Builder
from ...ir.opdef import lookup
from .base import Pass
from .rewrite import constant_value, replace_op

Evaluator = Callable[..., list]


def _fold_block(block: Block, evaluate: Evaluator, max_elements: int) -> None:
    b = Builder()
    for op in list(block.ops):
        if op.regions or not op.results or op.name == "graph.constant" or not op.name.startswith("graph."):
            continue
        if not lookup(op.name).has("pure"):
            continue
        vals = [constant_value(v) for v in op.operands]
        if any(v is None for v in vals):
            continue
        if not all(r.type.is_static and int(np.prod(r.type.shape)) <= max_elements for r in op.results):
            continue
        try:
            outs = evaluate(op.name, op.attributes, vals, [r.type for r in op.results])
        except Exception:  # a fold that cannot be evaluated is simply not done
            continue
        b.set_insertion_point_before(op)
        b.loc = op.loc
        new = []
        for r, o in zip(op.results, outs):
            arr = np.asarray(o, dtype=r.type.dtype.np_dtype).reshape(tuple(r.type.shape))
            new.append(b.op("graph.constant", value=arr))
        replace_op(op, new)


@dataclass(frozen=True)
class FoldConstants(Pass):
    name = "fold-constants"
    evaluate: Optional[Evaluator] = None
    max_elements: int = 1 << 16

    def apply_function(self, func) -> None:
        if self.evaluate is not None:
            _fold_block(func.body, self.evaluate, self.max_elements)
