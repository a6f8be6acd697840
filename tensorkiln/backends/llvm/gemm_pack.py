"""Packing for the blocked GEMM (``gemm.py``): copying blocks of A and B into the panel layouts the
micro-kernel streams through, with explicit vector code.

``pack_b`` lays a kc × nc block of B out as NR-column panels, ``Bp[q][k][c]``; ``pack_a`` lays an
mc × kc block of A out as MR-row panels, ``Ap[p][k][r]``; both zero-pad the last panel. Each has a
fast path per operand layout: rows of B contiguous (whole vectors copied, a masked load for the
ragged last panel), B transposed (columns contiguous: vl × vl blocks read down the columns and
transposed in registers), A transposed (the MR values of one k are contiguous: one masked vector
load each), and a scalar fallback for any other strides. Left to itself LLVM vectorized the
generic loops with gathers and scatters, which made packing B a third of a 100×3136×1024 product.
``pack_bt`` copies the few columns of B into contiguous rows for the skinny dot layout
(``gemm_skinny.py``).
"""
from __future__ import annotations

import llvmlite.ir as ir

I1, I32, I64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()


def _gen(f, elem):
    from .gemm import _Gen  # gemm.py imports this module: a lazy import breaks the cycle

    return _Gen(f, elem)


def _vec_intrinsics(module, elem, vl: int):
    from .gemm import _declare

    tv = "f32" if isinstance(elem, ir.FloatType) else "f64"
    vt = ir.VectorType(elem, vl)
    mt = ir.VectorType(I1, vl)
    mload = _declare(module, f"llvm.masked.load.v{vl}{tv}.p0", vt, [PTR, I32, mt, vt])
    mstore = _declare(module, f"llvm.masked.store.v{vl}{tv}.p0", ir.VoidType(), [vt, PTR, I32, mt])
    return vt, mt, mload, mstore


def lanes_below(b, vl: int, n) -> ir.Value:
    """``<vl x i1>``: lane l is set when l < n (n an i64, any value)."""
    n = b.select(b.icmp_signed("<", n, ir.Constant(I64, 0)), ir.Constant(I64, 0), n)
    n = b.select(b.icmp_signed(">", n, ir.Constant(I64, vl)), ir.Constant(I64, vl), n)
    vt = ir.VectorType(I32, vl)
    splat = b.shuffle_vector(b.insert_element(ir.Constant(vt, ir.Undefined), b.trunc(n, I32), ir.Constant(I32, 0)),
                             ir.Constant(vt, ir.Undefined), ir.Constant(vt, [0] * vl))
    return b.icmp_signed("<", ir.Constant(vt, list(range(vl))), splat)


def transpose(b, rows: list[ir.Value], vl: int) -> list[ir.Value]:
    """Transpose vl vectors of vl lanes (vl a power of two) in log2(vl) stages of two-input shuffles:
    stage ``bit`` swaps that bit of the row index with the same bit of the lane index."""
    rows = list(rows)
    bit = 1
    while bit < vl:
        lo_mask = ir.Constant(ir.VectorType(I32, vl), [(c & ~bit) + (vl if c & bit else 0) for c in range(vl)])
        hi_mask = ir.Constant(ir.VectorType(I32, vl), [(c | bit) + (vl if c & bit else 0) for c in range(vl)])
        for i in range(vl):
            if i & bit:
                continue
            j = i | bit
            rows[i], rows[j] = b.shuffle_vector(rows[i], rows[j], lo_mask), b.shuffle_vector(rows[i], rows[j], hi_mask)
        bit <<= 1
    return rows


