"""Random ops (``random_uniform``, ``random_normal``, ``truncated_normal``) and TF's seed rules.

The numbers are made by generated code: a counter-based generator built from graph-dialect integer
ops. Each random op hashes (graph seed, op seed, run counter, element index) with three rounds of
bijective mixing modulo the prime P = 2^31 - 1 (an affine step, then ``x^5``, a bijection because
gcd(5, P-1) = 1, so a uniform input stays uniform); every product stays below 2^62, so no i64
arithmetic overflows. The run counter is hidden per-op state that the Session owns: it
starts at 0 in every Session and the compiled function increments it, so each ``run`` gives new
numbers and the sequence is the same for the same seeds (TF's documented behaviour). Element
indices come from per-axis index vectors (constants, or a hidden ``arange`` argument for unknown
dims), so the shapes may be symbolic (``dropout`` of a ``[None, 10]`` batch).

The run key and each per-axis hash prefix are materialized (computed once into a small buffer)
before the per-element stage: cheaper, and without it LLVM's optimizer took exponential time on the
long integer chains inside outlined parallel loops (a compiler issue reported to the lead).

Uniform floats have 24 random bits for float32 and 31 for float64; normals use Box-Muller;
truncated normals take the first of four normal candidates within two standard deviations
(clipped to ±2 in the ~4e-6 case that none is).
"""
from __future__ import annotations

import math
import random as _pyrandom
from typing import Any

import numpy as np

from ..ir.types import f32, i64
from . import dtypes as _dt
from .array_ops import _static_ints
from .constant_op import convert_to_tensor
from .graph import get_default_graph, name_scope
from .ops import Tensor, make_op

P = 2147483647
DEFAULT_GRAPH_SEED = 87654321
_ROUNDS = ((48271, 12345), (16807, 54321), (69621, 40692))
_sysrand = _pyrandom.SystemRandom()


def get_seed(op_seed: int | None) -> tuple[int, int]:
    """TF's rule: the graph seed and the op seed (the op count when only the graph seed is set);
    without either, fresh random seeds (non-deterministic)."""
    g = get_default_graph()
    if g.seed is not None:
        seeds = (int(g.seed), int(op_seed) if op_seed is not None else g.version)
    elif op_seed is not None:
        seeds = (DEFAULT_GRAPH_SEED, int(op_seed))
    else:
        seeds = (_sysrand.randrange(1, 2**31), _sysrand.randrange(1, 2**31))
    if seeds == (0, 0):
        seeds = (0, 2**31 - 1)
    return seeds


# --------------------------------------------------------------------------- IR helpers


class _Gen:
    """Emits the generator's integer ops with a builder."""

    def __init__(self, b):
        self.b = b

    def c(self, v: int):
        return self.b.op("graph.constant", value=np.array(v, dtype=np.int64))

    def modp(self, x):
        return self.b.op("graph.mod", x, self.c(P))

    def mulmod(self, x, y):
        return self.modp(self.b.op("graph.mul", x, y))

    def mix(self, x):
        for a, k in _ROUNDS:  # each round is a bijection of [0, P): uniform stays uniform
            x = self.modp(self.b.op("graph.add", self.b.op("graph.mul", x, self.c(a)), self.c(k)))
            x2 = self.mulmod(x, x)
            x = self.mulmod(self.mulmod(x2, x2), x)
        return x

    def materialize(self, v):
        """``v`` computed into its own buffer once, not re-derived inside a consumer's loop nest (a
        reduction over a new unit axis: the fuser does not fuse reductions into their consumers).
        This keeps per-run and per-row hashing out of the per-element loop, and keeps LLVM's
        optimizer fast on the outlined parallel loops (see the module docstring)."""
        shape = tuple(v.type.shape)
        unit = self.b.op("graph.reshape", v, shape=shape + (1,))
        return self.b.op("graph.reduce_max", unit, axes=[len(shape)])

    def key(self, seeds: tuple[int, int], counter):
        k = self.mix(self.c(seeds[0] % P))
        k = self.mix(self.modp(self.b.op("graph.add", k, self.c(seeds[1] % P))))
        return self.materialize(self.mix(self.modp(self.b.op("graph.add", k, self.modp(counter)))))

    def bits(self, ctx, key, shape, streams: int) -> list:
        """``streams`` independent tensors of ``shape``, each element uniform in [0, P)."""
        h = key
        rank = len(shape)
        for axis, d in enumerate(shape):
            iota = ctx.iota(d)
            if rank > 1:
                iota = self.b.op("graph.reshape", iota, shape=tuple(d if k == axis else 1 for k in range(rank)))
            h = self.b.op("graph.add", self.b.op("graph.mul", h, self.c(31)), self.b.op("graph.add", iota, self.c(1)))
            h = self.mix(self.modp(h))
            if axis < rank - 1:
                h = self.materialize(h)  # once per index prefix
        return [self.mix(self.modp(self.b.op("graph.add", h, self.c(7919 * (j + 1))))) for j in range(streams)]

    def unit(self, h, dtype):
        """Uniform in [0, 1) of ``dtype``."""
        if dtype == f32:
            q = self.b.op("graph.floordiv", h, self.c(128))
            return self.b.op("graph.mul", self.b.op("graph.cast", q, dtype=f32), self.fc(2.0 ** -24, dtype))
        return self.b.op("graph.mul", self.b.op("graph.cast", h, dtype=dtype), self.fc(1.0 / P, dtype))

    def fc(self, v: float, dtype):
        return self.b.op("graph.constant", value=np.array(v, dtype=dtype.np_dtype))

    def normal(self, h1, h2, dtype):
        u1 = self.b.op("graph.sub", self.fc(1.0, dtype), self.unit(h1, dtype))  # (0, 1]
        u2 = self.unit(h2, dtype)
        r = self.b.op("graph.sqrt", self.b.op("graph.mul", self.fc(-2.0, dtype), self.b.op("graph.log", u1)))
        return self.b.op("graph.mul", r, self.b.op("graph.cos", self.b.op("graph.mul", self.fc(2 * math.pi, dtype), u2)))


