"""The process-wide kernel library for the JIT: GEMM compiled once, shared by every module.

Hand-structured kernels are large for LLVM to optimize; compiling them into every JIT module would
cost most of each compile. Instead they are compiled once per process (or loaded from the disk
cache), and their addresses are registered with LLVM's symbol table, so JIT modules only declare
``tk_gemm_f32`` and friends. Ahead-of-time builds still emit the kernels into the shared object.
"""
from __future__ import annotations

import threading

import llvmlite
import llvmlite.binding as llvm
import llvmlite.ir as ir

from .gemm import gemm_function, gemm_name
from .jit import JitModule
from .target import host_features, host_features_key, host_target_machine

_lock = threading.Lock()
_libraries: dict[str, JitModule] = {}
KERNEL_DTYPES = {"f32": ir.FloatType, "f64": ir.DoubleType}


def kernel_library_ir(dtype: str, features: str) -> str:
    m = ir.Module(name=f"tensorkiln_kernels_{dtype}")
    tm = host_target_machine()
    m.triple = tm.triple
    m.data_layout = str(tm.target_data)
    gemm_function(m, KERNEL_DTYPES[dtype](), features, internal=False)
    return str(m)


def kernels_used(llvm_ir: str) -> list[str]:
    """The kernel dtypes a JIT module's IR refers to."""
    return [d for d in KERNEL_DTYPES if f"tk_gemm_{d}" in llvm_ir]


def ensure_kernels(dtypes, cache=None) -> None:
    """Compile (or load from the disk cache) the kernels of these dtypes once per process and make
    their symbols resolvable by the JIT."""
    for dtype in dtypes:
        if dtype in _libraries:
            continue
        with _lock:
            if dtype in _libraries:
                continue
            from ... import __version__
            from ...runtime.cache import make_key

            from ...runtime.compiled_module import compiler_fingerprint

            key = make_key("kernels", dtype, __version__, compiler_fingerprint(), llvmlite.__version__, host_features_key())
            obj = cache.get(key) if cache is not None else None
            lib = JitModule(object_code=obj) if obj is not None else JitModule(kernel_library_ir(dtype, host_features()))
            if cache is not None and obj is None and lib.object_code:
                cache.put(key, lib.object_code)
            name = gemm_name(KERNEL_DTYPES[dtype]())
            llvm.add_symbol(name, lib.address(name))
            _libraries[dtype] = lib
