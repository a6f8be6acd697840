"""Plain SGD updates of a product's operand folded into the product: ``W := W - c * (A @ B)``, with
``W`` computed in place (``inplace_assign.py``), lowers to one accumulating GEMM into ``W``,
``W += op(A') @ op(B')`` with the smaller operand pre-scaled by ``-c``.

Lowered as written, the weight gradient of a dense layer is a GEMM that writes ``dW`` and then an
elementwise pass that reads ``dW`` and ``W`` and writes ``W``: for the tutorial convnet's 3136×1024
kernel, 12.8 MB written and read back, and a 12.8 MB temporary. The GEMM can add into its output
instead (it reads and writes each C tile once when K fits one block, as a batch of 100 does), so
the update costs the scaling of the smaller operand (100×1024 here: 0.4 MB) and no pass over
``W``. Measured on that layer (1 thread, CPU time, best of 21, load ~7): GEMM + update 7.0–7.15
ms, folded 6.7–6.8 ms — the accumulating GEMM must read the C tiles the plain one only writes,
which takes back most of what the dropped pass cost (it paid nothing before the micro-kernel
prefetched its C tile). The scaled operand's buffer is allocated at the product's own position, and
the scaling and the product deferred to the update's: nothing that can fail (an allocation) then
runs among the in-place updates, which ``inplace_assign`` keeps at the end of the function so that
a failed run leaves every variable as it was (the GEMM does not fail: short of memory it runs
unblocked). The operands are SSA values whose buffers nothing writes in between, except variables
updated in place, which are therefore refused as operands.

Guarded (``where(g, W - c * (A @ B), W)``, kept only when every index check of the run passed):
the scale is ``-c`` or 0, so a failed run adds zeros — ``W`` keeps its values (a ``-0.0`` may
become ``+0.0``, and a product with an Inf or NaN would still reach ``W``).

Rounding: ``W + Σ a·(−c·b)`` instead of ``W − c·Σ a·b``; the two differ by a rounding of each
term's scaling (relative 2⁻²⁴ of the update), far below what a training step's tolerance notices.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...ir.core import Operation, Value
from ...ir.types import MemRefType, ScalarType
from .rewrite import splat_value

if TYPE_CHECKING:  # pragma: no cover
    from .lower_to_loops import FunctionLowering


def _root(v: Value) -> Value:
    while getattr(v, "op", None) is not None and v.op.name == "graph.reshape":
        v = v.op.operands[0]
    return v


def _scaled_product(update: Operation, target: Value) -> tuple[Operation, float, Value | None] | None:
    """(matmul, c, guard) when ``update`` is ``fused(D, W, ...){ W - D * c }`` (or ``c * D``) with D
    a 2-D float matmul used only here and c a scalar constant, or that update kept only where a
    bool scalar holds, ``where(g, W - D * c, W)`` (the front end's guard of a run whose index check
    failed; ``g`` may be computed in the body from scalars). ``guard`` is ``g`` (a value of the
    body), or None for the plain form."""
    if update.name != "graph.fused" or update.attributes.get("kind") != "elementwise":
        return None
    block = update.regions[0].block
    arg_of = {id(a): v for a, v in zip(block.args, update.operands)}
    body = [op for op in block.ops if op.name != "graph.constant"]
    yld = body[-1] if body else None
    if yld is None or yld.name != "graph.yield":
        return None
    top = getattr(yld.operands[0], "op", None)
    guard = None
    if top is not None and top.name == "graph.where":
        guard, kept, old = top.operands
        if guard.type.rank or arg_of.get(id(old)) is not target:
            return None
        sub = getattr(kept, "op", None)
    else:
        sub = top
    if sub is None or sub.name != "graph.sub" or arg_of.get(id(sub.operands[0])) is not target:
        return None
    mul = getattr(sub.operands[1], "op", None)
    if mul is None or mul.name != "graph.mul":
        return None
    # anything else in the body is scalar work (the guard's): the update itself is W - D * c
    if any(op not in (mul, sub, top, yld) and any(r.type.rank for r in op.results) for op in body):
        return None
    x, y = mul.operands
    d, c = (x, y) if id(x) in arg_of else (y, x)
    scale = splat_value(c)
    product = arg_of.get(id(d))
    mm = getattr(product, "op", None)
    if scale is None or c.type.rank or mm is None or mm.name != "graph.matmul" or len(product.uses) != 1:
        return None
    if product.type.rank != 2 or not product.type.dtype.is_float or tuple(product.type.shape) != tuple(target.type.shape):
        return None
    return mm, float(scale), guard


def gemm_updates(func, inplace: dict[int, Value]) -> dict[int, tuple[Operation, float, Value | None]]:
    """id(update op) -> (the matmul it subtracts a multiple of, c, guard), for in-place updates (``inplace``
    maps id(assigned value) -> variable) whose product can accumulate into the variable."""
    targets = {id(op.operands[0]) for op in func.body.ops if op.name == "graph.assign"}
    found: dict[int, tuple[Operation, float, Value | None]] = {}
    for op in func.body.ops:
        target = inplace.get(id(op.results[0])) if op.results else None
        if target is None:
            continue
        match = _scaled_product(op, target)
        if match is None:
            continue
        mm = match[0]
        # an operand that is (a view of) a variable updated in place could change before the
        # deferred product runs
        if any(id(_root(v)) in targets for v in mm.operands):
            continue
        found[id(op)] = match
    return found


def scaled_buffer(fl: "FunctionLowering", mm: Operation) -> tuple[Value, Value, bool]:
    """(buffer, source, source is A): a buffer for whichever operand of ``mm`` has fewer elements,
    allocated where ``mm`` stood (an allocation can fail: before any in-place update)."""
    a_val, b_val = mm.operands

    def size(v: Value) -> int:
        n = 1
        for d in v.type.shape:
            n *= d if isinstance(d, int) else 1 << 20  # a symbolic dim: assume large
        return n

    left = size(a_val) <= size(b_val)
    src = fl.buffer_of(a_val if left else b_val)
    return fl.new_buffer_of_type(MemRefType(src.type.shape, src.type.dtype)), src, left


def accumulate_product(fl: "FunctionLowering", update: Operation, mm: Operation, scale: float, guard: Value | None,
                       prepared: tuple[Value, Value, bool], out: Value) -> None:
    """out += op(A') @ op(B'), the smaller operand copied into ``scaled_buffer``'s buffer scaled by
    ``-scale`` — by 0 where ``guard`` (a bool scalar of ``update``'s body) is false, so the update
    adds zeros. Emitted at the update's position, where the guard's inputs exist; the operands'
    buffers still hold their values there (see the module docstring)."""
    scaled, src, left = prepared
    dt = ScalarType(src.type.dtype)
    k = fl.emitter.const(-scale, dt)
    if guard is not None:
        body = update.regions[0].block
        for a, outer in zip(body.args, update.operands):
            fl.emitter.region_args[id(a)] = outer
        k = fl.b.op("loops.select", fl.emitter.scalar(guard, []), k, fl.emitter.const(0.0, dt))
    fl.loop_nest(src.type.shape, lambda idx: fl.b.create(
        "loops.store", [fl.b.op("loops.mul", fl.b.op("loops.load", src, *idx), k), scaled, *idx]))
    other = fl.buffer_of(mm.operands[1] if left else mm.operands[0])
    operands = (scaled, other) if left else (other, scaled)
    attrs = {key: mm.attributes[key] for key in ("transpose_a", "transpose_b")}
    fl.b.create("loops.matmul", [*operands, out], dict(attrs, accumulate=True))