def _transpose_block(module, elem, cfg, suffix: str, dst_stride: bool = False) -> ir.Function:
    """``(src, ld, kvalid, cvalid, dst)``: dst[i*NR + t] = src[t*ld + i] for i < vl rows of the panel
    and t < vl columns; source columns t >= cvalid and rows i >= kvalid read as zero, and destination
    rows i >= kvalid are left untouched (they belong to the next panel, maybe another thread's).
    With ``dst_stride`` a sixth argument replaces NR as the destination's row stride.
    Not inlined: one copy of the shuffle network serves every block."""
    vl = cfg.vl
    args = [PTR, I64, I64, I64, PTR] + ([I64] if dst_stride else [])
    f = ir.Function(module, ir.FunctionType(ir.VoidType(), args), name=f"tk.gemm.tblock.{suffix}")
    f.linkage = "internal"
    f.attributes.add("noinline")
    src, ld, kvalid, cvalid, dst = f.args[:5]
    ldd = f.args[5] if dst_stride else ir.Constant(I64, cfg.nr)
    g = _gen(f, elem)
    b = g.b
    vt, mt, mload, mstore = _vec_intrinsics(module, elem, vl)
    zero_v = ir.Constant(vt, [0.0] * vl)
    none = ir.Constant(mt, [0] * vl)
    esize = 4 if isinstance(elem, ir.FloatType) else 8
    align = ir.Constant(I32, esize)
    whole = b.and_(b.icmp_signed(">=", kvalid, g.i(vl)), b.icmp_signed(">=", cvalid, g.i(vl)))
    loaded = []
    with b.if_else(whole) as (then, otherwise):
        with then:  # the common case: plain loads, no masks to build (dense1 dx: 1.5 -> 1.3 ms of packing)
            loaded.append(([b.load(b.gep(src, [b.mul(g.i(t), ld)], source_etype=elem), typ=vt, align=esize)
                            for t in range(vl)], b.block))
        with otherwise:
            kmask = lanes_below(b, vl, kvalid)
            rows = []
            for t in range(vl):
                m = b.select(b.icmp_signed("<", g.i(t), cvalid), kmask, none)
                p = b.gep(src, [b.mul(g.i(t), ld)], source_etype=elem)  # not inbounds: may point past B when masked off
                rows.append(b.call(mload, [p, align, m, zero_v]))
            loaded.append((rows, b.block))
    rows = []
    for t in range(vl):
        phi = b.phi(vt)
        for vals, blk in loaded:
            phi.add_incoming(vals[t], blk)
        rows.append(phi)
    out = transpose(b, rows, vl)
    full = b.icmp_signed(">=", kvalid, g.i(vl))
    with b.if_else(full) as (then, otherwise):
        with then:
            for i in range(vl):
                b.store(out[i], g.gep(dst, b.mul(g.i(i), ldd)), align=esize)
        with otherwise:
            for i in range(vl):
                m = b.select(b.icmp_signed("<", g.i(i), kvalid), ir.Constant(mt, [1] * vl), none)
                b.call(mstore, [out[i], g.gep(dst, b.mul(g.i(i), ldd)), align, m])
    b.ret_void()
    return f


