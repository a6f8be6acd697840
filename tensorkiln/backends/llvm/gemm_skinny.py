"""GEMMs with a narrow output (N of a few columns: a classifier's 10 logits, a GEMV's 1).

The blocked GEMM vectorizes along N; with N = 10 on 16-lane vectors most lanes are wasted and N
cannot be split across threads. Two layouts fix that by vectorizing along another dimension:

* **dot** (A's rows contiguous, ``csa == 1``, as in ``x @ W``): each ``C[i, j]`` is a dot product
  along K. B's few columns are first copied into contiguous, zero-padded rows (``N × Kp``); an
  ``R × CC`` block of outputs keeps ``R·CC`` vector accumulators, so each step loads ``R + CC``
  vectors for ``R·CC`` FMAs, and lanes are summed once at the end.
* **outer** (A's columns contiguous, ``rsa == 1``, as in ``xᵀ @ g`` for a weight gradient): vectors
  run along M; each step loads ``V`` vectors of A's column k and broadcasts ``CC`` scalars of B's
  row k. The ``V·vl × CC`` block is transposed into rows (C's rows are contiguous) and stored a
  masked row at a time.

Outer splits M into blocks that run on the thread pool when the product is large enough; dot
runs one item per thread, each a part of B's columns and a share of A's rows, and each packs its
own columns of B. Edges use masked loads (dot: the K tail; outer: the M tail) and clamped column
indices, and only valid outputs are stored. Running out of memory for the dot layout's packed
columns is not an error: that part is computed unpacked.
"""
from __future__ import annotations

import llvmlite.ir as ir

from .scratch import declare_scratch
from .gemm import GEMM_ARGS, GemmConfig, _declare, _Gen, _unblocked, dot_loops
from .gemm_pack import pack_bt

I1, I32, I64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()


def _tname(elem) -> str:
    return "f32" if isinstance(elem, ir.FloatType) else "f64"


def _splat(b: ir.IRBuilder, vt: ir.VectorType, x: ir.Value) -> ir.Value:
    undef = ir.Constant(vt, ir.Undefined)
    return b.shuffle_vector(b.insert_element(undef, x, ir.Constant(I32, 0)), undef,
                            ir.Constant(ir.VectorType(I32, vt.count), [0] * vt.count))


def _lane_mask(b: ir.IRBuilder, vl: int, valid: ir.Value) -> ir.Value:
    """Lanes ``0 … valid-1`` on."""
    it = ir.VectorType(I64, vl)
    return b.icmp_signed("<", ir.Constant(it, list(range(vl))), _splat(b, it, valid))


def _lane_sums(b: ir.IRBuilder, vecs: list[ir.Value], vl: int) -> ir.Value:
    """One vector whose lane i holds the sum of ``vecs[i]``'s lanes (i < len(vecs) <= vl; the other
    lanes 0). A halving tree: each level pairs the vectors up and adds the first halves of every
    item's lane segment to the second halves, so a vector holds twice the items in half the lanes
    each — 2·log2(vl) shuffles and log2(vl) adds for up to two items a level, where a reduction per
    vector costs as many for one (5 sums: 21 operations instead of 40, and no trip through memory)."""
    vt = vecs[0].type
    zero = ir.Constant(vt, [0.0] * vl)
    it = ir.VectorType(I32, vl)
    items, seg = list(vecs), vl  # each vector holds vl // seg items, seg lanes each
    while seg > 1:
        half = seg // 2
        per = vl // seg  # items per vector now
        lo_idx, hi_idx = [], []
        for src in range(2):  # items of the first vector, then of the second
            for item in range(per):
                base = src * vl + item * seg
                lo_idx += [base + t for t in range(half)]
                hi_idx += [base + half + t for t in range(half)]
        nxt = []
        for i in range(0, len(items), 2):
            x = items[i]
            y = items[i + 1] if i + 1 < len(items) else zero
            nxt.append(b.fadd(b.shuffle_vector(x, y, ir.Constant(it, lo_idx)),
                              b.shuffle_vector(x, y, ir.Constant(it, hi_idx)), flags=("reassoc",)))
        items, seg = nxt, half
    return items[0]


def _fields(b: ir.IRBuilder, ctx: ir.Value, names: tuple[str, ...], ptrs: tuple[str, ...]) -> dict[str, ir.Value]:
    st = ir.LiteralStructType([PTR if n in ptrs else I64 for n in names])
    return {n: b.load(b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, i)], inbounds=True, source_etype=st),
                      typ=PTR if n in ptrs else I64) for i, n in enumerate(names)}


