"""A hypothesis strategy for random graph-dialect functions, for differential fuzzing.

Each drawn case is a function built with the IR builder from a pool of values: arguments of random
shapes (some with a symbolic batch dim ``N``) and dtypes, then 2–12 random ops — elementwise unary and
binary (with broadcasting), comparisons and ``where``, casts, reductions (keepdims or not), argmax,
transposes, reshapes, slices, concats, matmuls (with transpose flags), softmax, and convolutions and
pooling on NHWC values. Magnitudes are tracked and squashed with ``tanh`` so float results stay
well-conditioned; ``log``/``sqrt``/division only see positive, bounded-away-from-zero inputs. The
result is compared between the compiled function and the reference interpreter.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from tensorkiln.ir.core import Builder, Function, Value
from tensorkiln.ir.types import DTYPES, SymDim, TensorType

F32, F64, I32 = DTYPES["f32"], DTYPES["f64"], DTYPES["i32"]


@dataclass
class Case:
    func: Function
    args: list[np.ndarray]
    ops: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        from tensorkiln.ir.printer import print_function

        return f"Case(shapes={[a.shape for a in self.args]})\n{print_function(self.func)}"


class _Gen:
    def __init__(self, draw, dtype):
        self.draw = draw
        self.dtype = dtype
        self.batch = draw(st.integers(1, 5))
        self.symbolic = draw(st.booleans())
        self.arg_types: list[TensorType] = []
        self.arg_values: list[np.ndarray] = []
        self.rng = np.random.default_rng(draw(st.integers(0, 2**31)))
        self.func = Function("fuzz", [], [], [])
        self.b = Builder(self.func.body)
        self.pool: list[tuple[Value, float]] = []  # value, bound on |value|
        self.ops: list[str] = []

    # values -----------------------------------------------------------------------
    def new_arg(self, shape: tuple[int, ...], batch_dim: bool = False) -> Value:
        dims = tuple(SymDim.sym("N") if (batch_dim and i == 0 and self.symbolic) else d for i, d in enumerate(shape))
        t = TensorType(dims, self.dtype)
        a = self.func.body.add_arg(t, f"a{len(self.arg_types)}")
        self.arg_types.append(t)
        self.arg_values.append(self.rng.uniform(-1, 1, size=shape).astype(self.dtype.np_dtype))
        self.pool.append((a, 1.0))
        return a

    def pick(self, pred=lambda v: True) -> tuple[Value, float] | None:
        cands = [p for p in self.pool if pred(p[0])]
        if not cands:
            return None
        return cands[self.draw(st.integers(0, len(cands) - 1))]

    def add(self, v: Value, bound: float, name: str) -> None:
        if bound > 8.0 and v.type.dtype.is_float:
            v, bound = self.b.op("graph.tanh", v), 1.0
        self.pool.append((v, bound))
        self.ops.append(name)

    def const(self, x: float) -> Value:
        return self.b.op("graph.constant", value=np.array(x, dtype=self.dtype.np_dtype))

    def positive(self, v: Value) -> Value:
        return self.b.op("graph.add", self.b.op("graph.abs", v), self.const(0.5))

    # ops --------------------------------------------------------------------------
    def step(self) -> None:
        kind = self.draw(st.sampled_from(["unary", "unary", "binary", "binary", "compare", "reduce", "argmax",
                                          "transpose", "reshape", "slice", "concat", "matmul", "softmax",
                                          "cast", "conv", "pool"]))
        getattr(self, "op_" + kind)()

    def is_arg(self, v: Value) -> bool:
        # Discontinuous ops (floor, sign, argmax) only see exact inputs: a 1-ulp difference between
        # two correct implementations upstream could otherwise flip them.
        return getattr(v, "block", None) is self.func.body

    def op_unary(self) -> None:
        op = self.draw(st.sampled_from(["neg", "abs", "exp", "log", "sqrt", "rsqrt", "square", "tanh", "sigmoid",
                                        "relu", "sign", "floor", "reciprocal", "expm1", "log1p", "sin", "erf"]))
        v, bd = self.pick(self.is_arg if op in ("sign", "floor") else (lambda w: True))
        if op in ("log", "sqrt", "rsqrt", "reciprocal", "log1p"):
            v = self.positive(v)
            bd += 0.5
        if op in ("exp", "expm1"):
            v, bd = self.b.op("graph.tanh", v), 1.0
        out = self.b.op(f"graph.{op}", v)
        bound = {"exp": 2.8, "expm1": 1.8, "square": bd * bd, "rsqrt": 1.5, "reciprocal": 2.0, "tanh": 1.0,
                 "sigmoid": 1.0, "sign": 1.0, "sin": 1.0, "erf": 1.0}.get(op, bd + 1.0)
        self.add(out, bound, op)

    def _partner(self, v: Value) -> Value:
        """A value that broadcasts with v: another pool value of v's shape, or a new arg of a
        broadcastable shape."""
        same = self.pick(lambda w: w is not v and w.type.shape == v.type.shape)
        if same is not None and self.draw(st.booleans()):
            return same[0]
        shape = [1 if (isinstance(d, SymDim) or self.draw(st.booleans())) else d for d in v.type.shape]
        if shape and self.draw(st.booleans()):
            shape = shape[1:]
        return self.new_arg(tuple(int(d) for d in shape))

    def op_binary(self) -> None:
        v, bd = self.pick()
        w = self._partner(v)
        op = self.draw(st.sampled_from(["add", "sub", "mul", "div", "maximum", "minimum", "pow"]))
        if op == "div":
            w = self.positive(w)
        if op == "pow":
            v, w = self.positive(self.b.op("graph.tanh", v)), self.b.op("graph.tanh", w)
            bd = 1.5
        out = self.b.op(f"graph.{op}", v, w)
        self.add(out, {"mul": bd * 8, "div": bd * 2, "pow": 3.0}.get(op, bd + 8), op)

    def op_compare(self) -> None:
        v, bd = self.pick()
        w = self._partner(v)
        op = self.draw(st.sampled_from(["lt", "le", "gt", "ge"]))
        c = self.b.op(f"graph.{op}", v, w)
        out = self.b.op("graph.where", c, v, w)
        self.add(out, bd + 8, "where")

    def op_reduce(self) -> None:
        v, bd = self.pick()
        rank = v.type.rank
        if rank == 0:
            return
        axes = sorted(set(self.draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank))))
        op = self.draw(st.sampled_from(["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"]))
        out = self.b.op(f"graph.{op}", v, axes=axes, keepdims=self.draw(st.booleans()))
        n = 1
        for a in axes:
            d = v.type.shape[a]
            n *= d if isinstance(d, int) else 5
        self.add(out, bd * (n if op == "reduce_sum" else 1), op)

    def op_argmax(self) -> None:
        got = self.pick(lambda w: w.type.rank >= 1 and self.is_arg(w))
        if got is None:
            return
        v, bd = got
        axis = self.draw(st.integers(0, v.type.rank - 1))
        idx = self.b.op("graph.argmax" if self.draw(st.booleans()) else "graph.argmin", v, axis=axis)
        out = self.b.op("graph.cast", idx, dtype=self.dtype)
        d = v.type.shape[axis]
        self.add(out, float(d if isinstance(d, int) else 5), "argmax")

    def op_transpose(self) -> None:
        got = self.pick(lambda w: w.type.rank >= 2)
        if got is None:
            return
        v, bd = got
        perm = self.draw(st.permutations(list(range(v.type.rank))))
        self.add(self.b.op("graph.transpose", v, perm=perm), bd, "transpose")

    def op_reshape(self) -> None:
        got = self.pick(lambda w: w.type.rank >= 1)
        if got is None:
            return
        v, bd = got
        shape = v.type.shape
        if self.draw(st.booleans()) or len(shape) < 2:
            target = [-1]
        else:
            target = [shape[0], -1]
        self.add(self.b.op("graph.reshape", v, shape=target), bd, "reshape")

    def op_slice(self) -> None:
        got = self.pick(lambda w: w.type.rank >= 1 and all(isinstance(d, int) for d in w.type.shape))
        if got is None:
            return
        v, bd = got
        begin, size = [], []
        for d in v.type.shape:
            b0 = self.draw(st.integers(0, d - 1))
            begin.append(b0)
            size.append(self.draw(st.integers(1, d - b0)))
        self.add(self.b.op("graph.slice", v, begin=begin, size=size), bd, "slice")

    def op_concat(self) -> None:
        got = self.pick(lambda w: w.type.rank >= 1 and all(isinstance(d, int) for d in w.type.shape))
        if got is None:
            return
        v, bd = got
        axis = self.draw(st.integers(0, v.type.rank - 1))
        w = self.new_arg(tuple(v.type.shape[:axis]) + (self.draw(st.integers(1, 3)),) + tuple(v.type.shape[axis + 1:]))
        self.add(self.b.op("graph.concat", v, w, axis=axis), max(bd, 1.0), "concat")

    def op_matmul(self) -> None:
        got = self.pick(lambda w: w.type.rank == 2)
        if got is None:
            return
        v, bd = got
        k = v.type.shape[1]
        if not isinstance(k, int):
            return
        n = self.draw(st.integers(1, 9))
        tb = self.draw(st.booleans())
        w = self.new_arg((n, k) if tb else (k, n))
        self.add(self.b.op("graph.matmul", v, w, transpose_b=tb), bd * k, "matmul")

    def op_softmax(self) -> None:
        got = self.pick(lambda w: w.type.rank >= 1)
        if got is None:
            return
        v, bd = got
        op = self.draw(st.sampled_from(["softmax", "log_softmax"]))
        self.add(self.b.op(f"graph.{op}", v, axis=-1), 1.0 if op == "softmax" else bd * 2 + 3, op)

    def op_cast(self) -> None:
        v, bd = self.pick()
        other = F64 if self.dtype == F32 else F32
        self.add(self.b.op("graph.cast", self.b.op("graph.cast", v, dtype=other), dtype=self.dtype), bd, "cast")

    def _image(self) -> Value:
        n = self.batch
        h, w, c = (self.draw(st.integers(3, 7)), self.draw(st.integers(3, 7)), self.draw(st.integers(1, 3)))
        return self.new_arg((n, h, w, c), batch_dim=True)

    def op_conv(self) -> None:
        x = self._image()
        kh, kw = self.draw(st.integers(1, 3)), self.draw(st.integers(1, 3))
        f = self.new_arg((kh, kw, int(x.type.shape[3]), self.draw(st.integers(1, 4))))
        pad = self.draw(st.sampled_from(["SAME", "VALID"]))
        s = (self.draw(st.integers(1, 2)), self.draw(st.integers(1, 2)))
        self.add(self.b.op("graph.conv2d", x, f, strides=s, padding=pad), float(kh * kw * int(x.type.shape[3])), "conv2d")

    def op_pool(self) -> None:
        x = self._image()
        op = self.draw(st.sampled_from(["max_pool", "avg_pool"]))
        k = (self.draw(st.integers(1, 3)), self.draw(st.integers(1, 3)))
        s = (self.draw(st.integers(1, 2)), self.draw(st.integers(1, 2)))
        self.add(self.b.op(f"graph.{op}", x, ksize=k, strides=s, padding=self.draw(st.sampled_from(["SAME", "VALID"]))), 1.0, op)


@st.composite
def graphs(draw, max_ops: int = 12) -> Case:
    g = _Gen(draw, draw(st.sampled_from([F32, F32, F64])))
    for _ in range(draw(st.integers(1, 3))):
        rank = draw(st.integers(0, 3))
        shape = tuple(g.batch if i == 0 else draw(st.integers(1, 6)) for i in range(rank))
        g.new_arg(shape, batch_dim=rank > 0)
    for _ in range(draw(st.integers(2, max_ops))):
        g.step()
    # return the last value and one more from the pool
    outs = [g.pool[-1][0]]
    if len(g.pool) > 2 and draw(st.booleans()):
        outs.append(g.pool[draw(st.integers(0, len(g.pool) - 2))][0])
    g.b.create("return", outs)
    g.func.result_types = [v.type for v in outs]
    return Case(g.func, g.arg_values, g.ops)
