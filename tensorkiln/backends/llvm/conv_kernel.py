"""A generated direct convolution for one image: implicit im2col, a register-blocked SIMD kernel.

``out[oy*OW + ox, co] = sum over ky, j of xp[oy*sy + ky - pad, ox*sx*C + j] * w[ky*KWC + j, co]``

where ``xp`` is the image padded across (``H x Wp x C``, zeros left and right, so each filter row
``ky`` reads one contiguous run of ``KWC = KW*C`` values per output pixel) and ``w`` is the filter
as a ``(KH*KWC) x COUT`` matrix. It is the im2col GEMM without the im2col copy: a tile of MR
output pixels of one output row by NR = NV vectors of output channels stays in vector registers
while the filter rows run past, each step broadcasting one input value per pixel and loading NV
filter vectors. Filter rows that fall in the padding above or below are skipped rather than
multiplied by zeros (a 5x5 'SAME' filter on 14x14 images: 8.6% of the products). Tiles never
straddle two output rows, so MR is chosen per shape (:func:`tile_for`) to cover OW evenly.
"""
from __future__ import annotations

import llvmlite.ir as ir

from .gemm import I32, I64, PTR, _declare, _Gen, config_for

ARGS = [PTR, PTR, PTR] + [I64] * 11  # xp, w, out, H, Wp, C, OH, OW, KH, KWC, COUT, pad, sy, sx


def tile_for(features: str, bits: int, ow: int, cout: int) -> tuple[int, int] | None:
    """(MR, NV) for this output width and channel count, or None when COUT is not a whole number of
    vectors. The C tile takes MR*NV registers, the filter row NV and the broadcast one; among the
    NV dividing COUT, the one whose MR wastes the fewest rows on OW (then the widest) wins: 14
    pixels by 2 vectors for the convnet's 14-wide conv2 rather than 6 by 4 (tiles of 6, 6 and 2)."""
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


def conv_image_function(module: ir.Module, elem: ir.Type, features: str, mr: int, nv: int) -> ir.Function:
    """The function ``void(xp, w, out, H, Wp, C, OH, OW, KH, KWC, COUT, pad, sy, sx)`` (internal, one
    per module and tile shape)."""
    bits = 32 if isinstance(elem, ir.FloatType) else 64
    name = f"tk.conv.image.f{bits}.{mr}x{nv}"
    if name in module.globals:
        return module.globals[name]
    vl = config_for(features, bits).vl
    f = ir.Function(module, ir.FunctionType(ir.VoidType(), ARGS), name=name)
    f.linkage = "internal"
    xp, w, out, H, Wp, C, OH, OW, KH, KWC, COUT, pad, sy, sx = f.args
    g = _Gen(f, elem)
    b = g.b
    vt = ir.VectorType(elem, vl)
    fma = _declare(module, f"llvm.fma.v{vl}f{bits}", vt, [vt, vt, vt])
    accs = [[g.alloca(vt, f"acc{i}_{j}") for j in range(nv)] for i in range(mr)]
    zero_v = ir.Constant(vt, [0.0] * vl)
    undef_v = ir.Constant(vt, ir.Undefined)
    splat = ir.Constant(ir.VectorType(I32, vl), [0] * vl)
    nr = nv * vl

    def imax(x, y):
        return b.select(b.icmp_signed(">", x, y), x, y)

    with g.loop(0, OH, name="oy") as oy:
        iy0 = b.sub(b.mul(oy, sy), pad)  # the input row filter row 0 reads
        ky_lo = imax(b.sub(g.i(0), iy0), g.i(0))
        ky_hi = imax(g.imin(b.sub(H, iy0), KH), ky_lo)
        orow = b.mul(b.mul(oy, OW), COUT)
        with g.loop(0, OW, mr, name="ox") as ox0:
            m = g.imin(b.sub(OW, ox0), g.i(mr))
            # pixels past the row's end (an edge tile) re-read the last one; never stored
            cols = [ox0] + [b.add(ox0, g.imin(g.i(i), b.sub(m, g.i(1)))) for i in range(1, mr)]
            pix = [b.mul(b.mul(col, sx), C) for col in cols]
            with g.loop(0, COUT, nr, name="co") as co0:
                for row in accs:
                    for a in row:
                        b.store(zero_v, a)
                with g.loop(ky_lo, ky_hi, name="ky") as ky:
                    xrow = g.gep(xp, b.mul(b.mul(b.add(iy0, ky), Wp), C))
                    arows = [g.gep(xrow, p) for p in pix]
                    wrow = g.gep(w, b.add(b.mul(b.mul(ky, KWC), COUT), co0))
                    with g.loop(0, KWC, name="j") as j:
                        wj = g.gep(wrow, b.mul(j, COUT))
                        bv = [b.load(g.gep(wj, g.i(v * vl)), typ=vt, align=4) for v in range(nv)]
                        for i in range(mr):
                            a = g.ld(g.gep(arows[i], j))
                            av = b.shuffle_vector(b.insert_element(undef_v, a, ir.Constant(I32, 0)), undef_v, splat)
                            for v in range(nv):
                                b.store(b.call(fma, [av, bv[v], b.load(accs[i][v])]), accs[i][v])
                for i in range(mr):
                    with b.if_then(b.icmp_signed("<", g.i(i), m)):
                        dst = g.gep(out, b.add(b.add(orow, b.mul(b.add(ox0, g.i(i)), COUT)), co0))
                        for v in range(nv):
                            b.store(b.load(accs[i][v]), g.gep(dst, g.i(v * vl)), align=4)
    b.ret_void()
    return f
