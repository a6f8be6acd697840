"""The linear-algebra and nn ops of the Session-level fuzzer (tests/fuzz_session.py).

``tk.matmul`` (rank 2 and batched, with transpose flags, contracting over static or batch dims),
softmax/log_softmax on any axis, the cross-entropy losses, ``l2_loss``, ``bias_add``, ``in_top_k``, NHWC
(sometimes NCHW) ``conv2d`` (strides, SAME/VALID, dilations), ``max_pool`` and ``avg_pool``; each
with its numpy twin from :mod:`fuzz_numpy_ops`. Convolutions and pools only get images whose H, W
and C are static (the batch may be symbolic); VALID is only drawn where the window fits.
"""
from __future__ import annotations

import math

import numpy as np

import tensorkiln as tk

import fuzz_numpy_ops as npo  # type: ignore[import-not-found]
from fuzz_session_ops import _I32, _I64, _TK, BATCH, dim_at_b, dim_max, numel  # type: ignore[import-not-found]


class NnOpsMixin:
    """Matmul and nn ops for :class:`fuzz_session._Gen`."""

    def op_matmul(self) -> None:
        v = self.pick(lambda n: len(n.shape) in (2, 3) and (n.dtype.kind == "f" or n.bound <= 100))
        if v is None:
            return
        ta, tb = self.chance(40), self.chance(40)
        m, k = (v.shape[-1], v.shape[-2]) if ta else (v.shape[-2], v.shape[-1])
        lead = tuple(v.shape[:-2])
        wl = lead if (not lead or self.chance(60)) else ()  # a rank-2 b broadcasts over the batch
        cands = [w for w in self.pool if w.dtype == v.dtype and len(w.shape) == len(wl) + 2 and tuple(w.shape[:-2]) == wl
                 and w.shape[-1 if tb else -2] == k and (w.dtype.kind == "f" or w.bound <= 100)]
        if cands and self.chance(50):
            w = self.choice(cands)
        else:
            if k[1] and k != BATCH or any(d[1] and d != BATCH for d in wl):
                return
            n = BATCH if self.chance(10) else (self.size(6), 0)
            w = self.leaf(wl + ((n, k) if tb else (k, n)), v.dtype)
        n = w.shape[-2] if tb else w.shape[-1]
        kmax = dim_max(k)
        if v.dtype.kind == "i" and v.bound * w.bound * kmax > 2 ** 30:
            return
        t = tk.matmul(v.tensor, w.tensor, transpose_a=ta, transpose_b=tb)

        def npf(a, b, ta=ta, tb=tb):
            a = np.swapaxes(a, -1, -2) if ta else a
            b = np.swapaxes(b, -1, -2) if tb else b
            return np.matmul(a, b)
        self.add(self.emit(t, npf, [v, w], lead + (m, n), v.dtype, v.bound * w.bound * kmax,
                           f"tk.matmul(v{v.index}, v{w.index}, transpose_a={ta}, transpose_b={tb})"))

    def op_softmax(self) -> None:
        v = self.pick(lambda n: self.is_float(n) and len(n.shape) >= 1)
        if v is None:
            return
        rank = len(v.shape)
        axis = -1 if self.chance(60) else self.i(-rank, rank - 1)
        name = self.choice(["softmax", "log_softmax"])
        npf = npo.softmax if name == "softmax" else npo.log_softmax
        bound = 1.0 if name == "softmax" else 2 * v.bound + math.log(dim_max(v.shape[axis % rank])) + 1
        self.add(self.emit(getattr(tk.nn, name)(v.tensor, axis=axis), lambda a, axis=axis, f=npf: f(a, axis), [v],
                           v.shape, v.dtype, bound, f"tk.nn.{name}(v{v.index}, axis={axis})"))

    def op_loss(self) -> None:
        v = self.pick(lambda n: self.is_float(n) and len(n.shape) >= 1)
        if v is None:
            return
        kind = self.choice(["softmax_ce", "sparse_ce", "sigmoid_ce", "l2_loss", "bias_add"])
        if kind in ("softmax_ce", "sigmoid_ce"):
            w = self.partner(v, same_shape=True)
            if w is None:
                return
            if kind == "softmax_ce":
                lab = self.emit(tk.nn.softmax(w.tensor), npo.softmax, [w], w.shape, w.dtype, 1.0, f"tk.nn.softmax(v{w.index})")
                t = tk.nn.softmax_cross_entropy_with_logits_v2(labels=lab.tensor, logits=v.tensor)
                shape, f, bound = v.shape[:-1], npo.softmax_ce, 2 * v.bound + math.log(dim_max(v.shape[-1])) + 1
            else:
                lab = self.emit(tk.sigmoid(w.tensor), npo.sigmoid, [w], w.shape, w.dtype, 1.0, f"tk.sigmoid(v{w.index})")
                t = tk.nn.sigmoid_cross_entropy_with_logits(labels=lab.tensor, logits=v.tensor)
                shape, f, bound = v.shape, npo.sigmoid_ce, v.bound + 1
            self.add(self.emit(t, f, [lab, v], shape, v.dtype, bound, f"tk.nn.{kind}(labels=v{lab.index}, logits=v{v.index})"))
        elif kind == "sparse_ce":
            if len(v.shape) != 2 or v.shape[1][1] or (v.shape[0][1] and v.shape[0] != BATCH):
                return
            classes = v.shape[1][0]
            dt = self.choice([_I32, _I64])
            vals = [self.rng.integers(0, classes, size=dim_at_b(v.shape[0], b)).astype(dt) for b in self.batches]
            if not v.shape[0][1]:
                vals[1] = vals[0]
            lab = self.leaf((v.shape[0],), dt, kind="placeholder" if v.shape[0][1] else None, values=vals)
            t = tk.nn.sparse_softmax_cross_entropy_with_logits(labels=lab.tensor, logits=v.tensor)
            self.add(self.emit(t, npo.sparse_softmax_ce, [lab, v], (v.shape[0],), v.dtype,
                               2 * v.bound + math.log(classes) + 1,
                               f"tk.nn.sparse_softmax_cross_entropy_with_logits(labels=v{lab.index}, logits=v{v.index})"))
        elif kind == "l2_loss":
            self.add(self.emit(tk.nn.l2_loss(v.tensor), lambda a: np.asarray((a * a).sum() / 2, dtype=a.dtype), [v], (),
                               v.dtype, v.bound ** 2 * numel(v.shape), f"tk.nn.l2_loss(v{v.index})"))
        else:
            if len(v.shape) < 2 or (v.shape[-1][1] and v.shape[-1] != BATCH):
                return
            b = self.leaf((v.shape[-1],), v.dtype)
            self.add(self.emit(tk.nn.bias_add(v.tensor, b.tensor), np.add, [v, b], v.shape, v.dtype, v.bound + 1,
                               f"tk.nn.bias_add(v{v.index}, v{b.index})"))

    def image(self):
        """An NHWC float value: a rank-4 pool value with static H, W, C, or a new batch of images."""
        x = self.pick(lambda n: self.is_float(n) and len(n.shape) == 4 and all(d[1] == 0 for d in n.shape[1:]))
        if x is None or self.chance(50):
            dims = (BATCH if self.chance(70) else (self.i(1, 3), 0),) + tuple((self.i(2, 7) if self.chance(85) else self.i(8, 20), 0) for _ in range(2))
            # sometimes 16 channels: the direct kernel's input gradient needs whole vectors of them
            x = self.leaf(dims + ((self.i(1, 3) if self.chance(80) else 16, 0),), self.fdt)
        return x

    def _nchw(self, x):
        return self.emit(tk.transpose(x.tensor, [0, 3, 1, 2]), lambda a: np.transpose(a, (0, 3, 1, 2)), [x],
                         tuple(x.shape[k] for k in (0, 3, 1, 2)), x.dtype, x.bound, f"tk.transpose(v{x.index}, [0, 3, 1, 2])",
                         moves=True)

    def op_conv(self) -> None:
        x = self.image()
        _, h, w, c = (d[0] for d in x.shape)
        # 16 or 32 output channels take the direct kernels (lower_conv_implicit.py)
        kh, kw, o = self.i(1, 3), self.i(1, 3), (self.i(1, 4) if self.chance(70) else self.choice([16, 32]))
        st_ = (self.i(1, 2), self.i(1, 2))
        dl = (self.i(1, 2), self.i(1, 2)) if st_ == (1, 1) and self.chance(30) else (1, 1)
        ekh, ekw = (kh - 1) * dl[0] + 1, (kw - 1) * dl[1] + 1
        pad = self.choice(["SAME", "VALID"]) if h >= ekh and w >= ekw else "SAME"
        f = self.leaf(((kh, 0), (kw, 0), (c, 0), (o, 0)), x.dtype)
        oh = -(-h // st_[0]) if pad == "SAME" else (h - ekh) // st_[0] + 1
        ow = -(-w // st_[1]) if pad == "SAME" else (w - ekw) // st_[1] + 1
        shape = (x.shape[0], (oh, 0), (ow, 0), (o, 0))
        bound = x.bound * f.bound * kh * kw * c
        text = f"tk.nn.conv2d(v{x.index}, v{f.index}, strides={st_}, padding={pad!r}, dilations={dl}"
        if self.chance(20):
            xt = self._nchw(x)
            t = tk.nn.conv2d(xt.tensor, f.tensor, [1, 1, *st_], pad, data_format="NCHW", dilations=[1, 1, *dl])
            self.add(self.emit(t, lambda a, b: np.transpose(npo.conv2d(np.transpose(a, (0, 2, 3, 1)), b, st_, pad, dl),
                                                            (0, 3, 1, 2)),
                               [xt, f], tuple(shape[k] for k in (0, 3, 1, 2)), x.dtype, bound, text + ", NCHW)"))
            return
        t = tk.nn.conv2d(x.tensor, f.tensor, [1, *st_, 1], pad, dilations=[1, *dl, 1])
        self.add(self.emit(t, lambda a, b: npo.conv2d(a, b, st_, pad, dl), [x, f], shape, x.dtype, bound, text + ")"))

    def op_pool(self) -> None:
        x = self.image()
        _, h, w, c = (d[0] for d in x.shape)
        k = (self.i(1, 3), self.i(1, 3))
        s = (self.i(1, 2), self.i(1, 2))
        pad = self.choice(["SAME", "VALID"]) if h >= k[0] and w >= k[1] else "SAME"
        kind = self.choice(["max", "avg"])
        oh = -(-h // s[0]) if pad == "SAME" else (h - k[0]) // s[0] + 1
        ow = -(-w // s[1]) if pad == "SAME" else (w - k[1]) // s[1] + 1
        fn = tk.nn.max_pool if kind == "max" else tk.nn.avg_pool
        text = f"tk.nn.{kind}_pool(v{x.index}, ksize={k}, strides={s}, padding={pad!r}"
        if self.chance(20):
            xt = self._nchw(x)
            t = fn(xt.tensor, [1, 1, *k], [1, 1, *s], pad, data_format="NCHW")
            self.add(self.emit(t, lambda a: np.transpose(npo.pool(np.transpose(a, (0, 2, 3, 1)), k, s, pad, kind), (0, 3, 1, 2)),
                               [xt], (x.shape[0], (c, 0), (oh, 0), (ow, 0)), x.dtype, x.bound, text + ", NCHW)",
                               moves=kind == "max"))
            return
        self.add(self.emit(fn(x.tensor, [1, *k, 1], [1, *s, 1], pad), lambda a: npo.pool(a, k, s, pad, kind), [x],
                           (x.shape[0], (oh, 0), (ow, 0), (c, 0)), x.dtype, x.bound, text + ")", moves=kind == "max"))

    def in_top_k(self) -> None:
        """``tk.nn.in_top_k`` on exact f32 scores (ties count as in; an out-of-range target is out)."""
        p = self.pick(lambda n: n.exact and n.dtype == np.float32 and len(n.shape) == 2 and not n.shape[1][1]
                      and (not n.shape[0][1] or n.shape[0] == BATCH))
        if p is None:
            return
        classes, k = p.shape[1][0], self.i(1, 3)
        dt = self.choice([_I32, _I64])
        vals = [self.rng.integers(-1, classes + 1, size=dim_at_b(p.shape[0], b)).astype(dt) for b in self.batches]
        if not p.shape[0][1]:
            vals[1] = vals[0]
        t = self.leaf((p.shape[0],), dt, kind="placeholder" if p.shape[0][1] else None, values=vals)

        def npf(pr, tg, k=k, classes=classes):
            ok = (tg >= 0) & (tg < classes)
            tv = np.take_along_axis(pr, np.clip(tg, 0, classes - 1).astype(np.int64)[:, None], axis=1)
            return ok & ((pr > tv).sum(axis=1) < k)
        c = self.emit(tk.nn.in_top_k(p.tensor, t.tensor, k), npf, [p, t], (p.shape[0],), bool, 1.0,
                      f"tk.nn.in_top_k(v{p.index}, v{t.index}, {k})", exact=True, smooth=False)
        self.add(self.emit(tk.cast(c.tensor, _TK[self.fdt]), lambda x, dt=self.fdt: x.astype(dt), [c], c.shape, self.fdt,
                           1.0, f"tk.cast(v{c.index}, {_TK[self.fdt].name})"))
