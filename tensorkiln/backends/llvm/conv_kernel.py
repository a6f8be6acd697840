"""Generated direct convolutions for one image: implicit im2col, register-blocked SIMD kernels.

``out[oy*OW + ox, co] = sum over ky, j of xp[oy*sy + ky - pad, ox*sx*C + j] * w[ky*KWC + j, co]``

where ``xp`` is the image padded across (``H x Wp x C``, zeros left and right, so each filter row
``ky`` reads one contiguous run of ``KWC = KW*C`` values per output pixel) and ``w`` is the filter
as a ``(KH*KWC) x COUT`` matrix. It is the im2col GEMM without the im2col copy: a tile of MR
output pixels of one output row by NR = NV vectors of output channels stays in vector registers
while the filter rows run past, each step broadcasting one input value per pixel and loading NV
filter vectors. Filter rows that fall in the padding above or below are skipped rather than
multiplied by zeros (a 5x5 'SAME' filter on 14x14 images: 8.6% of the products). Tiles never
straddle two output rows, so MR is chosen per shape (:func:`tile_for`) to cover OW evenly.

The filter gradient of one image, ``dw[ky, j, co] += sum over oy, ox of xp[oy*sy + ky - pad,
ox*sx*C + j] * g[oy, ox, co]``, is the same product with the roles turned: a tile of MR filter
taps j (consecutive input values of every pixel) by NR channels, summed over the pixels whose
input row is inside the image (:func:`filter_grad_function`).
"""
from __future__ import annotations

import llvmlite.ir as ir

from .gemm import I32, I64, PTR, _declare, _Gen, config_for

ARGS = [PTR, PTR, PTR] + [I64] * 11  # xp, w, out, H, Wp, C, OH, OW, KH, KWC, COUT, pad, sy, sx


