"""The JIT: optimized LLVM modules (or cached object code) loaded into MCJIT engines on the host.

A :class:`JitModule` built from LLVM IR owns one engine: it optimizes and compiles the module and
keeps the object code it produced (for the disk cache). Built from object code it is loaded into a
*shared* engine (:class:`SharedEngine`) when its exported names are given, else into an engine of
its own. The runtime keeps a module alive while any function from it can be called; a shared engine
lives while any module loaded into it does. The optimized IR and the assembly are produced on
demand for the ``llvm-opt`` and ``asm`` stages.
"""
from __future__ import annotations

import ctypes
import threading
from typing import Callable, Iterable, TypeVar

import llvmlite.binding as llvm
from llvmlite.binding import ffi

from .target import host_target_machine, new_host_target_machine, parse_and_optimize


# LLVM reads its loop-strength-reduction switch from a process-wide option when it builds a
# module's code generation pipeline, so each compile that needs another value sets it under this
# lock, and never while a compile outside llvmlite's lock (below) may be reading options.
_codegen_lock = threading.Lock()
_options = threading.Condition()
_unlocked_emits = 0  # quick compiles running outside llvmlite's lock
_lsr_now: list[bool | None] = [None]  # the value the option was last set to


T = TypeVar("T")


def with_lsr(lsr: bool, fn: Callable[[], T]) -> T:
    """``fn()`` with loop strength reduction on or off in the code generators it builds."""
    with _codegen_lock:
        if _lsr_now[0] != lsr:
            with _options:
                while _unlocked_emits:
                    _options.wait()
                llvm.set_option("", f"-disable-lsr={'false' if lsr else 'true'}")
                _lsr_now[0] = lsr
        return fn()


def _raw(name: str):
    """llvmlite's C function ``name`` without its lock-taking wrapper, or None."""
    return getattr(getattr(ffi.lib, name), "_cfn", None)


def _emit_outside_lock(tm: "llvm.TargetMachine", mod: "llvm.ModuleRef") -> bytes:
    """``tm.emit_object(mod)`` without llvmlite's process-wide lock, which otherwise runs one LLVM
    call at a time however many threads compile (so a tier-0 model object, the tier-0 kernels
    and the runtime library, compiled on three threads, took turns). LLVM itself compiles
    modules of *different* contexts on different threads at once (as ThinLTO's parallel back
    ends do), so this is for a module parsed into a context of its own, with a target machine of
    its own, at machine-code level 0 (which runs no loop strength reduction: it reads no option
    ``with_lsr`` writes, and writers wait for it anyway). The buffer accessors called after it
    only read the buffer. Falls back to the locked call where llvmlite's wrapper does not expose
    the raw functions."""
    global _unlocked_emits
    fns = [_raw(n) for n in ("LLVMPY_TargetMachineEmitToMemory", "LLVMPY_GetBufferStart", "LLVMPY_GetBufferSize",
                             "LLVMPY_DisposeMemoryBuffer", "LLVMPY_DisposeString")]
    if None in fns:
        return tm.emit_object(mod)
    emit, start, size, dispose, dispose_string = fns
    err = ctypes.c_char_p(None)
    with _options:
        _unlocked_emits += 1
    try:
        buf = emit(tm, mod, 1, ctypes.byref(err))
    finally:
        with _options:
            _unlocked_emits -= 1
            _options.notify_all()
    if not buf:
        message = (err.value or b"").decode("utf-8", "replace")
        if err.value is not None:
            dispose_string(err)
        raise RuntimeError(f"LLVM could not emit the object: {message}")
    try:
        return ctypes.string_at(start(buf), size(buf))
    finally:
        dispose(buf)


def compile_object(llvm_ir: str, opt_level: int = 3, unroll: bool = True, codegen_level: int = 3,
                   lsr: bool = True) -> bytes:
    """LLVM IR to host object code without loading it (``JitModule(object_code=...)`` loads it,
    resolving its external symbols then): so it can be compiled before the kernels it calls are.
    A quick compile (no IR passes, machine-code level 0: tier 0) runs in an LLVM context of its
    own and outside llvmlite's lock, at the same time as LLVM work on other threads."""
    if opt_level == 0 and codegen_level == 0:
        mod = parse_and_optimize(llvm_ir, host_target_machine(), 0, unroll, context=llvm.create_context())
        return _emit_outside_lock(new_host_target_machine(0), mod)
    mod = parse_and_optimize(llvm_ir, host_target_machine(), opt_level, unroll)
    tm = new_host_target_machine(codegen_level)
    return with_lsr(lsr, lambda: tm.emit_object(mod))


