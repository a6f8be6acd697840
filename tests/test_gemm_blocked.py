"""The blocked GEMM's packing paths and fallbacks, called directly against a float64 numpy product.

Covers what ``test_gemm_kernels.py``'s small shapes do not reach: several K blocks (KC 512) and N
blocks (NC 1024) with ragged tails (transposed B read in 16 × 16 blocks whose last one is cut in
both directions), row-major B read in place (one whole panel with rows NR apart: N = 64 or 32; or
one M block, or a B block under 256 KiB, rows not a multiple of 4 KiB apart, with its ragged last
panel packed: 150x300x200) or packed
(N = 1024, several M blocks), operands with no unit stride (the scalar packers), and running out of memory
inside a GEMM (no packed B: an unblocked loop; no packed A: A read in place), which must still
give the right result.

Tolerance as in ``test_gemm_kernels.py`` (``gemm_cases.check``): |C - ref| <= tol·(1 + sqrt(K)·max|ref|),
tol 2e-5 (f32) and 1e-12 (f64).
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gemm_cases import check as _check, every_layout, load_gemm, run_gemm as _run  # type: ignore[import-not-found]


@pytest.fixture(scope="module")
def gemm():
    return load_gemm()


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("shape", [(70, 1100, 530), (13, 1030, 1050), (301, 40, 517), (50, 64, 700), (9, 32, 600),
                                   (20, 1024, 530), (150, 300, 200)],
                         ids=lambda s: "x".join(map(str, s)))
def test_several_blocks_every_layout(gemm, dtype, shape):
    M, N, K = shape
    npdt = np.float32 if dtype == "f32" else np.float64
    rng = np.random.default_rng(M + N + K)
    for (_, _, acc, threads), A, B, c0 in every_layout(rng, M, N, K, npdt):
        c = c0.copy()
        _run(gemm[dtype], A, B, c, acc, threads)
        _check(c, A.astype(np.float64) @ B.astype(np.float64) + (c0 if acc else 0.0), K, dtype)


@pytest.mark.parametrize("threads", [2, 3, 4])
@pytest.mark.parametrize("shape", [(784, 256, 100), (300, 130, 50), (150, 200, 700)], ids=lambda s: "x".join(map(str, s)))
def test_accumulated_update_on_threads(gemm, threads, shape):
    """An accumulated product with several M blocks and A transposed (the MLP's weight gradient,
    W += x^T dY) on 2-4 threads. With A at most 512 KiB (f32 here, not f64 but for 300x130x50) it
    splits C's columns into one group per thread, items group by group, A read in place: groups of
    unequal panel counts (4 panels on 3 threads; 130 columns: a ragged panel, and fewer panels than
    4 threads, so split by M blocks), two K blocks (K 700); the f64 cases split by M blocks, evened
    out to a multiple of the thread count (784 rows: 6 blocks on 2 or 3 threads, 8 on 4)."""
    M, N, K = shape
    rng = np.random.default_rng(M + N + K + threads)
    for dtype in ("f32", "f64"):
        npdt = np.float32 if dtype == "f32" else np.float64
        A = rng.standard_normal((K, M)).astype(npdt).T  # x^T, as the weight gradient reads it
        B = rng.standard_normal((K, N)).astype(npdt)
        c0 = rng.standard_normal((M, N)).astype(npdt)
        c = c0.copy()
        _run(gemm[dtype], A, B, c, 1, threads)
        _check(c, A.astype(np.float64) @ B.astype(np.float64) + c0, K, dtype)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("shape", [(37, 150, 45), (200, 70, 600)], ids=lambda s: "x".join(map(str, s)))
def test_strided_operands(gemm, dtype, shape):
    """Views with no unit stride (every other row, every third column): the scalar packers."""
    M, N, K = shape
    npdt = np.float32 if dtype == "f32" else np.float64
    rng = np.random.default_rng(7)
    for acc, threads in itertools.product((0, 1), (1, 2)):
        A = rng.standard_normal((2 * M, 3 * K)).astype(npdt)[::2, ::3]
        B = rng.standard_normal((2 * K, 3 * N)).astype(npdt)[::2, ::3]
        c0 = rng.standard_normal((M, N)).astype(npdt)
        c = c0.copy()
        _run(gemm[dtype], A, B, c, acc, threads)
        _check(c, A.astype(np.float64) @ B.astype(np.float64) + (c0 if acc else 0.0), K, dtype)


# Shared by the out-of-memory children: a kernel of the library, the scratch allocator, capping
# the address space (RLIMIT_AS) a little above what the process uses, using it up in blocks of the
# size a kernel will ask for (exit 3 when the allocator never refuses), and checking the product
# once memory is back.
_OOM_PRELUDE = """
import ctypes, resource, sys
import numpy as np
from tensorkiln.backends.llvm.kernels import _libraries, ensure_kernels
L, P = ctypes.c_int64, ctypes.c_void_p
def kernel(kind, name):
    ensure_kernels([kind], optimized=True)
    return ctypes.CFUNCTYPE(None, L, L, L, P, L, L, P, L, L, P, L, L, L)(_libraries[kind].address(name))
