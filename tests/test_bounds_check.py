"""The debug switch TENSORKILN_BOUNDS_CHECK=1 compiles every load and store with a range check: an
out-of-range index makes the function return ERR_OUT_OF_BOUNDS (3) instead of touching memory."""
from __future__ import annotations

import ctypes

import numpy as np

from tensorkiln.backends.llvm.codegen import ERR_OUT_OF_BOUNDS, emit_module
from tensorkiln.backends.llvm.jit import JitModule
from tensorkiln.ir.parser import parse_module

# A hand-written loops function that reads one element past the end of %x: lowering never emits
# this, which is exactly why the check exists.
OOB = """func @oob(%x: memref<Nxf32>, %out0: memref<Nxf32>) {
  %0 = loops.const {value = 0} : index
  %1 = loops.const {value = 1} : index
  %2 = loops.dim {value = N} : index
  loops.for %0, %2 {
  ^bb0(%3: index):
    %4 = loops.add %3, %1 : index
    %5 = loops.load %x, %4 : f32
    loops.store %5, %out0, %3
    loops.yield
  }
  return
}
"""


def run(bounds_check: bool) -> int:
    jit = JitModule(str(emit_module(parse_module(OOB), bounds_check=bounds_check)))
    fn = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p)(jit.address("oob"))
    x = np.arange(4, dtype=np.float32)
    out = np.zeros(4, dtype=np.float32)
    return fn(3, x.ctypes.data, out.ctypes.data), out  # N = 3 of a 4-element buffer: memory stays valid


def test_out_of_bounds_read_is_reported():
    rc, _ = run(True)
    assert rc == ERR_OUT_OF_BOUNDS


def test_unchecked_build_reads_past_the_dim():
    rc, out = run(False)
    assert rc == 0 and out[2] == 3.0  # it read x[3], outside the declared N = 3


def test_checked_build_of_real_programs_agrees(monkeypatch):
    import tensorkiln as tk

    monkeypatch.setenv("TENSORKILN_BOUNDS_CHECK", "1")
    m = tk.compile("def f(x: f32[N, 3], i: i64[K]) -> (f32[K, 3], f32[3]) {\n    return gather(x, i), sum(x, axis=0)\n}")
    assert "out_of_bounds" in m.ir("f", "llvm")
    x = np.random.rand(5, 3).astype(np.float32)
    g, s = m.f(x, np.array([4, 0, 2]))
    np.testing.assert_allclose(g, x[[4, 0, 2]])
    np.testing.assert_allclose(s, x.sum(axis=0), rtol=1e-6)
