"""The process-wide kernel libraries for the JIT: the thread pool and GEMM, compiled once, shared by every module.

Hand-structured kernels are large for LLVM to optimize; compiling them into every JIT module would
cost most of each compile. Instead they are compiled once per process (or loaded from the disk
cache), and their addresses are registered with LLVM's symbol table, so JIT modules only declare
``tk_gemm_f32`` and friends. Ahead-of-time builds still emit the kernels into the shared object.
"""
from __future__ import annotations

import ctypes
import os
import threading

import llvmlite
import llvmlite.binding as llvm
import llvmlite.ir as ir

from .gemm import config_for, gemm_function, gemm_name
from .gemm_skinny import skinny_function, skinny_name
from . import tiering
from .jit import ENGINES, JitModule, compile_object
from .scratch import ALLOC as SCRATCH_ALLOC, FREE as SCRATCH_FREE, scratch_ir
from .threadpool import SYMBOL as POOL_SYMBOL, threadpool_ir
from .target import LIGHT, host_features, host_features_key, host_target_machine

_lock = threading.Lock()
_libraries: dict[str, JitModule] = {}
_tier0: list[JitModule] = []  # tier-0 kernel libraries replaced by optimized ones, kept loaded
_pending: dict[str, "tiering._Job"] = {}  # optimized kernel libraries being compiled
KERNEL_DTYPES = {"f32": ir.FloatType, "f64": ir.DoubleType}


def kernel_library_ir(kind: str, features: str, lean: bool = False) -> str:
    """The LLVM IR of one kernel library: ``f32``/``f64`` (the blocked GEMM, ``tk_gemm_T``) or
    ``skinny-f32``/``skinny-f64`` (the narrow-output kernels, ``tk_gemm_skinny_T``; ``lean``: their
    small tier-0 form)."""
    dtype = kind.split("-")[-1]
    m = ir.Module(name=f"tensorkiln_kernels_{kind}")
    tm = host_target_machine()
    m.triple = tm.triple
    m.data_layout = str(tm.target_data)
    elem = KERNEL_DTYPES[dtype]()
    if kind.startswith("skinny-"):
        skinny_function(m, elem, config_for(features, 32 if dtype == "f32" else 64), internal=False, lean=lean)
    else:
        gemm_function(m, elem, features, internal=False)
    return str(m)


def _symbol(kind: str) -> str:
    dtype = kind.split("-")[-1]
    return skinny_name(KERNEL_DTYPES[dtype]()) if kind.startswith("skinny-") else gemm_name(KERNEL_DTYPES[dtype]())


def kernels_used(llvm_ir: str) -> list[str]:
    """The kernel libraries a JIT module's IR (or object code) refers to."""
    return [kind for d in KERNEL_DTYPES for kind in (f"skinny-{d}", d) if _symbol(kind) in llvm_ir]


RUNTIME_SYMBOLS = (POOL_SYMBOL, SCRATCH_ALLOC, SCRATCH_FREE)


def runtime_used(llvm_ir: str) -> bool:
    """Whether a JIT module's IR (or object code) calls the runtime library itself (its kernels,
    if any, call it in any case)."""
    return any(name in llvm_ir for name in RUNTIME_SYMBOLS)


# LLVM options per library: (IR pipeline level, unroller, machine code level). The skinny kernels
# are vectorized and unrolled by construction: the LIGHT pipeline (SROA, instcombine, simplifycfg)
# compiles them in ~45 ms CPU instead of ~95 ms at O1 (~0.21 s at O3), and they measured as fast
# (1 thread, best of 7x200: 100x10x784 19.4-19.6 vs 19.4-19.5 us, 784x10x100T 20.9-21.2 vs 21.4
# us). The blocked GEMM's K loop gains from O3's unroller (1-thread 512^3: 2.79 ms at O3,
# 2.94-3.40 ms otherwise). The runtime library (thread pool, scratch allocator) is hand-written SSA
# IR of atomics, spin loops and libc calls, a few instructions between calls and waits: it skips
# the IR passes (level 0) and gets the fast instruction selector and register allocator (machine
# code level 0), which cut its compile, the first LLVM work of a cold process, from ~75 to ~8 ms
# CPU (the softmax and MLP steps measured the same on 1 and 2 threads, at load 7).
OPT = {"skinny": (LIGHT, False, 3), "blocked": (3, True, 3), "runtime": (0, False, 0)}


