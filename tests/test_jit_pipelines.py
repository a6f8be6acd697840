"""The LLVM settings each kind of JIT module is compiled with (kernels.OPT, target.MODEL_LSR): the
runtime library gets no IR passes, the skinny kernels the light pipeline (which must still turn
their stack accumulators into registers), and model modules skip loop strength reduction while
every other compile keeps it."""
from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
import numpy as np

from tensorkiln.backends.llvm import kernels, target
from tensorkiln.backends.llvm.jit import JitModule
from tensorkiln.backends.llvm.target import LIGHT, host_features


def test_runtime_library_is_compiled_as_written():
    level, unroll, codegen = kernels.OPT["runtime"]
    assert (level, codegen) == (0, 0)
    text = kernels._runtime_ir()
    lib = JitModule(text, opt_level=level, unroll=unroll, codegen_level=codegen)
    assert lib.optimized_ir == str(llvm.parse_assembly(text))  # no pass ran
    assert lib.address("tk_parallel_for") and lib.address("tk_scratch_alloc")


def test_light_pipeline_promotes_the_skinny_accumulators():
    assert kernels.OPT["skinny"][0] == LIGHT
    text = kernels.kernel_library_ir("skinny-f32", host_features())
    assert "alloca <" in text  # the generator keeps each accumulator in a stack slot
    opt = JitModule(text, opt_level=LIGHT, unroll=False).optimized_ir
    assert "alloca <" not in opt and "llvm.fma" in opt  # SROA made them registers


SRC = """
define void @axpy(ptr noalias %x, ptr noalias %y, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %px = getelementptr inbounds float, ptr %x, i64 %i
  %py = getelementptr inbounds float, ptr %y, i64 %i
  %a = load float, ptr %px
  %b = load float, ptr %py
  %s = fadd float %a, %b
  store float %s, ptr %py
  %i1 = add nsw i64 %i, 1
  %more = icmp slt i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  ret void
}
"""


def test_compiles_with_and_without_strength_reduction():
    assert target.MODEL_LSR is False
    x = np.arange(37, dtype=np.float32)
    for lsr in (False, True, False):
        mod = JitModule(SRC, unroll=False, lsr=lsr)
        fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(mod.address("axpy"))
        y = np.ones(37, dtype=np.float32)
        fn(x.ctypes.data, y.ctypes.data, 37)
        np.testing.assert_array_equal(y, x + 1)
