"""Direct convolution loop nests for filters with few taps (KH*KW*Cin <= ``DIRECT_MAX_TAPS``, such
as a first layer on one-channel images), forward and filter gradient.

With a 5x5 filter on one channel, im2col + GEMM is a poor fit: K = 25 is too short for the GEMM's
tile, and the im2col copy, one scalar per tap, costs as much as the products. Here each output
pixel loads its taps once (masked to 0 in the padding) and a loop over output channels, the
innermost and contiguous in the filter, the output and the gradient, does the multiply-adds in
vector registers. The filter gradient runs in the batch slots of :mod:`.lower_conv`, each slot
accumulating into its own partial filter, summed in slot order at the end.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from ...ir.core import Operation, Value
from ...ir.dialects.graph_nn import window_params
from ...ir.types import Dim, MemRefType

if TYPE_CHECKING:  # pragma: no cover
    from .lower_conv import ConvLowering

# Taps (KH*KW*Cin) up to which the direct nests are used: each is a load and a multiply-add per
# output channel vector, all unrolled in the channel loop.
DIRECT_MAX_TAPS = 32


def use_direct(f_shape: Sequence[Dim]) -> bool:
    kh, kw, cin, _ = (int(d) for d in f_shape)
    return kh * kw * cin <= DIRECT_MAX_TAPS


class DirectConv:
    def __init__(self, conv: "ConvLowering"):
        self.conv = conv
        self.nn, self.e, self.b = conv.nn, conv.e, conv.b

    def taps(self, x: Value, n: Value, oh: Value, ow: Value, f_shape, geoms) -> list[tuple[tuple[int, int, int], Value]]:
        """((i, j, ci), x value or 0 in the padding) for every tap of the window at (oh, ow)."""
        kh, kw, cin, _ = (int(d) for d in f_shape)
        c, b, nn = self.conv.c, self.b, self.nn
        out = []
        for i in range(kh):
            ih, vh = nn.window_pos(oh, c(i), geoms[0])
            for j in range(kw):
                iw, vw = nn.window_pos(ow, c(j), geoms[1])
                valid = b.op("loops.logical_and", vh, vw)
                for ci in range(cin):
                    out.append(((i, j, ci), nn.masked(valid, b.op("loops.load", x, n, ih, iw, c(ci)), 0.0)))
        return out

    def pixel_groups(self, ow_n: int) -> int:
        """Pixels of an output row taken together: the filter (forward) or the partial gradient
        (filter gradient) row is then loaded once per group instead of once per pixel."""
        return next(u for u in (4, 3, 2, 1) if ow_n % u == 0)

    def conv2d(self, op: Operation, out: Value) -> None:
        x, f = (self.conv.fl.buffer_of(v) for v in op.operands[:2])
        geoms = window_params(op.attributes, x.type.shape, f.type.shape[:2])
        c, b = self.conv.c, self.b
        cout = f.type.shape[3]
        u = self.pixel_groups(geoms[1][1])

        def group(idx):
            n, oh, owg = idx
            ows = [b.op("loops.add", b.op("loops.mul", owg, c(u)), c(k)) for k in range(u)]
            taps = [self.taps(x, n, oh, ow, f.type.shape, geoms) for ow in ows]
            lc = self.e.for_loop(cout, [], parallel=True)
            accs: list[Value | None] = [None] * u
            for t, ((i, j, ci), _) in enumerate(taps[0]):
                w = b.op("loops.load", f, c(i), c(j), c(ci), lc.iv)
                for k in range(u):
                    term = b.op("loops.mul", taps[k][t][1], w)
                    accs[k] = term if accs[k] is None else b.op("loops.add", accs[k], term)
            for k in range(u):
                b.create("loops.store", [self.conv.epilogue(op, accs[k], lc.iv), out, n, oh, ows[k], lc.iv])
            lc.finish([])

        c(cout)  # the channel extent as a top-level constant: the parallel loop's work estimate sees it
        self.nn.loops([x.type.shape[0], geoms[0][1], geoms[1][1] // u], group)

    def conv2d_backprop_filter(self, op: Operation, out: Value) -> None:
        from .lower_conv import SLOTS

        x, g = (self.conv.fl.buffer_of(v) for v in op.operands)
        f_shape = tuple(int(d) for d in out.type.shape)
        geoms = window_params(op.attributes, x.type.shape, f_shape[:2])
        c, b = self.conv.c, self.b
        cout = f_shape[3]
        u = self.pixel_groups(geoms[1][1])
        part = self.conv.fl.new_buffer_of_type(MemRefType((SLOTS, *f_shape), out.type.dtype))
        self.nn.zero(part)

        def image(s, n, count):
            def group(idx):
                oh, owg = idx
                ows = [b.op("loops.add", b.op("loops.mul", owg, c(u)), c(k)) for k in range(u)]
                taps = [self.taps(x, n, oh, ow, f_shape, geoms) for ow in ows]
                lc = self.e.for_loop(cout, [], parallel=True)
                gvs = [b.op("loops.load", g, n, oh, ow, lc.iv) for ow in ows]
                for t, ((i, j, ci), _) in enumerate(taps[0]):
                    acc = b.op("loops.mul", taps[0][t][1], gvs[0])
                    for k in range(1, u):
                        acc = b.op("loops.add", acc, b.op("loops.mul", taps[k][t][1], gvs[k]))
                    self.nn.accumulate(part, [s, c(i), c(j), c(ci), lc.iv], acc)
                lc.finish([])

            self.nn.loops([geoms[0][1], geoms[1][1] // u], group, parallel=False)

        self.conv.slots(x.type.shape[0], 1, (geoms[0][1], geoms[1][1] // u, cout), image)
        self.conv.sum_slots(part, out)
