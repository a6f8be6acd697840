"""Scratch memory for generated code: ``tk_scratch_alloc(size)`` / ``tk_scratch_free(ptr)``.

Every temporary buffer of a compiled function and every GEMM packing buffer comes from here. Small
requests go straight to ``aligned_alloc``; large ones (>= 64 KiB) are where plain ``malloc`` hurts:
glibc serves them with ``mmap`` or trims them off the top of the heap when they are freed, so a
training step that frees and re-allocates the same few-hundred-KB buffers every call pays fresh
page faults (zeroed pages from the kernel) every call — a third of an MLP step's time. Freed large
blocks are therefore kept in a small cache (64 blocks, at most 512 MiB in all) and handed back to a
request that fits (the block is at least the size asked and at most twice it, plus 64 KiB), so
steady-state steps allocate nothing from the system. (16 blocks were too few for the convnet step,
whose ~40 large temporaries are all free at its end: 2,500 page faults, ~4 ms of kernel time a step.)

Small blocks (up to 64 KiB with their header) are cached too, for the many small temporaries of a
narrow model (a softmax-regression step allocates and frees ~15 buffers of 0.4-4 KB a call, ~1 µs of
glibc's time): their capacity is a power of two, and up to 8 freed blocks of each size are kept
and handed back to the next request of that size.

Each block carries a 64-byte header holding its capacity, so ``tk_scratch_free`` needs no size and
pointers stay 64-byte aligned. The cache is guarded by a spin lock that is only tried a bounded
number of times: a caller that cannot get it (say, in a child forked while another thread held it)
simply bypasses the cache. Written as LLVM IR text, like the thread pool, and compiled into the
same runtime library (JIT) or linked into the shared object (AOT).
"""
from __future__ import annotations

import llvmlite.ir as ir

ALLOC = "tk_scratch_alloc"
FREE = "tk_scratch_free"
SLOTS = 64
CACHE_MIN = 1 << 16
CACHE_MAX_TOTAL = 512 << 20
LOCK_TRIES = 1 << 12
HEADER = 64
SMALL_MIN_LOG2 = 7  # the smallest small block: 128 bytes with its header
SMALL_CLASSES = 10  # 128 B ... 64 KiB
SMALL_SLOTS = 8


def declare_scratch(module: ir.Module) -> tuple[ir.Function, ir.Function]:
    """The module's declarations of ``tk_scratch_alloc`` and ``tk_scratch_free``."""
    ptr, i64 = ir.PointerType(), ir.IntType(64)
    alloc = module.globals.get(ALLOC)
    if alloc is None:
        alloc = ir.Function(module, ir.FunctionType(ptr, [i64]), name=ALLOC)
        # Like malloc's: a fresh block aliases nothing, which lets LLVM vectorize loops over
        # temporaries without runtime overlap checks.
        alloc.return_value.add_attribute("noalias")
    free = module.globals.get(FREE) or ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr]), name=FREE)
    return alloc, free