class SharedEngine:
    """One MCJIT engine that object files are added to, one after another.

    An engine of its own costs an object ~1 ms to load, whatever its size: MCJIT's
    ``finalize_object`` runs the code generator's pipeline on the engine's (empty) IR module. Here
    that happens once, when the engine is made; adding an object and finalizing it again then
    takes ~0.05 ms (measured: a 7 KB model object 1.0-1.5 ms alone, 0.03-0.07 ms added). The
    engine resolves a name to the object last loaded with it, so two objects exporting one name
    never share an engine: ``EnginePool`` starts a new one instead. MCJIT cannot unload an object,
    so an engine, with all its objects, is freed when no module loaded into it is alive and its
    pool has moved on."""

    def __init__(self) -> None:
        # The engine's code generator only ever compiles its empty IR module (objects come
        # compiled): the fast one (level 0) sets up in 1.3 ms instead of 1.8-2.3 the first time in a
        # process, 0.4 instead of 0.7 after that.
        self.engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), new_host_target_machine(0))
        self.engine.finalize_object()
        self.names: set[str] = set()
        self.objects = 0


class EnginePool:
    """Hands out the shared engine objects are loaded into: the current one until it holds
    ``per_engine`` objects or already exports one of the names a new object exports."""

    def __init__(self, per_engine: int = 32) -> None:
        self.per_engine = per_engine
        self.current: SharedEngine | None = None
        self.lock = threading.Lock()

    def prepare(self) -> None:
        """Make the current engine now if there is none (its set-up is most of the cost)."""
        with self.lock:
            if self.current is None:
                self.current = SharedEngine()

    def load(self, object_code: bytes, exports: frozenset[str]) -> SharedEngine:
        with self.lock:
            eng = self.current
            if eng is None or eng.objects >= self.per_engine or not eng.names.isdisjoint(exports):
                eng = self.current = SharedEngine()
            eng.engine.add_object_file(llvm.ObjectFileRef.from_data(object_code))
            eng.engine.finalize_object()
            eng.names |= exports
            eng.objects += 1
            return eng


# The pool of the process: compiled models' object files (disk-cache hits, tier-0 code) and the
# runtime and kernel libraries loaded from the disk cache. A cached library shadows LLVM's symbol
# table for the models loaded after it into its engine, which is harmless: once loaded it is the
# library of its kind for the process's life (kernels.py), and what the symbol table holds too.
# (Libraries compiled here — tier-0 kernels, replaced later — get engines of their own.)
ENGINES = EnginePool()


class JitModule:
    """``opt_level`` picks the IR pipeline (``target.optimize``), ``unroll`` whether LLVM's loop
    unroller runs (see ``target.MODEL_UNROLL``), ``codegen_level`` the machine code generator's
    level and ``lsr`` whether it runs loop strength reduction (``target.MODEL_LSR``)."""

    def __init__(self, llvm_ir: str | None = None, object_code: bytes | None = None, opt_level: int = 3,
                 unroll: bool = True, codegen_level: int = 3, lsr: bool = True,
                 exports: Iterable[str] | None = None, pool: EnginePool = ENGINES):
        """``exports``: every external name the object defines, to load it into ``pool``'s shared
        engine (object code only); without them it gets an engine of its own."""
        assert (llvm_ir is None) != (object_code is None), "give LLVM IR or object code"
        self.llvm_ir = llvm_ir
        self.object_code = object_code
        self.module = None
        self._asm: str | None = None
        self.lsr = lsr
        self.shared: SharedEngine | None = None
        if llvm_ir is not None:
            self.module = parse_and_optimize(llvm_ir, host_target_machine(), opt_level, unroll)
            self.engine = llvm.create_mcjit_compiler(self.module, new_host_target_machine(codegen_level))
            captured: list[bytes] = []
            self.engine.set_object_cache(lambda _m, buf: captured.append(bytes(buf)), lambda _m: None)
            with_lsr(lsr, self.engine.finalize_object)
            self.object_code = captured[0] if captured else None
        elif exports is not None:
            self.shared = pool.load(object_code, frozenset(exports))
            self.engine = self.shared.engine
        else:
            self.engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), new_host_target_machine(0))
            self.engine.add_object_file(llvm.ObjectFileRef.from_data(object_code))
            self.engine.finalize_object()

    def address(self, name: str) -> int:
        addr = self.engine.get_function_address(name)
        if not addr:
            raise KeyError(f"no compiled function named {name!r}")
        return addr

    @property
    def optimized_ir(self) -> str:
        assert self.module is not None, "loaded from object code: recompile to see the IR"
        return str(self.module)

    @property
    def asm(self) -> str:
        if self._asm is None:
            assert self.module is not None, "loaded from object code: recompile to see the assembly"
            self._asm = with_lsr(self.lsr, lambda: host_target_machine().emit_assembly(self.module))
        return self._asm