def _store_fields(g: _Gen, values: dict[str, ir.Value], names: tuple[str, ...], ptrs: tuple[str, ...]) -> ir.Value:
    from .parallel import opaque

    st = ir.LiteralStructType([PTR if n in ptrs else I64 for n in names])
    ctx = opaque(g.b, g.alloca(st, "ctx"))
    for i, n in enumerate(names):
        g.b.store(values[n], g.b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, i)], inbounds=True, source_etype=st))
    return ctx


# Threads pay off from a few microseconds of work: waking a spinning pool worker costs ~1 µs.
SKINNY_PARALLEL_MIN_MACS = 1 << 18

_DOT = ("M", "N", "K", "A", "rsa", "B", "rsb", "csb", "C", "ldc", "acc", "P", "S", "KP", "kgran", "W")
_DOT_PTRS = ("A", "B", "C", "W")
# A dot-layout A up to this size is split across threads by columns of B (each thread reads all
# of A, from its own L2); a larger one by rows (each thread reads its rows once).
DOT_COLUMN_SPLIT_BYTES = 512 << 10
# A small dot-layout product with at most this many outputs is split across threads along K
# instead: each thread sums its run of K for every output, the first into C and the others into
# partial sums the caller adds to C afterwards. Each thread then reads only its own rows of B,
# and the run boundaries are those of the outer layout's blocks (``kgran`` rows), which is how
# the weight gradient of the same B is split: in a training step each thread reads the rows of
# the weights that it updated itself. With the column split every thread read all of B (half of
# it last written by the other core) and both wrote into every cache line of C; when the VM's two
# vCPUs sat far apart (session 13) that cost the softmax regression's step ~9 µs of its ~27.
DOT_SPLIT_K_MAX_OUTPUTS = 4096
# The dot layout's packed columns of B and the split's partial sums go on the stack up to this
# size (a split half of the softmax regression's B: 400 x 10 x 4 bytes), instead of through
# tk_scratch_alloc, whose cache sits behind one lock: two threads taking and returning blocks at
# the same moment pass that lock's cache line between their cores four times a call.
DOT_STACK_BYTES = 16 << 10


def _stack_block(g: _Gen, name: str) -> ir.Value:
    """A DOT_STACK_BYTES buffer in the entry block's frame, cache-line aligned."""
    buf = g.alloca(ir.ArrayType(ir.IntType(8), DOT_STACK_BYTES), name)
    buf.align = 64
    return buf


def _fits_stack(g: _Gen, nbytes: ir.Value) -> ir.Value:
    return g.b.icmp_signed("<=", nbytes, g.i(DOT_STACK_BYTES))


def _stack_or_scratch(g: _Gen, malloc: ir.Function, nbytes: ir.Value, stack: ir.Value, on_stack: ir.Value) -> ir.Value:
    """``stack`` when ``on_stack`` (``_fits_stack(nbytes)``), else a scratch block of ``nbytes`` (null
    when out of memory). The caller frees it, through the scratch cache, only when not on the stack."""
    b = g.b
    with b.if_else(on_stack) as (st, heap):
        with st:
            stack_bb = b.block
        with heap:
            got = b.call(malloc, [nbytes])
            heap_bb = b.block
    ptr = b.phi(PTR)
    ptr.add_incoming(stack, stack_bb)
    ptr.add_incoming(got, heap_bb)
    return ptr


class _Body:
    """What both layouts' ``body(ctx, lo, hi)`` start with: the function, its context fields, the
    vector type, the FMA and masked-load intrinsics and a rows × cols grid of vector accumulators."""

    def __init__(self, module: ir.Module, elem, vl: int, kind: str, fields: tuple[str, ...],
                 ptrs: tuple[str, ...], rows: int, cols: int):
        from .parallel import BODY_TYPE

        self.t = t = _tname(elem)
        self.f = ir.Function(module, BODY_TYPE, name=f"tk.gemm.{kind}{rows}x{cols}.{t}")
        self.f.linkage = "internal"
        self.ctx, self.lo, self.hi = self.f.args
        self.g = _Gen(self.f, elem)
        self.b = self.g.b
        self.v = _fields(self.b, self.ctx, fields, ptrs)
        self.vt = vt = ir.VectorType(elem, vl)
        self.fma = _declare(module, f"llvm.fma.v{vl}{t}", vt, [vt, vt, vt])
        self.mload = _declare(module, f"llvm.masked.load.v{vl}{t}.p0", vt, [PTR, I32, ir.VectorType(I1, vl), vt])
        self.zero_v = ir.Constant(vt, [0.0] * vl)
        self.accs = [[self.g.alloca(vt, f"acc{r}_{c}") for c in range(cols)] for r in range(rows)]