def _compile(text: str, level: int, unroll: bool, codegen: int) -> JitModule:
    """A library's IR compiled at these levels (``OPT``). A quick compile (no IR passes, machine
    code level 0: tier-0 kernels, the runtime library) goes through ``jit.compile_object``, which
    runs it outside llvmlite's lock, beside the model's tier-0 object on another thread."""
    if level == 0 and codegen == 0:
        return JitModule(object_code=compile_object(text, opt_level=0, unroll=False, codegen_level=0))
    return JitModule(text, opt_level=level, unroll=unroll, codegen_level=codegen)


def _library(kind: str, build_ir, symbols: list[str], cache, build_tier0=None) -> None:
    """Compile (or load from the disk cache) one library once per process and register its
    symbols with LLVM, so JIT modules that only declare them resolve to it. ``build_tier0``: the
    IR of a smaller form for tier 0 (then ``build_ir`` runs on the tier-1 thread)."""
    if kind in _libraries:
        return
    from ... import __version__
    from ...runtime.cache import make_key
    from ...runtime.compiled_module import compiler_fingerprint

    key = make_key("kernels", kind, __version__, compiler_fingerprint(), llvmlite.__version__, host_features_key())
    obj = cache.get(key) if cache is not None else None
    level, unroll, codegen = OPT["skinny" if kind.startswith("skinny-") else "runtime" if kind == "runtime" else "blocked"]

    def register(lib: JitModule) -> None:
        for name in symbols:
            llvm.add_symbol(name, lib.address(name))
        _libraries[kind] = lib

    def install(lib: JitModule) -> None:  # a freshly compiled optimized library
        if cache is not None and lib.object_code:
            cache.put(key, lib.object_code)
        register(lib)

    if obj is not None:
        register(JitModule(object_code=obj, exports=symbols))
    elif kind != "runtime" and tiering.mode() != "0":
        # Tiered (see tiering.py): quickly compiled kernels now, never cached; the optimized ones
        # replace them in LLVM's symbol table when ready, so modules compiled after that (the
        # tier-1 model code among them: the queue is in order) call those. Code already linked
        # to the tier-0 kernels keeps calling them: they stay loaded for the process's life.
        text = build_ir() if build_tier0 is None else build_tier0()
        tier0 = _compile(text, 0, False, 0)
        register(tier0)
        _tier0.append(tier0)
        _pending[kind] = tiering.submit(
            lambda: _compile(text if build_tier0 is None else build_ir(), level, unroll, codegen), install)
    else:
        install(_compile(build_ir(), level, unroll, codegen))
    if kind == "runtime":
        # Pool workers run this library's code (spinning, then asleep in it) for as long as the
        # process lives: it must never be freed, not even during interpreter shutdown.
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(_libraries[kind]))


def runtime_ir(triple: str, data_layout: str, parts: tuple[str, ...] = ("pool", "scratch")) -> str:
    """The runtime library generated code calls into — the thread pool and the scratch allocator —
    as one LLVM module."""
    texts = {"pool": threadpool_ir, "scratch": scratch_ir}
    mods = [llvm.parse_assembly(texts[p](triple, data_layout)) for p in parts]
    for other in mods[1:]:
        mods[0].link_in(other)
    return str(mods[0])


def _runtime_ir() -> str:
    tm = host_target_machine()
    return runtime_ir(tm.triple, str(tm.target_data))


_prefetch: threading.Thread | None = None


def prefetch_runtime(cache=None) -> None:
    """Start compiling (or loading) the runtime library, and making the shared JIT engine model
    code is loaded into, on a thread of its own, to overlap the Python work of the first compile
    (front end, passes, codegen), which comes before they are needed: this is LLVM work, and LLVM
    releases the GIL (a cold softmax initializer run: median 36.3 -> 32.5 ms). ``ensure_kernels``
    waits for it on the library lock; an error is raised by that call, not by the thread.
    (Prefetching the GEMM kernels the same way measured slower: their IR is generated in Python,
    which then competes with codegen for the GIL.)"""
    global _prefetch
    if "runtime" in _libraries or _prefetch is not None:
        return

    def run() -> None:
        try:
            ensure_kernels([], cache)
            ENGINES.prepare()  # where cached and tier-0 model code is loaded (jit.py)
        except BaseException:  # ensure_kernels in the compile itself tries again and raises
            pass

    _prefetch = threading.Thread(target=run, name="tensorkiln-runtime-prefetch")
    _prefetch.start()


