"""The JIT: optimized LLVM modules (or cached object code) loaded into MCJIT engines on the host.

A :class:`JitModule` owns one engine; the runtime keeps it alive while any function from it can be
called. Built from LLVM IR it optimizes and compiles the module and keeps the object code it
produced (for the disk cache); built from object code it just loads it. The optimized IR and the
assembly are produced on demand for the ``llvm-opt`` and ``asm`` stages.
"""
from __future__ import annotations

import threading
from typing import Callable, TypeVar

import llvmlite.binding as llvm

from .target import host_target_machine, new_host_target_machine, parse_and_optimize


# LLVM reads its loop-strength-reduction switch from a process-wide option when it builds a
# module's code generation pipeline, so each compile sets it under this lock. (llvmlite already
# runs one LLVM call at a time, so the lock costs no parallelism.)
_codegen_lock = threading.Lock()


T = TypeVar("T")


def with_lsr(lsr: bool, fn: Callable[[], T]) -> T:
    """``fn()`` with loop strength reduction on or off in the code generators it builds."""
    with _codegen_lock:
        llvm.set_option("", f"-disable-lsr={'false' if lsr else 'true'}")
        return fn()


def compile_object(llvm_ir: str, opt_level: int = 3, unroll: bool = True, codegen_level: int = 3,
                   lsr: bool = True) -> bytes:
    """LLVM IR to host object code without loading it (``JitModule(object_code=...)`` loads it,
    resolving its external symbols then): so it can be compiled before the kernels it calls are."""
    mod = parse_and_optimize(llvm_ir, host_target_machine(), opt_level, unroll)
    tm = new_host_target_machine(codegen_level)
    return with_lsr(lsr, lambda: tm.emit_object(mod))


class JitModule:
    """``opt_level`` picks the IR pipeline (``target.optimize``), ``unroll`` whether LLVM's loop
    unroller runs (see ``target.MODEL_UNROLL``), ``codegen_level`` the machine code generator's
    level and ``lsr`` whether it runs loop strength reduction (``target.MODEL_LSR``)."""

    def __init__(self, llvm_ir: str | None = None, object_code: bytes | None = None, opt_level: int = 3,
                 unroll: bool = True, codegen_level: int = 3, lsr: bool = True):
        assert (llvm_ir is None) != (object_code is None), "give LLVM IR or object code"
        self.llvm_ir = llvm_ir
        self.object_code = object_code
        self.module = None
        self._asm: str | None = None
        self.lsr = lsr
        if llvm_ir is not None:
            self.module = parse_and_optimize(llvm_ir, host_target_machine(), opt_level, unroll)
            self.engine = llvm.create_mcjit_compiler(self.module, new_host_target_machine(codegen_level))
            captured: list[bytes] = []
            self.engine.set_object_cache(lambda _m, buf: captured.append(bytes(buf)), lambda _m: None)
            with_lsr(lsr, self.engine.finalize_object)
            self.object_code = captured[0] if captured else None
        else:
            self.engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), new_host_target_machine())
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
