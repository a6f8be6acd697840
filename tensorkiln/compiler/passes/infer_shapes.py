"""Shape and type inference: re-derive every result type from its operands, in program order.

Front ends infer types as they build ops; this pass re-runs inference after rewrites (and after a
front end substitutes one symbolic dim for another), updating result types in place, so every later
stage sees consistent symbolic shapes. A function whose inferred results differ from its declared
result types is an error naming both.
"""
from __future__ import annotations

from ...ir.core import Block
from ...ir.diagnostics import CompileError
from ...ir.opdef import lookup
from .base import Pass


def _infer_block(block: Block) -> None:
    for op in block.ops:
        d = lookup(op.name, op.loc)
        if op.name == "graph.fused":
            body = op.regions[0].blocks[0]
            for a, v in zip(body.args, op.operands):
                a.type = v.type
            _infer_block(body)
            for r, y in zip(op.results, body.terminator.operands):
                r.type = y.type
            continue
        for region in op.regions:
            for b in region.blocks:
                _infer_block(b)
        if d.can_infer() and op.results:
            for r, t in zip(op.results, d.infer([v.type for v in op.operands], op.attributes, op.loc)):
                r.type = t


class InferShapes(Pass):
    name = "infer-shapes"

    def apply_function(self, func) -> None:
        _infer_block(func.body)
        got = [v.type for v in func.return_op.operands]
        if got != list(func.result_types):
            raise CompileError(
                f"@{func.name} computes ({', '.join(map(str, got))}) but declares ({', '.join(map(str, func.result_types))})",
                func.return_op.loc)
