"""The scratch allocator of generated code (``tk_scratch_alloc`` / ``tk_scratch_free``): alignment,
reuse of freed large blocks (and only of blocks that fit without wasting more than half), reuse of
small blocks by size class (at most ``SMALL_SLOTS`` kept a class, last freed first out), thread
safety, and no growth over many steps' worth of allocations."""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from tensorkiln.backends.llvm import tiering
from tensorkiln.backends.llvm.kernels import _libraries, ensure_kernels
from tensorkiln.backends.llvm.scratch import SLOTS, SMALL_SLOTS


@pytest.fixture(scope="module")
def scratch():
    ensure_kernels([])
    lib = _libraries["runtime"]
    alloc = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int64)(lib.address("tk_scratch_alloc"))
    free = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lib.address("tk_scratch_free"))
    return alloc, free


def fill_and_check(p: int, size: int, value: int) -> bool:
    buf = (ctypes.c_uint8 * size).from_address(p)
    ctypes.memset(p, value, size)
    n = min(16, size)
    return bytes(buf[:n]) == bytes([value]) * n and buf[size - 1] == value


def test_alignment_and_usable_size(scratch):
    alloc, free = scratch
    for size in (1, 63, 64, 100, 4096, 65535, 65536, 1 << 20, (1 << 20) + 3):
        p = alloc(size)
        assert p and p % 64 == 0
        assert fill_and_check(p, size, size % 251)
        free(p)
    free(None)  # like free(NULL)


REUSE = r"""
import ctypes, json
from tensorkiln.backends.llvm.kernels import _libraries, ensure_kernels
ensure_kernels([])
lib = _libraries["runtime"]
alloc = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int64)(lib.address("tk_scratch_alloc"))
free = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lib.address("tk_scratch_free"))
got = {}
a = alloc(1 << 20)
free(a)
got["same back"] = alloc(1 << 20) == a    # no system allocation, no page faults
b = alloc(1 << 20)                        # a is taken: a different block
got["other"] = b != a
free(a)
free(b)
big = alloc(3 << 20)                      # larger than anything cached
got["big new"] = big not in (a, b)
free(big)
c = alloc(2 << 20)                        # fits in the 3 MiB block without wasting more than half
got["fits"] = c == big
free(c)
tiny = alloc(100 << 10)                   # would waste most of a 1 MiB block: gets its own
got["tiny own"] = tiny not in (a, b, big)
free(tiny)
print("RESULTS " + json.dumps(got))
"""


SMALL = REUSE[:REUSE.index("got = {}")] + f"SLOTS, SMALL_SLOTS = {SLOTS}, {SMALL_SLOTS}\n" + r"""
got = {}
held = [alloc(1000) for _ in range(SMALL_SLOTS + 4)]
for p in held:
    free(p)                               # the first SMALL_SLOTS are kept, the rest go to libc
again = [alloc(1500) for _ in range(SMALL_SLOTS)]  # 1000 and 1500 bytes: one size class (2 KiB)
got["kept, last freed first"] = again == held[:SMALL_SLOTS][::-1]
free(again[0])                            # now in the cache again, not in libc's hands
other = alloc(3000)                       # a 4 KiB block: another class
got["other class"] = other != again[0]
same = alloc(1000)
got["same class"] = same == again[0]
for p in [other, same] + again[1:]:
    free(p)
for _ in range(SLOTS + 4):                # small blocks do not take the large blocks' slots
    free(alloc(200))
a = alloc(1 << 20)
free(a)
got["large still cached"] = alloc(1 << 20) == a
print("RESULTS " + json.dumps(got))
"""


def test_large_blocks_are_reused_when_they_fit():
    # In a fresh process: here the cache holds whatever blocks earlier tests (and the outputs of
    # their native calls) freed, and any of those that fits may be the one handed back.
    r = subprocess.run([sys.executable, "-c", REUSE], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(next(line for line in r.stdout.splitlines() if line.startswith("RESULTS "))[8:])
    assert got == {"same back": True, "other": True, "big new": True, "fits": True, "tiny own": True}


def test_small_blocks_are_reused_by_size_class():
    # Freed small blocks are kept per power-of-two size class (SMALL_SLOTS a class) and handed back
    # last freed first; libc's own reuse would hand back the last four blocks freed (those it got)
    # first. In a fresh process, for the reason given above.
    r = subprocess.run([sys.executable, "-c", SMALL], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(next(line for line in r.stdout.splitlines() if line.startswith("RESULTS "))[8:])
    assert got == {"kept, last freed first": True, "other class": True, "same class": True,
                   "large still cached": True}


def test_threads_allocate_and_free_concurrently(scratch):
    alloc, free = scratch
    errors: list[str] = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for i in range(300):
            size = int(rng.choice([200, 70_000, 300_000, 1 << 20]))
            p = alloc(size)
            value = (seed * 31 + i) % 256
            if not p or not fill_and_check(p, size, value):
                errors.append(f"thread {seed} step {i}")
            buf = (ctypes.c_uint8 * size).from_address(p)
            if buf[0] != value or buf[size // 2] != value:  # nobody else wrote into our block
                errors.append(f"thread {seed} step {i}: block shared")
            free(p)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_steady_state_does_not_grow(scratch):
    alloc, free = scratch
    sizes = [800_000, 400_000, 102_400, 3_000_000]
    for _ in range(20):
        ps = [alloc(s) for s in sizes]
        for p, s in zip(ps, sizes):
            ctypes.memset(p, 1, s)
        for p in ps:
            free(p)
    tiering.wait()  # earlier tests' optimized code compiled first: LLVM's memory is not the allocator's
    before = rss_mb()
    for _ in range(2000):
        ps = [alloc(s) for s in sizes]
        for p in ps:
            free(p)
    assert rss_mb() - before < 1.0
