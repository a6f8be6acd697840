"""Parallel loops in generated code: outlining a top-level ``loops.for`` marked parallel for the
thread pool, and choosing between the pool and the calling thread by size.

A mixin of :class:`~.codegen.FunctionCodegen` (it uses its builder, values, strides and
``for_loop``). A parallel loop nest becomes one function ``loop(values..., lo, hi)`` plus the
pool's entry ``body(ctx, lo, hi)``, which unpacks those values from a context struct. Constants
(static dims and strides) stay constants inside, so LLVM still sees trip counts and strides, and
buffer parameters are ``noalias`` when the caller's buffers are distinct objects, so the
vectorizer keeps the no-alias facts an inline loop has. A loop whose size is only known at run
time calls ``loop`` directly when small and goes through the pool when large; LLVM compiles the
nest once either way.
"""
from __future__ import annotations

from typing import Callable

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

    def when_nonempty(self, op: Operation, emit: Callable[[Operation], None]) -> None:
        """``emit(op)`` for a top-level loop nest, guarded to run only when no inner loop of its
        perfect part (loops whose bodies are just the next loop, dims and constants) has a zero
        extent known before it: a (2^40, 0) nest would otherwise step its outer loop 2^40 times
        doing nothing. LLVM's O3 removes such empty nests itself (loop unswitching), but
        unoptimized tier-0 code (``tiering.py``) runs them as written. Only the perfect part
        counts: a body that does work before an empty inner loop (a sum over an empty axis stores
        its zero) must run. Nests with results (loop-carried values used after them) are emitted
        as they are."""
        b = self.b
        zero = ir.Constant(I64, 0)
        empty: list[ir.Value] = []
        level = op
        while True:
            body = [o for o in level.regions[0].blocks[0].ops if o.name not in ("loops.yield", "loops.dim", "loops.const")]
            if len(body) != 1 or body[0].name != "loops.for" or body[0].results:
                break
            level = body[0]
            ext, lo = (self._known_before(v) for v in (level.operands[1], level.operands[0]))
            if ext is None or lo is None or not _is_zero(lo):
                break
            if isinstance(ext, ir.Constant):
                if ext.constant <= 0 and not op.results:
                    return  # statically empty: nothing to emit
                continue
            empty.append(b.icmp_signed("<=", ext, zero))
        if op.results or not empty:
            emit(op)
            return
        any_empty = empty[0]
        for e in empty[1:]:
            any_empty = b.or_(any_empty, e)
        with b.if_then(b.not_(any_empty)):
            emit(op)

    def _known_before(self, v: Value) -> ir.Value | None:
        """v's value where a nest starts: already emitted, or a dim or constant (which the nest
        may define inside itself, but which mean the same outside it)."""
        got = self.values.get(id(v))
        if got is None and isinstance(getattr(v, "op", None), Operation):
            if v.op.name == "loops.dim":
                return self.dim(v.op.attributes["value"])
            if v.op.name == "loops.const" and isinstance(v.op.attributes["value"], int):
                return ir.Constant(I64, v.op.attributes["value"])
        return got

    def maybe_parallel_loop(self, op: Operation) -> None:
        """A parallel loop on the thread pool when it is big enough, else on the calling thread.
        A loop whose size is only known at run time is outlined once, into a function both paths
        call: directly for small sizes, through the pool's ``body(ctx, lo, hi)`` for large ones
        (emitting it twice, inline and outlined, made LLVM compile every such loop nest twice)."""
        work = self.work_estimate(op)
        if isinstance(work, ir.Constant):
            (self.parallel_loop if work.constant >= PARALLEL_MIN_ELEMENTS else self.for_loop)(op)
            return
        inner, body_fn, args, ctx_t = self._outline(op)
        lo, hi = (self.values[id(v)] for v in op.operands[:2])
        big = self.b.icmp_signed(">=", work, ir.Constant(I64, PARALLEL_MIN_ELEMENTS))
        with self.b.if_else(big) as (then, otherwise):
            with then:
                self._pool_call(body_fn, args, ctx_t, lo, hi)
            with otherwise:
                self.b.call(inner, args + [lo, hi])

    def parallel_loop(self, op: Operation) -> None:
        """An outermost parallel loop run by ``tk_parallel_for`` on the module's thread count."""
        inner, body_fn, args, ctx_t = self._outline(op)
        lo, hi = (self.values[id(v)] for v in op.operands[:2])
        self._pool_call(body_fn, args, ctx_t, lo, hi)

    def _pool_call(self, body_fn: ir.Function, args: list[ir.Value], ctx_t: ir.Type, lo: ir.Value, hi: ir.Value) -> None:
        from .parallel import num_threads_global, opaque, parallel_for

        b = self.b
        ctx_p = opaque(b, b.alloca(ctx_t))
        for k, val in enumerate(args):
            b.store(val, b.gep(ctx_p, [ir.Constant(I32, 0), ir.Constant(I32, k)], inbounds=True, source_etype=ctx_t))
        # Only reached for loops big enough for threads (maybe_parallel_loop decides).
        nthreads = b.load(num_threads_global(self.module, self.threads), typ=I64)
        b.call(parallel_for(self.module), [body_fn, ctx_p, b.sub(hi, lo), nthreads])

    def _outline(self, op: Operation) -> tuple[ir.Function, ir.Function, list[ir.Value], ir.Type]:
        """The loop nest as ``loop(fields..., lo, hi)`` (run over ``[lo, hi)``), the pool's
        ``body(ctx, lo, hi)`` that unpacks the fields from a context struct and calls it, the
        caller's values of the fields and the struct's type. ``loop`` is never inlined (into
        both callers it would be compiled twice); its buffer parameters are ``noalias`` where the
        caller's are distinct objects, so it keeps the no-alias facts an inline loop has (without
        them LLVM guards or skips vectorizing: the softmax step 53 -> 86 us)."""
        from .parallel import BODY_TYPE

        captured = self._captures(op)
        for v in op.operands:  # the bounds: the lower one offsets each chunk
            if all(v is not c for c in captured):
                captured.append(v)
        fields: list[tuple[int, str, int]] = []  # (value id, "value" | "stride", stride index)
        args: list[ir.Value] = []
        # Constants (static dims, strides of static shapes) stay constants in the body: passed in
        # they would hide trip counts and strides from LLVM's vectorizer.
        consts: dict[int, ir.Constant] = {}
        const_strides: dict[int, dict[int, ir.Constant]] = {}
        for v in captured:
            val = self.values[id(v)]
            if isinstance(val, ir.Constant):
                consts[id(v)] = val
            else:
                fields.append((id(v), "value", 0))
                args.append(val)
            for k, st in enumerate(self.strides.get(id(v), [])):
                if isinstance(st, ir.Constant):
                    const_strides.setdefault(id(v), {})[k] = st
                else:
                    fields.append((id(v), "stride", k))
                    args.append(st)
        for name in self.symbols:  # dims evaluated inside the body read the symbols
            fields.append((0, "sym:" + name, 0))
            args.append(self.sym_values[name])
        types = [a.type for a in args]
        parent = (self.fn, self.b, self.values, self.strides, self.sym_values)
        # the loop function
        inner = ir.Function(self.module, ir.FunctionType(ir.VoidType(), types + [I64, I64]),
                            name=self.module.get_unique_name(f"{self.fn.name}.loop"))
        inner.linkage = "internal"
        inner.attributes.add("noinline")
        for k in _distinct_buffers(args):
            inner.args[k].add_attribute("noalias")
        self.fn = inner
        self.b = ir.IRBuilder(inner.append_basic_block("entry"))
        self.values, self.strides, self.sym_values = dict(consts), {}, {}
        loaded_strides: dict[int, dict[int, ir.Value]] = {}
        for (vid, kind, idx), val in zip(fields, inner.args):
            if kind == "value":
                self.values[vid] = val
            elif kind == "stride":
                loaded_strides.setdefault(vid, {})[idx] = val
            else:
                self.sym_values[kind[4:]] = val
        for vid, sts in parent[3].items():
            if vid in self.values:  # a buffer: its strides, constant or passed in
                known = const_strides.get(vid, {})
                self.strides[vid] = [known[k] if k in known else loaded_strides[vid][k] for k in range(len(sts))]
        self.for_loop(op, (inner.args[-2], inner.args[-1]))
        self.b.ret_void()
        # the pool's entry: chunk bounds are relative to the loop's lower bound
        ctx_t = ir.LiteralStructType(types)
        body_fn = ir.Function(self.module, BODY_TYPE, name=self.module.get_unique_name(f"{parent[0].name}.par"))
        body_fn.linkage = "internal"
        b = ir.IRBuilder(body_fn.append_basic_block("entry"))
        ctx, c_lo, c_hi = body_fn.args
        loaded = [b.load(b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, k)], inbounds=True, source_etype=ctx_t), typ=t)
                  for k, t in enumerate(types)]
        lo_id = id(op.operands[0])
        base = consts.get(lo_id) or next(val for (vid, kind, _), val in zip(fields, loaded) if vid == lo_id and kind == "value")
        b.call(inner, loaded + [b.add(base, c_lo), b.add(base, c_hi)])
        b.ret_void()
        self.fn, self.b, self.values, self.strides, self.sym_values = parent
        return inner, body_fn, args, ctx_t


