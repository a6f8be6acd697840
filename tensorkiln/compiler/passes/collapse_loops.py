"""Collapse a perfectly nested pair of parallel loops that walks rows of contiguous buffers into one.

An elementwise nest over a ``[N, 10]`` tensor (a classifier's logits, an optimizer update of a
``784x10`` weight) runs its inner loop ten times per row: the vectorizer covers it with one masked
16-lane vector, and on Zen 4 the masked store of each row stalls the next row's load (store-to-load
forwarding fails on partially overlapping vectors), so such a pass costs ~20 cycles a row. Seen as
one loop over ``N*10`` elements of flat views of the same buffers, it is plain full-width vector
code. The pass rewrites

    for i in [0, U) parallel { consts; for j in [0, M) parallel { body } }

where ``M`` is a constant, ``i`` and ``j`` appear only as the last two indices ``[.., i, j]`` of
loads and stores on buffers whose last dim is ``M`` (so element ``(i, j)`` sits at ``i*M + j`` of
the merged dim) into ``for k in [0, U*M) parallel { body with [.., k] on views }``. It repeats
until no pair matches, so an elementwise nest of any rank over contiguous buffers becomes one loop.
"""
from __future__ import annotations

from ...ir.core import Block, Builder, Operation, Region, Value
from ...ir.types import INDEX, Dim, MemRefType
from .base import Pass


# Ops an outer loop body may hold besides the inner loop: they do not depend on the outer index,
# so they move out in front of the collapsed loop (these are what an earlier collapse left there).
_HOISTABLE = ("loops.const", "loops.dim", "loops.mul", "loops.view")


def const_index(v: Value) -> int | None:
    """The value of an index constant (``loops.const``), or None."""
    op = getattr(v, "op", None)
    if op is not None and op.name == "loops.const" and v.type == INDEX:
        return int(op.attributes["value"])
    return None


def trip_dim(v: Value) -> Dim | None:
    """The loop bound ``v`` as a dim: a constant, a ``loops.dim`` of the function's symbols, or a
    product of those."""
    op = getattr(v, "op", None)
    if op is not None and op.name == "loops.dim":
        return op.attributes["value"]
    if op is not None and op.name == "loops.mul" and v.type == INDEX:  # an earlier collapse's bound
        a, b = (trip_dim(x) for x in op.operands)
        return None if a is None or b is None else a * b
    return const_index(v)


def _defined_inside(v: Value, region_op: Operation) -> bool:
    """Whether ``v`` is defined in ``region_op``'s regions (an op result or a block argument)."""
    owner = getattr(v, "op", None)
    block = owner.parent if owner is not None else getattr(v, "block", None)
    while block is not None:
        parent_op = block.parent.parent if block.parent is not None else None
        if parent_op is region_op:
            return True
        block = parent_op.parent if parent_op is not None else None
    return False


def _match(outer: Operation) -> tuple[Operation, Dim] | None:
    """(inner loop, its trip count as a dim) when ``outer`` and its body loop can be collapsed."""
    if outer.name != "loops.for" or not outer.attributes.get("parallel") or outer.results:
        return None
    if len(outer.operands) != 2 or const_index(outer.operands[0]) != 0 or outer.attributes.get("step", 1) != 1:
        return None
    body = outer.regions[0].block
    loops = [op for op in body.ops if op.name == "loops.for"]
    if len(loops) != 1 or any(op.name not in _HOISTABLE + ("loops.for", "loops.yield") for op in body.ops):
        return None
    inner = loops[0]
    hoisted = {id(r) for op in body.ops if op.name in _HOISTABLE for r in op.results}
    if any(v is body.args[0] for op in body.ops if op.name in _HOISTABLE for v in op.operands):
        return None
    if not inner.attributes.get("parallel") or inner.results or len(inner.operands) != 2 or inner.attributes.get("step", 1) != 1:
        return None
    m = trip_dim(inner.operands[1])
    if const_index(inner.operands[0]) != 0 or m is None or (isinstance(m, int) and m <= 0):
        return None
    i, j = body.args[0], inner.regions[0].block.args[0]
    for iv in (i, j):
        for user, pos in iv.uses:
            if user.name not in ("loops.load", "loops.store"):
                return None
            first = 1 if user.name == "loops.load" else 2  # index operands start here
            if pos < first:
                return None  # the index itself is a value (stored, say)
            idx = user.operands[first:]
            if len(idx) < 2 or idx[-2] is not i or idx[-1] is not j:
                return None
            buf = user.operands[first - 1]
            shape = buf.type.shape
            if shape[-1] != m or (_defined_inside(buf, outer) and id(buf) not in hoisted):
                return None
            if any(_defined_inside(v, outer) and id(v) not in hoisted for v in idx[:-2]):
                return None
    return inner, m


def _collapse(outer: Operation, inner: Operation, m: Dim) -> None:
    b = Builder()
    b.set_insertion_point_before(outer)
    b.loc = outer.loc
    for op in list(outer.regions[0].block.ops):
        if op.name in _HOISTABLE:
            op.parent.ops.remove(op)
            b.insert(op)
    i, j = outer.regions[0].block.args[0], inner.regions[0].block.args[0]
    zero = outer.operands[0]  # the constant 0, defined outside the nest
    rows = const_index(outer.operands[1])
    if rows is not None and isinstance(m, int):  # a constant trip count stays one, so an enclosing loop can collapse too
        total = b.create("loops.const", [], {"value": rows * m}, [INDEX]).result
    else:
        total = b.op("loops.mul", outer.operands[1], inner.operands[1])
    views: dict[int, Value] = {}
    using = {id(user) for iv in (i, j) for user, _ in iv.uses}
    users = [op for op in inner.walk() if id(op) in using]  # program order: deterministic output
    for user in users:
        first = 1 if user.name == "loops.load" else 2
        buf = user.operands[first - 1]
        if id(buf) not in views:
            t: MemRefType = buf.type  # type: ignore[assignment]
            flat = MemRefType(tuple(t.shape[:-2]) + (t.shape[-2] * t.shape[-1],), t.dtype)
            views[id(buf)] = b.create("loops.view", [buf], {}, [flat]).result
    body = Block([INDEX])
    k = body.args[0]
    new = Operation("loops.for", [zero, total], [], dict(outer.attributes), [Region([body])], outer.loc)
    b.insert(new)
    for op in list(inner.regions[0].block.ops):
        op.parent.ops.remove(op)
        body.append(op)
    for user in users:
        first = 1 if user.name == "loops.load" else 2
        ops = list(user.operands)
        operands = ops[:first - 1] + [views[id(ops[first - 1])]] + ops[first:-2] + [k]
        repl = Operation(user.name, operands, [r.type for r in user.results], dict(user.attributes), (), user.loc)
        home = user.parent  # the new body, or a region nested in it (a reduction loop, say)
        home.insert(home.ops.index(user), repl)
        for old, r in zip(user.results, repl.results):
            old.replace_all_uses_with(r)
        user.erase()
    outer.erase()


def collapse_block(block: Block) -> bool:
    changed = False
    for op in list(block.ops):
        for region in op.regions:
            for inner_block in region.blocks:
                changed |= collapse_block(inner_block)
        got = _match(op)
        if got is not None:
            _collapse(op, *got)
            changed = True
    return changed


class CollapseLoops(Pass):
    name = "collapse-loops"

    def apply_function(self, func) -> None:
        while collapse_block(func.body):
            pass