def uniform_unit(ctx, seeds: tuple[int, int], shape, dtype):
    """A [0, 1) tensor of ``shape`` (IR dims) for the op being built (used by dropout too)."""
    g = _Gen(ctx.b)
    (h,) = g.bits(ctx, g.key(seeds, ctx.state()), shape, 1)
    return g.unit(h, dtype)


# --------------------------------------------------------------------------- ops


def _shape_arg(shape: Any) -> tuple[int, ...]:
    dims = _static_ints(shape, "a random op's shape") if not isinstance(shape, int) else [shape]
    if any(d < 0 for d in dims):
        raise ValueError(f"random shape must be non-negative, got {dims}")
    return tuple(dims)


def _random_op(op_type: str, default_name: str, shape, params: list, dtype, seed, name, build_fn,
               param_names: tuple[str, str] = ("mean", "stddev")) -> Tensor:
    dt = _dt.as_dtype(dtype)
    dims = _shape_arg(shape)
    with name_scope(name, default_name, params) as scope:
        seeds = get_seed(seed)
        ins = [convert_to_tensor(p, dtype=dt, name=n) for n, p in zip(param_names, params)]

        def build(ctx, vals):
            return [build_fn(ctx, seeds, dims, dt.ir, vals)]
        return make_op(op_type, ins, name=scope, build=build, out=[(dims, dt)],
                       attrs={"dtype": dt, "seed": seeds[0], "seed2": seeds[1], "shape": list(dims)}).outputs[0]


def _uniform_build(ctx, seeds, dims, dtype, vals):
    lo, hi = vals
    b = ctx.b
    g = _Gen(b)
    (h,) = g.bits(ctx, g.key(seeds, ctx.state()), dims, 1)
    if dtype.is_float:
        u = g.unit(h, dtype)
        return b.op("graph.add", lo, b.op("graph.mul", u, b.op("graph.sub", hi, lo)))
    lo64, hi64 = (b.op("graph.cast", v, dtype=i64) if v.type.dtype != i64 else v for v in (lo, hi))
    span = b.op("graph.maximum", b.op("graph.sub", hi64, lo64), g.c(1))
    r = b.op("graph.add", lo64, b.op("graph.mod", h, span))
    return r if dtype == i64 else b.op("graph.cast", r, dtype=dtype)


def _normal_build(ctx, seeds, dims, dtype, vals):
    mean, std = vals
    g = _Gen(ctx.b)
    h1, h2 = g.bits(ctx, g.key(seeds, ctx.state()), dims, 2)
    z = g.normal(h1, h2, dtype)
    return ctx.b.op("graph.add", mean, ctx.b.op("graph.mul", z, std))


def _truncated_build(ctx, seeds, dims, dtype, vals, candidates: int = 4):
    mean, std = vals
    b = ctx.b
    g = _Gen(b)
    hs = g.bits(ctx, g.key(seeds, ctx.state()), dims, 2 * candidates)
    zs = [g.normal(hs[2 * j], hs[2 * j + 1], dtype) for j in range(candidates)]
    two = g.fc(2.0, dtype)
    z = b.op("graph.minimum", b.op("graph.maximum", zs[-1], b.op("graph.neg", two)), two)
    for cand in reversed(zs[:-1]):
        z = b.op("graph.where", b.op("graph.le", b.op("graph.abs", cand), two), cand, z)
    return b.op("graph.add", mean, b.op("graph.mul", z, std))


def random_uniform(shape: Any, minval: Any = 0, maxval: Any = None, dtype: Any = _dt.float32, seed: int | None = None,
                   name: str | None = None) -> Tensor:
    """Uniform values in ``[minval, maxval)`` (``maxval`` defaults to 1 for floats)."""
    dt = _dt.as_dtype(dtype)
    if maxval is None:
        if dt.is_integer:
            raise ValueError(f"Must specify maxval for integer dtype {dt!r}")
        maxval = 1
    if dt.is_bool:
        raise ValueError(f"Invalid dtype {dt!r} for random_uniform")
    return _random_op("RandomUniform", "random_uniform", shape, [minval, maxval], dt, seed, name, _uniform_build,
                      ("min", "max"))


def random_normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = _dt.float32, seed: int | None = None,
                  name: str | None = None) -> Tensor:
    dt = _dt.as_dtype(dtype)
    if not dt.is_floating:
        raise ValueError(f"Invalid dtype {dt!r} for random_normal (needs a float dtype)")
    return _random_op("RandomStandardNormal", "random_normal", shape, [mean, stddev], dt, seed, name, _normal_build)


def truncated_normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = _dt.float32, seed: int | None = None,
                     name: str | None = None) -> Tensor:
    """Normal values, re-drawn when more than two standard deviations from the mean."""
    dt = _dt.as_dtype(dtype)
    if not dt.is_floating:
        raise ValueError(f"Invalid dtype {dt!r} for truncated_normal (needs a float dtype)")
    return _random_op("TruncatedNormal", "truncated_normal", shape, [mean, stddev], dt, seed, name, _truncated_build)
