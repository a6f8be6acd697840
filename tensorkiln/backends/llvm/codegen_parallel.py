"""Parallel loops in generated code: outlining a top-level ``loops.for`` marked parallel into
``body(ctx, lo, hi)`` for the thread pool, and choosing between that and an inline loop by size.

A mixin of :class:`~.codegen.FunctionCodegen` (it uses its builder, values, strides and
``for_loop``). The values a loop body uses travel in a context struct, except constants (static
dims and strides), which stay constants so LLVM still sees trip counts and strides. A loop whose
size is only known at run time is emitted twice, inline for small sizes and outlined for large
ones: outlining loses the buffers' no-alias facts and the caller's known values, so small loops run
faster inline.
"""
from __future__ import annotations

import llvmlite.ir as ir

from ...ir.core import Operation, Value

I32, I64 = ir.IntType(32), ir.IntType(64)

# Below this many loop-nest elements a parallel loop runs on the calling thread alone.
PARALLEL_MIN_ELEMENTS = 1 << 16


class ParallelLoops:
    def _captures(self, op: Operation) -> list[Value]:
        """Values used inside op's body but defined outside it, in first-use order."""
        inside: set[int] = set()
        for inner in op.walk():
            for region in inner.regions:
                for blk in region.blocks:
                    inside.update(id(a) for a in blk.args)
            inside.update(id(r) for r in inner.results)
        out: dict[int, Value] = {}
        for inner in op.walk():
            if inner is op:
                continue
            for v in inner.operands:
                if id(v) not in inside and id(v) not in out:
                    out[id(v)] = v
        return list(out.values())

    def work_estimate(self, op: Operation) -> ir.Value:
        """Elements of a top-level loop nest: its trip count times the extents of nested loops
        that are known before it (static or symbolic dims)."""
        b = self.b
        lo, hi = (self.values[id(v)] for v in op.operands[:2])
        factors: list[ir.Value] = [hi if _is_zero(lo) else b.sub(hi, lo)]
        for inner in op.walk():
            if inner is not op and inner.name == "loops.for":
                ext = inner.operands[1]
                if id(ext) in self.values:
                    factors.append(self.values[id(ext)])
                elif isinstance(getattr(ext, "op", None), Operation) and ext.op.name == "loops.const":
                    factors.append(ir.Constant(I64, int(ext.op.attributes["value"])))
        static = 1
        dynamic: list[ir.Value] = []
        for f in factors:
            if isinstance(f, ir.Constant):
                static *= int(f.constant)
            else:
                dynamic.append(f)
        work: ir.Value = ir.Constant(I64, static)
        for f in dynamic:
            work = b.mul(work, f)
        return work

    def maybe_parallel_loop(self, op: Operation) -> None:
        """A parallel loop on the thread pool when it is big enough, else inline. Inline code keeps
        what outlining loses (the buffers' no-alias facts, the caller's known values), so a small
        loop runs faster inline than as a one-chunk outlined body: both versions are emitted when
        the size is only known at run time (the softmax step on 2 threads: 87 -> 53 us)."""
        work = self.work_estimate(op)
        if isinstance(work, ir.Constant):
            (self.parallel_loop if work.constant >= PARALLEL_MIN_ELEMENTS else self.for_loop)(op)
            return
        big = self.b.icmp_signed(">=", work, ir.Constant(I64, PARALLEL_MIN_ELEMENTS))
        with self.b.if_else(big) as (then, otherwise):
            with then:
                self.parallel_loop(op)
            with otherwise:
                self.for_loop(op)

    def parallel_loop(self, op: Operation) -> None:
        """An outermost parallel loop, outlined into ``body(ctx, lo, hi)`` and run by
        ``tk_parallel_for`` on the module's thread count: the values it uses travel in a context
        struct."""
        from .parallel import BODY_TYPE, num_threads_global, opaque, parallel_for

        captured = self._captures(op)
        for v in op.operands:  # the bounds: the lower one offsets each chunk
            if all(v is not c for c in captured):
                captured.append(v)
        fields: list[tuple[int, str, int]] = []  # (value id, "value" | "stride", stride index)
        types: list[ir.Type] = []
        # Constants (static dims, strides of static shapes) stay constants in the body: loaded
        # from the context they would hide trip counts and strides from LLVM's vectorizer.
        consts: dict[int, ir.Constant] = {}
        const_strides: dict[int, dict[int, ir.Constant]] = {}
        for v in captured:
            val = self.values[id(v)]
            if isinstance(val, ir.Constant):
                consts[id(v)] = val
            else:
                fields.append((id(v), "value", 0))
                types.append(val.type)
            for k, st in enumerate(self.strides.get(id(v), [])):
                if isinstance(st, ir.Constant):
                    const_strides.setdefault(id(v), {})[k] = st
                else:
                    fields.append((id(v), "stride", k))
                    types.append(I64)
        for name in self.symbols:  # dims evaluated inside the body read the symbols
            fields.append((0, "sym:" + name, 0))
            types.append(I64)
        ctx_t = ir.LiteralStructType(types)
        parent = (self.fn, self.b, self.values, self.strides, self.sym_values)
        lo, hi = (self.values[id(v)] for v in op.operands[:2])
        # the body function
        body_fn = ir.Function(self.module, BODY_TYPE, name=self.module.get_unique_name(f"{self.fn.name}.par"))
        body_fn.linkage = "internal"
        self.fn = body_fn
        self.b = ir.IRBuilder(body_fn.append_basic_block("entry"))
        ctx, c_lo, c_hi = body_fn.args
        self.values, self.strides, self.sym_values = dict(consts), {}, {}
        loaded_strides: dict[int, dict[int, ir.Value]] = {}
        for k, ((vid, kind, idx), t) in enumerate(zip(fields, types)):
            val = self.b.load(self.b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, k)], inbounds=True, source_etype=ctx_t), typ=t)
            if kind == "value":
                self.values[vid] = val
            elif kind == "stride":
                loaded_strides.setdefault(vid, {})[idx] = val
            else:
                self.sym_values[kind[4:]] = val
        for vid, sts in parent[3].items():
            if vid in self.values:  # a buffer: its strides, constant or loaded
                known = const_strides.get(vid, {})
                self.strides[vid] = [known[k] if k in known else loaded_strides[vid][k] for k in range(len(sts))]
        base = self.values[id(op.operands[0])]
        self.for_loop(op, (self.b.add(base, c_lo), self.b.add(base, c_hi)))
        self.b.ret_void()
        self.fn, self.b, self.values, self.strides, self.sym_values = parent
        # the call site
        b = self.b
        ctx_p = opaque(b, b.alloca(ctx_t))
        for k, ((vid, kind, idx), t) in enumerate(zip(fields, types)):
            val = self.values[vid] if kind == "value" else self.strides[vid][idx] if kind == "stride" else self.sym_values[kind[4:]]
            b.store(val, b.gep(ctx_p, [ir.Constant(I32, 0), ir.Constant(I32, k)], inbounds=True, source_etype=ctx_t))
        # Only reached for loops big enough for threads (maybe_parallel_loop decides).
        nthreads = b.load(num_threads_global(self.module, self.threads), typ=I64)
        b.call(parallel_for(self.module), [body_fn, ctx_p, b.sub(hi, lo), nthreads])


def _is_zero(v: ir.Value) -> bool:
    return isinstance(v, ir.Constant) and v.constant == 0
