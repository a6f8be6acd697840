"""The narrow-output GEMM kernels (``tk_gemm_skinny_f32``) called directly on given shapes, checked
against a float64 numpy product, timed as the best of 15 rounds of 2000 calls (thread CPU time on
one thread, wall time on more).

    python benchmarks/skinny.py M,K,N,LAYOUT,THREADS[,a] ...

LAYOUT ``n`` gives ``A @ B`` with A row-major (the dot layout, as ``x @ W``), ``t`` gives A as the
transpose of a row-major array (the outer layout, as ``xᵀ @ g``); a trailing ``a`` accumulates into
C (as the SGD update folded into a weight gradient does). Example, the softmax regression's two
products: ``python benchmarks/skinny.py 100,784,10,n,2 784,100,10,t,2,a``.
"""
from __future__ import annotations

import ctypes
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main(argv: list[str]) -> int:
    from tensorkiln.backends.llvm.kernels import _libraries, ensure_kernels

    ensure_kernels(["skinny-f32"], optimized=True)
    L, P = ctypes.c_int64, ctypes.c_void_p
    gemm = ctypes.CFUNCTYPE(None, L, L, L, P, L, L, P, L, L, P, L, ctypes.c_bool, L)(
        _libraries["skinny-f32"].address("tk_gemm_skinny_f32"))
    rng = np.random.default_rng(0)
    for spec in argv:
        M, K, N, layout, threads, *acc_flag = spec.split(",")
        M, K, N, threads, ta, acc = int(M), int(K), int(N), int(threads), layout == "t", bool(acc_flag)
        a = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
        b = rng.standard_normal((K, N)).astype(np.float32)
        c = rng.standard_normal((M, N)).astype(np.float32)
        args = (M, N, K, a.ctypes.data, *((1, M) if ta else (K, 1)), b.ctypes.data, N, 1, c.ctypes.data, N, acc,
                threads)
        c0 = c.copy()
        gemm(*args)
        ref = (a.T if ta else a).astype(np.float64) @ b + (c0 if acc else 0.0)
        assert np.abs(c - ref).max() <= 1e-4 * np.sqrt(K) * np.abs(ref).max(), spec
        clock = time.thread_time if threads == 1 else time.perf_counter
        best = 1e9
        for _ in range(15):
            t = clock()
            for _ in range(2000):
                gemm(*args)
            best = min(best, (clock() - t) / 2000)
        print(f"{spec:24s} {best * 1e6:8.2f} us {2 * M * N * K / best / 1e9:7.1f} GFLOP/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
