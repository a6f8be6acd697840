"""``parallel_for``: how generated code reaches the thread pool, and the module's thread count.

``tk_parallel_for(body, ctx, n, nthreads)`` runs ``body(ctx, lo, hi)`` over chunks of ``[0, n)`` on
up to ``nthreads`` threads (see ``threadpool.py`` for the pool itself). Generated modules only
declare it: the JIT resolves it to the process-wide pool (``kernels.py``) and an ahead-of-time build
links the pool's module into the shared object (``aot_build.py``).
"""
from __future__ import annotations

import llvmlite.ir as ir

from .threadpool import MAX_THREADS, SYMBOL

I32, I64 = ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()
BODY_TYPE = ir.FunctionType(ir.VoidType(), [PTR, I64, I64])
BODY_PTR = ir.PointerType(BODY_TYPE)  # prints as a pointer; llvmlite needs the pointee to call it


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
    """The module's declaration of the pool's ``tk_parallel_for``."""
    existing = module.globals.get(SYMBOL)
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(ir.VoidType(), [BODY_PTR, PTR, I64, I64]), name=SYMBOL)


def opaque(b: ir.IRBuilder, p: ir.Value) -> ir.Value:
    """An opaque ``ptr`` for a typed one (llvmlite types allocas; its GEPs then ignore the source
    element type). LLVM folds the round trip away."""
    return b.inttoptr(b.ptrtoint(p, I64), PTR)