def _dot_body(module: ir.Module, elem, vl: int, R: int, CC: int, lean: bool = False) -> ir.Function:
    """``body(ctx, lo, hi)``: work items ``[lo, hi)``. Item ``p·S + s`` takes column part p of P (a
    run of whole column groups of CC) and row share s of S (a run of R-row blocks); it packs its own
    columns of B into contiguous rows first (so a thread reads no B rows another core wrote) and
    then computes every block × column group of its share; without memory for the packed columns it
    computes its share one dot product at a time instead (allocating nothing). ``lean``: B is packed
    element by element (no block transpose: less code for tier 0)."""
    from .gemm_pack import _vec_intrinsics, lanes_below

    assert CC <= vl, "a row's CC sums share one vector"
    h = _Body(module, elem, vl, "dot", _DOT, _DOT_PTRS, R, CC)
    f, lo, hi, g, b, v, vt = h.f, h.lo, h.hi, h.g, h.b, h.v, h.vt
    fma, mload, zero_v, accs = h.fma, h.mload, h.zero_v, h.accs
    _, mt, _, mstore = _vec_intrinsics(module, elem, vl)
    none = ir.Constant(mt, [0] * vl)
    malloc, free = declare_scratch(module)
    stack_buf = _stack_block(g, "bt.stack")
    Kall, M, N, P, S, KP, kgran = v["K"], v["M"], v["N"], v["P"], v["S"], v["KP"], v["kgran"]
    esize = 4 if h.t == "f32" else 8
    blocks = b.sdiv(b.add(M, g.i(R - 1)), g.i(R))
    groups = b.sdiv(b.add(N, g.i(CC - 1)), g.i(CC))
    kblocks = b.sdiv(b.add(Kall, b.sub(kgran, g.i(1))), kgran)
    with g.loop(lo, hi, name="item") as item:
        # Item (kpart·P + part)·S + share: a run of K (split-K, KP > 1), a column part, a row share.
        per_k = b.mul(P, S)
        kpart, rest = b.sdiv(item, per_k), b.srem(item, per_k)
        part, share = b.sdiv(rest, S), b.srem(rest, S)
        k0 = b.mul(b.sdiv(b.mul(kpart, kblocks), KP), kgran)
        K = b.sub(g.imin(b.mul(b.sdiv(b.mul(b.add(kpart, g.i(1)), kblocks), KP), kgran), Kall), k0)
        Kp = b.mul(b.sdiv(b.add(K, g.i(vl - 1)), g.i(vl)), g.i(vl))
        kfull = b.mul(b.sdiv(K, g.i(vl)), g.i(vl))
        tail = b.sub(K, kfull)
        tail_mask = _lane_mask(b, vl, tail)
        A = g.gep(v["A"], k0)  # csa == 1: K runs along A's rows
        Bk = g.gep(v["B"], b.mul(k0, v["rsb"]))
        # The first run of K goes to C (accumulating as asked), the others to their partial sums.
        first = b.icmp_signed("==", kpart, g.i(0))
        C = b.select(first, v["C"], g.gep(v["W"], b.mul(b.sub(kpart, g.i(1)), b.mul(M, N))))
        ldc = b.select(first, v["ldc"], N)
        accumulate = b.and_(first, b.icmp_signed("!=", v["acc"], g.i(0)))
        jlo = b.mul(b.sdiv(b.mul(part, groups), P), g.i(CC))
        jhi = g.imin(b.mul(b.sdiv(b.mul(b.add(part, g.i(1)), groups), P), g.i(CC)), N)
        ncols = b.sub(jhi, jlo)
        bt_bytes = b.mul(b.mul(ncols, Kp), g.i(esize))
        on_stack = _fits_stack(g, bt_bytes)
        bt = _stack_or_scratch(g, malloc, bt_bytes, stack_buf, on_stack)
        blo, bhi = b.sdiv(b.mul(share, blocks), S), b.sdiv(b.mul(b.add(share, g.i(1)), blocks), S)
        with b.if_else(b.icmp_unsigned("==", bt, ir.Constant(PTR, None)), likely=False) as (oom, packed):
            with oom:
                # No memory for the packed columns: this item's rows and columns one dot product at
                # a time, reading B in place (gemm.py's fallback, which allocates nothing).
                r0 = b.mul(blo, g.i(R))
                nrows = b.sub(g.imin(b.mul(bhi, g.i(R)), M), r0)
                b.call(_unblocked(module, elem), [nrows, ncols, K, g.gep(A, b.mul(r0, v["rsa"])), v["rsa"], g.i(1),
                                                  g.gep(Bk, b.mul(jlo, v["csb"])), v["rsb"], v["csb"],
                                                  g.gep(C, b.add(b.mul(r0, ldc), jlo)), ldc, accumulate])
            with packed:
                # bt[j - jlo, k] = B[k0 + k, j] for this part's columns, zero for K <= k < Kp.
                pack_bt(g, module, elem, vl, ncols, K, Kp, g.gep(Bk, b.mul(jlo, v["csb"])), v["rsb"], v["csb"], bt,
                         lean)
                with g.loop(blo, bhi, name="blk") as blk:
                    i0 = b.mul(blk, g.i(R))
                    rows = g.imin(b.sub(M, i0), g.i(R))
                    # Rows past the edge re-read the last valid row; their sums are never stored.
                    arow = [g.gep(A, b.mul(b.add(i0, g.imin(g.i(r), b.sub(rows, g.i(1)))), v["rsa"]))
                            for r in range(R)]
                    with g.loop(jlo, jhi, CC, name="jg") as j0:
                        cols = g.imin(b.sub(jhi, j0), g.i(CC))
                        brow = [g.gep(bt, b.mul(b.add(b.sub(j0, jlo), g.imin(g.i(c), b.sub(cols, g.i(1)))), Kp))
                                for c in range(CC)]
                        for row in accs:
                            for a in row:
                                b.store(zero_v, a)

                        def step(k, masked: bool):
                            if masked:
                                av = [b.call(mload, [g.gep(p, k), ir.Constant(I32, 1), tail_mask, zero_v])
                                      for p in arow]
                            else:
                                av = [b.load(g.gep(p, k), typ=vt, align=1) for p in arow]
                            bv = [b.load(g.gep(p, k), typ=vt, align=1) for p in brow]  # bt is zero-padded to Kp
                            for r in range(R):
                                for c in range(CC):
                                    b.store(b.call(fma, [av[r], bv[c], b.load(accs[r][c])]), accs[r][c])

                        with g.loop(0, kfull, vl, name="kv") as k:
                            step(k, False)
                        with b.if_then(b.icmp_signed(">", tail, g.i(0))):
                            step(kfull, True)
                        # Each row's CC sums land in one vector (lanes 0…CC-1), stored as a masked row of C;
                        # C's old rows are all read first (a masked load right after an overlapping masked
                        # store waits for it). Rows past the edge are masked off entirely.
                        colmask = lanes_below(b, vl, cols)
                        masks = [b.select(b.icmp_signed("<", g.i(r), rows), colmask, none) for r in range(R)]
                        # (rows past the edge address the last valid row: an in-bounds pointer, never used)
                        dsts = [g.gep(C, b.add(b.mul(b.add(i0, g.imin(g.i(r), b.sub(rows, g.i(1)))), ldc),
                                                    j0))
                                for r in range(R)]
                        olds = [b.call(mload, [dsts[r], ir.Constant(I32, esize), b.select(accumulate, masks[r], none),
                                               zero_v])
                                for r in range(R)]
                        for r in range(R):
                            red = _lane_sums(b, [b.load(accs[r][c]) for c in range(CC)], vl)
                            b.call(mstore, [b.select(accumulate, b.fadd(olds[r], red), red), dsts[r],
                                            ir.Constant(I32, esize),
                                            masks[r]])
                with b.if_then(b.not_(on_stack)):
                    b.call(free, [bt])
    b.ret_void()
    return f


