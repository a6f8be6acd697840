"""Lowering of the graph dialect to the loops dialect, with bufferization.

Every graph function becomes a loops function taking its inputs and then one caller-allocated
output buffer per result. Each top-level op that produces a tensor is *materialized*: a buffer
(the output buffer when the value is returned, else ``loops.alloc``) and a loop nest over its shape
storing the value at every index. Values are computed by :class:`ScalarEmitter`, which produces the
scalar of any fusible op at a given index — recursively through ``graph.fused`` regions — so fused
intermediates never touch memory. Reshapes are views; matmuls get their own loop nest.
"""
from __future__ import annotations

from typing import Callable, Sequence

from ...ir.core import Builder, Function, Module, Operation, Value
from ...ir.diagnostics import CompileError
from ...ir.types import INDEX, Dim, MemRefType, ScalarType, TensorType
from .base import Pass
from .gemm_update import accumulate_product, gemm_updates, scaled_buffer
from .inplace_assign import inplace_assignments
from .lower_nn import NN_OPS, lower_nn_op
from .lower_outer_reduction import lower_outer_reduction
from .scalar_emitter import ScalarEmitter, broadcast_index


class FunctionLowering:
    def __init__(self, src: Function):
        self.src = src
        in_types = [MemRefType(t.shape, t.dtype) for t in src.arg_types]
        out_types = [MemRefType(t.shape, t.dtype) for t in src.result_types]
        names = [a.name_hint for a in src.args] + [f"out{i}" for i in range(len(out_types))]
        self.dst = Function(src.name, in_types + out_types, [], names, loc=src.loc)
        self.b = Builder(self.dst.body)
        self.outs = self.dst.args[len(in_types):]
        self.buffers: dict[int, Value] = {id(a): m for a, m in zip(src.args, self.dst.args)}
        self.allocs: list[Value] = []
        self.emitter = ScalarEmitter(self.b, self.buffer_of)

    # buffers -------------------------------------------------------------
    def buffer_of(self, v: Value) -> Value | None:
        buf = self.buffers.get(id(v))
        if buf is None and getattr(v, "op", None) is not None and v.op.name == "graph.constant":
            # Constant data becomes a global only when something loads from it as a buffer.
            buf = self.buffers[id(v)] = self.constant_buffer(v.op)
        return buf

    def constant_buffer(self, op: Operation) -> Value:
        t = op.result.type
        op2 = Operation("loops.buffer_constant", [], [MemRefType(t.shape, t.dtype)], {"value": op.attributes["value"]}, loc=op.loc)
        self.dst.body.insert(0, op2)
        return op2.result

    def _aliases_argument(self, buf: Value) -> bool:
        while getattr(buf, "op", None) is not None and buf.op.name == "loops.view":
            buf = buf.op.operands[0]
        return any(buf is a for a in self.dst.args)

    def new_buffer_of_type(self, t: MemRefType) -> Value:
        buf = self.b.create("loops.alloc", [], {}, [t]).result
        self.allocs.append(buf)
        return buf

    def new_buffer(self, v: Value, out: Value | None) -> Value:
        if out is not None:
            return out
        t = v.type
        buf = self.b.create("loops.alloc", [], {}, [MemRefType(t.shape, t.dtype)], loc=getattr(v, "op", None) and v.op.loc).result
        self.allocs.append(buf)
        return buf

    # driver --------------------------------------------------------------
    def run(self) -> Function:
        ret = self.src.return_op
        out_for: dict[int, Value] = {}
        for v, out in zip(ret.operands, self.outs):
            out_for.setdefault(id(v), out)
        # Values an assignment may compute straight into its variable (see inplace_assign.py).
        inplace = inplace_assignments(self.src)
        for vid, target in inplace.items():
            out_for.setdefault(vid, self.buffers[id(target)])
        # In-place SGD updates of a product accumulate the product into the variable (gemm_update.py).
        updates = gemm_updates(self.src, inplace)
        deferred = {id(mm): mm for mm, _, _ in updates.values()}
        scaled: dict[int, tuple[Value, Value, bool]] = {}
        assigns: list[Operation] = []
        for op in self.src.body.ops:
            if op.name == "return":
                break
            if op.name == "graph.assign":
                assigns.append(op)
                continue
            self.b.loc = op.loc
            if id(op) in deferred:  # only its scaled operand's buffer here (an allocation: before any update)
                scaled[id(op)] = scaled_buffer(self, op)
                continue
            if id(op) in updates:
                mm, c, guard = updates[id(op)]
                out = self.buffers.setdefault(id(op.results[0]), out_for[id(op.results[0])])
                accumulate_product(self, op, mm, c, guard, scaled[id(mm)], out)
                continue
            self.lower_op(op, out_for.get(id(op.results[0])) if op.results else None)
        for v, out in zip(ret.operands, self.outs):
            src = self.buffer_of(v)
            if src is not out:
                self.copy(src, out)
        # Assignments land last, so every read in the function saw the entry value.
        moves = []
        for op in assigns:
            target, value = op.operands
            if not (hasattr(target, "block") and target.block is self.src.body):
                raise CompileError("'graph.assign' target must be a function argument", op.loc)
            src = self.buffer_of(value)
            if src is self.buffers[id(target)]:
                continue  # computed in place
            if self._aliases_argument(src):
                # e.g. a swap `a := b; b := a`: snapshot the argument before any assignment lands.
                tmp = self.new_buffer(value, None)
                self.copy(src, tmp)
                src = tmp
            moves.append((src, self.buffers[id(target)]))
        for src, dst in moves:
            if src is not dst:
                self.copy(src, dst)
        for buf in self.allocs:
            self.b.create("loops.dealloc", [buf])
        self.b.create("return", [])
        return self.dst

    def lower_op(self, op: Operation, out: Value | None) -> None:
        name = op.name
        if name == "graph.constant":
            if out is not None:
                self.buffers[id(op.result)] = out
                self.copy(self.constant_buffer(op), out)
            return
        if name == "graph.reshape":
            src = self.buffer_of(op.operands[0])
            t = op.result.type
            view = self.b.create("loops.view", [src], {}, [MemRefType(t.shape, t.dtype)]).result
            self.buffers[id(op.result)] = view
            return
        buf = self.new_buffer(op.result, out)
        self.buffers[id(op.result)] = buf
        if name == "graph.matmul":
            self.matmul(op, buf)
        elif name == "graph.scatter_add":
            self.scatter_add(op, buf)
        elif name in NN_OPS:
            lower_nn_op(self, op, buf)
        elif not lower_outer_reduction(self, op, buf):
            self.materialize(op.result, buf)

    # loop nests ------------------------------------------------------------
    def loop_nest(self, dims: Sequence[Dim], body: Callable[[list[Value]], None], parallel: bool = True) -> None:
        """Nested loops over dims (outermost first); ``body(idx)`` runs in the innermost block."""
        idx: list[Value] = []

        def rec(k: int) -> None:
            if k == len(dims):
                body(list(idx))
                return
            loop = self.emitter.for_loop(dims[k], [], parallel=parallel)
            idx.append(loop.iv)
            rec(k + 1)
            idx.pop()
            loop.finish([])

        rec(0)

    def materialize(self, v: Value, buf: Value) -> None:
        def body(idx: list[Value]) -> None:
            self.b.create("loops.store", [self.emitter.scalar(v, idx, root=True), buf, *idx])

        self.loop_nest(v.type.shape, body)

    def copy(self, src: Value, dst: Value) -> None:
        def body(idx: list[Value]) -> None:
            self.b.create("loops.store", [self.b.op("loops.load", src, *idx), dst, *idx])

        self.loop_nest(dst.type.shape, body)

    def matmul(self, op: Operation, out: Value) -> None:
        a_val, b_val = op.operands
        if not op.result.type.dtype.is_float:
            self.matmul_loops(op, out)
            return
        A, B = self.buffer_of(a_val), self.buffer_of(b_val)
        attrs = {k: op.attributes[k] for k in ("transpose_a", "transpose_b")}
        rt: TensorType = op.result.type
        batch = rt.shape[:-2]
        if not batch:
            self.b.create("loops.matmul", [A, B, out], attrs)
            return

        def body(bidx: list[Value]) -> None:
            ab = broadcast_index(self.emitter, bidx, batch, a_val.type.shape[:-2])
            bb = broadcast_index(self.emitter, bidx, batch, b_val.type.shape[:-2])
            views = []
            for buf, idx in ((A, ab), (B, bb), (out, bidx)):
                t = buf.type
                views.append(self.b.create("loops.subview", [buf, *idx], {}, [MemRefType(t.shape[-2:], t.dtype)]).result)
            self.b.create("loops.matmul", views, attrs)

        self.loop_nest(batch, body, parallel=False)

    def matmul_loops(self, op: Operation, out: Value) -> None:
        """Integer matmul as a plain loop nest: C[.., i, j] = sum_k A[.., i, k] * B[.., k, j] in
        i, (zero j), k, j order, so the j loop is contiguous in B and C."""
        a_val, b_val = op.operands
        A, B = self.buffer_of(a_val), self.buffer_of(b_val)
        ta, tb = op.attributes["transpose_a"], op.attributes["transpose_b"]
        rt: TensorType = op.result.type
        batch, (m, n) = rt.shape[:-2], rt.shape[-2:]
        k_dim = a_val.type.shape[-2] if ta else a_val.type.shape[-1]
        dt = ScalarType(rt.dtype)

        def body(bidx: list[Value]) -> None:
            ab = broadcast_index(self.emitter, bidx, batch, a_val.type.shape[:-2])
            bb = broadcast_index(self.emitter, bidx, batch, b_val.type.shape[:-2])
            li = self.emitter.for_loop(m, [], parallel=True)
            i = li.iv
            lz = self.emitter.for_loop(n, [], parallel=True)
            zero = self.emitter.const(0, dt)
            self.b.create("loops.store", [zero, out, *bidx, i, lz.iv])
            lz.finish([])
            lk = self.emitter.for_loop(k_dim, [], parallel=False)
            k = lk.iv
            a = self.b.op("loops.load", A, *ab, *((k, i) if ta else (i, k)))
            lj = self.emitter.for_loop(n, [], parallel=True)
            j = lj.iv
            bv = self.b.op("loops.load", B, *bb, *((j, k) if tb else (k, j)))
            c = self.b.op("loops.load", out, *bidx, i, j)
            self.b.create("loops.store", [self.b.op("loops.add", c, self.b.op("loops.mul", a, bv)), out, *bidx, i, j])
            lj.finish([])
            lk.finish([])
            li.finish([])

        self.loop_nest(batch, body)

    def scatter_add(self, op: Operation, out: Value) -> None:
        """out = 0; out[.., indices[j..], ..] += updates[.., j.., ..] — a store-based nest, since
        each output element gathers from a data-dependent set of updates."""
        upd, ix = op.operands
        axis, r = op.attributes["axis"], ix.type.rank
        dt = ScalarType(op.result.type.dtype)
        self.loop_nest(op.result.type.shape, lambda idx: self.b.create("loops.store", [self.emitter.const(0, dt), out, *idx]))
        size = self.emitter.index_of(op.attributes["size"])

        def body(idx: list[Value]) -> None:
            e = self.emitter
            raw = self.b.op("loops.cast", e.scalar(ix, idx[axis:axis + r]))
            zero = e.const(0, INDEX)
            ok = self.b.op("loops.logical_and", self.b.op("loops.ge", raw, zero), self.b.op("loops.lt", raw, size))
            j = self.b.op("loops.minimum", self.b.op("loops.maximum", raw, zero), self.b.op("loops.sub", size, e.const(1, INDEX)))
            dst = idx[:axis] + [j] + idx[axis + r:]
            old = self.b.op("loops.load", out, *dst)
            add = self.b.op("loops.add", old, e.scalar(upd, idx))
            # Out-of-range indices are dropped: store back the old value.
            self.b.create("loops.store", [self.b.op("loops.select", ok, add, old), out, *dst])

        self.loop_nest(upd.type.shape, body, parallel=False)


class LowerToLoops(Pass):
    name = "lower-to-loops"

    def apply(self, module: Module) -> None:
        for name, f in list(module.functions.items()):
            if any(not isinstance(t, TensorType) for t in f.arg_types):
                raise CompileError(f"@{name} is already lowered", f.loc)
            module.functions[name] = FunctionLowering(f).run()
