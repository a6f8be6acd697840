"""Shared by the GEMM kernel tests (test_gemm_kernels.py, test_gemm_blocked.py): the kernels'
ctypes signature, a call on numpy operands (strides in elements), the tolerance check against a
float64 product, and the operand layouts every shape is tried in.

Tolerance: |C - ref| <= tol·(1 + sqrt(K)·max|ref|) with tol 2e-5 (f32) and 1e-12 (f64), which allows
for the different summation order of the blocked and vectorized loops.
"""
from __future__ import annotations

import ctypes
import itertools
from typing import Callable, Iterator

import numpy as np

from tensorkiln.backends.llvm.kernels import _libraries, ensure_kernels

ARGS = [ctypes.c_int64] * 3 + [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64] * 2 + \
    [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64]
TOL = {"f32": 2e-5, "f64": 1e-12}


def load_gemm() -> dict[str, Callable[..., None]]:
    """``tk_gemm_f32`` / ``tk_gemm_f64`` of the process-wide kernel libraries, callable."""
    ensure_kernels(["f32", "f64"], optimized=True)  # the optimized kernels, not tier 0 (tiering.py)
    return {d: ctypes.CFUNCTYPE(None, *ARGS)(_libraries[d].address(f"tk_gemm_{d}")) for d in ("f32", "f64")}


def run_gemm(fn: Callable[..., None], A: np.ndarray, B: np.ndarray, c: np.ndarray, acc: int, threads: int) -> None:
    e = c.itemsize
    M, K = A.shape
    N = B.shape[1]
    fn(M, N, K, A.ctypes.data, A.strides[0] // e, A.strides[1] // e,
       B.ctypes.data, B.strides[0] // e, B.strides[1] // e, c.ctypes.data, c.strides[0] // e, acc, threads)


def check(c: np.ndarray, ref: np.ndarray, K: int, dtype: str, what: object = None) -> None:
    bound = TOL[dtype] * (1 + np.sqrt(K) * (np.abs(ref).max() if ref.size else 0.0))
    assert np.abs(c - ref).max(initial=0.0) <= bound, what


def every_layout(rng: np.random.Generator, M: int, N: int, K: int,
                 npdt: type) -> Iterator[tuple[tuple, np.ndarray, np.ndarray, np.ndarray]]:
    """((transpose A, transpose B, accumulate, threads), A, B, C's initial value) for every
    combination: transposed operands are views of row-major arrays, as a caller's would be."""
    for ta, tb, acc, threads in itertools.product((False, True), (False, True), (0, 1), (1, 2)):
        a = rng.standard_normal((K, M) if ta else (M, K)).astype(npdt)
        b = rng.standard_normal((N, K) if tb else (K, N)).astype(npdt)
        c0 = rng.standard_normal((M, N)).astype(npdt)
        yield (ta, tb, acc, threads), (a.T if ta else a), (b.T if tb else b), c0