_OUTER = ("M", "N", "K", "A", "csa", "B", "rsb", "csb", "C", "ldc", "acc")
_OUTER_PTRS = ("A", "B", "C")


def _tblock(module: ir.Module, elem, vl: int) -> ir.Function:
    """The module's one ``vl × vl`` block transpose (gemm_pack's, with the destination's row stride
    an argument), for the outer layout's write-back."""
    from .gemm_pack import _transpose_block

    suffix = f"skinny.{_tname(elem)}"
    existing = module.globals.get(f"tk.gemm.tblock.{suffix}")
    return existing or _transpose_block(module, elem, GemmConfig(vl=vl, mr=1, nv=1), suffix, dst_stride=True)


def _outer_body(module: ir.Module, elem, vl: int, V: int, CC: int, lean: bool = False) -> ir.Function:
    """``body(ctx, lo, hi)``: blocks ``[lo, hi)`` of V·vl rows, every column group of CC. ``lean``:
    the write-back goes element by element (no block transpose: less code for tier 0)."""
    from .parallel import opaque
    from .gemm_pack import _vec_intrinsics, lanes_below, transpose

    assert CC <= vl, "the write-back transposes vl x vl blocks"
    h = _Body(module, elem, vl, "outer", _OUTER, _OUTER_PTRS, V, CC)
    f, lo, hi, g, b, v, vt = h.f, h.lo, h.hi, h.g, h.b, h.v, h.vt
    fma, mload, zero_v, accs = h.fma, h.mload, h.zero_v, h.accs
    _, _, _, mstore = _vec_intrinsics(module, elem, vl)
    tblock = None if lean else _tblock(module, elem, vl)
    tile_t = ir.ArrayType(elem, vl * vl)
    cols_tile = opaque(b, g.alloca(ir.ArrayType(elem, V * vl * vl), "cols"))
    tile, old_tile = (None, None) if lean else (opaque(b, g.alloca(tile_t, n)) for n in ("rows", "old"))
    M, N, K = v["M"], v["N"], v["K"]
    rows_per = V * vl
    accumulate = b.icmp_signed("!=", v["acc"], g.i(0))

    def tile_at(t, i) -> ir.Value:
        return b.gep(t, [g.i(0), i], inbounds=True, source_etype=tile_t)

    with g.loop(lo, hi, name="blk") as blk:
        i0 = b.mul(blk, g.i(rows_per))
        rows = g.imin(b.sub(M, i0), g.i(rows_per))
        masks = [_lane_mask(b, vl, b.sub(rows, g.i(q * vl))) for q in range(V)]
        with g.loop(0, N, CC, name="jg") as j0:
            cols = g.imin(b.sub(N, j0), g.i(CC))
            colmask = lanes_below(b, vl, cols)
            bcol = [b.mul(b.add(j0, g.imin(g.i(c), b.sub(cols, g.i(1)))), v["csb"]) for c in range(CC)]
            for row in accs:
                for a in row:
                    b.store(zero_v, a)

            # Every block's A loads are masked (all lanes on except in the M-tail block): the
            # mask is loop-invariant and a masked load costs what a plain one does, while a
            # separate unmasked copy of this 20-FMA loop cost ~8 ms of LLVM time.
            with g.loop(0, K, name="k") as k:
                acol = g.gep(v["A"], b.add(i0, b.mul(k, v["csa"])))
                av = [b.call(mload, [g.gep(acol, g.i(q * vl)), ir.Constant(I32, 1), masks[q], zero_v]) for q in range(V)]
                brow = b.mul(k, v["rsb"])
                for c in range(CC):
                    bv = _splat(b, vt, g.ld(g.gep(v["B"], b.add(brow, bcol[c]))))
                    for q in range(V):
                        b.store(b.call(fma, [av[q], bv, b.load(accs[q][c])]), accs[q][c])
            if lean:
                for q in range(V):
                    for c in range(CC):
                        b.store(b.load(accs[q][c]), tile_at(cols_tile, g.i(c * vl)), align=1)
                    left = g.imin(b.sub(rows, g.i(q * vl)), g.i(vl))
                    valid = b.select(b.icmp_signed("<", left, g.i(0)), g.i(0), left)
                    with g.loop(0, valid, name=f"r{q}") as r:
                        crow = g.gep(v["C"], b.add(b.mul(b.add(i0, b.add(r, g.i(q * vl))), v["ldc"]), j0))
                        with g.loop(0, cols, name=f"c{q}") as c:
                            s = g.ld(tile_at(cols_tile, b.add(b.mul(c, g.i(vl)), r)))
                            dst = g.gep(crow, c)
                            b.store(b.select(accumulate, b.fadd(g.ld(dst), s), s), dst)
            else:
                # Write-back by rows. The V groups' CC column vectors go to a stack tile (column-major
                # per group), and one loop over the groups (one copy of the code, not V) transposes a
                # group into vl row vectors of CC lanes and stores each as a masked row of C (C's rows
                # are contiguous). Element by element this was ~6 µs of the 21 µs of a 784x100x10
                # weight gradient on one thread. A whole group (vl valid rows, every block but the M
                # tail) is transposed in registers; C's old rows are all read before any is written: a
                # row's masked load right after the previous row's masked store (40 bytes before it,
                # inside its 64-byte span) waited for that store (another ~4 µs).
                for q in range(V):
                    for c in range(CC):
                        b.store(b.load(accs[q][c]), tile_at(cols_tile, g.i((q * CC + c) * vl)), align=1)
                with g.loop(0, V, name="grp") as q:
                    qcols = b.mul(q, g.i(CC * vl))
                    first = b.add(i0, b.mul(q, g.i(vl)))  # the group's first row
                    left = g.imin(b.sub(M, first), g.i(vl))
                    valid = b.select(b.icmp_signed("<", left, g.i(0)), g.i(0), left)
                    with b.if_else(b.icmp_signed("==", valid, g.i(vl))) as (whole, part):
                        with whole:
                            row_ptr = [g.gep(v["C"], b.add(b.mul(b.add(first, g.i(r)), v["ldc"]), j0)) for r in range(vl)]
                            undef = ir.Constant(vt, ir.Undefined)
                            cvecs = [b.load(tile_at(cols_tile, b.add(qcols, g.i(c * vl))), typ=vt, align=1)
                                     for c in range(CC)]
                            out = transpose(b, cvecs + [undef] * (vl - CC), vl)
                            old = [b.call(mload, [row_ptr[r], ir.Constant(I32, 1), colmask, zero_v]) for r in range(vl)]
                            for r in range(vl):
                                b.call(mstore, [b.select(accumulate, b.fadd(old[r], out[r]), out[r]), row_ptr[r],
                                                ir.Constant(I32, 1), colmask])
                        with part:  # the M tail: the shared block transpose, through tiles
                            b.call(tblock, [tile_at(cols_tile, qcols), g.i(vl), g.i(vl), g.i(CC), tile, g.i(vl)])
                            with b.if_then(accumulate):
                                with g.loop(0, valid, name="o") as r:
                                    dst = g.gep(v["C"], b.add(b.mul(b.add(first, r), v["ldc"]), j0))
                                    b.store(b.call(mload, [dst, ir.Constant(I32, 1), colmask, zero_v]),
                                            tile_at(old_tile, b.mul(r, g.i(vl))), align=1)
                            with g.loop(0, valid, name="r") as r:
                                s = b.load(tile_at(tile, b.mul(r, g.i(vl))), typ=vt, align=1)
                                old = b.load(tile_at(old_tile, b.mul(r, g.i(vl))), typ=vt, align=1)
                                dst = g.gep(v["C"], b.add(b.mul(b.add(first, r), v["ldc"]), j0))
                                b.call(mstore, [b.select(accumulate, b.fadd(old, s), s), dst, ir.Constant(I32, 1), colmask])
    b.ret_void()
    return f


