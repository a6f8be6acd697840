"""Layout ops the Session-level fuzzer (tests/fuzz_session.py) draws: transpose, reshape,
expand_dims, slices and integer indexing, concat, stack and gather — each as tk API call + numpy
twin, under the same rules as fuzz_session_ops.py (which holds the elementwise, reduction and
miscellaneous ops and the helpers these use).
"""
from __future__ import annotations

from typing import Any

import numpy as np

import tensorkiln as tk

from fuzz_session_ops import _I32, _I64, BATCH, STATIC1, dim_at_b  # type: ignore[import-not-found]


class LayoutOpsMixin:
    # layout -------------------------------------------------------------------------------
    def op_transpose(self) -> None:
        v = self.pick(lambda n: len(n.shape) >= 2)
        if v is None:
            return
        rank = len(v.shape)
        perm = None if self.chance(20) else [int(k) for k in self.rng.permutation(rank)]
        p = list(range(rank))[::-1] if perm is None else perm
        self.add(self.emit(tk.transpose(v.tensor, perm), lambda a, p=p: np.transpose(a, p), [v],
                           tuple(v.shape[k] for k in p), v.dtype, v.bound, f"tk.transpose(v{v.index}, {perm})",
                           moves=True))

    def op_reshape(self) -> None:
        v = self.pick()
        c = int(np.prod([d[0] for d in v.shape], dtype=np.int64))
        p = sum(d[1] for d in v.shape)
        form = self.choice(["flat", "split", "split", "dim0"])
        if form == "dim0" and len(v.shape) >= 2 and v.shape[0][1]:
            rest = (int(np.prod([d[0] for d in v.shape[1:]])), sum(d[1] for d in v.shape[1:]))
            t = tk.reshape(v.tensor, [tk.shape(v.tensor)[0], -1])
            shape, text = (v.shape[0], rest), f"tk.reshape(v{v.index}, [tk.shape(v{v.index})[0], -1])"
            np_target = None  # (a.shape[0], -1)
        elif form == "split" and c > 1:
            k = self.choice([k for k in range(1, c + 1) if c % k == 0])
            if p == 0 and self.chance(50):
                target, shape = [k, c // k], ((k, 0), (c // k, 0))
                if self.chance(50):
                    target = [k, -1] if self.chance(50) else [-1, c // k]
            elif self.chance(50):
                target, shape = [k, -1], ((k, 0), (c // k, p))
            else:
                target, shape = [-1, k], ((c // k, p), (k, 0))
            t, text, np_target = tk.reshape(v.tensor, target), f"tk.reshape(v{v.index}, {target})", target
        else:
            t, shape, text, np_target = tk.reshape(v.tensor, [-1]), ((c, p),), f"tk.reshape(v{v.index}, [-1])", [-1]

        def npf(a, np_target=np_target):
            return a.reshape(a.shape[0], -1) if np_target is None else a.reshape(np_target)
        self.add(self.emit(t, npf, [v], shape, v.dtype, v.bound, text, moves=True))

    def op_expand(self) -> None:
        v = self.pick()
        rank = len(v.shape)
        ones = [k for k, d in enumerate(v.shape) if d == STATIC1]
        if ones and self.chance(50):
            if self.chance(30):
                shape = tuple(d for d in v.shape if d != STATIC1)
                t, axes, text = tk.squeeze(v.tensor), ones, f"tk.squeeze(v{v.index})"
            else:
                ax = self.choice(ones)
                axis = ax - rank if self.chance(30) else ax
                shape = tuple(d for k, d in enumerate(v.shape) if k != ax)
                t, axes, text = tk.squeeze(v.tensor, [axis]), [ax], f"tk.squeeze(v{v.index}, [{axis}])"
            self.add(self.emit(t, lambda a, axes=tuple(axes): np.squeeze(a, axis=axes), [v], shape, v.dtype, v.bound,
                               text, moves=True))
            return
        axis = self.i(-rank - 1, rank)
        pos = axis % (rank + 1)
        shape = tuple(v.shape[:pos]) + (STATIC1,) + tuple(v.shape[pos:])
        self.add(self.emit(tk.expand_dims(v.tensor, axis), lambda a, axis=axis: np.expand_dims(a, axis), [v], shape,
                           v.dtype, v.bound, f"tk.expand_dims(v{v.index}, {axis})", moves=True))

    def op_slice(self) -> None:
        v = self.pick(lambda n: len(n.shape) >= 1)
        if v is None:
            return
        begin, size, shape = [], [], []
        for d, known in zip(v.shape, self.known_dims(v)):
            # a batch dim: only the whole of it (an offset would make N - b, not a monomial); a dim
            # the graph's static shape does not know: the same (a fixed size there is refused)
            if d[1] or not known:
                begin.append(0), size.append(-1), shape.append(d)
                continue
            b0 = self.i(0, d[0] - 1)
            s0 = self.i(1, d[0] - b0)
            begin.append(b0)
            size.append(-1 if (b0 + s0 == d[0] and self.chance(40)) else s0)
            shape.append((s0, 0))
        sl = tuple(slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))
        self.add(self.emit(tk.slice(v.tensor, begin, size), lambda a, sl=sl: a[sl], [v], tuple(shape), v.dtype, v.bound,
                           f"tk.slice(v{v.index}, {begin}, {size})", moves=True))

    def op_index(self) -> None:
        """``v[key]`` (strided slice): ints, ranges with steps of either sign, newaxis, ellipsis."""
        v = self.pick()
        dims = list(v.shape)
        items: list[Any] = []
        shape: list[tuple] = []
        cut, span = (self.i(0, len(dims)), 0) if self.chance(25) else (-1, 0)
        if cut >= 0:
            span = self.i(0, len(dims) - cut)
        known = self.known_dims(v)
        for k, d in enumerate(dims):
            if k == cut:
                items.append(Ellipsis)
            if cut <= k < cut + span:  # covered by the ellipsis
                shape.append(d)
                continue
            if self.chance(15):
                items.append(None)
                shape.append(STATIC1)
            # an int index into a dim unknown to the graph is checked at run time; a range there
            # with a stop is refused (its length min(stop, N) is not a symbolic dim)
            kind = "all" if d[1] else self.choice(["all", "int", "range"] if known[k] else ["all", "int"])
            if kind == "int":
                items.append(self.i(-d[0], d[0] - 1))
            elif kind == "range":
                step = self.choice([1, 1, 2, 3, -1, -2])
                start = None if self.chance(25) else self.i(-d[0], d[0] - 1)
                stop = self.choice([None] + list(range(-d[0], d[0] + 1)))
                n = len(range(*slice(start, stop, step).indices(d[0])))
                if n == 0:  # no empty ranges: take the whole dim in that direction
                    start, stop = None, None
                    n = len(range(*slice(None, None, step).indices(d[0])))
                items.append(slice(start, stop, step))
                shape.append((n, 0))
            else:  # a batch dim is only taken whole (an offset would make N - b, not a monomial)
                items.append(slice(None) if self.chance(70) else slice(0, None))
                shape.append(d)
        if cut == len(dims):
            items.append(Ellipsis)
        if self.chance(15):
            items.append(None)
            shape.append(STATIC1)
        key = tuple(items) if items else Ellipsis
        self.add(self.emit(v.tensor[key], lambda a, key=key: a[key], [v], tuple(shape), v.dtype, v.bound,
                           f"v{v.index}[{key!r}]", moves=True))

    def op_concat(self) -> None:
        v = self.pick(lambda n: any(d[1] == 0 for d in n.shape))
        if v is None:
            return
        axes = [k for k, d in enumerate(v.shape) if d[1] == 0]  # never along a batch dim (N + c)
        ax = self.choice(axes)
        parts = [v]
        for _ in range(self.i(1, 2)):
            same = [w for w in self.pool if w.dtype == v.dtype and len(w.shape) == len(v.shape) and w.shape[ax][1] == 0
                    and all(a == b for k, (a, b) in enumerate(zip(w.shape, v.shape)) if k != ax)]
            if same and self.chance(40):
                parts.append(self.choice(same))
            else:
                shp = tuple((self.i(1, 3), 0) if k == ax else d for k, d in enumerate(v.shape))
                if any(d[1] and d != BATCH for d in shp):
                    return
                parts.append(self.leaf(shp, v.dtype))
        if self.chance(50):
            parts = list(self.rng.permutation(np.array(parts, dtype=object)))
        axis = ax - len(v.shape) if self.chance(30) else ax
        shape = tuple((sum(p.shape[ax][0] for p in parts), 0) if k == ax else d for k, d in enumerate(v.shape))
        self.add(self.emit(tk.concat([p.tensor for p in parts], axis), lambda *a, axis=axis: np.concatenate(a, axis),
                           parts, shape, v.dtype, max(p.bound for p in parts),
                           f"tk.concat([{', '.join(f'v{p.index}' for p in parts)}], {axis})", moves=True))

    def op_stack(self) -> None:
        v = self.pick()
        rank = len(v.shape)
        static = [k for k, d in enumerate(v.shape) if d[1] == 0]
        if static and self.chance(30):
            ax = self.choice(static)
            # num is needed where the graph's static shape is unknown (as in TF), e.g. downstream of
            # an unknown-rank placeholder; the IR knows the shape, so it must agree with num
            known = v.tensor.shape.ndims is not None and v.tensor.shape.as_tuple()[ax] is not None
            outs = tk.unstack(v.tensor, num=None if known and self.chance(70) else v.shape[ax][0], axis=ax)
            k = self.i(0, v.shape[ax][0] - 1)
            shape = tuple(d for j, d in enumerate(v.shape) if j != ax)
            self.add(self.emit(outs[k], lambda a, ax=ax, k=k: np.take(a, k, axis=ax), [v], shape, v.dtype, v.bound,
                               f"tk.unstack(v{v.index}, axis={ax})[{k}]", moves=True))
            return
        parts = [v]
        for _ in range(self.i(1, 2)):
            w = self.partner(v, same_shape=True)
            if w is None:
                return
            parts.append(w)
        axis = self.i(-rank - 1, rank)
        pos = axis % (rank + 1)
        shape = tuple(v.shape[:pos]) + ((len(parts), 0),) + tuple(v.shape[pos:])
        self.add(self.emit(tk.stack([p.tensor for p in parts], axis), lambda *a, axis=axis: np.stack(a, axis), parts,
                           shape, v.dtype, max(p.bound for p in parts),
                           f"tk.stack([{', '.join(f'v{p.index}' for p in parts)}], {axis})", moves=True))

    def op_gather(self) -> None:
        v = self.pick(lambda n: len(n.shape) >= 1)
        if v is None:
            return
        ax = self.i(0, len(v.shape) - 1)
        d = v.shape[ax]
        limit = min(dim_at_b(d, b) for b in self.batches)  # valid for both batch sizes
        ishape = tuple((self.i(1, 4), 0) for _ in range(self.i(0, 2)))
        idt = self.choice([_I32, _I64])
        vals = self.rng.integers(0, limit, size=tuple(s[0] for s in ishape)).astype(idt)
        kind = self.choice(["constant", "placeholder", "variable"])
        ix = self.leaf(ishape, idt, kind=kind, values=[vals, vals])
        shape = tuple(v.shape[:ax]) + ishape + tuple(v.shape[ax + 1:])
        if ax == 0 and self.chance(30):
            t, text = tk.nn.embedding_lookup(v.tensor, ix.tensor), f"tk.nn.embedding_lookup(v{v.index}, v{ix.index})"
        else:
            t, text = tk.gather(v.tensor, ix.tensor, axis=ax), f"tk.gather(v{v.index}, v{ix.index}, axis={ax})"
        self.add(self.emit(t, lambda a, i, ax=ax: np.take(a, i, axis=ax), [v, ix], shape, v.dtype, v.bound, text,
                           moves=True))