def _root(v: ir.Value) -> ir.Value | None:
    """The object a buffer pointer points into, when it is one the caller knows is distinct from
    every other: a ``noalias`` argument, a scratch allocation (``noalias`` like malloc) or a
    constant's global; else None. Views are the same pointer and subviews GEPs of it, so they
    share their buffer's root."""
    from .scratch import ALLOC

    while isinstance(v, ir.GEPInstr):
        v = v.pointer
    if isinstance(v, ir.GlobalVariable) or (isinstance(v, ir.Argument) and "noalias" in v.attributes):
        return v
    if isinstance(v, ir.CallInstr) and getattr(v.callee, "name", None) == ALLOC:
        return v
    return None


def _distinct_buffers(args: list[ir.Value]) -> list[int]:
    """Indices of the pointer arguments that may be ``noalias`` in the outlined loop: all pointers
    have known roots and no two share one (else none: an unknown pointer could reach any)."""
    ptrs = [k for k, a in enumerate(args) if isinstance(a.type, ir.PointerType)]
    roots = [_root(args[k]) for k in ptrs]
    if any(r is None for r in roots) or len({id(r) for r in roots}) != len(roots):
        return []
    return ptrs


def _is_zero(v: ir.Value) -> bool:
    return isinstance(v, ir.Constant) and v.constant == 0
