"""Buffer lifetimes: free each temporary right after its last use instead of at the end.

Bufferization (``lower-to-loops``) frees every temporary just before ``return``, so a function's
peak memory is the sum of all its temporaries and each new one lands on cold memory. This pass moves
each top-level ``loops.dealloc`` to just after the last top-level op that touches the buffer or any
view of it (a ``loops.view``/``loops.subview``, or any op that yields a memref from it). The
allocator then hands the freed block to the next temporary of a similar size, which is still in
cache: a simple form of memory planning that reuses buffers in program order.
"""
from __future__ import annotations

from ...ir.core import Operation, Value
from ...ir.types import MemRefType
from .base import Pass


def _aliases(buf: Value) -> set[int]:
    """ids of ``buf`` and of every value that may point into it."""
    seen = {id(buf)}
    work = [buf]
    while work:
        v = work.pop()
        for user, _ in v.uses:
            for r in user.results:
                if isinstance(r.type, MemRefType) and id(r) not in seen and user.name != "loops.alloc":
                    seen.add(id(r))
                    work.append(r)
    return seen


class BufferLifetimes(Pass):
    name = "buffer-lifetimes"

    def apply_function(self, func) -> None:
        body = func.body
        deallocs = [op for op in body.ops if op.name == "loops.dealloc"]
        if not deallocs:
            return
        others = [op for op in body.ops if op.name != "loops.dealloc"]
        # Values each top-level op reads or writes, its nested loops included (one walk each).
        used = [{id(v) for inner in op.walk() for v in inner.operands} for op in others]
        after: dict[int, list[Operation]] = {}
        for dealloc in deallocs:
            ids = _aliases(dealloc.operands[0])
            last = next((i for i in range(len(others) - 1, -1, -1) if used[i] & ids), None)
            # Unused (or only returned-into) buffers are freed where they were: before the return.
            slot = last if last is not None and last < len(others) - 1 else len(others) - 2
            after.setdefault(slot, []).append(dealloc)
        body.ops = []
        for i, op in enumerate(others):
            body.ops.append(op)
            body.ops.extend(after.get(i, []))
