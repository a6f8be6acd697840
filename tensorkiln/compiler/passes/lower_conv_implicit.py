"""Convolutions by the generated direct kernels (``loops.conv_image``, ``loops.conv_filter_grad``):
implicit im2col.

For unit dilation and output channels in whole vectors (a multiple of 16), the forward convolution
runs image by image in the batch slots of :mod:`.lower_conv`: the image is copied once into a
buffer padded across (zeros left and right; a few KB, where im2col wrote KH*KW copies of it), and
the kernel multiplies each output row's pixels by the filter rows that fall inside the image.
With stride 1 the input gradient is the same kernel's convolution of the output gradient, padded
across, with the filter flipped in both spatial axes and its channel axes swapped:
``dx[iy, ix, ci] = sum g[iy - p' + ky, ix - q' + kx, co] * W[KH-1-ky, KW-1-kx, ci, co]`` with
``p' = KH-1-pad_top`` and ``q' = KW-1-pad_left``; no column matrix, no col2im scatter. The filter
gradient adds each image's products to its batch slot's partial filter, like the im2col path.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...ir.core import Operation, Value
from ...ir.dialects.graph_nn import window_params
from ...ir.types import MemRefType, ScalarType

if TYPE_CHECKING:  # pragma: no cover
    from .lower_conv import ConvLowering

# Output channels must fill whole vectors of every width the kernel may use (16 f32 with AVX-512).
CHANNEL_MULTIPLE = 16


def usable(geoms, channels_out: int, dtype) -> bool:
    """Whether the kernels can take a convolution with these window geometries producing
    ``channels_out`` channels of ``dtype``. Not for empty images or outputs: the padded copy
    would then read a row of width 0."""
    return (dtype.is_float and all(g[3] == 1 and g[0] > 0 and g[1] > 0 for g in geoms)
            and channels_out % CHANNEL_MULTIPLE == 0)


class ImplicitConv:
    def __init__(self, conv: "ConvLowering"):
        self.conv = conv
        self.nn, self.e, self.b, self.c = conv.nn, conv.e, conv.b, conv.c

    def pad_across(self, src: Value, n: Value, dst: Value, left: int) -> None:
        """dst[h, q, c] = src[n, h, q - left, c], 0 where q - left is outside src's width."""
        b, c = self.b, self.c
        _, _, w, _ = src.type.shape
        h_n, wp, ch = dst.type.shape
        zero = self.e.const(0.0, ScalarType(src.type.dtype))

        def body(idx):
            h, q, cc = idx
            col = b.op("loops.sub", q, c(left))
            inside = b.op("loops.logical_and", b.op("loops.ge", col, c(0)), b.op("loops.lt", col, c(int(w))))
            clamped = b.op("loops.minimum", b.op("loops.maximum", col, c(0)), c(int(w) - 1))
            v = b.op("loops.select", inside, b.op("loops.load", src, n, h, clamped, cc), zero)
            b.create("loops.store", [v, dst, h, q, cc])

        self.nn.loops([h_n, wp, ch], body, parallel=False)

    def per_image(self, src: Value, width: int, pad_left: int, extents, body) -> None:
        """body(slot, n, padded image) for every image n of ``src``, in the batch slots, after
        copying the image into the slot's buffer padded across by pad_left to ``width`` columns."""
        from .lower_conv import SLOTS

        conv, b = self.conv, self.b
        n_dim, h, _, ch = src.type.shape
        xp = conv.fl.new_buffer_of_type(MemRefType((SLOTS, h, width, ch), src.type.dtype))

        def image(s, n0, count):
            lt = self.e.for_loop(count, [])
            n = b.op("loops.add", n0, lt.iv)
            pad = conv.subview(xp, s)
            self.pad_across(src, n, pad, pad_left)
            body(s, n, pad)
            lt.finish([])

        conv.slots(n_dim, 1, extents, image)

    def run(self, op: Operation, src: Value, w3: Value, out: Value, strides: list[int], pad_top: int, pad_left: int,
            width: int, epilogue: bool) -> None:
        """out[n] = conv_image(src[n] padded across by pad_left to ``width`` columns, w3) for every
        image; then the fused bias/activation while the image is in cache."""
        conv, b = self.conv, self.b
        oh, ow, cout = out.type.shape[1:]

        def body(s, n, pad):
            dst = conv.subview(out, n)
            b.create("loops.conv_image", [pad, w3, dst], {"pad": pad_top, "strides": strides})
            if epilogue:
                def fix(idx):
                    y, x, co = idx
                    b.create("loops.store", [conv.epilogue(op, b.op("loops.load", dst, y, x, co), co), dst, y, x, co])
                self.nn.loops([oh, ow, cout], fix, parallel=False)

        self.per_image(src, width, pad_left, (oh, ow, w3.type.shape[0], w3.type.shape[1], cout), body)

    def conv2d(self, op: Operation, out: Value) -> None:
        x, f = (self.conv.fl.buffer_of(v) for v in op.operands[:2])
        kh, kw, cin, cout = (int(d) for d in f.type.shape)
        geoms = window_params(op.attributes, x.type.shape, (kh, kw))
        (_, _, _, _, pt), (_, ow, sx, _, pl) = geoms
        w3 = self.conv.view(f, (kh, kw * cin, cout))
        self.run(op, x, w3, out, [int(geoms[0][2]), sx], pt, pl, (int(ow) - 1) * sx + kw, len(op.operands) == 3)

    def conv2d_backprop_input(self, op: Operation, out: Value) -> None:
        g, f = (self.conv.fl.buffer_of(v) for v in op.operands)
        kh, kw, cin, cout = (int(d) for d in f.type.shape)
        geoms = window_params(op.attributes, out.type.shape, (kh, kw))
        (_, _, _, _, pt), (w, _, _, _, pl) = geoms
        b, c = self.b, self.c
        # the flipped filter, channel axes swapped: flip[ky, kx*COUT + co, ci] = f[KH-1-ky, KW-1-kx, ci, co]
        flip = self.conv.fl.new_buffer_of_type(MemRefType((kh, kw * cout, cin), f.type.dtype))

        def body(idx):
            ky, kx, co, ci = idx
            v = b.op("loops.load", f, b.op("loops.sub", c(kh - 1), ky), b.op("loops.sub", c(kw - 1), kx), ci, co)
            b.create("loops.store", [v, flip, ky, b.op("loops.add", b.op("loops.mul", kx, c(cout)), co), ci])

        self.nn.loops([kh, kw, cout, cin], body)
        self.run(op, g, flip, out, [1, 1], kh - 1 - pt, kw - 1 - pl, int(w) + kw - 1, False)

    def conv2d_backprop_filter(self, op: Operation, out: Value) -> None:
        """Each slot adds its images' gradients to its own partial filter (the kernel accumulates);
        the partials are summed in slot order, as on the im2col path."""
        from .lower_conv import SLOTS

        x, g = (self.conv.fl.buffer_of(v) for v in op.operands)
        kh, kw, cin, cout = (int(d) for d in out.type.shape)
        (_, oh, sy, _, pt), (_, ow, sx, _, pl) = window_params(op.attributes, x.type.shape, (kh, kw))
        part = self.conv.fl.new_buffer_of_type(MemRefType((SLOTS, kh, kw * cin, cout), out.type.dtype))
        self.nn.zero(part)

        def body(s, n, pad):
            self.b.create("loops.conv_filter_grad", [pad, self.conv.subview(g, n), self.conv.subview(part, s)],
                          {"pad": pt, "strides": [int(sy), int(sx)]})

        self.per_image(x, (int(ow) - 1) * sx + kw, pl, (oh, ow, kh, kw * cin, cout), body)
        self.conv.sum_slots(part, out)


def backprop_input_usable(op: Operation, f_shape, x_shape, dtype) -> bool:
    """Stride 1 and unit dilation (the input gradient is then a convolution), input channels in
    whole vectors."""
    kh, kw, cin, _ = (int(d) for d in f_shape)
    geoms = window_params(op.attributes, x_shape, (kh, kw))
    return all(g[2] == 1 for g in geoms) and usable(geoms, cin, dtype)