def tile_for(features: str, bits: int, ow: int, cout: int) -> tuple[int, int] | None:
    """(MR, NV) for a tile of MR rows along ``ow`` (an output row's pixels; for the filter
    gradient, a filter row's KW*C taps) by NV vectors of ``cout`` channels, or None when COUT is
    not a whole number of vectors. The tile takes MR*NV registers, the filter row NV and the
    broadcast one; among the NV dividing COUT, the one whose MR wastes the fewest rows on OW (then
    the widest) wins: 14 pixels by 2 vectors for the convnet's 14-wide conv2 rather than 6 by 4
    (tiles of 6, 6 and 2)."""
    vl = config_for(features, bits).vl
    regs = 32 if "+avx512f" in features else 16
    best = None
    for nv in (4, 2, 1):
        if cout % (nv * vl):
            continue
        cap = max(1, min(16, (regs - nv - 1) // nv))
        tiles = -(-ow // cap)
        mr = -(-ow // tiles)
        waste = tiles * mr - ow
        if best is None or waste < best[0]:
            best = (waste, mr, nv)
    return None if best is None else (best[1], best[2])


def _fma_tile(g: _Gen, module: ir.Module, elem: ir.Type, vl: int, mr: int, nv: int):
    """(accumulators, zero them, step(a pointers, b pointer)): one step broadcasts ``a[i]`` for each
    of the MR rows and multiplies it by NV vectors at ``b``."""
    b = g.b
    bits = 32 if isinstance(elem, ir.FloatType) else 64
    vt = ir.VectorType(elem, vl)
    fma = _declare(module, f"llvm.fma.v{vl}f{bits}", vt, [vt, vt, vt])
    accs = [[g.alloca(vt, f"acc{i}_{j}") for j in range(nv)] for i in range(mr)]
    zero_v = ir.Constant(vt, [0.0] * vl)
    undef_v = ir.Constant(vt, ir.Undefined)
    splat = ir.Constant(ir.VectorType(I32, vl), [0] * vl)

    def zero() -> None:
        for row in accs:
            for a in row:
                b.store(zero_v, a)

    def step(aptrs, bptr) -> None:
        bv = [b.load(g.gep(bptr, g.i(v * vl)), typ=vt, align=4) for v in range(nv)]
        for i in range(mr):
            av = b.shuffle_vector(b.insert_element(undef_v, g.ld(aptrs[i]), ir.Constant(I32, 0)), undef_v, splat)
            for v in range(nv):
                b.store(b.call(fma, [av, bv[v], b.load(accs[i][v])]), accs[i][v])

    return accs, zero, step


def _begin(module: ir.Module, elem: ir.Type, features: str, kind: str, mr: int, nv: int):
    """(the module's internal function ``tk.conv.KIND.MRxNV.fBITS``, None) if it is already built,
    else (that new function, (its _Gen, the vector length, the tile from :func:`_fma_tile`))."""
    bits = 32 if isinstance(elem, ir.FloatType) else 64
    name = f"tk.conv.{kind}.{mr}x{nv}.f{bits}"
    f = module.globals.get(name)
    if f is not None:
        return f, None
    f = ir.Function(module, ir.FunctionType(ir.VoidType(), ARGS), name=name)
    f.linkage = "internal"
    g = _Gen(f, elem)
    vl = config_for(features, bits).vl
    return f, (g, vl, *_fma_tile(g, module, elem, vl, mr, nv))


def _edge_tile(g: _Gen, start, end, mr: int):
    """(m, indices) of the tile's MR rows from ``start``: m = min(MR, end - start) are valid; rows
    past them (an edge tile) re-read the last valid one and are never stored."""
    b = g.b
    m = g.imin(b.sub(end, start), g.i(mr))
    return m, [start] + [b.add(start, g.imin(g.i(i), b.sub(m, g.i(1)))) for i in range(1, mr)]


def _imax(b: ir.IRBuilder, x, y):
    return b.select(b.icmp_signed(">", x, y), x, y)


def _ceildiv(g: _Gen, a, s):
    """ceil(a / s) for s > 0 and any sign of a (sdiv truncates toward zero)."""
    b = g.b
    return b.select(b.icmp_signed(">", a, g.i(0)), b.sdiv(b.add(a, b.sub(s, g.i(1))), s), b.sdiv(a, s))


def filter_grad_function(module: ir.Module, elem: ir.Type, features: str, mr: int, nv: int) -> ir.Function:
    """The function ``void(xp, g, dw, H, Wp, C, OH, OW, KH, KWC, COUT, pad, sy, sx)`` adding one
    image's filter gradient to ``dw`` (``KH x KWC x COUT``); internal, one per module and tile."""
    f, parts = _begin(module, elem, features, "filter_grad", mr, nv)
    if parts is None:
        return f
    g, vl, accs, zero, step = parts
    b = g.b
    vt = ir.VectorType(elem, vl)
    xp, gy, dw, H, Wp, C, OH, OW, KH, KWC, COUT, pad, sy, sx = f.args
    with g.loop(0, KH, name="ky") as ky:
        # output rows whose input row oy*sy + ky - pad is inside the image
        oy_lo = _imax(b, _ceildiv(g, b.sub(pad, ky), sy), g.i(0))
        oy_hi = _imax(b, g.imin(_ceildiv(g, b.sub(b.add(H, pad), ky), sy), OH), oy_lo)
        with g.loop(0, KWC, mr, name="j") as j0:
            m, offs = _edge_tile(g, j0, KWC, mr)
            with g.loop(0, COUT, nv * vl, name="co") as co0:
                zero()
                with g.loop(oy_lo, oy_hi, name="oy") as oy:
                    xrow = g.gep(xp, b.mul(b.mul(b.sub(b.add(b.mul(oy, sy), ky), pad), Wp), C))
                    grow = g.gep(gy, b.add(b.mul(b.mul(oy, OW), COUT), co0))
                    with g.loop(0, OW, name="ox") as ox:
                        px = g.gep(xrow, b.mul(b.mul(ox, sx), C))
                        step([g.gep(px, o) for o in offs], g.gep(grow, b.mul(ox, COUT)))
                for i in range(mr):
                    with b.if_then(b.icmp_signed("<", g.i(i), m)):
                        dst = g.gep(dw, b.add(b.mul(b.add(b.mul(ky, KWC), b.add(j0, g.i(i))), COUT), co0))
                        for v in range(nv):
                            p = g.gep(dst, g.i(v * vl))
                            b.store(b.fadd(b.load(p, typ=vt, align=4), b.load(accs[i][v])), p, align=4)
    b.ret_void()
    return f


def conv_image_function(module: ir.Module, elem: ir.Type, features: str, mr: int, nv: int) -> ir.Function:
    """The function ``void(xp, w, out, H, Wp, C, OH, OW, KH, KWC, COUT, pad, sy, sx)`` (internal, one
    per module and tile shape)."""
    f, parts = _begin(module, elem, features, "image", mr, nv)
    if parts is None:
        return f
    g, vl, accs, zero, step = parts
    b = g.b
    xp, w, out, H, Wp, C, OH, OW, KH, KWC, COUT, pad, sy, sx = f.args
    with g.loop(0, OH, name="oy") as oy:
        iy0 = b.sub(b.mul(oy, sy), pad)  # the input row filter row 0 reads
        ky_lo = _imax(b, b.sub(g.i(0), iy0), g.i(0))
        ky_hi = _imax(b, g.imin(b.sub(H, iy0), KH), ky_lo)
        orow = b.mul(b.mul(oy, OW), COUT)
        with g.loop(0, OW, mr, name="ox") as ox0:
            m, cols = _edge_tile(g, ox0, OW, mr)
            pix = [b.mul(b.mul(col, sx), C) for col in cols]
            with g.loop(0, COUT, nv * vl, name="co") as co0:
                zero()
                with g.loop(ky_lo, ky_hi, name="ky") as ky:
                    xrow = g.gep(xp, b.mul(b.mul(b.add(iy0, ky), Wp), C))
                    arows = [g.gep(xrow, p) for p in pix]
                    wrow = g.gep(w, b.add(b.mul(b.mul(ky, KWC), COUT), co0))
                    with g.loop(0, KWC, name="j") as j:
                        step([g.gep(a, j) for a in arows], g.gep(wrow, b.mul(j, COUT)))
                for i in range(mr):
                    with b.if_then(b.icmp_signed("<", g.i(i), m)):
                        dst = g.gep(out, b.add(b.add(orow, b.mul(b.add(ox0, g.i(i)), COUT)), co0))
                        for v in range(nv):
                            b.store(b.load(accs[i][v]), g.gep(dst, g.i(v * vl)), align=4)
    b.ret_void()
    return f
