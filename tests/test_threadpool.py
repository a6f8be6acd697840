"""The persistent thread pool (``tk_parallel_for``): every item exactly once, for any item count and
thread count; concurrent callers; a bounded number of threads; forked children.

The pool is driven through a small hand-written LLVM module whose body adds ``i + 1`` to item
``i``, so an item run twice or never shows in the result.
"""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import threading

import llvmlite.binding as llvm
import numpy as np
import pytest

from tensorkiln.backends.llvm.jit import JitModule
from tensorkiln.backends.llvm.kernels import ensure_kernels

DRIVER = """
target triple = "{triple}"
declare void @tk_parallel_for(ptr, ptr, i64, i64)
define internal void @body(ptr %ctx, i64 %lo, i64 %hi) {{
entry:
  %empty = icmp sge i64 %lo, %hi
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [ %lo, %entry ], [ %i1, %loop ]
  %p = getelementptr i64, ptr %ctx, i64 %i
  %v = load i64, ptr %p
  %i1 = add i64 %i, 1
  %v1 = add i64 %v, %i1
  store i64 %v1, ptr %p
  %more = icmp slt i64 %i1, %hi
  br i1 %more, label %loop, label %done
done:
  ret void
}}
define void @run(ptr %buf, i64 %n, i64 %threads, i64 %times) {{
entry:
  br label %rep
rep:
  %k = phi i64 [ 0, %entry ], [ %k1, %rep ]
  call void @tk_parallel_for(ptr @body, ptr %buf, i64 %n, i64 %threads)
  %k1 = add i64 %k, 1
  %again = icmp slt i64 %k1, %times
  br i1 %again, label %rep, label %out
out:
  ret void
}}
"""


@pytest.fixture(scope="module")
def run():
    ensure_kernels([])
    mod = JitModule(DRIVER.format(triple=llvm.get_process_triple()))
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)(mod.address("run"))
    fn.keep = mod  # the engine must outlive the function pointer

    def call(n: int, threads: int, times: int = 1) -> np.ndarray:
        buf = np.zeros(max(n, 1), np.int64)
        fn(buf.ctypes.data, n, threads, times)
        return buf[:n]

    return call


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 9, 100, 1023, 100_003])
@pytest.mark.parametrize("threads", [1, 2, 3, 5, 64, 1000])
def test_every_item_exactly_once(run, n, threads):
    times = 7
    np.testing.assert_array_equal(run(n, threads, times), times * np.arange(1, n + 1))


def test_concurrent_callers_get_their_own_results(run):
    # Python threads call in at once (ctypes drops the GIL): one owns the pool, the others run
    # their loops serially; nobody's items get mixed up with anybody else's.
    results: dict[int, bool] = {}

    def work(i: int) -> None:
        n = 1000 + 37 * i
        results[i] = bool((run(n, 2, 50) == 50 * np.arange(1, n + 1)).all())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: True for i in range(8)}


def test_threads_are_started_once(run):
    run(10_000, 4)
    before = set(os.listdir("/proc/self/task"))
    for _ in range(200):
        run(10_000, 4)
    # Workers persist: 200 more parallel calls start no new threads. (Compared as sets of thread
    # ids: another test's thread may exit meanwhile, which a count would take for a change.)
    assert set(os.listdir("/proc/self/task")) - before == set()


def test_forked_child_uses_the_pool_afresh():
    # In a fresh interpreter: warm the pool, fork, and check the child's parallel loops (the child
    # has none of the parent's worker threads) and the parent's afterwards.
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_threadpool import run
        call = run.__wrapped__()
        import numpy as np
        ok = lambda n: bool((call(n, 2, 20) == 20 * np.arange(1, n + 1)).all())
        assert ok(5000)
        pid = os.fork()
        if pid == 0:
            os._exit(0 if ok(5000) and ok(77) else 3)
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        assert ok(5000)
        print("fork ok")
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "fork ok" in r.stdout, r.stderr


OWNER_DRIVER = """
target triple = "{triple}"
declare void @tk_parallel_for(ptr, ptr, i64, i64)
declare i64 @pthread_self()
define internal void @body(ptr %ctx, i64 %lo, i64 %hi) {{
entry:
  %me = call i64 @pthread_self()
  %empty = icmp sge i64 %lo, %hi
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [ %lo, %entry ], [ %i1, %loop ]
  %p = getelementptr i64, ptr %ctx, i64 %i
  store i64 %me, ptr %p
  %i1 = add i64 %i, 1
  %more = icmp slt i64 %i1, %hi
  br i1 %more, label %loop, label %done
done:
  ret void
}}
define i64 @owners(ptr %buf, i64 %n, i64 %threads) {{
entry:
  call void @tk_parallel_for(ptr @body, ptr %buf, i64 %n, i64 %threads)
  %me = call i64 @pthread_self()
  ret i64 %me
}}
"""


@pytest.mark.parametrize("threads", [2, 3])
def test_caller_claims_from_the_front_workers_from_the_back(threads):
    """Each item records the thread that ran it: the caller's items are a prefix of the range and
    the workers' the rest (the claiming order that keeps each thread on the same rows job after
    job), whatever the timing; every item was run."""
    ensure_kernels([])
    mod = JitModule(OWNER_DRIVER.format(triple=llvm.get_process_triple()))
    fn = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)(mod.address("owners"))
    n = 200_003
    for _ in range(20):
        buf = np.zeros(n, np.int64)
        caller = fn(buf.ctypes.data, n, threads)  # pthread_self() as an i64, as the items hold it
        assert (buf != 0).all()
        mine = buf == caller
        assert mine[0] or not mine.any()
        assert not np.any(mine[1:] & ~mine[:-1]), "a caller's item after a worker's"
