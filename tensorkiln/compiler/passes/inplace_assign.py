"""Which ``graph.assign`` values may be computed straight into their variable's buffer.

The loop lowering lands assignments last, so every read in the function sees the variable's entry
value: the new value is computed into a temporary and copied over at the end. For an optimizer
update (``W - lr * dW``, an elementwise nest reading ``W`` at the index it writes) that copy is a
whole extra pass over the weights — 12.8 MB for the convnet's dense layer each step. This analysis
finds the assignments whose value can be materialized into the variable itself, which is safe when

* the value's op is an elementwise op or an elementwise ``graph.fused`` nest (no reduction, no
  transpose: one loop nest in which each index reads the variable at most at that same index
  before writing it);
* nothing after that op reads the variable's entry value: no later op takes the variable (or a
  reshape view of it — views read lazily, when their consumers run) as an operand, the function
  does not return it, and no assignment copies it;
* the variable has exactly one assignment, and the value is not itself returned (a returned value
  lives in its output buffer);
* nothing after that op can fail (no temporary to allocate, no kernel that allocates scratch): a
  run that fails part-way then still leaves every variable as it was, as when all assignments land
  at the end.
"""
from __future__ import annotations

from ...ir.core import Function, Operation, Value
from ...ir.opdef import lookup

# Region ops that keep every value at the nest's own index (broadcast_to only of values that do
# not depend on the variable: broadcasting the variable would read it at other indices).
_SAFE_EXTRA = {"graph.constant", "graph.yield", "graph.broadcast_to"}


def _elementwise(name: str) -> bool:
    return lookup(name).has("elementwise")


def _reads_at_own_index(op: Operation, target: Value) -> bool:
    """Whether ``op``, when materialized, reads ``target`` only at the index it stores."""
    if op.results[0].type.shape != target.type.shape:
        return False
    if op.name != "graph.fused":
        return _elementwise(op.name)
    if op.attributes.get("kind", "elementwise") != "elementwise":
        return False
    block = op.regions[0].block
    tainted = {id(a) for a, v in zip(block.args, op.operands) if v is target}
    for inner in block.ops:
        if inner.name == "graph.broadcast_to" and any(id(v) in tainted for v in inner.operands):
            return False
        if not (_elementwise(inner.name) or inner.name in _SAFE_EXTRA):
            return False
        if any(id(v) in tainted for v in inner.operands):
            if inner.results and inner.results[0].type.shape != target.type.shape:
                return False
            tainted.update(id(r) for r in inner.results)
    return True


def inplace_assignments(func: Function) -> dict[int, Value]:
    """``{id(assigned value): variable argument}`` for the assignments to compute in place."""
    ops = [op for op in func.body.ops if op.name != "return"]
    ret = func.return_op
    assigns = [op for op in ops if op.name == "graph.assign"]
    count: dict[int, int] = {}
    for op in assigns:
        count[id(op.operands[0])] = count.get(id(op.operands[0]), 0) + 1
    returned = {id(v) for v in ret.operands}
    position = {id(op): i for i, op in enumerate(ops)}
    chosen: dict[int, Value] = {}
    for a in assigns:
        target, value = a.operands
        producer = getattr(value, "op", None)
        if count[id(target)] != 1 or producer is None or id(producer) not in position or id(value) in returned:
            continue
        if not any(target is arg for arg in func.args) or not _reads_at_own_index(producer, target):
            continue
        # the variable and the reshape views of it: reading any of them later reads the variable
        aliases, frontier = {id(target)}, [target]
        while frontier:
            v = frontier.pop()
            for user, _ in v.uses:
                if user.name == "graph.reshape" and id(user.results[0]) not in aliases:
                    aliases.add(id(user.results[0]))
                    frontier.append(user.results[0])
        if aliases & returned or any(id(b.operands[1]) in aliases for b in assigns):
            continue
        if any(v is not target and id(v) in aliases for v in producer.operands):
            continue
        start = position[id(producer)]
        late_read = any(op.name not in ("graph.assign", "graph.reshape") and any(id(v) in aliases for v in op.operands)
                        for op in ops[start + 1:])
        if not late_read:
            chosen[id(value)] = target
    # A run that fails part-way (a temporary that cannot be allocated, say) must leave every
    # variable as it was, as it does when assignments land at the end: in-place updates are kept
    # only where nothing after them can fail — later ops are views, constants, other in-place
    # updates, or elementwise/reduction nests writing straight into the function's outputs (no
    # temporaries, no kernel scratch).
    def cannot_fail(op: Operation) -> bool:
        if op.name in ("graph.assign", "graph.reshape", "graph.constant"):
            return True
        if not op.results:
            return False
        r = op.results[0]
        if id(r) in chosen:
            return True
        d = lookup(op.name)
        return id(r) in returned and (op.name == "graph.fused" or d.has("elementwise") or d.has("reduction"))

    tail_start = len(ops)
    while tail_start > 0 and cannot_fail(ops[tail_start - 1]):
        tail_start -= 1
    tail = {id(r) for op in ops[tail_start:] for r in op.results}
    return {vid: t for vid, t in chosen.items() if vid in tail}
