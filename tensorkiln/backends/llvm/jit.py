"""The JIT: optimized LLVM modules loaded into MCJIT engines on the host CPU.

A :class:`JitModule` owns one engine and the module it compiled; the runtime keeps it alive while any
function from it can be called. The optimized LLVM IR and the machine code are kept retrievable
for the ``llvm-opt`` and ``asm`` stages; assembly is produced on demand only.
"""
from __future__ import annotations

import llvmlite.binding as llvm

from .target import host_target_machine, new_host_target_machine, parse_and_optimize


class JitModule:
    def __init__(self, llvm_ir: str, opt_level: int = 3):
        tm = host_target_machine()
        self.llvm_ir = llvm_ir
        self.module = parse_and_optimize(llvm_ir, tm, opt_level)
        self.optimized_ir = str(self.module)
        self.engine = llvm.create_mcjit_compiler(self.module, new_host_target_machine())
        self.engine.finalize_object()
        self._asm: str | None = None

    def address(self, name: str) -> int:
        addr = self.engine.get_function_address(name)
        if not addr:
            raise KeyError(f"no compiled function named {name!r}")
        return addr

    @property
    def asm(self) -> str:
        if self._asm is None:
            self._asm = host_target_machine().emit_assembly(self.module)
        return self._asm