def skinny_shapes(cfg: GemmConfig, bits: int) -> tuple[tuple[int, int], tuple[tuple[int, int], ...]]:
    """(R, CC) for dot and the (V, CC) shapes of outer, narrowest first: about 20 accumulators with
    the 32 vector registers of AVX-512 (512-bit vectors), about 8 with 16. Outer takes the first
    shape whose CC covers N, else the last: its FMAs run for all CC columns, so with N = 10 a CC of
    5 reads each column of A twice where 10 reads it once (784x100x10: 21 -> 17 µs), and with N = 3
    a CC of 10 wastes 7 of every 10 (10 -> 17 µs). Outer's CC is at most a vector's lanes (its
    write-back transposes vl x vl blocks)."""
    if cfg.vl * bits >= 512:
        return (4, 5), ((4, 5), (2, min(10, cfg.vl)))
    return (2, 4), ((2, 4),)


def skinny_name(elem) -> str:
    return f"tk_gemm_skinny_{_tname(elem)}"


def declare_skinny(module: ir.Module, elem) -> ir.Function:
    """An external declaration: the JIT resolves it to the process-wide kernel library."""
    return _declare(module, skinny_name(elem), ir.VoidType(), GEMM_ARGS)


def _naive(module: ir.Module, elem) -> ir.Function:
    """The plain triple loop, for the tiny products neither layout takes (K and M under a vector)."""
    f = ir.Function(module, ir.FunctionType(ir.VoidType(), GEMM_ARGS), name=f"tk.gemm.naive.{_tname(elem)}")
    f.linkage = "internal"
    g = _Gen(f, elem)
    dot_loops(g, *f.args[:12])
    g.b.ret_void()
    return f


