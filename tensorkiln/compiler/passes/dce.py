"""Dead-code elimination: erase pure ops whose results are unused, innermost blocks first."""
from __future__ import annotations

from ...ir.core import Block
from .base import Pass
from .rewrite import is_pure


def _dce_block(block: Block) -> None:
    for op in reversed(list(block.ops)):
        for region in op.regions:
            for b in region.blocks:
                _dce_block(b)
        if is_pure(op) and not any(r.uses for r in op.results):
            op.erase()


class DeadCodeElimination(Pass):
    name = "dce"

    def apply_function(self, func) -> None:
        _dce_block(func.body)
