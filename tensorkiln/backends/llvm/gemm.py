"""A generated GEMM: packing, cache blocking and a register-blocked SIMD micro-kernel in LLVM IR.

``C[M,N] (+)= A[M,K] @ B[K,N]`` where A and B are read through (row stride, column stride) pairs,
so transposed operands need no copy. The structure is the classic one (Goto/BLIS): for blocks of
N (NC) and K (KC), B is packed into NR-column panels (or, row-major, read in place where that is
as fast: see ``_driver``); for blocks of M (MC), a transposed or
strided A is packed into MR-row panels (a row-major A is read in place); an MR×NR micro-kernel
keeps the C tile in vector registers across the K loop, with one broadcast of A and NR/VL vector
loads of B feeding MR·NR/VL fused multiply-adds per step. The vector length VL comes from the host
(16 floats with AVX-512, 8 with AVX2). Panels are zero-padded, so edge tiles compute on zeros and
only the valid part of the tile is written back. The packing code is ``gemm_pack.py``. Running out
of memory for a packing buffer is not an error: the product is computed without it.

Loop counters and accumulators are emitted as ``alloca``s in the entry block; LLVM's SROA turns them
into SSA registers, which keeps this generator short.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import llvmlite.ir as ir

from .gemm_pack import pack_a as _pack_a, pack_a_slack, pack_b as _pack_b
from .scratch import declare_scratch

I1, I32, I64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()


@dataclass(frozen=True)
class GemmConfig:
    vl: int        # elements per vector register
    mr: int        # rows of the micro-tile
    nv: int        # vectors per row of the micro-tile (NR = nv * vl)
    kc: int = 256
    mc_tiles: int = 18
    nc_tiles: int = 96

    @property
    def nr(self) -> int:
        return self.nv * self.vl

    @property
    def mc(self) -> int:
        return self.mr * self.mc_tiles

    @property
    def nc(self) -> int:
        return self.nr * self.nc_tiles


def config_for(features: str, bits: int) -> GemmConfig:
    """Micro-kernel shape for the CPU: 32 vector registers with AVX-512, 16 with AVX2. With
    AVX-512 the tile is 6 rows × 4 vectors (24 accumulators; each K step loads 4 vectors of B and
    broadcasts 6 of A for 24 FMAs). Against 8 × 2, measured on Zen 4 (best configuration of five,
    GFLOP/s, medians): 2-thread 1024³ 177–184 vs 166–170, 100×256×784 86–88 vs 66–74,
    196×64×800 97–100 vs 82; but outputs of N <= 32 waste half of it, so those keep
    :func:`mid_config_for`'s 8 × 2.

    Blocks for Zen 4 (1 MiB L2, 32 MiB L3), 1 thread, best of 9, GFLOP/s: KC 512 against 256 —
    1024³ 107 vs 101, 2048³ 108 vs 102, 100×1024×3136 (B transposed) 83 vs 80 (fewer C tile
    updates, and the packed B panel, 128 KiB, still sits in L2 beside the A block); NC 1024 (a
    2 MiB packed B block) against 3072 — 100×1024×3136 89–92 vs 83, others equal."""
    if "+avx512f" in features:
        return GemmConfig(vl=512 // bits, mr=6, nv=4, kc=512, mc_tiles=24, nc_tiles=16)
    if "+avx2" in features or "+avx" in features:
        return GemmConfig(vl=256 // bits, mr=6, nv=2)
    return GemmConfig(vl=128 // bits, mr=4, nv=2)


def mid_config_for(features: str, bits: int) -> GemmConfig | None:
    """The tile for outputs between one vector and 32 columns (AVX-512 only): 8 rows × 2 vectors."""
    if "+avx512f" in features:
        return GemmConfig(vl=512 // bits, mr=8, nv=2, kc=512)
    return None


class _Gen:
    def __init__(self, fn: ir.Function, elem: ir.Type):
        self.fn = fn
        self.elem = elem
        self.entry = fn.append_basic_block("entry")
        self.b = ir.IRBuilder(self.entry)

    def alloca(self, ty: ir.Type, name: str = "") -> ir.Value:
        with self.b.goto_entry_block():
            if self.entry.instructions:
                self.b.position_before(self.entry.instructions[0])
            return self.b.alloca(ty, name=name)

    @contextmanager
    def loop(self, lo, hi, step=1, name="i") -> Iterator[ir.Value]:
        b = self.b
        lo = lo if isinstance(lo, ir.Value) else ir.Constant(I64, lo)
        hi = hi if isinstance(hi, ir.Value) else ir.Constant(I64, hi)
        ptr = self.alloca(I64, name)
        b.store(lo, ptr)
        cond = self.fn.append_basic_block(f"{name}.cond")
        body = self.fn.append_basic_block(f"{name}.body")
        end = self.fn.append_basic_block(f"{name}.end")
        b.branch(cond)
        b.position_at_end(cond)
        i = b.load(ptr)
        b.cbranch(b.icmp_signed("<", i, hi), body, end)
        b.position_at_end(body)
        yield b.load(ptr)
        b.store(b.add(b.load(ptr), step if isinstance(step, ir.Value) else ir.Constant(I64, step)), ptr)
        b.branch(cond)
        b.position_at_end(end)

    def gep(self, base, idx, ty=None):
        return self.b.gep(base, [idx], inbounds=True, source_etype=ty or self.elem)

    def ld(self, ptr, align=None):
        return self.b.load(ptr, typ=self.elem, align=align)

    def imin(self, a, c):
        return self.b.select(self.b.icmp_signed("<", a, c), a, c)

    def i(self, v: int) -> ir.Constant:
        return ir.Constant(I64, v)


def _declare(module: ir.Module, name: str, ret, args) -> ir.Function:
    f = module.globals.get(name)
    return f if f is not None else ir.Function(module, ir.FunctionType(ret, args), name=name)


def _kernel(module, elem, cfg: GemmConfig, suffix: str) -> ir.Function:
    """C[0:mr, 0:nr] (+)= Ap(kc x MR) . Bp(kc x NR), the tile held in MR*NV vector registers."""
    f = ir.Function(module, ir.FunctionType(ir.VoidType(), [I64, PTR, I64, I64, PTR, I64, PTR, I64, I64, I64, I1]), name=f"tk.gemm.kernel.{suffix}")
    f.linkage = "internal"
    f.attributes.add("alwaysinline")
    # A is read at Ap[row * ars + k * aks]: a packed panel (ars 1, aks MR) or A itself, unpacked.
    # B is read at Bp[k * bks + col]: a packed panel (bks NR) or B itself (bks its row stride).
    kc, Ap, ars, aks, Bp, bks, C, ldc, mr, nr, overwrite = f.args
    g = _Gen(f, elem)
    b = g.b
    vt = ir.VectorType(elem, cfg.vl)
    fma = _declare(module, f"llvm.fma.v{cfg.vl}{'f32' if isinstance(elem, ir.FloatType) else 'f64'}", vt, [vt, vt, vt])
    accs = [[g.alloca(vt, f"acc{i}_{j}") for j in range(cfg.nv)] for i in range(cfg.mr)]
    zero_v = ir.Constant(vt, [0.0] * cfg.vl)
    for row in accs:
        for a in row:
            b.store(zero_v, a)
    # Ask for the C tile now (for writing), so the update after the K loop does not wait on it:
    # 1 thread 1024³ and 2048³ +1% (109 -> 110 GFLOP/s, best of 15), others unchanged.
    prefetch = _declare(module, "llvm.prefetch.p0", ir.VoidType(), [PTR, I32, I32, I32])
    for i in range(cfg.mr):
        row = g.imin(g.i(i), b.sub(mr, g.i(1))) if i else g.i(0)
        for j in range(cfg.nv):
            b.call(prefetch, [b.gep(C, [b.add(b.mul(row, ldc), g.i(j * cfg.vl))], source_etype=elem),
                              ir.Constant(I32, 1), ir.Constant(I32, 3), ir.Constant(I32, 1)])
    undef_v = ir.Constant(vt, ir.Undefined)
    splat_mask = ir.Constant(ir.VectorType(I32, cfg.vl), [0] * cfg.vl)
    with g.loop(0, kc, name="k") as k:
        bbase = b.mul(k, bks)
        bv = [b.load(g.gep(Bp, b.add(bbase, g.i(j * cfg.vl))), typ=vt, align=4) for j in range(cfg.nv)]
        abase = b.mul(k, aks)
        for i in range(cfg.mr):
            # rows past mr (an edge tile of unpacked A) re-read the last valid row; masked out later
            row = g.imin(g.i(i), b.sub(mr, g.i(1))) if i else g.i(0)
            a = g.ld(g.gep(Ap, b.add(abase, b.mul(row, ars))))
            av = b.shuffle_vector(b.insert_element(undef_v, a, ir.Constant(I32, 0)), undef_v, splat_mask)
            for j in range(cfg.nv):
                b.store(b.call(fma, [av, bv[j], b.load(accs[i][j])]), accs[i][j])
    full = b.and_(b.icmp_signed("==", mr, g.i(cfg.mr)), b.icmp_signed("==", nr, g.i(cfg.nr)))
    with b.if_else(full) as (then, otherwise):
        with then:
            for i in range(cfg.mr):
                for j in range(cfg.nv):
                    dst = g.gep(C, b.add(b.mul(g.i(i), ldc), g.i(j * cfg.vl)))
                    acc = b.load(accs[i][j])
                    old = b.load(dst, typ=vt, align=4)
                    b.store(b.select(overwrite, acc, b.fadd(old, acc)), dst, align=4)
        with otherwise:
            # Edge tile: masked vector loads/stores touch only the valid mr x nr part of C.
            tv = "f32" if isinstance(elem, ir.FloatType) else "f64"
            mt = ir.VectorType(I1, cfg.vl)
            mload = _declare(module, f"llvm.masked.load.v{cfg.vl}{tv}.p0", vt, [PTR, I32, mt, vt])
            mstore = _declare(module, f"llvm.masked.store.v{cfg.vl}{tv}.p0", ir.VoidType(), [vt, PTR, I32, mt])
            it = ir.VectorType(I64, cfg.vl)
            nr_v = b.shuffle_vector(b.insert_element(ir.Constant(it, ir.Undefined), nr, ir.Constant(I32, 0)),
                                    ir.Constant(it, ir.Undefined), splat_mask)
            align = ir.Constant(I32, 4)
            for j in range(cfg.nv):
                lanes = ir.Constant(it, [j * cfg.vl + l for l in range(cfg.vl)])
                col_ok = b.icmp_signed("<", lanes, nr_v)
                for i in range(cfg.mr):
                    row_ok = b.icmp_signed("<", g.i(i), mr)
                    mask = b.select(row_ok, col_ok, ir.Constant(mt, [0] * cfg.vl))
                    dst = g.gep(C, b.add(b.mul(g.i(i), ldc), g.i(j * cfg.vl)))
                    acc = b.load(accs[i][j])
                    old = b.call(mload, [dst, align, mask, zero_v])
                    b.call(mstore, [b.select(overwrite, acc, b.fadd(old, acc)), dst, align, mask])
    b.ret_void()
    return f


_CTX_FIELDS = ("M", "kc", "nc", "A", "rsa", "csa", "bp", "C", "ldc", "overwrite", "pack", "groups", "tiles", "nblk",
               "B", "rsb", "direct")


_CTX_PTRS = ("A", "bp", "C", "B")


def _ctx_type(elem) -> ir.LiteralStructType:
    return ir.LiteralStructType([PTR if f in _CTX_PTRS else I64 for f in _CTX_FIELDS])


def _block_worker(module, elem, cfg: GemmConfig, suffix: str, pack_a, kernel) -> ir.Function:
    """``body(ctx, lo, hi)`` for parallel_for: work items are (M block, group of B panels) pairs;
    each call packs its own A blocks into a private buffer."""
    from .parallel import BODY_TYPE

    f = ir.Function(module, BODY_TYPE, name=f"tk.gemm.blocks.{suffix}")
    f.linkage = "internal"
    ctx, lo, hi = f.args
    g = _Gen(f, elem)
    b = g.b
    ct = _ctx_type(elem)
    v = {name: b.load(b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, i)], inbounds=True, source_etype=ct),
                      typ=PTR if name in _CTX_PTRS else I64)
         for i, name in enumerate(_CTX_FIELDS)}
    M, kc, nc, A, rsa, csa, bp, C, ldc = (v[k] for k in _CTX_FIELDS[:9])
    direct = b.icmp_signed("!=", v["direct"], g.i(0))
    full_panels = b.sdiv(nc, g.i(cfg.nr))
    overwrite = b.icmp_signed("!=", v["overwrite"], g.i(0))
    esize = 4 if isinstance(elem, ir.FloatType) else 8
    malloc, free = declare_scratch(module)
    want_pack = b.icmp_signed("!=", v["pack"], g.i(0))
    ap_slot = g.alloca(PTR, "ap")
    b.store(ir.Constant(PTR, None), ap_slot)
    with b.if_then(want_pack):
        b.store(b.call(malloc, [b.mul(b.add(b.mul(g.i(cfg.mc), kc), g.i(pack_a_slack(cfg))), g.i(esize))]), ap_slot)
    ap = b.load(ap_slot, typ=PTR)
    # No A buffer (out of memory): the kernel reads A in place, which it can for any strides.
    pack = b.and_(want_pack, b.icmp_unsigned("!=", ap, ir.Constant(PTR, None)))
    groups = v["groups"]
    # M block blk covers micro-tile rows [blk*tiles/nblk, (blk+1)*tiles/nblk): blocks differ by at
    # most one tile (at most cfg.mc rows; the driver chooses nblk).
    tiles, nblk = v["tiles"], v["nblk"]
    panels = b.sdiv(b.add(nc, g.i(cfg.nr - 1)), g.i(cfg.nr))
    # Items run group by group, so that a thread claiming items in order (the caller from the front,
    # a worker from the back: threadpool.py) mostly keeps to one group of C's columns.
    with g.loop(lo, hi, name="item") as item:
        grp = b.sdiv(item, nblk)
        blk = b.srem(item, nblk)
        ic = b.mul(b.sdiv(b.mul(blk, tiles), nblk), g.i(cfg.mr))
        mc = b.sub(g.imin(b.mul(b.sdiv(b.mul(b.add(blk, g.i(1)), tiles), nblk), g.i(cfg.mr)), M), ic)
        a_block = g.gep(A, b.mul(ic, rsa))
        with b.if_then(pack):
            b.call(pack_a, [kc, mc, a_block, rsa, csa, ap])
        p0 = b.sdiv(b.mul(panels, grp), groups)
        p1 = b.sdiv(b.mul(panels, b.add(grp, g.i(1))), groups)
        with g.loop(p0, p1, name="jp") as jp:
            jr = b.mul(jp, g.i(cfg.nr))
            nr = g.imin(b.sub(nc, jr), g.i(cfg.nr))
            in_place = b.and_(direct, b.icmp_signed("<", jp, full_panels))
            bpanel = b.select(in_place, g.gep(v["B"], jr), g.gep(bp, b.mul(jp, b.mul(kc, g.i(cfg.nr)))))
            bks = b.select(in_place, v["rsb"], g.i(cfg.nr))
            with g.loop(0, mc, cfg.mr, name="ir") as ir_:
                mr = g.imin(b.sub(mc, ir_), g.i(cfg.mr))
                apanel = b.select(pack, g.gep(ap, b.mul(b.sdiv(ir_, g.i(cfg.mr)), b.mul(kc, g.i(cfg.mr)))),
                                  g.gep(a_block, b.mul(ir_, rsa)))
                ars = b.select(pack, g.i(1), rsa)
                aks = b.select(pack, g.i(cfg.mr), csa)
                cptr = g.gep(C, b.add(b.mul(b.add(ic, ir_), ldc), jr))
                b.call(kernel, [kc, apanel, ars, aks, bpanel, bks, cptr, ldc, mr, nr, overwrite])
    b.call(free, [ap])
    b.ret_void()
    return f


_PACKB_FIELDS = ("kc", "nc", "B", "rsb", "csb", "bp")


def _packb_ctx_type() -> ir.LiteralStructType:
    return ir.LiteralStructType([PTR if f in ("B", "bp") else I64 for f in _PACKB_FIELDS])


def _packb_worker(module, elem, cfg: GemmConfig, suffix: str, pack_b) -> ir.Function:
    """``body(ctx, lo, hi)`` packing B panels ``[lo, hi)``: threads share the packing of a block."""
    from .parallel import BODY_TYPE

    f = ir.Function(module, BODY_TYPE, name=f"tk.gemm.packb.{suffix}")
    f.linkage = "internal"
    ctx, lo, hi = f.args
    g = _Gen(f, elem)
    b = g.b
    ct = _packb_ctx_type()
    v = {name: b.load(b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, i)], inbounds=True, source_etype=ct),
                      typ=PTR if name in ("B", "bp") else I64)
         for i, name in enumerate(_PACKB_FIELDS)}
    col0 = b.mul(lo, g.i(cfg.nr))
    ncols = g.imin(b.sub(v["nc"], col0), b.mul(b.sub(hi, lo), g.i(cfg.nr)))
    b.call(pack_b, [v["kc"], ncols, g.gep(v["B"], b.mul(col0, v["csb"])), v["rsb"], v["csb"],
                    g.gep(v["bp"], b.mul(lo, b.mul(v["kc"], g.i(cfg.nr))))])
    b.ret_void()
    return f


# Below this many multiply-adds a GEMM runs on one thread: spawning costs more than it saves.
PARALLEL_MIN_MACS = 1 << 20
# Below this many elements of a packed B block, one thread packs it.
PARALLEL_MIN_PACK = 1 << 15
# A row-major B block of at most this many bytes is read in place, whatever the shape of A.
SMALL_B_BYTES = 256 << 10
# An accumulated product whose A is at most this large splits by columns (see ``_driver``): the
# MLP's weight update (x^T: 784 x 100 floats, 306 KiB), not the convnet's dense layer's (1.2 MiB).
SPLIT_N_MAX_A_BYTES = 512 << 10


GEMM_ARGS = [I64, I64, I64, PTR, I64, I64, PTR, I64, I64, PTR, I64, I1, I64]


def gemm_name(elem: ir.Type) -> str:
    return "tk_gemm_f32" if isinstance(elem, ir.FloatType) else "tk_gemm_f64"


def declare_gemm(module: ir.Module, elem: ir.Type) -> ir.Function:
    """An external declaration: the JIT resolves it to the process-wide kernel library."""
    return _declare(module, gemm_name(elem), ir.VoidType(), GEMM_ARGS)


def _driver(module: ir.Module, elem: ir.Type, cfg: GemmConfig, suffix: str) -> ir.Function:
    """The blocked GEMM for one micro-tile shape (internal; ``gemm_function`` dispatches to it)."""
    from .parallel import opaque, parallel_for

    bits = 32 if isinstance(elem, ir.FloatType) else 64
    pack_a, pack_b, kernel = _pack_a(module, elem, cfg, suffix), _pack_b(module, elem, cfg, suffix), _kernel(module, elem, cfg, suffix)
    worker = _block_worker(module, elem, cfg, suffix, pack_a, kernel)
    pfor = parallel_for(module)
    f = ir.Function(module, ir.FunctionType(ir.VoidType(), GEMM_ARGS), name=f"tk.gemm.drive.{suffix}")
    f.linkage = "internal"
    M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate, max_threads = f.args
    g = _Gen(f, elem)
    b = g.b
    esize = bits // 8
    malloc, free = declare_scratch(module)
    kcap = g.imin(K, g.i(cfg.kc))
    ncap = b.mul(b.sdiv(b.add(g.imin(N, g.i(cfg.nc)), g.i(cfg.nr - 1)), g.i(cfg.nr)), g.i(cfg.nr))
    bp = b.call(malloc, [b.mul(b.mul(ncap, kcap), g.i(esize))])
    with b.if_then(b.icmp_unsigned("==", bp, ir.Constant(PTR, None)), likely=False):
        # Out of memory for the packed B block: the result is still computed, unblocked, with no
        # allocation (the GEMM returns nothing a caller could check, and may run in a parallel body).
        b.call(_unblocked(module, elem), list(f.args)[:12])
        b.ret_void()
    macs = b.mul(b.mul(M, N), K)
    big = b.icmp_signed(">=", macs, g.i(PARALLEL_MIN_MACS))
    nthreads = b.select(big, max_threads, g.i(1))
    ct = _ctx_type(elem)
    ctx = opaque(b, g.alloca(ct, "ctx"))
    pct = _packb_ctx_type()
    pctx = opaque(b, g.alloca(pct, "pctx"))
    packb = _packb_worker(module, elem, cfg, suffix, pack_b)
    # Packing a block of B is worth sharing only when the block is large.
    pack_threads = b.select(b.icmp_signed(">=", b.mul(kcap, ncap), g.i(PARALLEL_MIN_PACK)), nthreads, g.i(1))
    # M blocks as even as whole micro-tiles allow, as many as a multiple of the thread count, so no
    # thread waits on a lone short last block (1024 rows in 144-row blocks would leave one thread
    # 12% idle; 2048 rows in 132-row blocks, 15 full and one of 68, one thread 6%).
    nblk0 = b.sdiv(b.add(M, g.i(cfg.mc - 1)), g.i(cfg.mc))
    nblk_even = b.mul(b.sdiv(b.add(nblk0, b.sub(nthreads, g.i(1))), nthreads), nthreads)
    nblk1 = b.select(b.icmp_signed(">=", nblk0, nthreads), nblk_even, nblk0)
    nblk1 = b.select(b.icmp_signed("<", nblk1, g.i(1)), g.i(1), nblk1)  # M == 0
    tiles = b.sdiv(b.add(M, g.i(cfg.mr - 1)), g.i(cfg.mr))
    nblk = g.imin(nblk1, tiles)
    nblk = b.select(b.icmp_signed("<", nblk, g.i(1)), g.i(1), nblk)
    # Threads split C's columns when there are too few M blocks to go round, and when C is a small
    # weight accumulated into (W += x^T dY, A at most SPLIT_N_MAX_A_BYTES) with a panel of columns
    # for each thread: the forward product x @ W has one M block and so splits W's columns, and with
    # the update split the same way each thread updates the columns it reads in the next step. Each
    # thread then reads all of A, in place (packing all of it on each thread cost more than reading
    # it). MLP step, two threads, alternating processes (/tmp/mlpgemm.py): in seconds with the vCPUs
    # far apart 239.7 -> 224.2 us (n = 93/103 s), near 186.1 vs 187.4 (132/122 s).
    npanels = b.sdiv(ncap, g.i(cfg.nr))
    small_a = b.icmp_signed("<=", b.mul(b.mul(M, K), g.i(esize)), g.i(SPLIT_N_MAX_A_BYTES))
    split_n = b.and_(b.and_(accumulate, small_a),
                     b.and_(b.icmp_signed(">", nthreads, g.i(1)), b.icmp_signed(">=", npanels, nthreads)))
    groups = b.select(b.or_(b.icmp_signed("<", nblk, nthreads), split_n), nthreads, g.i(1))
    # B read in place, not packed (its whole panels; a ragged last one is still packed). Always
    # when its rows are NR apart — then B already is the packed layout (a conv's 64 output
    # channels; 1 thread 196x800x64: 108 -> 112 GFLOP/s). Otherwise when there is one M block
    # (M <= MC), so each panel is read by only that block's tiles and packing it would cost about
    # as much as the reads it saves, unless its rows are a multiple of 4 KiB apart: a panel's rows
    # would then share a few L2 sets (1 thread, best of 9: 100x784x256 105 -> 111, 100x784x512
    # 102 -> 110, 50x600x300 89 -> 95; 100x3136x1024 with its 4 KiB rows 97 -> 95 if read in
    # place, so packed; with several M blocks reading in place lost, 1000³ 107 -> 104). Also when
    # a whole B block is small enough to stay in L2 (SMALL_B_BYTES) however many M blocks read it:
    # it then costs a pool job and a serial copy for nothing (2 threads, load < 0.5, best of 7:
    # 784x100x256 with A transposed, the MLP weight gradient, 185-191 -> 205 GFLOP/s; 1 thread equal).
    row_major_b = b.icmp_signed("==", csb, g.i(1))
    contiguous_panel = b.icmp_signed("==", rsb, g.i(cfg.nr))
    one_block = b.icmp_signed("==", nblk, g.i(1))
    small_b = b.icmp_signed("<=", b.mul(b.mul(kcap, ncap), g.i(esize)), g.i(SMALL_B_BYTES))
    no_alias = b.icmp_signed("!=", b.srem(b.mul(rsb, g.i(esize)), g.i(4096)), g.i(0))
    direct = b.and_(row_major_b, b.or_(contiguous_panel, b.and_(b.or_(one_block, small_b), no_alias)))
    with g.loop(0, N, cfg.nc, name="jc") as jc:
        nc = g.imin(b.sub(N, jc), g.i(cfg.nc))
        with g.loop(0, K, cfg.kc, name="pc") as pc:
            kc = g.imin(b.sub(K, pc), g.i(cfg.kc))
            overwrite = b.and_(b.icmp_signed("==", pc, g.i(0)), b.not_(accumulate))
            bsrc = g.gep(B, b.add(b.mul(pc, rsb), b.mul(jc, csb)))
            pvalues = {"kc": kc, "nc": nc, "B": bsrc, "rsb": rsb, "csb": csb, "bp": bp}
            for i, fname in enumerate(_PACKB_FIELDS):
                b.store(pvalues[fname], b.gep(pctx, [ir.Constant(I32, 0), ir.Constant(I32, i)], inbounds=True, source_etype=pct))
            with b.if_else(direct) as (then, otherwise):
                with then:  # only a ragged last panel is packed
                    full = b.sdiv(nc, g.i(cfg.nr))
                    with b.if_then(b.icmp_signed("<", b.mul(full, g.i(cfg.nr)), nc)):
                        b.call(pack_b, [kc, b.sub(nc, b.mul(full, g.i(cfg.nr))), g.gep(bsrc, b.mul(full, g.i(cfg.nr))), rsb, csb,
                                        g.gep(bp, b.mul(full, b.mul(kc, g.i(cfg.nr))))])
                with otherwise:
                    b.call(pfor, [packb, pctx, b.sdiv(b.add(nc, g.i(cfg.nr - 1)), g.i(cfg.nr)), pack_threads])
            # With a single panel of B, each A element is used once: packing A would only copy it.
            # A row-major A is read in place too: the kernel's six row streams are as fast as a
            # packed panel (1 thread 1024³: 95 vs 92 GFLOP/s), and packing it would cost a transpose.
            # Nor when the update splits by columns (above).
            pack = b.and_(b.and_(b.icmp_signed(">", nc, g.i(cfg.nr)), b.icmp_signed("!=", csa, g.i(1))), b.not_(split_n))
            values = {"M": M, "kc": kc, "nc": nc, "A": g.gep(A, b.mul(pc, csa)), "rsa": rsa, "csa": csa,
                      "bp": bp, "B": bsrc, "rsb": rsb, "direct": b.zext(direct, I64),
                      "C": g.gep(C, jc), "ldc": ldc, "overwrite": b.zext(overwrite, I64), "pack": b.zext(pack, I64),
                      "groups": groups, "tiles": tiles, "nblk": nblk}
            for i, fname in enumerate(_CTX_FIELDS):
                b.store(values[fname], b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, i)], inbounds=True, source_etype=ct))
            b.call(pfor, [worker, ctx, b.mul(nblk, groups), nthreads])
    # K == 0: C = 0 unless accumulating (the loops above never ran).
    with b.if_then(b.and_(b.icmp_signed("==", K, g.i(0)), b.not_(accumulate))):
        with g.loop(0, M, name="zi") as zi:
            with g.loop(0, N, name="zj") as zj:
                b.store(ir.Constant(elem, 0.0), g.gep(C, b.add(b.mul(zi, ldc), zj)))
    b.call(free, [bp])
    b.ret_void()
    return f


def _unblocked(module: ir.Module, elem: ir.Type) -> ir.Function:
    """C (+)= A @ B one dot product at a time: the fallback that needs no memory (one shared,
    out-of-line copy: it only runs when memory has run out)."""
    name = f"tk.gemm.unblocked.{'f32' if isinstance(elem, ir.FloatType) else 'f64'}"
    if name in module.globals:
        return module.globals[name]
    f = ir.Function(module, ir.FunctionType(ir.VoidType(), GEMM_ARGS[:12]), name=name)
    f.linkage = "internal"
    f.attributes.add("noinline")
    f.attributes.add("cold")
    g = _Gen(f, elem)
    dot_loops(g, *f.args)
    g.b.ret_void()
    return f


def dot_loops(g: "_Gen", M: ir.Value, N: ir.Value, K: ir.Value, A: ir.Value, rsa: ir.Value, csa: ir.Value,
              B: ir.Value, rsb: ir.Value, csb: ir.Value, C: ir.Value, ldc: ir.Value, accumulate: ir.Value) -> None:
    """C (+)= A @ B as the plain triple loop, one dot product per element of C in a stack slot: the
    fallbacks (no memory for packing; products too small for any tiled layout) share it."""
    b = g.b
    acc = g.alloca(g.elem, "dot")
    with g.loop(0, M, name="ui") as i:
        with g.loop(0, N, name="uj") as j:
            dst = g.gep(C, b.add(b.mul(i, ldc), j))
            b.store(ir.Constant(g.elem, 0.0), acc)
            with b.if_then(accumulate):
                b.store(g.ld(dst), acc)
            with g.loop(0, K, name="uk") as k:
                x = g.ld(g.gep(A, b.add(b.mul(i, rsa), b.mul(k, csa))))
                y = g.ld(g.gep(B, b.add(b.mul(k, rsb), b.mul(j, csb))))
                b.store(b.fadd(b.load(acc), b.fmul(x, y)), acc)
            b.store(b.load(acc), dst)


def gemm_function(module: ir.Module, elem: ir.Type, features: str, internal: bool = True) -> ir.Function:
    """``void tk_gemm_T(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate, nthreads)``, defined
    once per module.

    For each (N block, K block) B is packed once; the (M block × panel group) items then run on up to
    ``nthreads`` threads via ``tk_parallel_for``. ``accumulate`` false means C = A @ B. Narrow outputs
    (N <= one vector, such as the 10 classes of a classifier), where the blocked tile would waste most
    of its lanes, go to the skinny kernels (``gemm_skinny.py``); the blocked GEMM remains their
    fallback for the tiny cases those do not take (K and M both under one vector).
    """
    bits = 32 if isinstance(elem, ir.FloatType) else 64
    name = gemm_name(elem)
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    from .gemm_skinny import declare_skinny, skinny_function

    wide = config_for(features, bits)
    d_wide = _driver(module, elem, wide, f"f{bits}.nr{wide.nr}")
    mid = mid_config_for(features, bits)
    d_mid = _driver(module, elem, mid, f"f{bits}.nr{mid.nr}") if mid is not None else None
    f = ir.Function(module, ir.FunctionType(ir.VoidType(), GEMM_ARGS), name=name)
    if internal:
        f.linkage = "internal"
    b = ir.IRBuilder(f.append_basic_block("entry"))
    is_narrow = b.icmp_signed("<=", f.args[1], ir.Constant(I64, wide.vl))
    with b.if_else(is_narrow) as (then, otherwise):
        with then:
            # The JIT's kernel library calls the separately compiled skinny library; a module that
            # carries its own kernels (AOT) carries the skinny ones too.
            skinny = declare_skinny(module, elem) if not internal else skinny_function(module, elem, wide)
            b.call(skinny, list(f.args))
        with otherwise:
            if d_mid is None:
                b.call(d_wide, list(f.args))
            else:
                is_mid = b.icmp_signed("<=", f.args[1], ir.Constant(I64, mid.nr))
                with b.if_else(is_mid) as (then2, otherwise2):
                    with then2:
                        b.call(d_mid, list(f.args))
                    with otherwise2:
                        b.call(d_wide, list(f.args))
    b.ret_void()
    return f