def skinny_function(module: ir.Module, elem, cfg: GemmConfig, internal: bool = True, lean: bool = False) -> ir.Function:
    """``tk_gemm_skinny_T`` with the GEMM arguments, defined once per module: dot when A's rows are
    contiguous (and K fills a vector), outer when its columns are (and M fills a vector), else the
    plain loop. It needs nothing from the blocked GEMM, so a model whose products are all narrow
    (the softmax regression) never compiles or loads the blocked kernels.

    ``lean``: the same layouts with four accumulators (one row or vector × four columns) and
    element-by-element packing and write-back, a fifth of the IR: the tier-0 library of a cold
    process, generated and compiled unoptimized in ~20 instead of ~80 ms, which runs a 100x784x10
    product in ~0.10 ms (the full library unoptimized: ~0.05 ms; one accumulator: ~0.21 ms) until the
    optimized library replaces it (tiering.py)."""
    from .parallel import parallel_for

    existing = module.globals.get(skinny_name(elem))
    if existing is not None and not existing.is_declaration:
        return existing
    t = _tname(elem)
    vl = cfg.vl
    (R, CCd), outer_shapes = ((1, 4), ((1, 4),)) if lean else skinny_shapes(cfg, 32 if t == "f32" else 64)
    # The entry first: where it lands in the object then does not depend on the size of the
    # kernels defined after it (when it held the dot layout's B-packing loop, a few bytes' shift of
    # that loop measured 10% on a 100x10x784 product).
    f = existing or ir.Function(module, ir.FunctionType(ir.VoidType(), GEMM_ARGS), name=skinny_name(elem))
    dot = _dot_body(module, elem, vl, R, CCd, lean)
    outers = [(_outer_body(module, elem, vl, V, CC, lean), V, CC) for V, CC in outer_shapes]
    fallback = _naive(module, elem)
    if internal:
        f.linkage = "internal"
    M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate, max_threads = f.args
    g = _Gen(f, elem)
    b = g.b
    pfor = parallel_for(module)
    big = b.icmp_signed(">=", b.mul(b.mul(M, N), K), g.i(SKINNY_PARALLEL_MIN_MACS))
    nthreads = b.select(big, max_threads, g.i(1))
    acc = b.zext(accumulate, I64)
    use_dot = b.and_(b.icmp_signed("==", csa, g.i(1)), b.icmp_signed(">=", K, g.i(vl)))
    use_outer = b.and_(b.icmp_signed("==", rsa, g.i(1)), b.icmp_signed(">=", M, g.i(vl)))
    d_bb, o_bb, n_bb, done = (f.append_basic_block(n) for n in ("dot", "outer.check", "narrow", "done"))
    outer_bb = f.append_basic_block("outer")
    b.cbranch(use_dot, d_bb, o_bb)

    b.position_at_end(d_bb)
    esize = 4 if t == "f32" else 8
    # Items: KP runs of K × P column parts × S row shares, one per thread, each packing its own
    # part of B (packed once by the caller and read by both cores, the 100x784x10 product took
    # ~14.4 µs on two threads). A small product with few outputs is split along K
    # (DOT_SPLIT_K_MAX_OUTPUTS), in runs of whole blocks of the outer layout's rows for this N;
    # other small As by columns (no row of A is needed by one thread only, and each reads it from
    # its own cache); a large one by rows.
    one = b.icmp_signed("<=", nthreads, g.i(1))
    small = b.icmp_signed("<=", b.mul(b.mul(M, K), g.i(esize)), g.i(DOT_COLUMN_SPLIT_BYTES))
    kgran = g.i(outer_shapes[-1][0] * vl)
    for V, CC in reversed(outer_shapes[:-1]):  # the outer layout's choice: the first CC covering N
        kgran = b.select(b.icmp_signed("<=", N, g.i(CC)), g.i(V * vl), kgran)
    kruns = g.imin(nthreads, b.sdiv(b.add(K, b.sub(kgran, g.i(1))), kgran))
    few = b.icmp_signed("<=", b.mul(M, N), g.i(DOT_SPLIT_K_MAX_OUTPUTS))
    want_k = b.and_(b.and_(b.not_(one), small), b.and_(few, b.icmp_signed(">=", kruns, g.i(2))))
    malloc, free = declare_scratch(module)
    wslot = g.alloca(PTR, "partials")
    wstack = _stack_block(g, "partials.stack")
    b.store(ir.Constant(PTR, None), wslot)
    wbytes = b.mul(b.mul(b.sub(kruns, g.i(1)), b.mul(M, N)), g.i(esize))
    w_on_stack = _fits_stack(g, wbytes)
    with b.if_then(want_k):
        b.store(_stack_or_scratch(g, malloc, wbytes, wstack, w_on_stack), wslot)
    wbuf = b.load(wslot, typ=PTR)
    # Without memory for the partial sums: the column split, which needs none.
    split_k = b.and_(want_k, b.icmp_unsigned("!=", wbuf, ir.Constant(PTR, None)))
    groups = b.sdiv(b.add(N, g.i(CCd - 1)), g.i(CCd))
    parts = b.select(one, g.i(1), b.select(small, g.imin(groups, nthreads), g.i(1)))
    want = b.sdiv(b.add(nthreads, b.sub(parts, g.i(1))), parts)
    shares = b.select(one, g.i(1), g.imin(want, b.sdiv(b.add(M, g.i(R - 1)), g.i(R))))
    kp = b.select(split_k, kruns, g.i(1))
    parts, shares = b.select(split_k, g.i(1), parts), b.select(split_k, g.i(1), shares)
    ctx = _store_fields(g, {"M": M, "N": N, "K": K, "A": A, "rsa": rsa, "B": B, "rsb": rsb, "csb": csb,
                            "C": C, "ldc": ldc, "acc": acc, "P": parts, "S": shares, "KP": kp, "kgran": kgran,
                            "W": wbuf}, _DOT, _DOT_PTRS)
    b.call(pfor, [dot, ctx, b.mul(kp, b.mul(parts, shares)), nthreads])
    with b.if_then(split_k):
        # C += the other runs' partial sums (C already holds the first run's).
        with g.loop(1, kp, name="run") as run:
            src = g.gep(wbuf, b.mul(b.sub(run, g.i(1)), b.mul(M, N)))
            with g.loop(0, M, name="ri") as i:
                crow, srow = g.gep(C, b.mul(i, ldc)), g.gep(src, b.mul(i, N))
                with g.loop(0, N, name="rj") as j:
                    dst = g.gep(crow, j)
                    b.store(b.fadd(g.ld(dst), g.ld(g.gep(srow, j))), dst)
        with b.if_then(b.not_(w_on_stack)):
            b.call(free, [wbuf])
    b.branch(done)

    b.position_at_end(o_bb)
    b.cbranch(use_outer, outer_bb, n_bb)
    b.position_at_end(outer_bb)
    octx = _store_fields(g, {"M": M, "N": N, "K": K, "A": A, "csa": csa, "B": B, "rsb": rsb, "csb": csb, "C": C,
                             "ldc": ldc, "acc": acc}, _OUTER, _OUTER_PTRS)
    for i, (outer, V, CC) in enumerate(outers):
        last = i == len(outers) - 1
        if not last:
            this_bb, next_bb = f.append_basic_block(f"outer{CC}"), f.append_basic_block("outer.wider")
            b.cbranch(b.icmp_signed("<=", N, g.i(CC)), this_bb, next_bb)
            b.position_at_end(this_bb)
        b.call(pfor, [outer, octx, b.sdiv(b.add(M, g.i(V * vl - 1)), g.i(V * vl)), nthreads])
        b.branch(done)
        if not last:
            b.position_at_end(next_bb)

    b.position_at_end(n_bb)
    b.call(fallback, list(f.args))
    b.branch(done)
    b.position_at_end(done)
    b.ret_void()
    return f
