"""A fork-join ``parallel_for`` in generated code, on POSIX threads.

``tk.parallel_for(body, ctx, n, nthreads)`` splits the items ``[0, n)`` into ``min(n, nthreads)``
contiguous chunks; threads 1… run ``body(ctx, lo, hi)`` through ``pthread_create`` while the calling
thread runs chunk 0, then all are joined. A failed ``pthread_create`` runs that chunk inline, so
the result never depends on getting threads. Everything is emitted into the module, so the JIT and
the AOT shared object need nothing beyond libc (pthreads live in libc on current glibc).
"""
from __future__ import annotations

import llvmlite.ir as ir

I32, I64 = ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()
MAX_THREADS = 64
BODY_TYPE = ir.FunctionType(ir.VoidType(), [PTR, I64, I64])
BODY_PTR = ir.PointerType(BODY_TYPE)  # prints as a pointer; llvmlite needs the pointee to call it


def _declare(module: ir.Module, name: str, ret, args) -> ir.Function:
    f = module.globals.get(name)
    return f if f is not None else ir.Function(module, ir.FunctionType(ret, args), name=name)


def num_threads_global(module: ir.Module, default: int) -> ir.GlobalVariable:
    """The module's thread count (``tk.num_threads``), fixed when the module is generated."""
    g = module.globals.get("tk.num_threads")
    if g is None:
        g = ir.GlobalVariable(module, I64, name="tk.num_threads")
        g.linkage = "internal"
        g.global_constant = True
        g.initializer = ir.Constant(I64, max(1, min(default, MAX_THREADS)))
    return g


def parallel_for(module: ir.Module) -> ir.Function:
    existing = module.globals.get("tk.parallel_for")
    if existing is not None:
        return existing
    task_t = ir.LiteralStructType([PTR, PTR, I64, I64])
    worker = ir.Function(module, ir.FunctionType(PTR, [PTR]), name="tk.parallel_worker")
    worker.linkage = "internal"
    b = ir.IRBuilder(worker.append_basic_block("entry"))
    arg = worker.args[0]
    fields = [b.load(b.gep(arg, [ir.Constant(I32, 0), ir.Constant(I32, i)], inbounds=True, source_etype=task_t), typ=t)
              for i, t in enumerate((BODY_PTR, PTR, I64, I64))]
    b.call(fields[0], fields[1:])
    b.ret(ir.Constant(PTR, None))

    pthread_create = _declare(module, "pthread_create", I32, [PTR, PTR, PTR, PTR])
    pthread_join = _declare(module, "pthread_join", I32, [I64, PTR])
    f = ir.Function(module, ir.FunctionType(ir.VoidType(), [BODY_PTR, PTR, I64, I64]), name="tk.parallel_for")
    f.linkage = "internal"
    body, ctx, n, nthreads = f.args
    entry = f.append_basic_block("entry")
    serial = f.append_basic_block("serial")
    fork = f.append_basic_block("fork")
    b = ir.IRBuilder(entry)
    tasks = opaque(b, b.alloca(ir.ArrayType(task_t, MAX_THREADS)))
    tids = opaque(b, b.alloca(ir.ArrayType(I64, MAX_THREADS)))
    made = opaque(b, b.alloca(ir.ArrayType(I32, MAX_THREADS)))
    t = b.select(b.icmp_signed("<", nthreads, n), nthreads, n)
    t = b.select(b.icmp_signed(">", t, ir.Constant(I64, MAX_THREADS)), ir.Constant(I64, MAX_THREADS), t)
    b.cbranch(b.icmp_signed("<=", t, ir.Constant(I64, 1)), serial, fork)
    b.position_at_end(serial)
    b.call(body, [ctx, ir.Constant(I64, 0), n])
    b.ret_void()

    b.position_at_end(fork)

    def chunk(i):
        return b.sdiv(b.mul(n, i), t)

    def loop(name, lo, hi, emit):
        ptr = b.alloca(I64)
        b.store(lo, ptr)
        cond, bod, end = (f.append_basic_block(f"{name}.{s}") for s in ("cond", "body", "end"))
        b.branch(cond)
        b.position_at_end(cond)
        b.cbranch(b.icmp_signed("<", b.load(ptr, typ=I64), hi), bod, end)
        b.position_at_end(bod)
        emit(b.load(ptr, typ=I64))
        b.store(b.add(b.load(ptr, typ=I64), ir.Constant(I64, 1)), ptr)
        b.branch(cond)
        b.position_at_end(end)

    def spawn(i):
        task = b.gep(tasks, [ir.Constant(I64, 0), i], inbounds=True, source_etype=ir.ArrayType(task_t, MAX_THREADS))
        for k, v in enumerate((body, ctx, chunk(i), chunk(b.add(i, ir.Constant(I64, 1))))):
            b.store(v, b.gep(task, [ir.Constant(I32, 0), ir.Constant(I32, k)], inbounds=True, source_etype=task_t))
        tid = b.gep(tids, [ir.Constant(I64, 0), i], inbounds=True, source_etype=ir.ArrayType(I64, MAX_THREADS))
        rc = b.call(pthread_create, [tid, ir.Constant(PTR, None), worker, task])
        ok = b.icmp_signed("==", rc, ir.Constant(I32, 0))
        b.store(b.zext(ok, I32), b.gep(made, [ir.Constant(I64, 0), i], inbounds=True, source_etype=ir.ArrayType(I32, MAX_THREADS)))
        with b.if_then(b.not_(ok)):
            b.call(worker, [task])  # no thread to be had: do the chunk here

    loop("spawn", ir.Constant(I64, 1), t, spawn)
    b.call(body, [ctx, ir.Constant(I64, 0), chunk(ir.Constant(I64, 1))])

    def join(i):
        created = b.load(b.gep(made, [ir.Constant(I64, 0), i], inbounds=True, source_etype=ir.ArrayType(I32, MAX_THREADS)), typ=I32)
        with b.if_then(b.icmp_signed("!=", created, ir.Constant(I32, 0))):
            tid = b.load(b.gep(tids, [ir.Constant(I64, 0), i], inbounds=True, source_etype=ir.ArrayType(I64, MAX_THREADS)), typ=I64)
            b.call(pthread_join, [tid, ir.Constant(PTR, None)])

    loop("join", ir.Constant(I64, 1), t, join)
    b.ret_void()
    return f


def opaque(b: ir.IRBuilder, p: ir.Value) -> ir.Value:
    """An opaque ``ptr`` for a typed one (llvmlite types allocas; its GEPs then ignore the source
    element type). LLVM folds the round trip away."""
    return b.inttoptr(b.ptrtoint(p, I64), PTR)
