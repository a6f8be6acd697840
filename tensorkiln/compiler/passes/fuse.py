"""Fusion: elementwise chains, and elementwise producers into reductions, become ``graph.fused``.

Groups grow from consumers to producers (reverse program order). A producer joins its consumer's
group when it is fusible (elementwise, ``broadcast_to``, ``transpose``, ``one_hot``, a reduction)
and every use of it lies in that group. Each member records whether it is evaluated exactly once per element
(``once``): the root is; a producer is when its consumer is and the consumer does not broadcast it
(a reduction's input is evaluated once per element too). An elementwise producer may be broadcast —
recomputing it is cheaper than a round trip through memory — but a reduction joins only where it
would be evaluated once per element of its result, so fusing never recomputes a reduction. Splat constants are cloned into every region that uses them.
The loop lowering emits each ``graph.fused`` op as one loop nest with no temporaries inside.
"""
from __future__ import annotations

from ...ir.core import Block, Builder, Function, Operation, Region, Value
from ...ir.opdef import lookup
from .base import Pass
from .rewrite import splat_value

# Index maps: each output element reads one element of the input at a computed index. ``one_hot``
# counts as one (its element is a compare of one label with the column index), so the sparse
# cross-entropy gradient's one-hot mask is computed where it is used instead of in a nest and an
# integer temporary of its own.
INDEX_MAPS = {"graph.broadcast_to", "graph.transpose", "graph.one_hot"}


def fusible(op: Operation) -> bool:
    d = lookup(op.name)
    return d.has("elementwise") or d.has("reduction") or op.name in INDEX_MAPS


def _is_reduction(op: Operation) -> bool:
    return lookup(op.name).has("reduction")


def _clonable_constant(v: Value) -> bool:
    op = getattr(v, "op", None)
    return op is not None and op.name == "graph.constant" and splat_value(v) is not None


class _Group:
    __slots__ = ("root", "ops", "once")

    def __init__(self, root: Operation, ops: set[int], once: dict[int, bool]):
        self.root = root
        self.ops = ops
        self.once = once  # op id -> evaluated exactly once per element of its result


def _find_groups(func: Function) -> list[_Group]:
    groups: list[_Group] = []
    group_of: dict[int, _Group] = {}
    ops = [op for op in func.body.ops if op.name != "return"]
    index = {id(op): i for i, op in enumerate(ops)}
    for op in reversed(ops):
        if not fusible(op):
            continue
        g = group_of.get(id(op))
        if g is None:
            g = _Group(op, {id(op)}, {id(op): True})
            groups.append(g)
            group_of[id(op)] = g
        for v in op.operands:
            p = getattr(v, "op", None)
            if p is None or id(p) not in index or id(p) in group_of or not fusible(p):
                continue
            users = [u for u, _ in p.result.uses]
            if not users or any(id(u) not in g.ops for u in users):
                continue
            once = all(g.once[id(u)] and (_is_reduction(u) or u.result.type.shape == p.result.type.shape)
                       and (lookup(u.name).has("elementwise") or _is_reduction(u)) for u in users)
            if _is_reduction(p) and not once:
                continue
            g.ops.add(id(p))
            g.once[id(p)] = once
            group_of[id(p)] = g
    return [g for g in groups if len(g.ops) > 1]


def _build_fused(func: Function, g: _Group) -> None:
    members = [op for op in func.body.ops if id(op) in g.ops]  # program order
    member_results = {id(r) for op in members for r in op.results}
    inputs: list[Value] = []
    for op in members:
        for v in op.operands:
            if id(v) not in member_results and not _clonable_constant(v) and v not in inputs:
                inputs.append(v)
    body = Block([v.type for v in inputs])
    mapping: dict[int, Value] = {id(v): a for v, a in zip(inputs, body.args)}
    inner = Builder(body)
    for op in members:
        operands = []
        for v in op.operands:
            if id(v) not in mapping:  # a splat constant: clone it here
                c = v.op
                mapping[id(v)] = inner.insert(
                    Operation(c.name, [], [c.result.type], dict(c.attributes), loc=c.loc)).result
            operands.append(mapping[id(v)])
        clone = inner.insert(Operation(op.name, operands, [r.type for r in op.results], dict(op.attributes), loc=op.loc))
        for r, cr in zip(op.results, clone.results):
            mapping[id(r)] = cr
    root_val = mapping[id(g.root.result)]
    inner.insert(Operation("graph.yield", [root_val]))
    kind = "reduction" if any(_is_reduction(op) for op in members) else "elementwise"
    fused = Operation("graph.fused", inputs, [g.root.result.type], {"kind": kind}, [Region([body])], loc=g.root.loc)
    func.body.insert_before(g.root, fused)
    g.root.result.replace_all_uses_with(fused.result)
    for op in reversed(members):
        op.erase()


class FuseElementwise(Pass):
    name = "fuse"

    def apply_function(self, func) -> None:
        for g in _find_groups(func):
            _build_fused(func, g)
        # Constants that were only used inside regions are now dead.
        for op in reversed(list(func.body.ops)):
            if op.name == "graph.constant" and not op.result.uses:
                op.erase()
