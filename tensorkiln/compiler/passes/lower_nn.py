"""Loop nests for pooling (forward and adjoint), NHWC, and the dispatch of the nn ops (convolutions
live in :mod:`.lower_conv`).

These are store-based nests, like the matmul: each output window accumulates into its buffer with
the channel loop innermost, where both operands are contiguous, so LLVM vectorizes it. Positions
that fall in the padding are handled without branches: the index is clamped into the buffer and
the loaded value is replaced by the neutral element (0, or -inf for max) with a select.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ...ir.core import Operation, Value
from ...ir.dialects.graph_nn import window_params
from ...ir.types import INDEX, ScalarType, i1
from .lower_conv import ConvLowering

if TYPE_CHECKING:  # pragma: no cover
    from .lower_to_loops import FunctionLowering


class NNLowering:
    def __init__(self, fl: "FunctionLowering"):
        self.fl = fl
        self.e = fl.emitter
        self.b = fl.b

    # index helpers ---------------------------------------------------------------
    def c(self, v: int) -> Value:
        return self.e.const(v, INDEX)

    def window_pos(self, o: Value, k: Value, geom) -> tuple[Value, Value]:
        """Clamped input position and its validity for output position o and tap k."""
        size, _, stride, dil, pad = geom
        b = self.b
        pos = b.op("loops.add", b.op("loops.mul", o, self.c(stride)), b.op("loops.mul", k, self.c(dil)))
        if pad:
            pos = b.op("loops.sub", pos, self.c(pad))
        valid = b.op("loops.logical_and", b.op("loops.ge", pos, self.c(0)), b.op("loops.lt", pos, self.c(size)))
        clamped = b.op("loops.minimum", b.op("loops.maximum", pos, self.c(0)), self.c(size - 1))
        return clamped, valid

    def loops(self, dims, body: Callable[[list[Value]], None], parallel: bool = True) -> None:
        self.fl.loop_nest(dims, body, parallel=parallel)

    def zero(self, buf: Value, value=0.0) -> None:
        dt = ScalarType(buf.type.dtype)
        self.loops(buf.type.shape, lambda idx: self.b.create("loops.store", [self.e.const(value, dt), buf, *idx]))

    def accumulate(self, buf: Value, idx: list[Value], v: Value) -> None:
        old = self.b.op("loops.load", buf, *idx)
        self.b.create("loops.store", [self.b.op("loops.add", old, v), buf, *idx])

    def masked(self, valid: Value, v: Value, neutral) -> Value:
        return self.b.op("loops.select", valid, v, self.e.const(neutral, v.type))

    def windows(self, x_shape, k, attrs, out_shape, body) -> None:
        """for n, oh, ow (body_outer) then taps kh, kw with clamped (ih, iw) and validity."""
        gh, gw = window_params(attrs, x_shape, k)
        n_dim = out_shape[0]

        def outer(idx: list[Value]) -> None:
            n, oh, ow = idx
            body(n, oh, ow, gh, gw)

        self.loops([n_dim, gh[1], gw[1]], outer)

    def taps(self, k, oh, ow, gh, gw, body) -> None:
        lh = self.e.for_loop(k[0], [])
        lw = self.e.for_loop(k[1], [])
        ih, vh = self.window_pos(oh, lh.iv, gh)
        iw, vw = self.window_pos(ow, lw.iv, gw)
        body(lh.iv, lw.iv, ih, iw, self.b.op("loops.logical_and", vh, vw))
        lw.finish([])
        lh.finish([])

    def unrolled_taps(self, k, oh, ow, gh, gw) -> list[tuple[Value, Value, Value]]:
        """(ih, iw, valid) of every tap of the window at (oh, ow), in row-major tap order. Pool
        windows are small and static, so the taps are spelled out: the channel loop inside them
        then holds straight-line code that LLVM vectorizes, with the running max in registers."""
        out = []
        for i in range(k[0]):
            ih, vh = self.window_pos(oh, self.c(i), gh)
            for j in range(k[1]):
                iw, vw = self.window_pos(ow, self.c(j), gw)
                out.append((ih, iw, self.b.op("loops.logical_and", vh, vw)))
        return out

    def max_pool(self, op: Operation, out: Value) -> None:
        x = self.fl.buffer_of(op.operands[0])
        k = op.attributes["ksize"]
        c = x.type.shape[3]

        def win(n, oh, ow, gh, gw):
            taps = self.unrolled_taps(k, oh, ow, gh, gw)
            lc = self.e.for_loop(c, [], parallel=True)
            m = None
            for ih, iw, valid in taps:
                v = self.masked(valid, self.b.op("loops.load", x, n, ih, iw, lc.iv), float("-inf"))
                m = v if m is None else self.b.op("loops.maximum", m, v)
            self.b.create("loops.store", [m, out, n, oh, ow, lc.iv])
            lc.finish([])

        self.windows(x.type.shape, k, op.attributes, out.type.shape, win)

    def _count(self, oh, ow, gh, gw, k, dt) -> Value:
        """How many taps of the window at (oh, ow) lie inside the input (TF's SAME average)."""
        b = self.b
        counts = []
        for o, (size, _, stride, _, pad), kk in ((oh, gh, k[0]), (ow, gw, k[1])):
            start = b.op("loops.sub", b.op("loops.mul", o, self.c(stride)), self.c(pad))
            end = b.op("loops.minimum", b.op("loops.add", start, self.c(kk)), self.c(size))
            counts.append(b.op("loops.sub", end, b.op("loops.maximum", start, self.c(0))))
        return b.op("loops.cast", b.op("loops.mul", counts[0], counts[1]), dtype=dt.dtype)

    def avg_pool(self, op: Operation, out: Value) -> None:
        x = self.fl.buffer_of(op.operands[0])
        k = op.attributes["ksize"]
        c = x.type.shape[3]
        dt = ScalarType(out.type.dtype)
        self.zero(out)

        def win(n, oh, ow, gh, gw):
            def tap(i, j, ih, iw, valid):
                lc = self.e.for_loop(c, [], parallel=True)
                self.accumulate(out, [n, oh, ow, lc.iv], self.masked(valid, self.b.op("loops.load", x, n, ih, iw, lc.iv), 0.0))
                lc.finish([])
            self.taps(k, oh, ow, gh, gw, tap)
            count = self._count(oh, ow, gh, gw, k, dt)
            lc = self.e.for_loop(c, [], parallel=True)
            cur = self.b.op("loops.load", out, n, oh, ow, lc.iv)
            self.b.create("loops.store", [self.b.op("loops.div", cur, count), out, n, oh, ow, lc.iv])
            lc.finish([])

        self.windows(x.type.shape, k, op.attributes, out.type.shape, win)

    def avg_pool_grad(self, op: Operation, out: Value) -> None:
        g = self.fl.buffer_of(op.operands[0])
        k = op.attributes["ksize"]
        c = out.type.shape[3]
        dt = ScalarType(out.type.dtype)
        self.zero(out)

        def win(n, oh, ow, gh, gw):
            count = self._count(oh, ow, gh, gw, k, dt)

            def tap(i, j, ih, iw, valid):
                lc = self.e.for_loop(c, [])
                share = self.b.op("loops.div", self.b.op("loops.load", g, n, oh, ow, lc.iv), count)
                self.accumulate(out, [n, ih, iw, lc.iv], self.masked(valid, share, 0.0))
                lc.finish([])
            self.taps(k, oh, ow, gh, gw, tap)

        self.windows(out.type.shape, k, op.attributes, g.type.shape, win)

    def max_pool_grad(self, op: Operation, out: Value) -> None:
        """Per window and channel: the maximum over the taps, then the adjoint added at the first
        tap equal to it (TF's choice on ties), with the channel loop innermost. When the windows
        tile the input exactly (stride = window, no padding, nothing left over) every input
        element belongs to one window: the adjoint is stored, with no zero fill and no read-back.
        With ``mask_positive`` (a ReLU gradient folded in) a window whose maximum is not > 0 passes
        nothing on: the adjoint lands at a tap equal to the maximum, so masking by the maximum is
        masking by x at that tap."""
        x, g = (self.fl.buffer_of(v) for v in op.operands)
        k = op.attributes["ksize"]
        c = x.type.shape[3]
        dt = ScalarType(out.type.dtype)
        geoms = window_params(op.attributes, x.type.shape, k)
        exact = all(st == kk and pad == 0 and o * st == size for (size, o, st, _, pad), kk in zip(geoms, k))
        mask = bool(op.attributes.get("mask_positive"))
        if not exact:
            self.zero(out)

        def win(n, oh, ow, gh, gw):
            taps = self.unrolled_taps(k, oh, ow, gh, gw)
            lc = self.e.for_loop(c, [], parallel=True)
            vals = [self.masked(valid, self.b.op("loops.load", x, n, ih, iw, lc.iv), float("-inf")) for ih, iw, valid in taps]
            m = vals[0]
            for v in vals[1:]:
                m = self.b.op("loops.maximum", m, v)
            gv = self.b.op("loops.load", g, n, oh, ow, lc.iv)
            zero = self.e.const(0.0, dt)
            if mask:
                gv = self.b.op("loops.select", self.b.op("loops.gt", m, zero), gv, zero)
            done = self.e.const(0, ScalarType(i1))
            for (ih, iw, valid), v in zip(taps, vals):
                hit = self.b.op("loops.logical_and", self.b.op("loops.logical_and", valid, self.b.op("loops.eq", v, m)),
                                self.b.op("loops.logical_not", done))
                share = self.b.op("loops.select", hit, gv, zero)
                if exact:
                    self.b.create("loops.store", [share, out, n, ih, iw, lc.iv])
                else:
                    self.accumulate(out, [n, ih, iw, lc.iv], share)
                done = self.b.op("loops.logical_or", done, hit)
            lc.finish([])

        self.windows(x.type.shape, k, op.attributes, g.type.shape, win)


NN_OPS = {"graph.conv2d", "graph.conv2d_backprop_input", "graph.conv2d_backprop_filter", "graph.max_pool",
          "graph.avg_pool", "graph.avg_pool_grad", "graph.max_pool_grad"}


CONV_OPS = {"graph.conv2d", "graph.conv2d_backprop_input", "graph.conv2d_backprop_filter"}


def lower_nn_op(fl: "FunctionLowering", op: Operation, out: Value) -> None:
    nn = NNLowering(fl)
    target = ConvLowering(nn) if op.name in CONV_OPS else nn
    getattr(target, op.name.split(".", 1)[1])(op, out)
