"""Tiered compilation: a big module missing from the disk cache runs first as quickly compiled
code (tier 0) while its optimized code (tier 1) is compiled on a background thread, then swapped in.

LLVM's O3 pipeline and machine code generator are most of a cold compile (the softmax train step:
~90 of ~120 ms CPU), and a first call can run perfectly well on code compiled without IR passes and
with the fast instruction selector (~16 ms). So ``compile_graph_module`` compiles that and returns
at once, having queued (:func:`submit`) a job that compiles the module again at the full level,
writes *that* object to the disk cache (tier-0 code is never cached), and re-points every
:class:`~tensorkiln.runtime.executable.NativeFunction` of the module at it (``retarget``: a call
already running keeps running the tier-0 code, which stays loaded as long as the function lives).
Later processes load the optimized object from the cache, so they never see tier 0. The GEMM kernel
libraries are tiered the same way (``kernels.py``): tier-0 kernels first, the optimized ones
replacing them in LLVM's symbol table.

Tier-0 results can differ from tier-1 results in the last bits: reductions marked ``reassoc`` sum in
another order once vectorized, and FMA contraction differs; a run is never a mix of the two. Set
``TENSORKILN_TIERED=0`` to compile every module fully before its first call (deterministic
bit-for-bit from the first call), or call :func:`wait` to let pending optimized code arrive.

One worker thread at a time takes the jobs in order (llvmlite runs one LLVM call at a time in a
process — only the quick tier-0 compiles run outside its lock, ``jit.compile_object`` — so more
would not compile faster), and never while a compile someone waits for is
running (:class:`foreground`); it is not a daemon, so the interpreter lets it finish at exit
rather than tear LLVM down under it (which is also what puts a short-lived process's optimized
code in the disk cache), and it exits when the queue is empty. A job whose functions have all
been garbage-collected is dropped unstarted. A fork waits for the running job to end (a child
must not inherit LLVM's locks mid-compile) and the child starts with an empty queue; its functions
keep the code they have.
"""
from __future__ import annotations

import gc
import os
import re
import threading
import time
import warnings
import weakref
from collections import deque
from typing import Any, Callable, Optional

# Modules with less LLVM IR than this compile fully at once: their O3 compile costs about what
# tier 0 does (the softmax initializer's 1.45K characters, wrappers left out: ~6.5 ms at O3, ~2 ms
# at tier 0; a single matmul's 0.9K stays below).
MIN_IR_CHARS = 1200
# An entry's Python wrappers (``pywrappers.py``) and the C API functions they declare: they compile
# in no time and do not count towards MIN_IR_CHARS.
_WRAPPERS = re.compile(r'^define [^\n]*@"[^"\n]+\.(?:py|fast)"\(.*?^}\n\n?|^declare [^\n]*@"?Py\w+"?\(.*?\n\n?', re.M | re.S)


def mode() -> str:
    """``TENSORKILN_TIERED``: ``1`` (default: modules of at least MIN_IR_CHARS), ``0`` (never),
    ``always`` (every module, for tests of tier-0 code)."""
    v = os.environ.get("TENSORKILN_TIERED", "1").strip().lower()
    return "0" if v in ("0", "false", "no", "off") else "always" if v == "always" else "1"


def model_chars(llvm_ir: str) -> int:
    """The size of a module's IR without its Python wrappers."""
    return len(llvm_ir) - sum(len(w) for w in _WRAPPERS.findall(llvm_ir))


def wanted(llvm_ir: str) -> bool:
    """Whether a module of this IR is compiled tiered."""
    m = mode()
    return m == "always" or (m == "1" and model_chars(llvm_ir) >= MIN_IR_CHARS)


class _Job:
    """Compile ``make()`` (returns the tier-1 JIT module) and hand it to ``install``."""

    def __init__(self, make: Callable[[], Any], install: Callable[[Any], None], alive: Callable[[], bool]):
        self.make = make
        self.install = install
        self.alive = alive
        self.done = threading.Event()
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            if self.alive():
                self.install(self.make())
        except BaseException as e:  # the tier-0 code stays in use: correct, only slower
            self.error = e
            if isinstance(e, Exception):  # said aloud: otherwise only the timings would show it
                warnings.warn(f"tensorkiln: an optimized (tier-1) compile failed; the quickly compiled code stays "
                              f"in use: {type(e).__name__}: {e}", RuntimeWarning, stacklevel=1)
        finally:
            self.make = self.install = self.alive = None  # what they hold (a build's IR) goes
            self.done.set()


_lock = threading.Condition()
_queue: deque[_Job] = deque()
_worker: Optional[threading.Thread] = None
_last: Optional[_Job] = None
_running: list[Optional[_Job]] = [None]
_foreground = 0  # compiles in progress on other threads: the worker waits for them
_last_foreground = 0.0  # time.monotonic() when the last of them ended
QUIET_S = 0.03
_waiters = 0  # threads in wait_for
_forking = False  # a fork is waiting for the running job to end


