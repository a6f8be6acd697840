"""The ops the Session-level fuzzer (tests/fuzz_session.py) draws, each as tk API call + numpy twin
(elementwise, comparisons and ``where``, casts, reductions, misc; layout ops: fuzz_session_layout.py;
nn ops: fuzz_session_nn.py).

Every ``op_*`` method picks operands from the generator's pool (or makes new leaves), builds the
tensor with the public TF-1 API and records it with the numpy function that computes the same
thing (``emit``). The constraints that keep a case valid and well-conditioned live here, each with
its reason: float magnitudes are squashed with ``tanh`` past 8 and ints with ``floormod`` past 1000
(no int32 overflow, which LLVM may treat as undefined); ``log``/``sqrt``/division see inputs
bounded away from zero; discontinuous ops (floor, sign, argmax, float→int casts, comparisons whose
result is fetched or combined logically) only see *exact* values, so a 1-ulp difference upstream
cannot flip them; a comparison that selects between its own operands (``where(v < w, v, w)``) is
continuous and may see anything. Shapes never mix a batch dim with a static dim the compiler would
have to assume equal (it compiles an unknown dim meeting a known one as equal), and gather indices
are always in range (out-of-range ones raise InvalidArgumentError, as in TF: tests/test_index_checks.py).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import tensorkiln as tk

import fuzz_numpy_ops as npo  # type: ignore[import-not-found]

STATIC1 = (1, 0)
BATCH = (1, 1)
_F32, _F64, _I32, _I64 = (np.dtype(t) for t in (np.float32, np.float64, np.int32, np.int64))
_TK = {_F32: tk.float32, _F64: tk.float64, _I32: tk.int32, _I64: tk.int64}

OPS = (["unary"] * 3 + ["binary"] * 3 + ["where", "select", "reduce", "reduce", "argmax", "transpose", "reshape",
       "expand", "slice", "index", "concat", "stack", "gather", "matmul", "matmul", "softmax", "loss", "cast", "conv",
       "pool", "misc"])

# name: (tk function, numpy function, input domain, bound of the result given the input's bound)
FLOAT_UNARY = {
    "negative": (tk.negative, np.negative, "any", lambda b: b),
    "abs": (tk.abs, np.abs, "any", lambda b: b),
    "square": (tk.square, np.square, "any", lambda b: b * b),
    "exp": (tk.exp, np.exp, "tanh", lambda b: 2.8),
    "expm1": (tk.expm1, np.expm1, "tanh", lambda b: 1.8),
    "log": (tk.log, np.log, "pos", lambda b: b + 1.0),
    "log1p": (tk.log1p, np.log1p, "pos", lambda b: b + 1.0),
    "sqrt": (tk.sqrt, np.sqrt, "pos", lambda b: b + 1.0),
    "rsqrt": (tk.rsqrt, lambda a: a.dtype.type(1) / np.sqrt(a), "pos", lambda b: 1.5),
    "reciprocal": (tk.reciprocal, lambda a: a.dtype.type(1) / a, "pos", lambda b: 2.0),
    "tanh": (tk.tanh, np.tanh, "any", lambda b: 1.0),
    "sigmoid": (tk.sigmoid, npo.sigmoid, "any", lambda b: 1.0),
    "sin": (tk.sin, np.sin, "any", lambda b: 1.0),
    "cos": (tk.cos, np.cos, "any", lambda b: 1.0),
    "erf": (tk.erf, npo.erf, "any", lambda b: 1.0),
    "nn.relu": (tk.nn.relu, lambda a: np.maximum(a, a.dtype.type(0)), "any", lambda b: b),
    "nn.relu6": (tk.nn.relu6, lambda a: np.clip(a, 0, 6), "any", lambda b: min(b, 6.0)),
    "nn.elu": (tk.nn.elu, npo.elu, "any", lambda b: max(b, 1.0)),
    "nn.softplus": (tk.nn.softplus, npo.softplus, "any", lambda b: b + 1.0),
    "nn.leaky_relu": (tk.nn.leaky_relu, lambda a: np.maximum(a * 0.2, a), "any", lambda b: b),
}
DISCRETE_UNARY = {"sign": (tk.sign, np.sign), "floor": (tk.floor, np.floor), "ceil": (tk.ceil, np.ceil),
                  "round": (tk.round, np.rint)}
INT_UNARY = {"negative": (tk.negative, np.negative, lambda b: b), "abs": (tk.abs, np.abs, lambda b: b),
             "square": (tk.square, np.square, lambda b: b * b), "sign": (tk.sign, np.sign, lambda b: 1.0)}
COMPARE = {"less": (tk.less, np.less), "less_equal": (tk.less_equal, np.less_equal), "greater": (tk.greater, np.greater),
           "greater_equal": (tk.greater_equal, np.greater_equal), "equal": (tk.equal, np.equal),
           "not_equal": (tk.not_equal, np.not_equal)}


def bshape(a: tuple, b: tuple) -> tuple:
    """numpy broadcasting of two tracked shapes (the generator only pairs equal dims or 1s)."""
    n = max(len(a), len(b))
    a, b = (STATIC1,) * (n - len(a)) + tuple(a), (STATIC1,) * (n - len(b)) + tuple(b)
    return tuple(y if x == STATIC1 else x for x, y in zip(a, b))


def fits(small: tuple, big: tuple) -> bool:
    """``small`` broadcasts to ``big`` without changing it."""
    return len(small) <= len(big) and all(d in (STATIC1, e) for d, e in zip(reversed(small), reversed(big)))


MAX_BATCH = 37  # the largest batch size drawn; bounds are estimated for it


def numel(shape: tuple, batch: int = MAX_BATCH) -> int:
    return int(np.prod([d[0] * batch ** d[1] for d in shape], dtype=np.int64))


class OpsMixin:
    """Elementwise, reduction and layout ops of :class:`fuzz_session._Gen` (which provides the draw
    helpers, ``leaf`` and ``emit``); the nn ops are in :class:`fuzz_session_nn.NnOpsMixin`."""

    # helpers ------------------------------------------------------------------------------
    def step(self) -> None:
        getattr(self, "op_" + self.choice(OPS))()

    def known_dims(self, n) -> list[bool]:
        """Per dim: the graph's static shape knows it. A dim the generator knows can be unknown to
        the graph downstream of a placeholder spelled with unknown dims."""
        if n.tensor.shape.ndims is None:
            return [False] * len(n.shape)
        return [s is not None for s in n.tensor.shape.as_tuple()]

    def is_float(self, n) -> bool:
        return n.dtype.kind == "f"

    def partner(self, v, exact: bool = False, same_shape: bool = False, dtype: np.dtype | None = None):
        """A value that broadcasts into v's shape: a pool value of v's shape, or a new leaf whose
        dims are v's or 1 (leading dims maybe dropped). Only the batch dim itself can be a leaf's
        symbolic dim; other symbolic dims of v become 1 in a new leaf."""
        dtype = dtype or v.dtype
        same = [w for w in self.pool if w is not v and w.shape == v.shape and w.dtype == dtype and (w.exact or not exact)]
        if same and (same_shape or self.chance(50)):
            return self.choice(same)
        if same_shape:
            shape = tuple(v.shape)
            if any(d[1] and d != BATCH for d in shape):
                return None
            return self.leaf(shape, dtype)
        if not exact and self.chance(25) and all(d != STATIC1 and (d == BATCH or not d[1]) for d in v.shape):
            # A placeholder with unknown dims (or rank) used only here: each of its dims meets an
            # equal dim of v, so the compiler's assumption that they are equal holds. Not pooled:
            # elsewhere an unknown dim would stay symbolic where the generator tracks a static one.
            return self.leaf(tuple(v.shape[self.i(0, len(v.shape)):]), dtype, kind="placeholder", unknown=True)
        shape = tuple(STATIC1 if (d[1] and d != BATCH) or self.chance(35) else d for d in v.shape)
        if shape and self.chance(30):
            shape = shape[self.i(1, len(shape)):]
        return self.leaf(shape, dtype)

    def positive(self, v):
        return self.emit(tk.abs(v.tensor) + 0.5, lambda a: np.abs(a) + 0.5, [v], v.shape, v.dtype, v.bound + 0.5,
                         f"tk.abs(v{v.index}) + 0.5")

    def tanh(self, v):
        return self.emit(tk.tanh(v.tensor), np.tanh, [v], v.shape, v.dtype, 1.0, f"tk.tanh(v{v.index})")

    # elementwise ------------------------------------------------------------------------
    def op_unary(self) -> None:
        v = self.pick()
        if v.dtype.kind == "i":
            name = self.choice(sorted(INT_UNARY))
            fn, npf, bd = INT_UNARY[name]
            t = -v.tensor if name == "negative" and self.chance(50) else fn(v.tensor)
            self.add(self.emit(t, npf, [v], v.shape, v.dtype, bd(v.bound), f"tk.{name}(v{v.index})"))
            return
        if self.chance(15):
            v = self.pick(lambda n: n.exact and self.is_float(n))
            if v is None:
                return
            name = self.choice(sorted(DISCRETE_UNARY))
            fn, npf = DISCRETE_UNARY[name]
            # scaling by 4 is exact, so the result stays exact; it spreads the values over integers
            s = self.emit(v.tensor * 4.0, lambda a: a * 4.0, [v], v.shape, v.dtype, v.bound * 4, f"v{v.index} * 4.0",
                          exact=v.exact)
            self.add(self.emit(fn(s.tensor), npf, [s], v.shape, v.dtype, s.bound + 1, f"tk.{name}(v{s.index})",
                               exact=True, smooth=False))
            return
        name = self.choice(sorted(FLOAT_UNARY))
        fn, npf, domain, bd = FLOAT_UNARY[name]
        if domain == "pos":
            v = self.positive(v)
        elif domain == "tanh":
            v = self.tanh(v)
        t = abs(v.tensor) if name == "abs" and self.chance(50) else fn(v.tensor)
        self.add(self.emit(t, npf, [v], v.shape, v.dtype, bd(v.bound), f"tk.{name}(v{v.index})",
                           moves=name in ("negative", "abs")))

    def op_binary(self) -> None:
        v = self.pick()
        if self.chance(20):  # a Python scalar operand, converted to v's dtype
            c = self.i(-3, 3) if v.dtype.kind == "i" else round(float(self.rng.uniform(-2, 2)), 3)
            form = self.choice(["+", "-", "*", "r-"])
            if form == "+":
                t, f = v.tensor + c, (lambda a: a + c)
            elif form == "-":
                t, f = v.tensor - c, (lambda a: a - c)
            elif form == "*":
                t, f = v.tensor * c, (lambda a: a * c)
            else:
                t, f = c - v.tensor, (lambda a: c - a)
            bound = v.bound * abs(c) if form == "*" else v.bound + abs(c)
            self.add(self.emit(t, f, [v], v.shape, v.dtype, bound, f"v{v.index} {form} {c!r}"))
            return
        w = self.partner(v)
        if v.dtype.kind == "i":
            op = self.choice(["add", "subtract", "multiply", "maximum", "minimum", "floordiv", "floormod", "truncatediv"])
            if op in ("floordiv", "floormod", "truncatediv"):
                # a nonzero divisor of either sign (division by zero is not a valid TF program)
                d = self.emit(tk.abs(w.tensor) + 1, lambda a: np.abs(a) + 1, [w], w.shape, w.dtype, w.bound + 1,
                              f"tk.abs(v{w.index}) + 1")
                if self.chance(50):
                    d = self.emit(-d.tensor, np.negative, [d], d.shape, d.dtype, d.bound, f"-v{d.index}")
                w = d
            if op == "multiply" and v.bound * w.bound > 2 ** 30:
                v = self.squash_int(v)
                w = self.squash_int(w)
            npf = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "maximum": np.maximum,
                   "minimum": np.minimum, "floordiv": np.floor_divide, "floormod": np.mod,
                   "truncatediv": npo.truncatediv}[op]
            bound = {"add": v.bound + w.bound, "subtract": v.bound + w.bound, "multiply": v.bound * w.bound,
                     "floormod": w.bound}.get(op, max(v.bound, w.bound))
        else:
            op = self.choice(["add", "subtract", "multiply", "divide", "maximum", "minimum", "pow"])
            if op == "divide":
                w = self.positive(w)
            if op == "pow":
                v, w = self.positive(self.tanh(v)), self.tanh(w)
            npf = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
                   "maximum": np.maximum, "minimum": np.minimum, "pow": np.power}[op]
            bound = {"multiply": v.bound * w.bound, "divide": v.bound * 2, "pow": 3.0,
                     "maximum": max(v.bound, w.bound), "minimum": max(v.bound, w.bound)}.get(op, v.bound + w.bound)
        a, b = (v, w) if op in ("pow", "floordiv", "floormod", "truncatediv", "divide") or self.chance(50) else (w, v)
        sym = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "floordiv": "//", "floormod": "%"}
        if op in sym and self.chance(40):
            t = {"+": a.tensor.__add__, "-": a.tensor.__sub__, "*": a.tensor.__mul__, "/": a.tensor.__truediv__,
                 "//": a.tensor.__floordiv__, "%": a.tensor.__mod__}[sym[op]](b.tensor)
            text = f"v{a.index} {sym[op]} v{b.index}"
        else:
            t = getattr(tk, op)(a.tensor, b.tensor)
            text = f"tk.{op}(v{a.index}, v{b.index})"
        self.add(self.emit(t, npf, [a, b], bshape(a.shape, b.shape), v.dtype, bound, text,
                           moves=op in ("maximum", "minimum")))

    def squash_int(self, v):
        if v.bound <= 1000:
            return v
        return self.emit(tk.floormod(v.tensor, 97), lambda a: np.mod(a, 97).astype(a.dtype), [v], v.shape, v.dtype, 96,
                         f"tk.floormod(v{v.index}, 97)")

    def op_where(self) -> None:
        """``where(v < w, v, w)`` and friends: continuous, so any operands will do."""
        v = self.pick()
        w = self.partner(v)
        name = self.choice(["less", "less_equal", "greater", "greater_equal"])
        fn, npf = COMPARE[name]
        c = self.emit(fn(v.tensor, w.tensor), npf, [v, w], bshape(v.shape, w.shape), bool, 1.0,
                      f"tk.{name}(v{v.index}, v{w.index})", exact=v.exact and w.exact, smooth=False)
        a, b = (v, w) if self.chance(50) else (w, v)
        self.add(self.emit(tk.where(c.tensor, a.tensor, b.tensor), np.where, [c, a, b], c.shape, v.dtype,
                           max(v.bound, w.bound), f"tk.where(v{c.index}, v{a.index}, v{b.index})",
                           moves=True, smooth=v.smooth and w.smooth))

    def cond_for(self, shape: tuple, depth: int = 0):
        """A bool tensor of ``shape``'s rank that broadcasts into it, from exact values only (full
        rank: TF's ``where`` reads a rank-1 condition with a higher-rank x as a row selector)."""
        a = self.pick(lambda n: n.exact and len(n.shape) == len(shape) and fits(n.shape, shape))
        if a is None or self.chance(30):
            a = self.leaf(tuple(STATIC1 if (d[1] and d != BATCH) or self.chance(30) else d for d in shape),
                          self.choice([self.fdt, _I32]))
        b = self.partner(a, exact=True)
        names = ["less", "less_equal", "greater", "greater_equal"] + (["equal", "not_equal"] if a.dtype.kind == "i" else [])
        name = self.choice(names)
        fn, npf = COMPARE[name]
        smooth = a.dtype.kind == "i" and a.smooth and b.smooth  # float comparisons jump as the leaves move
        c = self.emit(fn(a.tensor, b.tensor), npf, [a, b], bshape(a.shape, b.shape), bool, 1.0,
                      f"tk.{name}(v{a.index}, v{b.index})", exact=True, smooth=smooth)
        if depth == 0 and self.chance(30):
            d = self.cond_for(shape, depth + 1)
            name = self.choice(["logical_and", "logical_or", "logical_xor"])
            npf = {"logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor}[name]
            c = self.emit(getattr(tk, name)(c.tensor, d.tensor), npf, [c, d], bshape(c.shape, d.shape), bool, 1.0,
                          f"tk.{name}(v{c.index}, v{d.index})", exact=True)
        if self.chance(20):
            c = self.emit(tk.logical_not(c.tensor), np.logical_not, [c], c.shape, bool, 1.0, f"tk.logical_not(v{c.index})",
                          exact=True)
        if c.shape and self.chance(20):
            ax = self.i(0, len(c.shape) - 1)
            name = self.choice(["reduce_any", "reduce_all"])
            npf = np.any if name == "reduce_any" else np.all
            shp = tuple(STATIC1 if k == ax else d for k, d in enumerate(c.shape))
            c = self.emit(getattr(tk, name)(c.tensor, axis=ax, keepdims=True),
                          lambda x, ax=ax, npf=npf: npf(x, axis=ax, keepdims=True), [c], shp, bool, 1.0,
                          f"tk.{name}(v{c.index}, axis={ax}, keepdims=True)", exact=True)
        return c

    def op_select(self) -> None:
        """``where`` on a condition of exact comparisons (and logical ops), or the cast condition."""
        v = self.pick()
        c = self.cond_for(v.shape)
        if self.chance(25):
            dt = self.choice([self.fdt, _I32])
            self.add(self.emit(tk.cast(c.tensor, _TK[dt]), lambda x, dt=dt: x.astype(dt), [c], c.shape, dt, 1.0,
                               f"tk.cast(v{c.index}, {_TK[dt].name})"))
            return
        w = self.partner(v)
        rows = len(v.shape) >= 2 and self.chance(25)
        if rows:  # a rank-1 condition picks whole rows (TF 1's Select)
            c = self.cond_for(v.shape[:1])

        def npf(c, a, b, r=len(v.shape)):
            return np.where(c.reshape(c.shape + (1,) * (r - c.ndim)), a, b)
        self.add(self.emit(tk.where(c.tensor, v.tensor, w.tensor), npf, [c, v, w], v.shape, v.dtype,
                           max(v.bound, w.bound), f"tk.where(v{c.index}, v{v.index}, v{w.index})", moves=True))

    def op_cast(self) -> None:
        v = self.pick()
        if v.dtype.kind == "i":
            dt = self.choice([_F32, _F64])
            self.add(self.emit(tk.cast(v.tensor, _TK[dt]), lambda a, dt=dt: a.astype(dt), [v], v.shape, dt, v.bound,
                               f"tk.cast(v{v.index}, {_TK[dt].name})", exact=v.exact))
            return
        if self.chance(30):  # float -> int truncates: only exact values, scaled exactly by 4
            v = self.pick(lambda n: n.exact and self.is_float(n))
            if v is None:
                return
            s = self.emit(v.tensor * 4.0, lambda a: a * 4.0, [v], v.shape, v.dtype, v.bound * 4, f"v{v.index} * 4.0",
                          exact=True)
            self.add(self.emit(tk.cast(s.tensor, tk.int32), lambda a: a.astype(np.int32), [s], v.shape, _I32,
                               s.bound, f"tk.cast(v{s.index}, tk.int32)", exact=True, smooth=False))
            return
        dt = _F64 if v.dtype == _F32 else _F32
        fn = self.choice([lambda t: tk.cast(t, _TK[dt]), tk.to_double if dt == _F64 else tk.to_float])
        # rounding f64 to f32 is a step function at f64 resolution: finite differences no longer apply
        self.add(self.emit(fn(v.tensor), lambda a, dt=dt: a.astype(dt), [v], v.shape, dt, v.bound,
                           f"tk.cast(v{v.index}, {_TK[dt].name})", exact=v.exact, smooth=v.smooth and dt == _F64))

    # reductions ---------------------------------------------------------------------------
    def op_reduce(self) -> None:
        v = self.pick()
        rank = len(v.shape)
        kind = self.choice(["sum", "mean", "max", "min", "prod"])
        if rank == 0 or self.chance(15):
            axes = None
        else:
            picked = sorted(set(self.draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank))))
            axes = [a - rank if self.chance(30) else a for a in picked]
        keep = self.chance(40)
        red = range(rank) if axes is None else sorted({a % rank for a in axes})
        n = numel(tuple(v.shape[a] for a in red))
        if kind == "prod":
            if v.dtype.kind == "f":
                v = self.tanh(v) if v.bound > 1.0 else v
            elif v.bound > 1 and n * np.log2(v.bound) > 30:  # |product| could pass 2**30
                v = self.emit(tk.sign(v.tensor), np.sign, [v], v.shape, v.dtype, 1.0, f"tk.sign(v{v.index})")
        bound = {"sum": v.bound * n, "prod": v.bound ** n if v.bound <= 1 else 2.0 ** 30}.get(kind, v.bound)
        shape = tuple(STATIC1 if k in red else d for k, d in enumerate(v.shape) if keep or k not in red)
        ax = axes if axes is None or len(axes) != 1 or self.chance(50) else axes[0]
        fn = getattr(tk, "reduce_" + kind)
        t = fn(v.tensor, axis=ax, keepdims=keep) if self.chance(80) else fn(v.tensor, ax, keep_dims=keep)
        self.add(self.emit(t, lambda a, kind=kind, axes=axes, keep=keep: npo.reduce(kind, a, axes, keep), [v], shape,
                           v.dtype, bound, f"tk.reduce_{kind}(v{v.index}, axis={ax}, keepdims={keep})",
                           moves=kind in ("max", "min")))

    def op_argmax(self) -> None:
        v = self.pick(lambda n: n.exact and len(n.shape) >= 1)
        if v is None:
            return
        rank = len(v.shape)
        axis = self.i(-rank, rank - 1)
        name = self.choice(["argmax", "argmin"])
        npf = np.argmax if name == "argmax" else np.argmin
        shape = tuple(d for k, d in enumerate(v.shape) if k != axis % rank)
        idx = self.emit(getattr(tk, name)(v.tensor, axis=axis), lambda a, axis=axis, npf=npf: npf(a, axis=axis).astype(np.int64),
                        [v], shape, _I64, 25, f"tk.{name}(v{v.index}, axis={axis})",
                        smooth=v.smooth and v.dtype.kind == "i")
        dt = self.choice([_I32, self.fdt])
        self.add(self.emit(tk.cast(idx.tensor, _TK[dt]), lambda a, dt=dt: a.astype(dt), [idx], shape, dt,
                           float(dim_max(v.shape[axis % rank])), f"tk.cast(v{idx.index}, {_TK[dt].name})"))

    def op_misc(self) -> None:
        v = self.pick()
        kind = self.choice(["clip", "add_n", "one_hot", "like", "size", "identity", "in_top_k", "int_div"])
        if kind == "in_top_k":
            self.in_top_k()  # in fuzz_session_nn
            return
        if kind == "int_div":
            v = self.pick(lambda n: n.dtype.kind == "i")
            if v is None:
                return
            w = self.partner(v)
            d = self.emit(tk.abs(w.tensor) + 1, lambda a: np.abs(a) + 1, [w], w.shape, w.dtype, w.bound + 1,
                          f"tk.abs(v{w.index}) + 1")
            if self.chance(50):  # TF: int32 / int32 is float64
                self.add(self.emit(tk.truediv(v.tensor, d.tensor), lambda a, b: a.astype(np.float64) / b.astype(np.float64),
                                   [v, d], bshape(v.shape, d.shape), np.float64, v.bound, f"tk.truediv(v{v.index}, v{d.index})"))
            else:  # TF 1's tf.div: floor division for ints
                self.add(self.emit(tk.div(v.tensor, d.tensor), np.floor_divide, [v, d], bshape(v.shape, d.shape), v.dtype,
                                   v.bound, f"tk.div(v{v.index}, v{d.index})"))
            return
        if kind == "clip":
            lo, hi = (-self.i(0, 2), self.i(0, 2)) if v.dtype.kind == "i" else (-round(float(self.rng.uniform(0, 1)), 3),
                                                                                 round(float(self.rng.uniform(0.01, 1)), 3))
            self.add(self.emit(tk.clip_by_value(v.tensor, lo, hi), lambda a, lo=lo, hi=hi: np.clip(a, lo, hi).astype(a.dtype),
                               [v], v.shape, v.dtype, max(abs(lo), abs(hi)), f"tk.clip_by_value(v{v.index}, {lo}, {hi})",
                               moves=True))
        elif kind == "add_n":
            parts = [v] + [self.partner(v, same_shape=True) for _ in range(self.i(1, 2))]
            if any(p is None for p in parts):
                return
            self.add(self.emit(tk.add_n([p.tensor for p in parts]), lambda *a: sum(a[1:], a[0]), parts, v.shape, v.dtype,
                               sum(p.bound for p in parts), f"tk.add_n([{', '.join(f'v{p.index}' for p in parts)}])"))
        elif kind == "one_hot":
            depth = self.i(1, 5)
            ishape = tuple((self.i(1, 4), 0) for _ in range(self.i(0, 2)))
            vals = self.rng.integers(-1, depth + 1, size=tuple(d[0] for d in ishape)).astype(np.int32)  # some out of range
            ix = self.leaf(ishape, _I32, values=[vals, vals])
            axis = -1 if self.chance(60) else self.i(0, len(ishape))
            on, off = round(float(self.rng.uniform(-2, 2)), 3), round(float(self.rng.uniform(-2, 2)), 3)
            dt = self.fdt
            pos = axis % (len(ishape) + 1)
            shape = ishape[:pos] + ((depth, 0),) + ishape[pos:]

            def npf(i, depth=depth, pos=pos, on=on, off=off, dt=dt):
                hot = np.where(i[..., None] == np.arange(depth), dt.type(on), dt.type(off)).astype(dt)
                return np.moveaxis(hot, -1, pos)
            self.add(self.emit(tk.one_hot(ix.tensor, depth, on_value=on, off_value=off, axis=axis, dtype=_TK[dt]), npf,
                               [ix], shape, dt, max(abs(on), abs(off)),
                               f"tk.one_hot(v{ix.index}, {depth}, on_value={on}, off_value={off}, axis={axis})"))
        elif kind == "like":
            fn, val = (tk.ones_like, 1) if self.chance(50) else (tk.zeros_like, 0)
            o = self.emit(fn(v.tensor), lambda a, val=val: np.full_like(a, val), [v], v.shape, v.dtype, 1.0,
                          f"tk.{fn.__name__}(v{v.index})", exact=True)
            self.add(self.emit(v.tensor + o.tensor, np.add, [v, o], v.shape, v.dtype, v.bound + 1, f"v{v.index} + v{o.index}"))
        elif kind == "size":
            w = self.pick()
            if self.chance(50) or not w.shape:
                s = tk.size(w.tensor)
                npf, text = (lambda a, b: a / a.dtype.type(b.size)), f"v{v.index} / tk.cast(tk.size(v{w.index}))"
            else:
                k = self.i(0, len(w.shape) - 1)
                s = tk.shape(w.tensor)[k]
                npf, text = (lambda a, b, k=k: a / a.dtype.type(b.shape[k])), f"v{v.index} / tk.cast(tk.shape(v{w.index})[{k}])"
            if v.dtype.kind == "i":
                return
            self.add(self.emit(v.tensor / tk.cast(s, _TK[v.dtype]), npf, [v, w], v.shape, v.dtype, v.bound, text))
        else:
            self.add(self.emit(tk.identity(v.tensor), lambda a: a, [v], v.shape, v.dtype, v.bound, f"tk.identity(v{v.index})",
                               moves=True))


def dim_at_b(d: tuple, b: int) -> int:
    return d[0] * b ** d[1]


def dim_max(d: tuple) -> int:
    return dim_at_b(d, MAX_BATCH)

