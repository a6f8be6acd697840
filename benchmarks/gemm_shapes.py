"""The blocked f32 GEMM (``tk_gemm_f32``, called directly) against numpy over the square sizes and the
models' products, both contenders timed alternately in one process, best of N rounds.

    TENSORKILN_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/gemm_shapes.py [--threads 1] [names]

With one thread the times are the calling thread's CPU time (``time.thread_time``), so other load on
a shared machine slows neither contender's figure much; with more threads they are wall time, and each
contender runs after a 0.3 s pause so neither is slowed by the other's still-spinning idle threads.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time

SHAPES = {  # name: (M, K, N, A transposed, B transposed)
    "1024": (1024, 1024, 1024, False, False),
    "2048": (2048, 2048, 2048, False, False),
    "dense1": (100, 3136, 1024, False, False),        # convnet dense layer, batch 100
    "dense1-dx": (100, 1024, 3136, False, True),      # its input gradient: g @ W^T
    "dense1-dw": (3136, 100, 1024, True, False),      # its weight gradient: x^T @ g
    "mlp": (100, 784, 256, False, False),             # MLP hidden layer
    "mlp-dw": (784, 100, 256, True, False),           # its weight gradient
    "softmax": (100, 784, 10, False, False),          # softmax regression's logits: the skinny kernels
    "softmax-dw": (784, 100, 10, True, False),        # its weight gradient
    "conv2": (196, 800, 64, False, False),            # conv2 as im2col @ W, one image
    "conv2-dx": (196, 64, 800, False, True),          # its column gradient: g @ W^T
    "conv2-dw": (800, 196, 64, True, False),          # its filter gradient: cols^T @ g
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("names", nargs="*", default=[n for n in SHAPES if n != "2048"])
    p.add_argument("--threads", type=int, default=int(os.environ.get("TENSORKILN_NUM_THREADS", "1")))
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    import numpy as np

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from tensorkiln.backends.llvm.kernels import _libraries, ensure_kernels

    ensure_kernels(["f32"], optimized=True)
    L, P = ctypes.c_int64, ctypes.c_void_p
    gemm = ctypes.CFUNCTYPE(None, L, L, L, P, L, L, P, L, L, P, L, ctypes.c_bool, L)(_libraries["f32"].address("tk_gemm_f32"))
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    settle = 0.0 if args.threads == 1 else 0.3
    rng = np.random.default_rng(0)
    print(f"threads {args.threads}, best of {args.rounds}, load average {os.getloadavg()[0]:.2f}")
    for name in args.names:
        M, K, N, ta, tb = SHAPES[name]
        a = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
        b = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
        A, B = (a.T if ta else a), (b.T if tb else b)
        c = np.empty((M, N), np.float32)
        call_args = (M, N, K, a.ctypes.data, *((1, M) if ta else (K, 1)), b.ctypes.data, *((1, K) if tb else (N, 1)),
                     c.ctypes.data, N, False, args.threads)
        gemm(*call_args)
        ref = A.astype(np.float64) @ B.astype(np.float64)
        assert np.abs(c - ref).max() <= 1e-4 * np.sqrt(K) * np.abs(ref).max(), name
        flops = 2.0 * M * N * K
        reps = max(3, int(2e9 / flops))
        best = {"tensorkiln": 1e9, "numpy": 1e9}
        for _ in range(args.rounds):
            for who, fn in (("tensorkiln", lambda: gemm(*call_args)), ("numpy", lambda: A @ B)):
                time.sleep(settle)
                t = clock()
                for _ in range(reps):
                    fn()
                best[who] = min(best[who], (clock() - t) / reps)
        tk_gf, np_gf = flops / best["tensorkiln"] / 1e9, flops / best["numpy"] / 1e9
        shape = f"{M}x{K}x{N}{' A^T' if ta else ''}{' B^T' if tb else ''}"
        print(f"{name:10s} {shape:20s} "
              f"tensorkiln {tk_gf:6.1f}   numpy {np_gf:6.1f} GFLOP/s   ratio {tk_gf / np_gf:.2f}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