def vm():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
HARD = resource.getrlimit(resource.RLIMIT_AS)[1]
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (vm() + (16 << 20), HARD))
def use_up(size, most):
    held = []
    while len(held) < most:
        p = alloc(size)
        if not p:
            return held
        held.append(p)
    sys.exit(3)
def finish(held, c, ref, K):
    resource.setrlimit(resource.RLIMIT_AS, (HARD, HARD))
    for p in held:
        free(p)
    err = float(np.abs(c - ref).max())
    print(err)
    sys.exit(0 if err <= 2e-5 * (1 + np.sqrt(K) * np.abs(ref).max()) else 1)
"""


_OOM_SCRIPT = _OOM_PRELUDE + textwrap.dedent("""
    fn = kernel("f32", "tk_gemm_f32")
    alloc = ctypes.CFUNCTYPE(P, L)(_libraries["runtime"].address("tk_scratch_alloc"))
    free = ctypes.CFUNCTYPE(None, P)(_libraries["runtime"].address("tk_scratch_free"))
    rng = np.random.default_rng(3)
    M, N, K = 64, 600, 600
    a = rng.standard_normal((K, M)).astype(np.float32)    # A transposed: the path that packs A
    B = rng.standard_normal((K, N)).astype(np.float32)
    A = a.T
    ref = A.astype(np.float64) @ B.astype(np.float64)
    c = np.zeros((M, N), np.float32)
    # The GEMM's buffers at this shape (AVX-512 blocks: KC 512, 10 panels of 64, MC 144).
    bp_bytes, ap_bytes = 640 * 512 * 4, (144 * 512 + 8) * 4
    cap()
    # Use up the address space left in blocks of the size the GEMM will ask for ({case}); for
    # no-A-buffer, a B-sized block is first parked in the scratch cache, where the GEMM finds it.
    parked = alloc(bp_bytes) if "{case}" == "no-A-buffer" else None
    held = use_up(ap_bytes if "{case}" == "no-A-buffer" else bp_bytes, 1000)
    if "{case}" == "no-A-buffer" and not parked:
        sys.exit(3)
    if parked:
        free(parked)
    fn(M, N, K, A.ctypes.data, 1, M, B.ctypes.data, N, 1, c.ctypes.data, N, 0, 1)
    finish(held, c, ref, K)
""")


@pytest.mark.parametrize("case", ["no-B-buffer", "no-A-buffer"])
def test_out_of_memory_still_computes(case):
    """tk_scratch_alloc returning NULL inside the GEMM: the product is still right. Run in a child
    process whose address space is capped (RLIMIT_AS) and then used up."""
    proc = subprocess.run([sys.executable, "-c", _OOM_SCRIPT.format(case=case)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "TENSORKILN_NUM_THREADS": "1"})
    if proc.returncode == 3:
        pytest.skip("could not make the allocator refuse just that buffer here")
    assert proc.returncode == 0, proc.stdout + proc.stderr


_SKINNY_OOM_SCRIPT = _OOM_PRELUDE + textwrap.dedent("""
    fn = kernel("skinny-f32", "tk_gemm_skinny_f32")
    alloc = ctypes.CFUNCTYPE(P, L)(_libraries["runtime"].address("tk_scratch_alloc"))
    free = ctypes.CFUNCTYPE(None, P)(_libraries["runtime"].address("tk_scratch_free"))
    rng = np.random.default_rng(5)
    M, N, K = 100, 10, 784          # x @ W: the dot layout, which packs B's columns into rows
    A = rng.standard_normal((M, K)).astype(np.float32)
    B = rng.standard_normal((K, N)).astype(np.float32)
    c0 = rng.standard_normal((M, N)).astype(np.float32)
    ref = A.astype(np.float64) @ B.astype(np.float64) + {acc} * c0
    c = c0.copy()
    cap()
    held = use_up(N * K * 4, 10000)   # blocks of the packed B's size (K is a multiple of 16)
    fn(M, N, K, A.ctypes.data, K, 1, B.ctypes.data, N, 1, c.ctypes.data, N, {acc}, 1)
    finish(held, c, ref, K)
""")


@pytest.mark.parametrize("acc", [0, 1])
def test_skinny_dot_out_of_memory_still_computes(acc):
    """tk_scratch_alloc returning NULL for the skinny dot layout's packed B: the product is still
    right (computed unpacked), never a write through a null pointer."""
    proc = subprocess.run([sys.executable, "-c", _SKINNY_OOM_SCRIPT.format(acc=acc)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "TENSORKILN_NUM_THREADS": "1"})
    if proc.returncode == 3:
        pytest.skip("could not make the allocator refuse that buffer here")
    assert proc.returncode == 0, (proc.returncode, proc.stdout + proc.stderr)