def scratch_ir(triple: str, data_layout: str) -> str:
    """The allocator as a self-contained LLVM module for ``triple``."""
    return f"""
target triple = "{triple}"
target datalayout = "{data_layout}"

@tks.lock = internal global i32 0, align 64
@tks.ptr = internal global [{SLOTS} x ptr] zeroinitializer, align 64
@tks.cap = internal global [{SLOTS} x i64] zeroinitializer, align 64
@tks.total = internal global i64 0
@tks.small = internal global [{SMALL_CLASSES * SMALL_SLOTS} x ptr] zeroinitializer, align 64
@tks.nsmall = internal global [{SMALL_CLASSES} x i64] zeroinitializer, align 64

declare ptr @aligned_alloc(i64, i64)
declare void @free(ptr)
declare i64 @llvm.ctlz.i64(i64, i1)

; Try to take the lock a bounded number of times: true when taken.
define internal i1 @tks.acquire() {{
entry:
  br label %try
try:
  %i = phi i32 [ 0, %entry ], [ %i1, %again ]
  %r = cmpxchg ptr @tks.lock, i32 0, i32 1 acquire monotonic
  %ok = extractvalue {{ i32, i1 }} %r, 1
  br i1 %ok, label %got, label %again
again:
  %i1 = add i32 %i, 1
  %more = icmp ult i32 %i1, {LOCK_TRIES}
  br i1 %more, label %try, label %gaveup
got:
  ret i1 true
gaveup:
  ret i1 false
}}

define internal void @tks.release() {{
  store atomic i32 0, ptr @tks.lock release, align 4
  ret void
}}

; A block of %bytes (a multiple of 64, header included).
define internal ptr @tks.block(i64 %bytes) {{
entry:
  %p = call ptr @aligned_alloc(i64 64, i64 %bytes)
  %null = icmp eq ptr %p, null
  br i1 %null, label %fail, label %ok
fail:
  ret ptr null
ok:
  %cap = sub i64 %bytes, {HEADER}
  store i64 %cap, ptr %p, align 8
  %user = getelementptr i8, ptr %p, i64 {HEADER}
  ret ptr %user
}}

; A small block's size class: its total size (header included) is 2^(class + {SMALL_MIN_LOG2}).
define internal i64 @tks.class(i64 %need) {{
  %m1 = sub i64 %need, 1
  %lz = call i64 @llvm.ctlz.i64(i64 %m1, i1 false)
  %log = sub i64 64, %lz
  %c = sub i64 %log, {SMALL_MIN_LOG2}
  %neg = icmp slt i64 %c, 0
  %c1 = select i1 %neg, i64 0, i64 %c
  ret i64 %c1
}}

define ptr @{ALLOC}(i64 %size) {{
entry:
  %small = icmp ule i64 %size, {CACHE_MIN - HEADER}
  br i1 %small, label %small_class, label %large
small_class:
  %need = add i64 %size, {HEADER}
  %class = call i64 @tks.class(i64 %need)
  %cls_log = add i64 %class, {SMALL_MIN_LOG2}
  %bytes_s = shl i64 1, %cls_log
  %locked_s = call i1 @tks.acquire()
  br i1 %locked_s, label %small_look, label %fresh
small_look:
  %np = getelementptr [{SMALL_CLASSES} x i64], ptr @tks.nsmall, i64 0, i64 %class
  %n = load i64, ptr %np, align 8
  %none = icmp eq i64 %n, 0
  br i1 %none, label %unlock_fresh, label %small_take
small_take:
  %n1 = sub i64 %n, 1
  store i64 %n1, ptr %np, align 8
  %slot0 = mul i64 %class, {SMALL_SLOTS}
  %slot = add i64 %slot0, %n1
  %sp = getelementptr [{SMALL_CLASSES * SMALL_SLOTS} x ptr], ptr @tks.small, i64 0, i64 %slot
  %sblock = load ptr, ptr %sp, align 8
  br label %got
large:
  %padded = add i64 %size, {HEADER + 63}
  %bytes_l = and i64 %padded, -64
  %locked = call i1 @tks.acquire()
  br i1 %locked, label %scan, label %fresh
scan:
  ; the smallest cached block that fits and wastes at most half of itself (plus 64 KiB)
  %limit0 = shl i64 %size, 1
  %limit = add i64 %limit0, {CACHE_MIN}
  br label %loop
loop:
  %i = phi i64 [ 0, %scan ], [ %i1, %next ]
  %best = phi i64 [ -1, %scan ], [ %best1, %next ]
  %bestcap = phi i64 [ -1, %scan ], [ %bestcap1, %next ]
  %pp = getelementptr [{SLOTS} x ptr], ptr @tks.ptr, i64 0, i64 %i
  %p = load ptr, ptr %pp, align 8
  %cp = getelementptr [{SLOTS} x i64], ptr @tks.cap, i64 0, i64 %i
  %cap = load i64, ptr %cp, align 8
  %have = icmp ne ptr %p, null
  %big = icmp uge i64 %cap, %size
  %notwaste = icmp ule i64 %cap, %limit
  %smaller = icmp ult i64 %cap, %bestcap
  %f1 = and i1 %have, %big
  %f2 = and i1 %f1, %notwaste
  %fits = and i1 %f2, %smaller
  %best1 = select i1 %fits, i64 %i, i64 %best
  %bestcap1 = select i1 %fits, i64 %cap, i64 %bestcap
  br label %next
next:
  %i1 = add i64 %i, 1
  %done = icmp eq i64 %i1, {SLOTS}
  br i1 %done, label %pick, label %loop
pick:
  %found = icmp ne i64 %best1, -1
  br i1 %found, label %take, label %unlock_fresh
take:
  %tp = getelementptr [{SLOTS} x ptr], ptr @tks.ptr, i64 0, i64 %best1
  %block = load ptr, ptr %tp, align 8
  store ptr null, ptr %tp, align 8
  %tot = load i64, ptr @tks.total, align 8
  %tot1 = sub i64 %tot, %bestcap1
  store i64 %tot1, ptr @tks.total, align 8
  br label %got
got:  ; a cached block, small or large, taken under the lock
  %gblock = phi ptr [ %sblock, %small_take ], [ %block, %take ]
  call void @tks.release()
  %user = getelementptr i8, ptr %gblock, i64 {HEADER}
  ret ptr %user
unlock_fresh:  ; nothing cached fits
  %ubytes = phi i64 [ %bytes_s, %small_look ], [ %bytes_l, %pick ]
  call void @tks.release()
  br label %fresh
fresh:  ; a new block: a small one of its class's size, a large one of the size asked
  %bytes = phi i64 [ %bytes_s, %small_class ], [ %bytes_l, %large ], [ %ubytes, %unlock_fresh ]
  %q = call ptr @tks.block(i64 %bytes)
  ret ptr %q
}}

define void @{FREE}(ptr %user) {{
entry:
  %null = icmp eq ptr %user, null
  br i1 %null, label %out, label %look
look:
  %block = getelementptr i8, ptr %user, i64 -{HEADER}
  %cap = load i64, ptr %block, align 8
  %small = icmp ult i64 %cap, {CACHE_MIN}
  br i1 %small, label %small_lock, label %lock
small_lock:
  %locked_s = call i1 @tks.acquire()
  br i1 %locked_s, label %small_room, label %release
small_room:
  %need = add i64 %cap, {HEADER}
  %class = call i64 @tks.class(i64 %need)
  %np = getelementptr [{SMALL_CLASSES} x i64], ptr @tks.nsmall, i64 0, i64 %class
  %n = load i64, ptr %np, align 8
  %fullc = icmp uge i64 %n, {SMALL_SLOTS}
  br i1 %fullc, label %full, label %small_keep
small_keep:
  %slot0 = mul i64 %class, {SMALL_SLOTS}
  %slot = add i64 %slot0, %n
  %sp = getelementptr [{SMALL_CLASSES * SMALL_SLOTS} x ptr], ptr @tks.small, i64 0, i64 %slot
  store ptr %block, ptr %sp, align 8
  %n1 = add i64 %n, 1
  store i64 %n1, ptr %np, align 8
  call void @tks.release()
  ret void
lock:
  %locked = call i1 @tks.acquire()
  br i1 %locked, label %room, label %release
room:
  %tot = load i64, ptr @tks.total, align 8
  %tot1 = add i64 %tot, %cap
  %over = icmp ugt i64 %tot1, {CACHE_MAX_TOTAL}
  br i1 %over, label %full, label %loop
loop:
  %i = phi i64 [ 0, %room ], [ %i1, %next ]
  %pp = getelementptr [{SLOTS} x ptr], ptr @tks.ptr, i64 0, i64 %i
  %p = load ptr, ptr %pp, align 8
  %empty = icmp eq ptr %p, null
  br i1 %empty, label %keep, label %next
next:
  %i1 = add i64 %i, 1
  %done = icmp eq i64 %i1, {SLOTS}
  br i1 %done, label %full, label %loop
keep:
  store ptr %block, ptr %pp, align 8
  %cp = getelementptr [{SLOTS} x i64], ptr @tks.cap, i64 0, i64 %i
  store i64 %cap, ptr %cp, align 8
  store i64 %tot1, ptr @tks.total, align 8
  call void @tks.release()
  ret void
full:
  call void @tks.release()
  br label %release
release:
  call void @free(ptr %block)
  br label %out
out:
  ret void
}}
"""