def pack_b(module, elem, cfg, suffix: str) -> ir.Function:
    """``(kc, nc, B, rsb, csb, Bp)``: Bp[q][k][c] = B[k * rsb + (q*NR + c) * csb], zero beyond nc columns."""
    f = ir.Function(module, ir.FunctionType(ir.VoidType(), [I64, I64, PTR, I64, I64, PTR]), name=f"tk.gemm.pack_b.{suffix}")
    f.linkage = "internal"
    f.attributes.add("noinline")  # called per block from two places: one copy keeps compile time down
    kc, nc, B, rsb, csb, Bp = f.args
    g = _gen(f, elem)
    b = g.b
    vl, nr = cfg.vl, cfg.nr
    vt, mt, mload, mstore = _vec_intrinsics(module, elem, vl)
    esize = 4 if isinstance(elem, ir.FloatType) else 8
    zero_v = ir.Constant(vt, [0.0] * vl)
    panels = b.sdiv(b.add(nc, g.i(nr - 1)), g.i(nr))
    full = b.sdiv(nc, g.i(nr))
    row_major = b.icmp_signed("==", csb, g.i(1))
    col_major = b.icmp_signed("==", rsb, g.i(1))
    with b.if_else(row_major) as (then, otherwise):
        with then:
            # Row by row, so B is read sequentially; each row feeds every panel (the buffer is
            # 64-byte aligned and panels are whole vectors: aligned stores).
            edge_masks = [lanes_below(b, vl, b.sub(nc, b.add(b.mul(full, g.i(nr)), g.i(j * vl)))) for j in range(cfg.nv)]
            with g.loop(0, kc, name="k") as k:
                src = g.gep(B, b.mul(k, rsb))
                dst = g.gep(Bp, b.mul(k, g.i(nr)))
                with g.loop(0, full, name="q") as q:
                    s = g.gep(src, b.mul(q, g.i(nr)))
                    d = g.gep(dst, b.mul(q, b.mul(kc, g.i(nr))))
                    for j in range(cfg.nv):
                        v = b.load(g.gep(s, g.i(j * vl)), typ=vt, align=esize)
                        b.store(v, g.gep(d, g.i(j * vl)), align=vl * esize)
                with b.if_then(b.icmp_signed("<", full, panels)):
                    s = b.gep(src, [b.mul(full, g.i(nr))], source_etype=elem)
                    d = g.gep(dst, b.mul(full, b.mul(kc, g.i(nr))))
                    for j in range(cfg.nv):
                        v = b.call(mload, [b.gep(s, [g.i(j * vl)], source_etype=elem), ir.Constant(I32, esize), edge_masks[j], zero_v])
                        b.store(v, g.gep(d, g.i(j * vl)), align=vl * esize)
        with otherwise:
            with b.if_else(col_major) as (then2, otherwise2):
                with then2:  # transposed B: columns contiguous along k; vl x vl blocks transposed in registers
                    tblock = _transpose_block(module, elem, cfg, suffix)
                    # k innermost: a block's vl source columns are each read sequentially (vl
                    # streams for the prefetcher rather than NR).
                    with g.loop(0, panels, name="tq") as q:
                        with g.loop(0, cfg.nv, name="tj") as j:
                            col = b.add(b.mul(q, g.i(nr)), b.mul(j, g.i(vl)))
                            with g.loop(0, kc, vl, name="tk") as k0:
                                src = b.gep(B, [b.add(k0, b.mul(col, csb))], source_etype=elem)
                                dst = g.gep(Bp, b.add(b.mul(b.add(b.mul(q, kc), k0), g.i(nr)), b.mul(j, g.i(vl))))
                                b.call(tblock, [src, csb, b.sub(kc, k0), b.sub(nc, col), dst])
                with otherwise2:
                    _pack_b_scalar(g, elem, cfg, kc, nc, B, rsb, csb, Bp, panels)
    b.ret_void()
    return f


def _pack_b_scalar(g, elem, cfg, kc, nc, B, rsb, csb, Bp, panels) -> None:
    """Any strides: one element at a time."""
    b = g.b
    zero = ir.Constant(elem, 0.0)
    with g.loop(0, panels, name="sq") as q:
        with g.loop(0, cfg.nr, name="sc") as c:
            col = b.add(b.mul(q, g.i(cfg.nr)), c)
            ok = b.icmp_signed("<", col, nc)
            src_col = b.mul(b.select(ok, col, g.i(0)), csb)
            with g.loop(0, kc, name="sk") as k:
                v = g.ld(g.gep(B, b.add(b.mul(k, rsb), src_col)))
                b.store(b.select(ok, v, zero), g.gep(Bp, b.add(b.mul(b.add(b.mul(q, kc), k), g.i(cfg.nr)), c)))


def pack_a_slack(cfg) -> int:
    """Elements the A buffer needs past mc × kc: the transposed-A path stores whole vectors."""
    return _pow2(cfg.mr)


