"""A persistent thread pool in generated code: ``tk_parallel_for(body, ctx, n, nthreads)``.

Every parallel loop and the threaded GEMM call ``tk_parallel_for``; this module owns its definition,
written as LLVM IR text and compiled once per process for the JIT (see ``kernels.py``) or linked
into an ahead-of-time shared object, which therefore still needs nothing beyond libc.

How it works. Worker threads are started lazily (``pthread_create``, detached) up to the largest
``nthreads - 1`` asked for, and then live for the process. A call publishes a job (body, ctx, n and
the number of chunks, about four per thread so that a late thread's share is taken by the others)
and bumps a generation counter; workers spin on it for a short while (8,192 ``pause``s: ~0.2 ms on
the Zen 5 of session 12) and then sleep on a condition variable, so back-to-back training steps find
them awake and an idle process costs nothing. Chunks are claimed through one 64-bit ticket holding
``generation << 32 | end << 16 | next``: a compare-and-swap that names the generation a worker read
its job under can never claim a chunk of a later job, so a worker that wakes up late cannot run a
new job's chunk with an old job's body. The calling thread claims chunks from the front (``next``)
and the workers from the back (``end``), so from one job to the next each thread mostly gets the
same rows, already in its own caches (measured in session 12 when the VM's two vCPUs sat far apart:
MLP step ~252 against ~266 µs with every thread claiming from the front; no difference otherwise);
then it waits for the done count. Only one job runs at a time: a call that finds the pool busy
(another thread's ``Session.run``, or a nested parallel loop inside a chunk) runs its items serially
on its own thread, which also means two Sessions used from two threads never oversubscribe the
cores. A forked child (different ``getpid``) has none of the parent's workers, so the first call
there starts the pool afresh (if the fork happened mid-job the child's pool stays busy and its loops
run serially, which is still correct).
"""
from __future__ import annotations

MAX_THREADS = 64
CHUNKS_PER_THREAD = 4
WORKER_SPINS = 1 << 13
WAIT_SPINS_BEFORE_YIELD = 1 << 12
SYMBOL = "tk_parallel_for"


def spin_hint(triple: str) -> tuple[str, tuple[int, ...]] | None:
    """The spin-wait hint intrinsic for the target and its (i32) arguments, or None."""
    arch = triple.split("-")[0]
    if arch in ("x86_64", "i386", "i686"):
        return "llvm.x86.sse2.pause", ()
    if arch in ("aarch64", "arm64"):
        return "llvm.aarch64.hint", (1,)
    return None


def _pause(triple: str) -> tuple[str, str]:
    """The spin-wait hint for the target, as (declaration, call) IR text."""
    hint = spin_hint(triple)
    if hint is None:
        return "", ""
    name, args = hint
    params = ", ".join("i32" for _ in args)
    return f"declare void @{name}({params})", f"call void @{name}(" + ", ".join(f"i32 {a}" for a in args) + ")"


