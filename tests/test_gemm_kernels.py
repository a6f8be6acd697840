"""The GEMM kernels called directly: every path (the blocked GEMM's 6x64 and 8x32 tiles, the
skinny dot and outer layouts, the plain-loop fallback) against a float64 numpy product, over shapes
that hit the edges, both transposes, accumulate, and one or more threads, for f32 and f64.

Tolerance: |C - ref| <= tol·(1 + sqrt(K)·max|ref|) with tol 2e-5 (f32) and 1e-12 (f64), which
allows for the different summation order of the blocked and vectorized loops.
"""
from __future__ import annotations

import numpy as np
import pytest

from gemm_cases import check, every_layout, load_gemm, run_gemm  # type: ignore[import-not-found]

SHAPES = [
    (100, 10, 784), (784, 10, 100),   # softmax regression: forward (dot) and weight gradient (outer)
    (1000, 1, 1000), (64, 1, 1000),   # GEMV
    (1, 1, 1), (5, 3, 17), (3, 10, 5), (17, 16, 33), (33, 7, 16), (129, 11, 300), (16, 9, 15), (200, 2, 1),
    (100, 16, 8), (0, 5, 20), (7, 0, 20), (20, 4, 0),
    (120, 13, 700), (50, 6, 64),      # skinny: dot split by uneven column parts; outer's CC=10 shape
    (1000, 10, 784), (300, 16, 900),  # skinny dot split by row shares (A over 512 KiB)
    (40, 24, 50), (65, 32, 300),      # the blocked GEMM, 8x32 tile (16 < N <= 32)
    (37, 45, 29), (150, 97, 260),     # the blocked GEMM, 6x64 tile, edges in every dimension
]


@pytest.fixture(scope="module")
def gemm():
    return load_gemm()


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gemm_paths_match_numpy(gemm, dtype, shape):
    M, N, K = shape
    npdt = np.float32 if dtype == "f32" else np.float64
    rng = np.random.default_rng(M * 10007 + N * 101 + K)
    for (ta, tb, acc, threads), A, B, c0 in every_layout(rng, M, N, K, npdt):
        c = c0.copy()
        run_gemm(gemm[dtype], A, B, c, acc, threads)
        check(c, A.astype(np.float64) @ B.astype(np.float64) + (c0 if acc else 0.0), K, dtype, (ta, tb, acc, threads))


@pytest.mark.parametrize("threads", [3, 4])
@pytest.mark.parametrize("shape", [(100, 10, 784), (784, 10, 100), (120, 13, 700), (1000, 10, 784), (37, 45, 29)],
                         ids=lambda s: "x".join(map(str, s)))
def test_gemm_more_threads_than_parts(gemm, threads, shape):
    """More threads than the skinny dot layout has column parts (items = parts × row shares)."""
    M, N, K = shape
    rng = np.random.default_rng(M + N + K + threads)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    for acc in (0, 1):
        c0 = rng.standard_normal((M, N)).astype(np.float32)
        c = c0.copy()
        run_gemm(gemm["f32"], a, b, c, acc, threads)
        check(c, a.astype(np.float64) @ b.astype(np.float64) + (c0 if acc else 0.0), K, "f32", (threads, acc))


# The skinny dot layout split along K (a small product with few outputs on two or more threads):
# runs of whole blocks of the outer layout's rows (64 for N <= 5, else 32 with f32's 16 lanes), the
# last run shorter than a vector (1024x4x65: 64 + 1), a K tail inside a run (200x4x641), more
# threads than runs (1024x4x65 on 3 and 4), N over 10 (the outer layout's last shape). f64 splits
# only where A is at most 512 KiB and N <= 8: here 100x5x600 and 60x7x700 (runs of 32 and 16 rows).
SPLIT_K = [(100, 10, 784), (100, 5, 784), (128, 16, 1024), (200, 4, 641), (1024, 4, 65), (37, 13, 900),
           (100, 5, 600), (60, 7, 700)]


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("threads", [2, 3, 4])
@pytest.mark.parametrize("shape", SPLIT_K, ids=lambda s: "x".join(map(str, s)))
def test_skinny_dot_split_along_k(gemm, dtype, threads, shape):
    """Each run's sums go to C (the first, accumulating as asked) or to partial sums added to C
    afterwards; C is a column slice of a wider array, whose other columns must not change."""
    M, N, K = shape
    npdt = np.float32 if dtype == "f32" else np.float64
    rng = np.random.default_rng(M * 7 + N * 11 + K * 13 + threads)
    a = rng.standard_normal((M, K)).astype(npdt)
    for tb, acc in [(False, 0), (False, 1), (True, 0), (True, 1)]:
        b = rng.standard_normal((N, K)).astype(npdt).T if tb else rng.standard_normal((K, N)).astype(npdt)
        wide = rng.standard_normal((M, N + 3)).astype(npdt)
        before = wide.copy()
        c = wide[:, :N]
        run_gemm(gemm[dtype], a, b, c, acc, threads)
        ref = a.astype(np.float64) @ b.astype(np.float64) + (before[:, :N] if acc else 0.0)
        check(c, ref, K, dtype, (tb, acc))
        assert np.array_equal(wide[:, N:], before[:, N:]), (tb, acc)