def _work() -> None:
    global _worker
    while True:
        with _lock:
            # llvmlite runs one LLVM call at a time: a tier-1 compile started now would hold up
            # the compiles a first call is waiting for (the softmax step's: 65 -> 120 ms; its
            # quick tier-0 code is now compiled outside that lock, but its kernel libraries' IR
            # parse and its object loads are not, and the two cores are busy anyway).
            # Compiles come in runs (an initializer, then the train step), so the worker also
            # waits until none has ended for QUIET_S, unless someone is waiting for a job.
            while True:
                quiet = _last_foreground + QUIET_S - time.monotonic()
                if not _foreground and not _forking and (quiet <= 0 or _waiters):
                    break
                _lock.wait(None if _foreground or _forking else quiet)
            if not _queue:
                _worker = None
                return
            job = _running[0] = _queue.popleft()
        job.run()
        with _lock:
            _running[0] = None
            _lock.notify_all()


_local = threading.local()


_gc_was_enabled = False


def _count(delta: int) -> None:
    # Python's cyclic garbage collector is paused while foreground compiles run: they allocate
    # ~10^5 short-lived objects (llvmlite's IR values above all) and each full collection walks
    # every object of the process; codegen of the softmax step took 25 ms with it, 14 without.
    # What a compile leaves in cycles is collected once the collector runs again.
    global _foreground, _gc_was_enabled, _last_foreground
    with _lock:
        if _foreground == 0 and delta > 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _foreground += delta
        if _foreground == 0:
            _last_foreground = time.monotonic()
            if _gc_was_enabled:
                gc.enable()
        _lock.notify_all()


class foreground:
    """Marks a compile someone is waiting for: while any runs, the worker starts no job."""

    def __enter__(self) -> None:
        depth = getattr(_local, "depth", 0)
        if depth == 0 and not in_worker():
            _count(1)
        _local.depth = depth + 1

    def __exit__(self, *exc: object) -> None:
        _local.depth -= 1
        if _local.depth == 0 and not in_worker():
            _count(-1)


def wait_for(job: _Job, timeout: Optional[float] = None) -> bool:
    """Wait for a queued job (True unless the timeout passed first); a compile of this thread's
    in progress stops holding the worker back meanwhile (else neither would ever go on)."""
    global _waiters
    if job.done.is_set() or in_worker():
        return True
    held = getattr(_local, "depth", 0) > 0
    with _lock:
        _waiters += 1
        _lock.notify_all()
    if held:
        _count(-1)
    try:
        return job.done.wait(timeout)
    finally:
        if held:
            _count(1)
        with _lock:
            _waiters -= 1


def submit(make: Callable[[], Any], install: Callable[[Any], None], alive: Callable[[], bool] = lambda: True) -> _Job:
    """Queue a tier-1 compile; a worker thread starts if none is running."""
    global _worker, _last
    job = _Job(make, install, alive)
    with _lock:
        _queue.append(job)
        _last = job
        if _worker is None:
            _worker = threading.Thread(target=_work, name="tensorkiln-tier1", daemon=False)
            _worker.start()
    return job


def wait(timeout: Optional[float] = None) -> bool:
    """Block until every tier-1 compile queued so far has been installed (jobs run in order, so
    the last one's end is everyone's); True unless the timeout passed first."""
    with _lock:
        last = _last
    return last is None or wait_for(last, timeout)


def in_worker() -> bool:
    """Whether this is the thread compiling tier 1 (which must never wait for its own queue)."""
    return threading.current_thread() is _worker


def any_alive(objs: list[Any]) -> Callable[[], bool]:
    """A predicate: whether any of these objects is still alive (weak references only, so a
    queued job keeps no Session's functions from being freed)."""
    refs = [weakref.ref(o) for o in objs]
    return lambda: any(r() is not None for r in refs)


def _before_fork() -> None:
    # A job holds llvmlite's lock (and LLVM's own state) on and off while it runs: a child forked
    # mid-job would inherit them held by a thread it does not have, and its first compile would
    # hang. So a fork waits for the running job to end and keeps the next from starting.
    global _forking
    _lock.acquire()
    _forking = True
    while _running[0] is not None and not in_worker():
        _lock.wait()


def _after_fork_in_parent() -> None:
    global _forking
    _forking = False
    _lock.notify_all()
    _lock.release()


def _reset_after_fork() -> None:
    # The worker thread is not in the child: its jobs never run there. They are marked done (not
    # installed), so nothing in the child waits for them; its functions keep their tier-0 code.
    global _worker, _last, _lock, _foreground, _waiters, _forking
    _waiters = 0
    _forking = False
    for job in [*_queue, _running[0]]:
        if job is not None:
            job.done.set()
    _lock = threading.Condition()
    _queue.clear()
    _running[0] = None
    _worker = None
    _last = None
    _foreground = 1 if getattr(_local, "depth", 0) > 0 else 0  # the forking thread's own compile


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_reset_after_fork)