def threadpool_ir(triple: str, data_layout: str) -> str:
    """The pool as a self-contained LLVM module for ``triple``."""
    pause_decl, pause = _pause(triple)
    return f"""
target triple = "{triple}"
target datalayout = "{data_layout}"

@tkp.busy = internal global i32 0, align 64
@tkp.pid = internal global i32 0
@tkp.workers = internal global i64 0
@tkp.gen = internal global i32 0, align 64
@tkp.sleeping = internal global i32 0, align 64
@tkp.ticket = internal global i64 0, align 64
@tkp.done = internal global i64 0, align 64
@tkp.body = internal global ptr null, align 64
@tkp.ctx = internal global ptr null
@tkp.n = internal global i64 0
@tkp.chunks = internal global i64 0
@tkp.active = internal global i64 0
; glibc's mutex/cond are 40/48 bytes; 64 leaves room on every target it supports. All zero is
; PTHREAD_MUTEX_INITIALIZER / PTHREAD_COND_INITIALIZER there.
@tkp.mutex = internal global [64 x i8] zeroinitializer, align 16
@tkp.cond = internal global [64 x i8] zeroinitializer, align 16

declare i32 @pthread_create(ptr, ptr, ptr, ptr)
declare i32 @pthread_detach(i64)
declare i32 @pthread_mutex_init(ptr, ptr)
declare i32 @pthread_cond_init(ptr, ptr)
declare i32 @pthread_mutex_lock(ptr)
declare i32 @pthread_mutex_unlock(ptr)
declare i32 @pthread_cond_wait(ptr, ptr)
declare i32 @pthread_cond_broadcast(ptr)
declare i32 @getpid()
declare i32 @sched_yield()
{pause_decl}

; Claim and run chunks of generation %gen until none are left (or a newer job replaced it). The
; ticket holds gen << 32 | end << 16 | next: the caller (%back = 0) claims from the front (next),
; workers from the back (end), so from one job to the next each thread mostly gets the same rows
; and finds them in its own caches; whoever finishes first takes the other's remaining chunks.
define internal void @tkp.run_chunks(i32 %gen, i1 %back) {{
entry:
  %body = load atomic ptr, ptr @tkp.body monotonic, align 8
  %ctx = load atomic ptr, ptr @tkp.ctx monotonic, align 8
  %n = load atomic i64, ptr @tkp.n monotonic, align 8
  %chunks = load atomic i64, ptr @tkp.chunks monotonic, align 8
  %g64 = zext i32 %gen to i64
  br label %claim
claim:
  %t = load atomic i64, ptr @tkp.ticket acquire, align 8
  %tgen = lshr i64 %t, 32
  %same = icmp eq i64 %tgen, %g64
  br i1 %same, label %check, label %out
check:
  %next = and i64 %t, 65535
  %endw = lshr i64 %t, 16
  %end = and i64 %endw, 65535
  %more = icmp ult i64 %next, %end
  br i1 %more, label %cas, label %out
cas:
  %tf = add i64 %t, 1
  %tb = sub i64 %t, 65536
  %t1 = select i1 %back, i64 %tb, i64 %tf
  %endm1 = sub i64 %end, 1
  %idx = select i1 %back, i64 %endm1, i64 %next
  %r = cmpxchg ptr @tkp.ticket, i64 %t, i64 %t1 acq_rel acquire
  %ok = extractvalue {{ i64, i1 }} %r, 1
  br i1 %ok, label %run, label %claim
run:
  %a = mul i64 %n, %idx
  %lo = udiv i64 %a, %chunks
  %idx1 = add i64 %idx, 1
  %b = mul i64 %n, %idx1
  %hi = udiv i64 %b, %chunks
  call void %body(ptr %ctx, i64 %lo, i64 %hi)
  %d = atomicrmw add ptr @tkp.done, i64 1 release
  br label %claim
out:
  ret void
}}

; A worker: %arg packs (generation seen at start << 8) | worker index (1-based).
define internal ptr @tkp.worker(ptr %arg) {{
entry:
  %packed = ptrtoint ptr %arg to i64
  %k = and i64 %packed, 255
  %g0w = lshr i64 %packed, 8
  %g0 = trunc i64 %g0w to i32
  br label %wait
wait:
  %seen = phi i32 [ %g0, %entry ], [ %g, %work ], [ %g, %idle ]
  br label %spin
spin:
  %i = phi i32 [ 0, %wait ], [ %i1, %spin.next ]
  %cur = load atomic i32, ptr @tkp.gen acquire, align 4
  %changed = icmp ne i32 %cur, %seen
  br i1 %changed, label %got, label %spin.next
spin.next:
  {pause}
  %i1 = add i32 %i, 1
  %tired = icmp uge i32 %i1, {WORKER_SPINS}
  br i1 %tired, label %sleep, label %spin
sleep:
  call i32 @pthread_mutex_lock(ptr @tkp.mutex)
  %s0 = atomicrmw add ptr @tkp.sleeping, i32 1 seq_cst
  br label %sleep.check
sleep.check:
  %cur2 = load atomic i32, ptr @tkp.gen seq_cst, align 4
  %still = icmp eq i32 %cur2, %seen
  br i1 %still, label %sleep.wait, label %woke
sleep.wait:
  call i32 @pthread_cond_wait(ptr @tkp.cond, ptr @tkp.mutex)
  br label %sleep.check
woke:
  %s1 = atomicrmw sub ptr @tkp.sleeping, i32 1 seq_cst
  call i32 @pthread_mutex_unlock(ptr @tkp.mutex)
  br label %got
got:
  %g = load atomic i32, ptr @tkp.gen acquire, align 4
  %active = load atomic i64, ptr @tkp.active monotonic, align 8
  %mine = icmp ule i64 %k, %active
  br i1 %mine, label %work, label %idle
work:
  call void @tkp.run_chunks(i32 %g, i1 1)
  br label %wait
idle:
  br label %wait
}}

define void @{SYMBOL}(ptr %body, ptr %ctx, i64 %n, i64 %nthreads) {{
entry:
  %lt = icmp slt i64 %nthreads, %n
  %t0 = select i1 %lt, i64 %nthreads, i64 %n
  %big = icmp sgt i64 %t0, {MAX_THREADS}
  %t1 = select i1 %big, i64 {MAX_THREADS}, i64 %t0
  %alone = icmp sle i64 %t1, 1
  br i1 %alone, label %serial, label %acquire
serial:
  call void %body(ptr %ctx, i64 0, i64 %n)
  ret void
acquire:
  %lock = cmpxchg ptr @tkp.busy, i32 0, i32 1 acquire monotonic
  %got = extractvalue {{ i32, i1 }} %lock, 1
  br i1 %got, label %forkcheck, label %serial
forkcheck:
  ; Under the lock. The first call in a process, or the first in a forked child (which inherits
  ; the pool's memory but none of its threads), starts afresh.
  %pid = call i32 @getpid()
  %owner = load atomic i32, ptr @tkp.pid monotonic, align 4
  %forked = icmp ne i32 %pid, %owner
  br i1 %forked, label %reset, label %grow
reset:
  store atomic i64 0, ptr @tkp.workers monotonic, align 8
  store atomic i32 0, ptr @tkp.sleeping monotonic, align 4
  call i32 @pthread_mutex_init(ptr @tkp.mutex, ptr null)
  call i32 @pthread_cond_init(ptr @tkp.cond, ptr null)
  store atomic i32 %pid, ptr @tkp.pid monotonic, align 4
  br label %grow
grow:
  %want = sub i64 %t1, 1
  %gen0 = load atomic i32, ptr @tkp.gen monotonic, align 4
  %gen0w = zext i32 %gen0 to i64
  %gen0s = shl i64 %gen0w, 8
  %tid = alloca i64, align 8
  br label %grow.cond
grow.cond:
  %w = load atomic i64, ptr @tkp.workers monotonic, align 8
  %short = icmp slt i64 %w, %want
  br i1 %short, label %grow.spawn, label %publish
grow.spawn:
  %k = add i64 %w, 1
  %argi = or i64 %gen0s, %k
  %arg = inttoptr i64 %argi to ptr
  %rc = call i32 @pthread_create(ptr %tid, ptr null, ptr @tkp.worker, ptr %arg)
  %made = icmp eq i32 %rc, 0
  br i1 %made, label %grow.made, label %publish
grow.made:
  %tidv = load i64, ptr %tid, align 8
  call i32 @pthread_detach(i64 %tidv)
  store atomic i64 %k, ptr @tkp.workers monotonic, align 8
  br label %grow.cond
publish:
  %have = load atomic i64, ptr @tkp.workers monotonic, align 8
  %helpers = select i1 %short, i64 %have, i64 %want
  %none = icmp eq i64 %helpers, 0
  br i1 %none, label %release.serial, label %publish.go
release.serial:
  store atomic i32 0, ptr @tkp.busy release, align 4
  br label %serial
publish.go:
  %threads = add i64 %helpers, 1
  %c0 = mul i64 %threads, {CHUNKS_PER_THREAD}
  %fewer = icmp slt i64 %n, %c0
  %chunks = select i1 %fewer, i64 %n, i64 %c0
  store atomic ptr %body, ptr @tkp.body monotonic, align 8
  store atomic ptr %ctx, ptr @tkp.ctx monotonic, align 8
  store atomic i64 %n, ptr @tkp.n monotonic, align 8
  store atomic i64 %chunks, ptr @tkp.chunks monotonic, align 8
  store atomic i64 %helpers, ptr @tkp.active monotonic, align 8
  store atomic i64 0, ptr @tkp.done monotonic, align 8
  %gen = add i32 %gen0, 1
  %genw = zext i32 %gen to i64
  %ticketg = shl i64 %genw, 32
  %endf = shl i64 %chunks, 16
  %ticket = or i64 %ticketg, %endf
  store atomic i64 %ticket, ptr @tkp.ticket release, align 8
  store atomic i32 %gen, ptr @tkp.gen seq_cst, align 4
  %sl = load atomic i32, ptr @tkp.sleeping seq_cst, align 4
  %anyasleep = icmp ne i32 %sl, 0
  br i1 %anyasleep, label %wake, label %participate
wake:
  call i32 @pthread_mutex_lock(ptr @tkp.mutex)
  call i32 @pthread_cond_broadcast(ptr @tkp.cond)
  call i32 @pthread_mutex_unlock(ptr @tkp.mutex)
  br label %participate
participate:
  call void @tkp.run_chunks(i32 %gen, i1 0)
  br label %join
join:
  %j = phi i32 [ 0, %participate ], [ %j1, %join.next ], [ %j1, %join.yield ]
  %d = load atomic i64, ptr @tkp.done acquire, align 8
  %all = icmp uge i64 %d, %chunks
  br i1 %all, label %finish, label %join.next
join.next:
  {pause}
  %j1 = add i32 %j, 1
  %patient = icmp ult i32 %j1, {WAIT_SPINS_BEFORE_YIELD}
  br i1 %patient, label %join, label %join.yield
join.yield:
  ; A helper that lost its core is still mid-chunk: give the core away rather than spin on it.
  call i32 @sched_yield()
  br label %join
finish:
  store atomic i32 0, ptr @tkp.busy release, align 4
  ret void
}}
"""
