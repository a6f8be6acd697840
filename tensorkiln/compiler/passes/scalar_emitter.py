"""Scalar emission for the loop lowering: the value of a graph op at one index, as loops ops.

:meth:`ScalarEmitter.scalar` computes ``v[idx]`` for any graph value: a load when the value has a
buffer, otherwise the op's scalar formula over its operands' scalars at mapped indices (broadcast,
transpose, slice, concat, gather, one-hot), a reduction loop for reductions, and a walk through the
region of ``graph.fused``. Results are memoised per loop scope, so a value used twice at the same
index inside a loop body is computed once.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ...ir.core import Block, Builder, Operation, Region, Value
from ...ir.diagnostics import CompileError
from ...ir.opdef import lookup
from ...ir.types import INDEX, DType, Dim, ScalarType
from .rewrite import splat_value

BufferLookup = Callable[[Value], "Value | None"]


class Loop:
    def __init__(self, emitter: "ScalarEmitter", op: Operation, parent: Block):
        self.emitter, self.op, self.parent = emitter, op, parent
        body = op.regions[0].blocks[0]
        self.iv = body.args[0]
        self.carried = list(body.args[1:])

    def finish(self, yields: Sequence[Value]) -> list[Value]:
        e = self.emitter
        e.b.create("loops.yield", list(yields))
        e.scopes.pop()
        e.b.set_insertion_point_to_end(self.parent)
        return list(self.op.results)


def broadcast_index(e: "ScalarEmitter", idx: Sequence[Value], out_shape: Sequence[Dim], in_shape: Sequence[Dim]) -> list[Value]:
    """The index into an operand of shape in_shape that numpy-broadcasts to out_shape."""
    r = len(out_shape) - len(in_shape)
    out = []
    for k, d in enumerate(in_shape):
        out.append(e.const(0, INDEX) if d == 1 and out_shape[r + k] != 1 else idx[r + k])
    return out


class ScalarEmitter:
    def __init__(self, builder: Builder, buffer_of: BufferLookup):
        self.b = builder
        self.buffer_of = buffer_of
        self.scopes: list[dict] = [{}]
        self.region_args: dict[int, Value] = {}

    # scoped memo ----------------------------------------------------------
    def _get(self, key):
        for s in reversed(self.scopes):
            if key in s:
                return s[key]
        return None

    def _put(self, key, v: Value) -> Value:
        self.scopes[-1][key] = v
        return v

    def const(self, value, t) -> Value:
        if isinstance(value, (bool, np.bool_)):
            value = int(value)  # i1 constants are spelled 0 / 1
        key = ("const", str(t), repr(value))
        got = self._get(key)
        if got is None:
            got = self._put(key, self.b.create("loops.const", [], {"value": value}, [t]).result)
        return got

    def index_of(self, d: Dim) -> Value:
        if isinstance(d, int):
            return self.const(d, INDEX)
        key = ("dim", d)
        got = self._get(key)
        if got is None:
            got = self._put(key, self.b.op("loops.dim", value=d))
        return got

    def for_loop(self, dim: Dim, inits: Sequence[Value], parallel: bool = False) -> Loop:
        return self.for_range(self.const(0, INDEX), self.index_of(dim), inits, parallel)

    def for_range(self, lo: Value, hi: Value, inits: Sequence[Value] = (), parallel: bool = False) -> Loop:
        body = Block([INDEX] + [v.type for v in inits])
        op = self.b.create("loops.for", [lo, hi, *inits], {"parallel": parallel and not inits},
                           [v.type for v in inits], regions=[Region([body])])
        parent = self.b.block
        self.b.set_insertion_point_to_end(body)
        self.scopes.append({})
        return Loop(self, op, parent)

    # scalars ----------------------------------------------------------------
    def scalar(self, v: Value, idx: Sequence[Value], root: bool = False) -> Value:
        key = ("val", id(v), tuple(id(i) for i in idx))
        got = self._get(key)
        if got is not None:
            return got
        return self._put(key, self._compute(v, list(idx), root))

    def _compute(self, v: Value, idx: list[Value], root: bool) -> Value:
        if id(v) in self.region_args:
            return self.scalar(self.region_args[id(v)], idx)
        s = splat_value(v)
        if s is not None:
            return self.const(s, ScalarType(v.type.dtype))
        if not root:
            buf = self.buffer_of(v)
            if buf is not None:
                return self.b.op("loops.load", buf, *idx)
        op = getattr(v, "op", None)
        if op is None:
            raise CompileError(f"no buffer for value of type {v.type}")
        name = op.name
        d = lookup(name)
        if name == "graph.fused":
            body = op.regions[0].blocks[0]
            for a, outer in zip(body.args, op.operands):
                self.region_args[id(a)] = outer
            return self.scalar(body.terminator.operands[0], idx)
        out_shape = v.type.shape
        if d.has("elementwise"):
            args = [self.scalar(x, broadcast_index(self, idx, out_shape, x.type.shape)) for x in op.operands]
            if name == "graph.where":
                return self.b.op("loops.select", *args)
            if name == "graph.cast":
                return self.b.op("loops.cast", args[0], dtype=op.attributes["dtype"])
            return self.b.op("loops." + name.split(".", 1)[1], *args)
        if d.has("reduction"):
            return self.reduction(op, idx)
        handler = getattr(self, "_" + name.split(".", 1)[1], None)
        if handler is None:
            raise CompileError(f"cannot lower '{name}' to loops", op.loc)
        return handler(op, idx)

    # index-mapping ops --------------------------------------------------------
    def _broadcast_to(self, op: Operation, idx: list[Value]) -> Value:
        x = op.operands[0]
        return self.scalar(x, broadcast_index(self, idx, op.result.type.shape, x.type.shape))

    def _transpose(self, op: Operation, idx: list[Value]) -> Value:
        perm = op.attributes["perm"]
        src = [None] * len(perm)
        for k, p in enumerate(perm):
            src[p] = idx[k]
        return self.scalar(op.operands[0], src)

    def _slice(self, op: Operation, idx: list[Value]) -> Value:
        begin = op.attributes["begin"]
        strides = op.attributes.get("strides") or (1,) * len(begin)
        src = []
        for i, b0, st in zip(idx, begin, strides):
            j = i if st == 1 else self.b.op("loops.mul", i, self.const(st, INDEX))
            src.append(j if b0 == 0 else self.b.op("loops.add", j, self.const(b0, INDEX)))
        return self.scalar(op.operands[0], src)

    def _concat(self, op: Operation, idx: list[Value]) -> Value:
        axis = op.attributes["axis"] % op.result.type.rank
        parts = [x for x in op.operands if x.type.shape[axis] != 0]
        offsets: list[Value] = []
        offset: Value = self.const(0, INDEX)
        values = []
        for x in parts:
            size = self.index_of(x.type.shape[axis])
            local = self.b.op("loops.sub", idx[axis], offset)
            hi = self.b.op("loops.sub", size, self.const(1, INDEX))
            clamped = self.b.op("loops.minimum", self.b.op("loops.maximum", local, self.const(0, INDEX)), hi)
            values.append(self.scalar(x, idx[:axis] + [clamped] + idx[axis + 1:]))
            offset = self.b.op("loops.add", offset, size)
            offsets.append(offset)
        result = values[-1]
        for val, end in zip(reversed(values[:-1]), reversed(offsets[:-1])):
            result = self.b.op("loops.select", self.b.op("loops.lt", idx[axis], end), val, result)
        return result

    def _one_hot(self, op: Operation, idx: list[Value]) -> Value:
        rank = op.result.type.rank
        axis = op.attributes["axis"] % rank
        ix = op.operands[0]
        label = self.scalar(ix, idx[:axis] + idx[axis + 1:])
        pos = self.b.op("loops.cast", idx[axis], dtype=ix.type.dtype)
        dt = ScalarType(op.result.type.dtype)
        on = self.const(_as(op.attributes["on_value"], dt.dtype), dt)
        off = self.const(_as(op.attributes["off_value"], dt.dtype), dt)
        return self.b.op("loops.select", self.b.op("loops.eq", label, pos), on, off)

    def _gather(self, op: Operation, idx: list[Value]) -> Value:
        params, indices = op.operands
        axis = op.attributes["axis"] % params.type.rank
        r = indices.type.rank
        raw = self.b.op("loops.cast", self.scalar(indices, idx[axis:axis + r]))
        # Out-of-range indices are clamped so generated code can never read outside the buffer.
        hi = self.b.op("loops.sub", self.index_of(params.type.shape[axis]), self.const(1, INDEX))
        i = self.b.op("loops.minimum", self.b.op("loops.maximum", raw, self.const(0, INDEX)), hi)
        return self.scalar(params, idx[:axis] + [i] + idx[axis + r:])

    def _dim_size(self, op: Operation, idx: list[Value]) -> Value:
        return self.b.op("loops.cast", self.index_of(op.attributes["dim"]), dtype=op.result.type.dtype)

    def _insert_slice(self, op: Operation, idx: list[Value]) -> Value:
        x = op.operands[0]
        begin = op.attributes["begin"]
        strides = op.attributes.get("strides") or (1,) * len(begin)
        zero_i, one_i = self.const(0, INDEX), self.const(1, INDEX)
        inside: Value | None = None
        src = []
        for i, b0, st, d in zip(idx, begin, strides, x.type.shape):
            off = self.b.op("loops.sub", i, self.const(b0, INDEX)) if b0 else i
            ok = self.b.op("loops.ge", off, zero_i)
            j = off
            if st != 1:
                j = self.b.op("loops.floordiv", off, self.const(st, INDEX))
                exact = self.b.op("loops.eq", self.b.op("loops.mod", off, self.const(st, INDEX)), zero_i)
                ok = self.b.op("loops.logical_and", ok, exact)
            size = self.index_of(d)
            ok = self.b.op("loops.logical_and", ok, self.b.op("loops.lt", j, size))
            hi = self.b.op("loops.sub", size, one_i)
            src.append(self.b.op("loops.minimum", self.b.op("loops.maximum", j, zero_i), hi))
            inside = ok if inside is None else self.b.op("loops.logical_and", inside, ok)
        # The clamped load is always in bounds; the select keeps zeros outside the slice.
        v = self.scalar(x, src)
        zero = self.const(0.0 if x.type.dtype.is_float else 0, ScalarType(x.type.dtype))
        return v if inside is None else self.b.op("loops.select", inside, v, zero)

    # reductions ----------------------------------------------------------------
    def reduction(self, op: Operation, idx: list[Value]) -> Value:
        x = op.operands[0]
        shape = x.type.shape
        rank = len(shape)
        name = op.name.split(".", 1)[1]
        dt = ScalarType(x.type.dtype)
        if name in ("argmax", "argmin"):
            axes = [op.attributes["axis"] % rank]
            keep = False
        else:
            axes = sorted(a % rank for a in (op.attributes.get("axes") if op.attributes.get("axes") is not None else range(rank)))
            keep = op.attributes["keepdims"]
        # full index: reduced axes come from loops, the rest from idx
        it = iter(idx)
        full: list[Value | None] = []
        for k in range(rank):
            if k in axes:
                full.append(None)
                if keep:
                    next(it)
            else:
                full.append(next(it))
        if name in ("argmax", "argmin"):
            inits = [self.const(_extreme(dt.dtype, name == "argmin"), dt), self.const(0, INDEX)]
        else:
            inits = [self.const(reduce_identity(name, dt.dtype), dt)]
        loops = []
        carried = inits
        for a in axes:
            loop = self.for_loop(shape[a], carried)
            loops.append(loop)
            full[a] = loop.iv
            carried = loop.carried
        xv = self.scalar(x, full)  # type: ignore[arg-type]
        if name in ("argmax", "argmin"):
            best, best_i = carried
            better = self.b.op("loops.gt" if name == "argmax" else "loops.lt", xv, best)
            nxt = [self.b.op("loops.select", better, xv, best), self.b.op("loops.select", better, loops[0].iv, best_i)]
        else:
            combine = REDUCE_COMBINE[name]
            nxt = [self.b.op(combine, carried[0], xv)]
        for loop in reversed(loops):
            nxt = loop.finish(nxt)
        if name in ("argmax", "argmin"):
            return self.b.op("loops.cast", nxt[1], dtype=op.result.type.dtype)
        if name == "reduce_mean":
            count: Dim = 1
            from ...ir.types import dim_mul

            for a in axes:
                count = dim_mul(count, shape[a])
            n = self.b.op("loops.cast", self.index_of(count), dtype=dt.dtype)
            return self.b.op("loops.div", nxt[0], n)
        return nxt[0]


def _as(value: float, dt: DType):
    return bool(value) if dt.is_bool else (float(value) if dt.is_float else int(value))


# How each reduction folds an element into its accumulator.
REDUCE_COMBINE = {"reduce_sum": "loops.add", "reduce_mean": "loops.add", "reduce_prod": "loops.mul",
                  "reduce_max": "loops.maximum", "reduce_min": "loops.minimum"}


def reduce_identity(name: str, dt: DType):
    """The value a reduction starts from."""
    if name in ("reduce_sum", "reduce_mean"):
        return 0.0 if dt.is_float else 0
    if name == "reduce_prod":
        return 1.0 if dt.is_float else 1
    return _extreme(dt, name == "reduce_min")


def _extreme(dt: DType, largest: bool):
    if dt.is_float:
        return float("inf") if largest else float("-inf")
    info = np.iinfo(dt.np_dtype)
    return int(info.max) if largest else int(info.min)
