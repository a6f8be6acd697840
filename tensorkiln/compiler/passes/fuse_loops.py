"""Fuse consecutive top-level loop nests over the same rows into one nest (row-wise loop fusion).

After bufferization a softmax is several nests over the rows of its input: the row maximum, the
shifted values, the sum of their exponentials, the result, and the cross-entropy gradient after
it. Each nest walks the whole batch, so every intermediate row leaves the cache between its
producer and its consumer, and with threads each nest is a pool job of its own. When every buffer
that one nest writes and the other reads or writes is only ever indexed by the outer loop's index
in its first dim (row ``i`` touches row ``i`` only), the two nests can run as one: iteration ``i``
does the first body for row ``i``, then the second. Rows then go from producer to consumer through
L1, and a softmax with its loss and gradient is one pass over the batch.

Rules: both loops are parallel, start at 0 with step 1 and have the same trip count (the same
value, or equal constants or dims); the ops between them only define constants, dims, views,
allocations and scalars, or load and store buffers neither nest touches (they move in front of the
first nest); neither nest holds an op that touches memory
other than ``loops.load``/``loops.store``; and every buffer written by one nest and read or written
by the other — buffers compared by their root, through views — is accessed, in both, only as
``buf[i, ...]`` (through views that keep the rows); at least one such buffer exists (something flows
between the nests), and the nests walk rows of at least ``MIN_ROW`` elements (or of a run-time
size). Runs after collapse-loops.
"""
from __future__ import annotations

from ...ir.core import Block, Operation, Value
from ...ir.types import MemRefType
from .base import Pass
from .collapse_loops import const_index, trip_dim

# Rows shorter than this stay in separate nests. Short rows gain nothing from fusion (a [100, 10]
# batch of logits is 4 KB: every pass finds it in L1) and lose: the softmax-regression step's fused
# nest of 10-element rows ran 49.4 us against 43.9 us unfused (1 thread); a [2000, 1000] softmax
# with its cross-entropy step ran 2.9 ms fused against 3.3-3.7 ms unfused.
MIN_ROW = 64

_MOVABLE = ("loops.const", "loops.dim", "loops.alloc", "loops.view", "loops.buffer_constant")


def _movable(op: Operation) -> bool:
    """Top-level ops that may move in front of the first nest: definitions of constants, dims,
    views and buffers, and scalar arithmetic (no buffer operands, no regions)."""
    if op.name in _MOVABLE:
        return True
    if op.name in ("loops.load", "loops.store"):  # only if neither nest touches its buffer (_fusible)
        return True
    return op.name != "loops.for" and not op.regions and op.name not in ("loops.matmul", "loops.dealloc", "return") \
        and not any(isinstance(v.type, MemRefType) for v in op.operands)


def _root(v: Value) -> Value:
    while getattr(v, "op", None) is not None and v.op.name == "loops.view":
        v = v.op.operands[0]
    return v


def _simple_loop(op: Operation) -> bool:
    return (op.name == "loops.for" and bool(op.attributes.get("parallel")) and not op.results
            and len(op.operands) == 2 and op.attributes.get("step", 1) == 1 and const_index(op.operands[0]) == 0)


def _accesses(loop: Operation) -> list[tuple[str, Value, tuple[Value, ...]]] | None:
    """(kind, buffer, indices) of every load and store in ``loop``; None if anything else in it
    touches memory (a kernel call, a view or an allocation)."""
    out = []
    for op in loop.walk():
        if op is loop:
            continue
        if op.name == "loops.load":
            out.append(("r", op.operands[0], op.operands[1:]))
        elif op.name == "loops.store":
            out.append(("w", op.operands[1], op.operands[2:]))
        elif any(isinstance(v.type, MemRefType) for v in op.operands) or \
                any(isinstance(r.type, MemRefType) for r in op.results):
            return None
    return out


def _fusible(a: Operation, b: Operation, between: list[Operation]) -> bool:
    if not (_simple_loop(a) and _simple_loop(b)):
        return False
    ta, tb = trip_dim(a.operands[1]), trip_dim(b.operands[1])
    if not (a.operands[1] is b.operands[1] or (ta is not None and ta == tb)):
        return False
    acc_a, acc_b = _accesses(a), _accesses(b)
    if acc_a is None or acc_b is None:
        return False
    ia, ib = a.regions[0].block.args[0], b.regions[0].block.args[0]

    def roots(acc, kind):
        return {id(_root(buf)) for k, buf, _ in acc if k == kind}

    conflict = (roots(acc_a, "w") & (roots(acc_b, "r") | roots(acc_b, "w"))) | (roots(acc_b, "w") & roots(acc_a, "r"))
    touched = roots(acc_a, "r") | roots(acc_a, "w") | roots(acc_b, "r") | roots(acc_b, "w")
    for op in between:  # a top-level load or store moves in front of the first nest: not across it
        if op.name == "loops.load" and id(_root(op.operands[0])) in touched:
            return False
        if op.name == "loops.store" and id(_root(op.operands[1])) in touched:
            return False
    if not conflict:
        return False  # nothing flows from one nest to the other: nothing to gain
    longest = 0  # the longest row the nests walk (a symbolic one counts as long)
    for acc, iv in ((acc_a, ia), (acc_b, ib)):
        for _, buf, idx in acc:
            if idx and idx[0] is iv:
                row = _row(buf.type.shape)
                longest = max(longest, row if isinstance(row, int) else MIN_ROW)
            if id(_root(buf)) in conflict and (not idx or idx[0] is not iv or not _same_rows(buf)):
                return False
    return longest >= MIN_ROW


def _row(shape) -> object:
    n = 1
    for d in shape[1:]:
        n = n * d
    return n


def _same_rows(buf: Value) -> bool:
    """Whether row ``i`` of ``buf`` (a view, possibly) is row ``i`` of its root buffer: the same
    first dim and the same number of elements in a row ([N] and [N, 1], say)."""
    root = _root(buf)
    if root is buf:
        return True
    a, b = buf.type.shape, root.type.shape
    return bool(a) and bool(b) and a[0] == b[0] and _row(a) == _row(b)


def _fuse(a: Operation, b: Operation, between: list[Operation]) -> None:
    block = a.parent
    for op in between:  # defined before the first nest now; they read nothing either nest writes
        block.ops.remove(op)
        block.insert(block.ops.index(a), op)
    body_a, body_b = a.regions[0].block, b.regions[0].block
    body_b.args[0].replace_all_uses_with(body_a.args[0])
    yield_a = body_a.terminator
    for op in list(body_b.ops):
        if op is body_b.terminator:
            continue
        body_b.ops.remove(op)
        body_a.insert(body_a.ops.index(yield_a), op)
    b.erase()


def fuse_block(block: Block) -> bool:
    changed = False
    i = 0
    while i < len(block.ops):
        a = block.ops[i]
        if not _simple_loop(a):
            i += 1
            continue
        j = i + 1
        while j < len(block.ops) and _movable(block.ops[j]):
            j += 1
        if j < len(block.ops) and _fusible(a, block.ops[j], block.ops[i + 1:j]):
            _fuse(a, block.ops[j], block.ops[i + 1:j])
            changed = True
            i = block.ops.index(a)  # try the next nest against the grown one
        else:
            i += 1
    return changed


class FuseLoops(Pass):
    name = "fuse-loops"

    def apply_function(self, func) -> None:
        fuse_block(func.body)
