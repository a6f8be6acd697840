"""Loop nests for the three convolution ops (forward, backprop-input, backprop-filter), NHWC / HWIO.

Filters with few taps (a 5x5 filter on one channel) take the direct nests of
:mod:`.lower_conv_direct`. The others are im2col + the generated GEMM, run in *slots*: the batch
is split into ``SLOTS`` contiguous ranges of images, and one top-level parallel loop runs the
slots on the thread pool. A slot works through its images a chunk at a time with its own column
buffer, so the im2col copy, the GEMM and the col2im scatter all run on every thread, and the GEMM
inside a slot is a single-threaded call on a chunk sized to stay in cache (the pool runs a nested
parallel loop serially). The filter gradient
sums over images, so each slot accumulates into its own partial filter and the partials are added
in slot order afterwards: the result does not depend on the number of threads.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from ...ir.core import Operation, Value
from ...ir.dialects.graph_nn import window_params
from ...ir.types import INDEX, Dim, DType, MemRefType, ScalarType
from . import lower_conv_implicit as implicit
from .lower_conv_direct import DirectConv, use_direct

if TYPE_CHECKING:  # pragma: no cover
    from .lower_nn import NNLowering

# Slots of the batch run in parallel; a fixed number (not the thread count) keeps the filter
# gradient's summation order, and so its rounding, the same on every machine.
SLOTS = 8
# Bytes of im2col columns per chunk, sized for L2 (1 MB a core on Zen 4). Measured on the convnet
# (batch 100): with conv1 on this path, 256-512 KB chunks beat 1-2 MB ones (2.8 vs 5-7 ms single-
# threaded); for conv2 (627 KB an image) 1, 3, 6 or 13 images a chunk are within the noise, so a
# small budget also keeps the 8 slots' buffers small (5 MB for conv2).
COL_BYTES = 1 << 19


class ConvLowering:
    def __init__(self, nn: "NNLowering"):
        self.nn = nn
        self.fl, self.e, self.b = nn.fl, nn.e, nn.b

    def c(self, v: int) -> Value:
        return self.e.const(v, INDEX)

    def view(self, buf: Value, shape: Sequence[Dim]) -> Value:
        return self.b.create("loops.view", [buf], {}, [MemRefType(tuple(shape), buf.type.dtype)]).result

    def subview(self, buf: Value, i: Value) -> Value:
        t = buf.type
        return self.b.create("loops.subview", [buf, i], {}, [MemRefType(t.shape[1:], t.dtype)]).result

    def images(self, buf: Value, n0: Value, count: int) -> Value:
        """Images n0 … n0+count-1 of an NHWC buffer, as one [count*H*W, C] view (no copy)."""
        _, h, w, c = buf.type.shape
        return self.view(self.subview(buf, n0), (count * h * w, c))

    # the slot loop ------------------------------------------------------------------------------
    def chunk_size(self, rows: int, kk: int, dt: DType) -> int:
        return max(1, COL_BYTES // max(1, rows * kk * max(dt.bits // 8, 1)))

    def slots(self, n_dim: Dim, chunk: int, extents: Sequence[Dim], body: Callable[[Value, Value, int], None]) -> None:
        """body(slot, n0, count) for every chunk of every slot: slot s owns a contiguous range of
        q or q + 1 images (q = N // SLOTS; the first N % SLOTS slots take the extra one), taken
        ``chunk`` at a time, then the rest in power-of-two chunks. ``extents`` are the static
        extents of body's loops (see below).

        Even shares, larger first, because the pool hands slots out in order as threads come free:
        with ceil(N / SLOTS) images each (the earlier split) batch 100 gave seven slots of 13 and one
        of 9, so two threads did 52 and 48 images; 13, 13, 13, 13, 12, 12, 12, 12 gives 50 and 50."""
        e, b, c = self.e, self.b, self.c
        n = e.index_of(n_dim)
        # Constants of the inner loops' extents made here, outside the slot loop, let the code
        # generator see how much work the parallel loop holds (it threads only big loops).
        for d in (chunk, *extents):
            c(int(d))
        per = b.op("loops.floordiv", b.op("loops.add", n, c(SLOTS - 1)), c(SLOTS))
        q = b.op("loops.floordiv", n, c(SLOTS))
        r = b.op("loops.sub", n, b.op("loops.mul", q, c(SLOTS)))
        # The chunk loop runs to a bound known before the slot loop (the biggest slot's chunks, the
        # others skipping what they lack), so the work estimate counts the images too.
        most = b.op("loops.floordiv", per, c(chunk))
        ls = e.for_range(c(0), c(SLOTS), parallel=True)
        s = ls.iv
        start = b.op("loops.add", b.op("loops.mul", s, q), b.op("loops.minimum", s, r))
        end = b.op("loops.add", b.op("loops.add", start, q), b.op("loops.select", b.op("loops.lt", s, r), c(1), c(0)))
        chunks = b.op("loops.floordiv", b.op("loops.sub", end, start), c(chunk))
        lq = e.for_range(c(0), most)
        lg = e.for_range(c(0), b.op("loops.select", b.op("loops.lt", lq.iv, chunks), c(1), c(0)))
        body(s, b.op("loops.add", start, b.op("loops.mul", lq.iv, c(chunk))), chunk)
        lg.finish([])
        lq.finish([])
        # The rest (fewer than `chunk` images) goes by its binary digits, biggest first: a GEMM of
        # p images for each set bit p, so a slot never falls back to many one-image GEMMs.
        rest0 = b.op("loops.add", start, b.op("loops.mul", chunks, c(chunk)))
        rest = b.op("loops.sub", end, rest0)
        p = 1 << (chunk - 1).bit_length() if chunk > 1 else 0
        while p >= 1:
            if p < chunk:
                bit = b.op("loops.mod", b.op("loops.floordiv", rest, c(p)), c(2))
                done = b.op("loops.sub", rest, b.op("loops.mod", rest, c(2 * p)))
                lb = e.for_range(c(0), bit)
                body(s, b.op("loops.add", rest0, done), p)
                lb.finish([])
            p //= 2
        ls.finish([])

    # im2col and its adjoint ----------------------------------------------------------------------
    def _im2col_loops(self, buf: Value, n0: Value, count: int, k, geoms, fn) -> None:
        """fn(n, row, col, c, valid, ih, iw) for every (image, output position, tap, channel)."""
        nn, b = self.nn, self.b
        (_, oh_n, _, _, _), (_, ow_n, _, _, _) = geoms
        c_n = buf.type.shape[3]

        def body(idx):
            t, oh, ow, i, j = idx
            n = b.op("loops.add", n0, t)
            ih, vh = nn.window_pos(oh, i, geoms[0])
            iw, vw = nn.window_pos(ow, j, geoms[1])
            valid = b.op("loops.logical_and", vh, vw)
            row = b.op("loops.add", b.op("loops.mul", b.op("loops.add", b.op("loops.mul", t, self.c(oh_n)), oh), self.c(ow_n)), ow)
            base = b.op("loops.mul", b.op("loops.add", b.op("loops.mul", i, self.c(k[1])), j), self.c(c_n))
            lc = self.e.for_loop(c_n, [], parallel=True)
            fn(n, row, b.op("loops.add", base, lc.iv), lc.iv, valid, ih, iw)
            lc.finish([])

        nn.loops([count, oh_n, ow_n, k[0], k[1]], body, parallel=False)

    def im2col(self, x: Value, n0: Value, count: int, col: Value, k, geoms) -> None:
        """col[(t*OH + oh)*OW + ow, (i*KW + j)*C + c] = x[n0 + t, oh*s + i*d - pad, …] (0 in the padding)."""
        def fn(n, row, cidx, c, valid, ih, iw):
            v = self.nn.masked(valid, self.b.op("loops.load", x, n, ih, iw, c), 0.0)
            self.b.create("loops.store", [v, col, row, cidx])
        self._im2col_loops(x, n0, count, k, geoms, fn)

    def col2im(self, dcol: Value, n0: Value, count: int, dx: Value, k, geoms) -> None:
        """dx[n, ih, iw, c] += dcol[…] over every (output, tap) that read it: the adjoint of im2col."""
        def fn(n, row, cidx, c, valid, ih, iw):
            v = self.b.op("loops.load", dcol, row, cidx)
            self.nn.accumulate(dx, [n, ih, iw, c], self.nn.masked(valid, v, 0.0))
        self._im2col_loops(dx, n0, count, k, geoms, fn)

    def zero_images(self, buf: Value, n0: Value, count: int) -> None:
        _, h, w, ch = buf.type.shape
        zero = self.e.const(0.0, ScalarType(buf.type.dtype))

        def body(idx):
            t, i, j, cc = idx
            self.b.create("loops.store", [zero, buf, self.b.op("loops.add", n0, t), i, j, cc])

        self.nn.loops([count, h, w, ch], body, parallel=False)

    # the three ops ----------------------------------------------------------------------------------
    def _parts(self, op: Operation, x_shape, f_shape):
        kh, kw, cin, cout = (int(d) for d in f_shape)
        geoms = window_params(op.attributes, x_shape, (kh, kw))
        rows = geoms[0][1] * geoms[1][1]
        return (kh, kw), cin, cout, geoms, rows, kh * kw * cin

    def _cols(self, rows: int, kk: int, dt) -> tuple[Value, int]:
        chunk = self.chunk_size(rows, kk, dt)
        return self.fl.new_buffer_of_type(MemRefType((SLOTS, chunk * rows, kk), dt)), chunk

    def epilogue(self, op: Operation, v: Value, co: Value) -> Value:
        """v plus the fused bias of output channel co, then the activation (``fuse-nn``'s conv form)."""
        if len(op.operands) < 3:
            return v
        v = self.b.op("loops.add", v, self.b.op("loops.load", self.fl.buffer_of(op.operands[2]), co))
        return self.b.op("loops.relu", v) if op.attributes.get("activation") == "relu" else v

    def conv2d(self, op: Operation, out: Value) -> None:
        if use_direct(op.operands[1].type.shape):
            return DirectConv(self).conv2d(op, out)
        x, f = (self.fl.buffer_of(v) for v in op.operands[:2])
        k, cin, cout, geoms, rows, kk = self._parts(op, x.type.shape, f.type.shape)
        if implicit.usable(geoms, cout, x.type.dtype):
            return implicit.ImplicitConv(self).conv2d(op, out)
        col, chunk = self._cols(rows, kk, x.type.dtype)
        wmat = self.view(f, (kk, cout))

        def run(s, n0, count):
            cols = self.view(self.subview(col, s), (count * rows, kk))
            self.im2col(x, n0, count, cols, k, geoms)
            res = self.images(out, n0, count)
            self.b.create("loops.matmul", [cols, wmat, res], {})
            if len(op.operands) == 3:
                # the bias and activation while the chunk's result is still in cache
                def fix(idx):
                    r, co = idx
                    self.b.create("loops.store", [self.epilogue(op, self.b.op("loops.load", res, r, co), co), res, r, co])
                self.nn.loops([count * rows, cout], fix, parallel=False)

        self.slots(x.type.shape[0], chunk, (geoms[0][1], geoms[1][1], k[0], k[1], cin), run)

    def conv2d_backprop_input(self, op: Operation, out: Value) -> None:
        g, f = (self.fl.buffer_of(v) for v in op.operands)
        if implicit.backprop_input_usable(op, f.type.shape, out.type.shape, out.type.dtype):
            return implicit.ImplicitConv(self).conv2d_backprop_input(op, out)
        k, cin, cout, geoms, rows, kk = self._parts(op, out.type.shape, f.type.shape)
        dcol, chunk = self._cols(rows, kk, g.type.dtype)
        wmat = self.view(f, (kk, cout))
        # W^T once, row-major, rather than a transposed B that every image's GEMM packs again
        # with a transpose (conv2 of the convnet, 1 thread, best of 9: 196x64x800 98-102 GFLOP/s
        # with B transposed, 105 without).
        wt = self.fl.new_buffer_of_type(MemRefType((cout, kk), g.type.dtype))
        self.nn.loops([cout, kk], lambda idx: self.b.create(
            "loops.store", [self.b.op("loops.load", wmat, idx[1], idx[0]), wt, idx[0], idx[1]]))

        def run(s, n0, count):
            cols = self.view(self.subview(dcol, s), (count * rows, kk))
            self.b.create("loops.matmul", [self.images(g, n0, count), wt, cols], {})
            self.zero_images(out, n0, count)
            self.col2im(cols, n0, count, out, k, geoms)

        self.slots(g.type.shape[0], chunk, (geoms[0][1], geoms[1][1], k[0], k[1], cin), run)

    def conv2d_backprop_filter(self, op: Operation, out: Value) -> None:
        if use_direct(op.result.type.shape):
            return DirectConv(self).conv2d_backprop_filter(op, out)
        x, g = (self.fl.buffer_of(v) for v in op.operands)
        k, cin, cout, geoms, rows, kk = self._parts(op, x.type.shape, out.type.shape)
        if implicit.usable(geoms, cout, x.type.dtype):
            return implicit.ImplicitConv(self).conv2d_backprop_filter(op, out)
        dt = x.type.dtype
        col, chunk = self._cols(rows, kk, dt)
        part = self.fl.new_buffer_of_type(MemRefType((SLOTS, kk, cout), dt))
        self.nn.zero(part)

        def run(s, n0, count):
            cols = self.view(self.subview(col, s), (count * rows, kk))
            self.im2col(x, n0, count, cols, k, geoms)
            self.b.create("loops.matmul", [cols, self.images(g, n0, count), self.subview(part, s)],
                          {"transpose_a": True, "accumulate": True})

        self.slots(x.type.shape[0], chunk, (geoms[0][1], geoms[1][1], k[0], k[1], cin), run)
        self.sum_slots(part, out)

    def sum_slots(self, part: Value, out: Value) -> None:
        """out = part[0] + part[1] + … in slot order (the slots' partial filter gradients)."""
        size = 1
        for d in out.type.shape:
            size *= int(d)
        parts = self.view(part, (SLOTS, size))
        flat = self.view(out, (size,))

        def total(idx):
            (t,) = idx
            acc = self.b.op("loops.load", parts, self.c(0), t)
            for s in range(1, SLOTS):
                acc = self.b.op("loops.add", acc, self.b.op("loops.load", parts, self.c(s), t))
            self.b.create("loops.store", [acc, flat, t])

        self.nn.loops([size], total)
