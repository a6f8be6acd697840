"""Large output buffers of native calls, served from the generated runtime's scratch allocator.

A native call's outputs are numpy arrays the call allocates. ``np.empty`` of a few MiB or more gets
fresh pages from the kernel (glibc serves such sizes with ``mmap`` and unmaps them when freed), and
the first write to each 4 KiB page then costs a page fault and the kernel's zeroing of the page: for
a 64 MiB result that is ~4 ms, a third of a 2^24-element elementwise chain. Large outputs therefore
come from ``tk_scratch_alloc`` (``backends/llvm/scratch.py``), whose cache keeps freed blocks, so a
loop that drops each result before the next call reuses the same, already-mapped memory. The array
owns its block through a small base object whose finalizer hands the block back with
``tk_scratch_free`` when the array and every view of it are gone. Small outputs keep ``np.empty``,
which is cheaper to call than any of this (the tiny-graph ``Session.run`` budget is a few µs).
"""
from __future__ import annotations

import ctypes
from typing import Sequence

import numpy as np

# Below this many bytes an output is an ordinary np.empty: glibc's heap recycles such blocks itself.
LARGE_OUTPUT_BYTES = 1 << 20

_alloc = None
_free = None


def _bind() -> bool:
    """Find the runtime library's allocator (registered with LLVM when the first module compiled)."""
    global _alloc, _free
    if _alloc is None:
        import llvmlite.binding as llvm

        from ..backends.llvm.scratch import ALLOC, FREE

        a, f = llvm.address_of_symbol(ALLOC), llvm.address_of_symbol(FREE)
        if not a or not f:
            return False
        _free = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(f)
        _alloc = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int64)(a)
    return True


class _Block:
    """Owns one scratch block; numpy arrays built on it keep it alive through their ``base``."""

    __slots__ = ("ptr", "__array_interface__")

    def __init__(self, ptr: int, shape: tuple[int, ...], dtype: np.dtype):
        self.ptr = ptr
        self.__array_interface__ = {"shape": shape, "typestr": dtype.str, "data": (ptr, False), "version": 3}

    def __del__(self) -> None:
        free = _free
        if free is not None:  # None only during interpreter shutdown, when leaking is harmless
            free(self.ptr)


def empty(shape: Sequence[int], dtype: np.dtype, nbytes: int) -> np.ndarray:
    """An uninitialized C-contiguous array; ``nbytes`` is its size, computed by the caller's plan."""
    if nbytes < LARGE_OUTPUT_BYTES or not _bind():
        return np.empty(shape, dtype)
    ptr = _alloc(nbytes)
    if not ptr:
        raise MemoryError(f"cannot allocate an output of shape {tuple(shape)} ({nbytes} bytes)")
    return np.asarray(_Block(ptr, tuple(shape), np.dtype(dtype)))