def _pow2(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


def pack_a(module, elem, cfg, suffix: str) -> ir.Function:
    """``(kc, mc, A, rsa, csa, Ap)``: Ap[p][k][r] = A[(p*MR + r) * rsa + k * csa], zero beyond mc rows.
    The driver only packs A that is not row-major (a row-major A is read in place by the kernel)."""
    f = ir.Function(module, ir.FunctionType(ir.VoidType(), [I64, I64, PTR, I64, I64, PTR]), name=f"tk.gemm.pack_a.{suffix}")
    f.linkage = "internal"
    f.attributes.add("noinline")
    kc, mc, A, rsa, csa, Ap = f.args
    g = _gen(f, elem)
    b = g.b
    mr = cfg.mr
    panels = b.sdiv(b.add(mc, g.i(mr - 1)), g.i(mr))
    with b.if_else(b.icmp_signed("==", rsa, g.i(1))) as (then, otherwise):
        with then:
            # A transposed: the MR values of one k are contiguous. One masked load of a power-of-two
            # vector, one whole-vector store (its extra lanes are overwritten by the next k; the
            # last one lands in the buffer's slack).
            w = _pow2(mr)
            vt, mt, mload, _ = _vec_intrinsics(module, elem, w)
            esize = 4 if isinstance(elem, ir.FloatType) else 8
            zero_v = ir.Constant(vt, [0.0] * w)
            with g.loop(0, panels, name="p") as p:
                row0 = b.mul(p, g.i(mr))
                m = lanes_below(b, w, b.sub(mc, row0))
                if w > mr:
                    m = b.and_(m, ir.Constant(mt, [1] * mr + [0] * (w - mr)))
                dst0 = g.gep(Ap, b.mul(p, b.mul(kc, g.i(mr))))
                src0 = g.gep(A, row0)
                with g.loop(0, kc, name="k") as k:
                    v = b.call(mload, [g.gep(src0, b.mul(k, csa)), ir.Constant(I32, esize), m, zero_v])
                    b.store(v, g.gep(dst0, b.mul(k, g.i(mr))), align=esize)
        with otherwise:
            zero = ir.Constant(elem, 0.0)
            with g.loop(0, panels, name="sp") as p:
                with g.loop(0, kc, name="sk") as k:
                    dst_base = b.mul(b.add(b.mul(p, kc), k), g.i(mr))
                    for r in range(mr):
                        row = b.add(b.mul(p, g.i(mr)), g.i(r))
                        ok = b.icmp_signed("<", row, mc)
                        safe_row = b.select(ok, row, g.i(0))
                        v = g.ld(g.gep(A, b.add(b.mul(safe_row, rsa), b.mul(k, csa))))
                        b.store(b.select(ok, v, zero), g.gep(Ap, b.add(dst_base, g.i(r))))
    b.ret_void()
    return f


def pack_bt(g, module: ir.Module, elem, vl: int, N, K, Kp, B, rsb, csb, bt, lean: bool = False) -> None:
    """Bt[j, k] = B[k, j] for j < N, k < Kp (zero for k >= K): the dot layout's B rows. A row-major
    B of at most vl columns (``x @ W``) goes vl rows at a time, each a masked vector load,
    transposed in registers; one element at a time cost ~1.4 cycles each, 3 of the ~20 µs of the
    softmax regression's 100x784x10 product on one thread (a masked gather per column of 16
    elements, ~3.5 µs). A transposed B (``rsb == 1``) is copied a vector at a time; other strides
    element by element."""
    from .gemm import _declare

    b = g.b
    vt, _, mload, _ = _vec_intrinsics(module, elem, vl)
    esize = 4 if isinstance(elem, ir.FloatType) else 8

    def b_rows(k0, lanes: int, load) -> list[ir.Value]:
        """Rows k0 … k0+vl-1 of B, N of ``lanes`` lanes each (zero past K)."""
        cols = lanes_below(b, lanes, N)
        none = ir.Constant(ir.VectorType(I1, lanes), [0] * lanes)
        zero = ir.Constant(ir.VectorType(elem, lanes), [0.0] * lanes)
        rows = []
        for t in range(vl):
            k = b.add(k0, g.i(t))
            m = b.select(b.icmp_signed("<", k, K), cols, none)
            p = b.gep(B, [b.mul(k, rsb)], source_etype=elem)  # not inbounds: past B when masked off
            rows.append(b.call(load, [p, ir.Constant(I32, esize), m, zero]))
        return rows

    def store_columns(out: list[ir.Value], k0) -> None:
        for j, vec in enumerate(out):
            with b.if_then(b.icmp_signed("<", g.i(j), N)):
                b.store(vec, g.gep(bt, b.add(b.mul(g.i(j), Kp), k0)), align=esize)

    def by_rows() -> None:
        # Inline (not the shared block transpose, whose call and masked stores cost ~0.5 µs more
        # per 784x10 pack): the rows of B are masked loads of N lanes, transposed in registers.
        with g.loop(0, Kp, vl, name="pk") as k0:
            store_columns(transpose(b, b_rows(k0, vl, mload), vl), k0)

    def by_half_rows() -> None:
        # N <= vl/2: the rows of B are masked loads of half a vector; rows t and t + vl/2 share one
        # vector (low and high half), so one transpose of vl/2 × vl/2 blocks inside each half (3
        # stages of 8 shuffles for f32 on AVX-512, instead of 4 of 16) leaves column j's vl values
        # in vector j. The softmax regression's column parts of 5 (two threads) take this path.
        h = vl // 2
        ht, hmt = ir.VectorType(elem, h), ir.VectorType(I1, h)
        hload = _declare(module, f"llvm.masked.load.v{h}{'f32' if isinstance(elem, ir.FloatType) else 'f64'}.p0", ht, [PTR, I32, hmt, ht])
        both = ir.Constant(ir.VectorType(I32, vl), list(range(vl)))
        with g.loop(0, Kp, vl, name="pk") as k0:
            halves = b_rows(k0, h, hload)
            rows = [b.shuffle_vector(halves[t], halves[t + h], both) for t in range(h)]
            bit = 1
            while bit < h:
                lo_mask = [(c & h) + ((c % h) & ~bit) + (vl if c & bit else 0) for c in range(vl)]
                hi_mask = [(c & h) + ((c % h) | bit) + (vl if c & bit else 0) for c in range(vl)]
                for i in range(h):
                    if i & bit:
                        continue
                    j = i | bit
                    rows[i], rows[j] = (b.shuffle_vector(rows[i], rows[j], ir.Constant(ir.VectorType(I32, vl), lo_mask)),
                                        b.shuffle_vector(rows[i], rows[j], ir.Constant(ir.VectorType(I32, vl), hi_mask)))
                bit <<= 1
            store_columns(rows[:h], k0)

    def by_columns() -> None:
        # Bt's rows are B's columns; with rsb == 1 they are contiguous: copied a vector at a time
        step = b.select(b.icmp_signed("==", rsb, g.i(1)), g.i(vl), g.i(1))
        zero_v = ir.Constant(vt, [0.0] * vl)
        with g.loop(0, N, name="pj") as j:
            src = g.gep(B, b.mul(j, csb))
            dst = g.gep(bt, b.mul(j, Kp))
            with g.loop(0, Kp, step, name="pk") as k:
                with b.if_else(b.icmp_signed("==", step, g.i(1))) as (one, vec):
                    with one:
                        inside = b.icmp_signed("<", k, K)
                        v = b.select(inside, g.ld(g.gep(src, b.mul(g.imin(k, b.sub(K, g.i(1))), rsb))),
                                     ir.Constant(elem, 0.0))
                        b.store(v, g.gep(dst, k))
                    with vec:
                        m = lanes_below(b, vl, b.sub(K, k))
                        p = b.gep(src, [k], source_etype=elem)  # not inbounds: past B when masked off
                        b.store(b.call(mload, [p, ir.Constant(I32, esize), m, zero_v]), g.gep(dst, k), align=esize)

    if lean:
        by_columns()
        return
    with b.if_else(b.and_(b.icmp_signed("==", csb, g.i(1)), b.icmp_signed("<=", N, g.i(vl)))) as (then, otherwise):
        with then:
            if vl >= 8:
                with b.if_else(b.icmp_signed("<=", N, g.i(vl // 2))) as (half, whole):
                    with half:
                        by_half_rows()
                    with whole:
                        by_rows()
            else:
                by_rows()
        with otherwise:
            by_columns()
