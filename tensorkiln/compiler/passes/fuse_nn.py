"""Neural-net fusions at the graph level (``fuse-nn``): the ReLU gradient folded into the max-pool
adjoint.

A conv layer's backward pass reads ``where(y > 0, max_pool_grad(y, g), 0)``, with y the ReLU
output that the pool read (the ReLU gradient masks with its output, see ``grad_rules``). Computed
as two ops it is two passes over y's size (10 MB a step for the tutorial convnet's first layer):
the adjoint writes its buffer, the mask reads it back with y. The pool adjoint already loads every
tap of y to find each window's maximum, so it can apply the mask itself: it becomes one
``max_pool_grad {mask_positive}``. The rewrite holds for any y (the mask is ``y > 0`` at the
position the adjoint is stored), so it does not need to prove that y is a ReLU output; it applies
only when the where is the adjoint's sole user. Runs before ``fuse``, which would otherwise pull the
where into an elementwise group.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir.core import Function, Operation, Value
from .base import Pass
from .rewrite import replace_op, splat_value


def _producer(v: Value, name: str) -> Operation | None:
    op = getattr(v, "op", None)
    return op if op is not None and op.name == name else None


def _is_zero(v: Value) -> bool:
    """A splat 0 constant, or one broadcast to a shape."""
    bc = _producer(v, "graph.broadcast_to")
    if bc is not None:
        v = bc.operands[0]
    z = splat_value(v)
    return z is not None and not isinstance(z, bool) and z == 0


def _masked_pool_adjoint(where: Operation) -> tuple[Operation, Value] | None:
    """(the max_pool_grad, its y) when ``where`` is ``where(y > 0, max_pool_grad(y, g), 0)``."""
    cond, adj, other = where.operands
    gt = _producer(cond, "graph.gt")
    pool = _producer(adj, "graph.max_pool_grad")
    if gt is None or pool is None or pool.attributes.get("mask_positive") or not _is_zero(other):
        return None
    y, k = gt.operands
    if pool.operands[0] is not y or splat_value(k) is None or splat_value(k) != 0 or k.type.rank:
        return None
    if len(adj.uses) != 1 or where.result.type != adj.type:
        return None
    return pool, y


@dataclass(frozen=True)
class FuseNN(Pass):
    name = "fuse-nn"

    def apply_function(self, func: Function) -> None:
        for op in list(func.body.ops):
            if op.name != "graph.where":
                continue
            found = _masked_pool_adjoint(op)
            if found is None:
                continue
            pool, y = found
            attrs = dict(pool.attributes, mask_positive=True)
            fused = Operation("graph.max_pool_grad", [y, pool.operands[1]], [op.result.type], attrs, loc=pool.loc)
            func.body.insert_before(op, fused)
            replace_op(op, [fused.result])
            pool.erase()
        # The comparisons and zeros the wheres used may now be dead: `dce` runs after this pass.