_warm_up: threading.Thread | None = None


def warm_up() -> None:
    """Start, on a thread of its own, the LLVM set-up that every compile and every disk-cache load
    needs first: the host CPU query (~0.75 ms) and the shared JIT engine (~1.5 ms).
    ``compiled_module`` calls this as it is imported, so the work overlaps the rest of ``import
    tensorkiln``, which reads files and releases the GIL often (LLVM releases it too). Measured
    with the dialects loaded by prefix (opdef.py), 10 alternating pairs of processes: the warm
    softmax start 10.7-12.0 -> 7.7-8.6 ms, import unchanged (docs/performance-log.md, "Warm start").
    Started later, beside the pure-Python graph building, the thread waited for the GIL and slowed
    that down (10.0-11.6 ms); doing Python work here too (the compiler fingerprint, loading the
    cached kernels) made the thread run on into the graph building (11.2-17.7 ms). A process that
    never compiles pays this CPU time on the other core."""
    global _warm_up
    if _warm_up is not None:
        return

    def run() -> None:
        try:
            host_features_key()
            ENGINES.prepare()
        except BaseException:  # the compile or load that needs these does them again, and raises
            pass

    _warm_up = threading.Thread(target=run, name="tensorkiln-warm-up")
    _warm_up.start()


def join_prefetch() -> None:
    """Wait for the runtime library's prefetch thread and the warm-up thread, if started."""
    for t in (_prefetch, _warm_up):
        if t is not None:
            t.join()


# A child forked while the prefetch thread is inside LLVM would inherit llvmlite's lock held by a
# thread it does not have (tiering.py: the same for its worker).
os.register_at_fork(before=join_prefetch)


def ensure_libraries_for(code: str, cache=None, optimized: bool = False) -> None:
    """``ensure_kernels`` for what a JIT module's IR or object code refers to: its kernel
    libraries, and the runtime library if it calls that itself."""
    ensure_kernels(kernels_used(code), cache, optimized, runtime_used(code))


def ensure_kernels(dtypes, cache=None, optimized: bool = False, runtime: bool = True) -> None:  # dtypes: kinds as kernels_used names them
    """Make the runtime library (thread pool, scratch allocator) and the GEMM kernels of these
    dtypes resolvable by the JIT (the kernels call the runtime, so it comes first). ``runtime``:
    whether the caller's code calls the runtime library itself (``runtime_used``); code that
    needs neither returns at once instead of waiting for the prefetch thread (a cold softmax
    initializer, which only stores constants, waited for it). ``optimized``: wait for the
    optimized kernels where tier-0 ones are in the symbol table (for code that is linked once and
    kept: a module loaded from the disk cache)."""
    if not dtypes and not runtime:
        return
    wait = []
    with _lock:
        _library("runtime", _runtime_ir, list(RUNTIME_SYMBOLS), cache)
        for kind in dtypes:
            # The blocked GEMM hands narrow products to the skinny kernels: those come first.
            for need in ([f"skinny-{kind}", kind] if not kind.startswith("skinny-") else [kind]):
                # (each lambda binds its ``need``: the tier-1 one runs after the loop moved on)
                build = [lambda need=need, lean=lean: kernel_library_ir(need, host_features(), lean) for lean in (False, True)]
                # The skinny kernels' tier 0 is their lean form (a fifth of the IR, the first LLVM
                # work of a cold softmax regression).
                _library(need, build[0], [_symbol(need)], cache, build[1] if need.startswith("skinny-") else None)
                if need in _pending:
                    wait.append(_pending[need])
    if optimized:
        for job in wait:
            tiering.wait_for(job)  # (in the worker: at once; its own queue had them first)
