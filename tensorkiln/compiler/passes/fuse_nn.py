"""Neural-net fusions at the graph level (``fuse-nn``): the ReLU gradient folded into the max-pool
adjoint, and a convolution's bias and ReLU folded into the convolution.

A conv layer's backward pass reads ``where(y > 0, max_pool_grad(y, g), 0)``, with y the ReLU
output that the pool read (the ReLU gradient masks with its output, see ``grad_rules``). Computed
as two ops it is two passes over y's size (10 MB a step for the tutorial convnet's first layer):
the adjoint writes its buffer, the mask reads it back with y. The pool adjoint already loads every
tap of y to find each window's maximum, so it can apply the mask itself: it becomes one
``max_pool_grad {mask_positive}``. The rewrite holds for any y (the mask is ``y > 0`` at the
position the adjoint is stored), so it does not need to prove that y is a ReLU output; it applies
only when the where is the adjoint's sole user.

``relu(conv2d(x, f) + b)`` (or without the relu), with b one value per output channel, becomes
``conv2d(x, f, b) {activation = "relu"}``: the conv's nest adds the bias and clamps as it stores
(or, on the im2col + GEMM path, while the chunk it just computed is in cache) instead of an
elementwise pass reading and writing the whole output again (10 MB for the convnet's first layer).
It applies when each intermediate has that one user. Both rewrites run before ``fuse``, which
would otherwise pull these ops into elementwise groups.
"""
from __future__ import annotations

from ...ir.core import Function, Operation, Value
from .base import Pass
from .rewrite import is_zero_splat, producer, replace_op, splat_value


def _masked_pool_adjoint(where: Operation) -> tuple[Operation, Value] | None:
    """(the max_pool_grad, its y) when ``where`` is ``where(y > 0, max_pool_grad(y, g), 0)``."""
    cond, adj, other = where.operands
    gt = producer(cond, "graph.gt")
    pool = producer(adj, "graph.max_pool_grad")
    if gt is None or pool is None or pool.attributes.get("mask_positive") or not is_zero_splat(other):
        return None
    y, k = gt.operands
    if pool.operands[0] is not y or splat_value(k) is None or splat_value(k) != 0 or k.type.rank:
        return None
    if len(adj.uses) != 1 or where.result.type != adj.type:
        return None
    return pool, y


def _sole_user(v: Value) -> Operation | None:
    return v.uses[0][0] if len(v.uses) == 1 else None


def _conv_bias(add: Operation) -> tuple[Operation, Value] | None:
    """(the conv2d, the bias) when ``add`` is ``conv2d(x, f) + b`` with b of shape [Cout]."""
    for conv_v, bias in (add.operands, reversed(add.operands)):
        conv = producer(conv_v, "graph.conv2d")
        if conv is None or len(conv.operands) != 2 or _sole_user(conv_v) is not add:
            continue
        cout = conv_v.type.shape[3]
        if tuple(bias.type.shape) == (cout,) and bias.type.dtype == conv_v.type.dtype and add.result.type == conv_v.type:
            return conv, bias
    return None


def _fold_conv_bias(func: Function, add: Operation) -> None:
    found = _conv_bias(add)
    if found is None:
        return
    conv, bias = found
    relu = _sole_user(add.result)
    last = relu if relu is not None and relu.name == "graph.relu" else add
    attrs = dict(conv.attributes, activation="relu" if last is relu else "")
    fused = Operation("graph.conv2d", [*conv.operands, bias], [last.result.type], attrs, loc=conv.loc)
    func.body.insert_before(last, fused)
    replace_op(last, [fused.result])
    if last is not add:
        add.erase()
    conv.erase()


def _fold_pool_mask(func: Function, where: Operation) -> None:
    found = _masked_pool_adjoint(where)
    if found is None:
        return
    pool, y = found
    attrs = dict(pool.attributes, mask_positive=True)
    fused = Operation("graph.max_pool_grad", [y, pool.operands[1]], [where.result.type], attrs, loc=pool.loc)
    func.body.insert_before(where, fused)
    replace_op(where, [fused.result])
    pool.erase()


class FuseNN(Pass):
    name = "fuse-nn"

    def apply_function(self, func: Function) -> None:
        for op in list(func.body.ops):
            if op.parent is None:  # erased by an earlier rewrite
                continue
            if op.name == "graph.where":
                _fold_pool_mask(func, op)
            elif op.name == "graph.add":
                _fold_conv_bias(func, op)
        # The comparisons and zeros the wheres used may now be dead: `dce` runs after this pass.