@pytest.fixture(scope="module")
def lean_skinny():
    """The skinny kernels' tier-0 form (``lean``), compiled as tier 0 is: unoptimized."""
    import ctypes

    from gemm_cases import ARGS  # type: ignore[import-not-found]
    from tensorkiln.backends.llvm import kernels
    from tensorkiln.backends.llvm.jit import JitModule
    from tensorkiln.backends.llvm.target import host_features

    kernels.ensure_kernels([])  # the runtime library (thread pool, scratch) the kernels call
    libs, fns = [], {}
    for d in ("f32", "f64"):
        text = kernels.kernel_library_ir(f"skinny-{d}", host_features(), lean=True)
        assert "tk.gemm.tblock" not in text  # no block transpose: that is what makes it lean
        libs.append(JitModule(text, opt_level=0, unroll=False, codegen_level=0))
        fns[d] = ctypes.CFUNCTYPE(None, *ARGS)(libs[-1].address(f"tk_gemm_skinny_{d}"))
    yield fns
    del libs


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("shape", [s for s in SHAPES if s[1] <= 16], ids=lambda s: "x".join(map(str, s)))
def test_lean_skinny_kernels_match_numpy(lean_skinny, dtype, shape):
    M, N, K = shape
    npdt = np.float32 if dtype == "f32" else np.float64
    rng = np.random.default_rng(M * 10007 + N * 101 + K + 1)
    for (ta, tb, acc, threads), A, B, c0 in every_layout(rng, M, N, K, npdt):
        c = c0.copy()
        run_gemm(lean_skinny[dtype], A, B, c, acc, threads)
        check(c, A.astype(np.float64) @ B.astype(np.float64) + (c0 if acc else 0.0), K, dtype, (ta, tb, acc, threads))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("shape", [(784, 10, 100), (129, 11, 300), (37, 13, 29), (48, 3, 7)],
                         ids=lambda s: "x".join(map(str, s)))
def test_outer_layout_writes_only_c_inside_a_wider_array(gemm, dtype, shape):
    """The outer layout (A's columns contiguous) storing into a C whose rows are longer than N — a
    column slice of a wider array: whole row groups are transposed in registers and the M tail
    through the shared block transpose; either way only C's own columns change."""
    M, N, K = shape
    npdt = np.float32 if dtype == "f32" else np.float64
    rng = np.random.default_rng(M + 7 * N + K)
    a = rng.standard_normal((K, M)).astype(npdt).T  # A's columns contiguous
    b = rng.standard_normal((K, N)).astype(npdt)
    for acc, threads in [(0, 1), (1, 1), (1, 2)]:
        wide0 = rng.standard_normal((M, N + 5)).astype(npdt)
        wide = wide0.copy()
        c = wide[:, 2:2 + N]
        run_gemm(gemm[dtype], a, b, c, acc, threads)
        ref = a.astype(np.float64) @ b.astype(np.float64) + (wide0[:, 2:2 + N] if acc else 0.0)
        check(c, ref, K, dtype, (acc, threads))
        np.testing.assert_array_equal(wide[:, :2], wide0[:, :2])
        np.testing.assert_array_equal(wide[:, 2 + N:], wide0[:, 2 + N:])
