"""Array ops: placeholders, identity, reshape/transpose/concat/stack/unstack, expand_dims/squeeze,
slicing (``slice`` and ``Tensor.__getitem__``), gather, one_hot, where, fills and shape queries.

Shape arguments (reshape targets, slice bounds, fill shapes) must be known when the graph is built:
Python ints, or constant tensors. Unknown (``None``) dims of the *input* stay symbolic: the op's
``build`` reads the input's IR shape when the signature is compiled, so e.g. ``expand_dims`` or
``x[:, 1:]`` of a ``[None, 3]`` placeholder compile once for every batch size. Slicing an unknown
dim with a static stop is refused at construction (the result's length would be ``min(stop, N)``,
which a symbolic dim cannot express); an integer index there is checked at run time
(``tensor_operators``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..compiler.frontend.graph import infer_static_types
from ..ir.diagnostics import CompileError
from ..ir.dialects.graph import ShapeMismatch
from ..ir.types import SymDim, dim_product, i32
from . import dtypes as _dt
from .constant_op import constant, convert_to_tensor, is_tensor_like
from .graph import name_scope
from .math_ops import prim
from .ops import Tensor, make_op
from .tensor_shape import TensorShape, as_shape


def constant_value(t: Any) -> np.ndarray | None:
    """The value of ``t`` if it is known at graph construction (a ``Const``), else None."""
    if not is_tensor_like(t):
        return np.asarray(t)
    t = convert_to_tensor(t)
    if t.op.type == "Const":
        return t.op.get_attr("value")
    if t.op.type == "Shape" and t.op.inputs[0].shape.is_fully_defined():
        return np.array(t.op.inputs[0].shape.as_list(), dtype=t.dtype.as_numpy_dtype)
    return None


def _static_ints(value: Any, what: str) -> list[int]:
    v = constant_value(value) if is_tensor_like(value) else value
    if v is None:
        raise ValueError(f"{what} must be known when the graph is built (a Python list or a constant tensor)")
    if isinstance(v, TensorShape):
        v = v.as_list()
    arr = np.asarray([(-1 if d is None else d) for d in v] if isinstance(v, (list, tuple)) else v)
    return [int(x) for x in arr.reshape(-1)]


# --------------------------------------------------------------------------- placeholders, identity


def placeholder(dtype: Any, shape: Any = None, name: str | None = None) -> Tensor:
    """A value that must be fed: ``shape`` may have ``None`` dims (or be None: any rank)."""
    dt = _dt.as_dtype(dtype)
    s = as_shape(shape) if shape is not None else TensorShape(None)
    op = make_op("Placeholder", [], name=name or "Placeholder", kind="placeholder", out=[(s.as_tuple(), dt)],
                 attrs={"dtype": dt, "shape": s})
    return op.outputs[0]


def placeholder_with_default(input: Any, shape: Any, name: str | None = None) -> Tensor:
    """``input`` unless a value is fed; ``shape`` may be less specific than ``input``'s."""
    with name_scope(name, "PlaceholderWithDefault", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        s = as_shape(shape)
        if not s.is_compatible_with(x.shape):
            raise ValueError(f"Shapes {s} and {x.shape} are incompatible")
        op = make_op("PlaceholderWithDefault", [x], name=scope, kind="placeholder_with_default",
                     out=[(s.as_tuple(), x.dtype)], attrs={"dtype": x.dtype, "shape": s})
        return op.outputs[0]


def _identity_build(ctx, ins):
    return [ins[0]]


def identity(input: Any, name: str | None = None) -> Tensor:
    with name_scope(name, "Identity", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        return make_op("Identity", [x], name=scope, build=_identity_build, out=[(x.shape.as_tuple(), x.dtype)],
                       attrs={"T": x.dtype}).outputs[0]


# --------------------------------------------------------------------------- shape manipulation


def _reshape_static(in_shape: TensorShape, target: list[int]) -> tuple[int | None, ...]:
    holes = [i for i, d in enumerate(target) if d == -1]
    if len(holes) > 1 or any(d < -1 for d in target):
        raise ValueError(f"Invalid reshape target {target}: at most one -1 and no other negative dims")
    known = int(np.prod([d for d in target if d != -1], dtype=np.int64))
    n = in_shape.num_elements()
    if n is None:
        return tuple(None if d == -1 else d for d in target)
    if holes:
        if known == 0 or n % known:
            raise ValueError(f"Cannot reshape a tensor with {n} elements to shape {target}")
        target = [n // known if d == -1 else d for d in target]
    elif known != n:
        raise ValueError(f"Cannot reshape a tensor with {n} elements to shape {target} ({known} elements)")
    return tuple(target)


def _dim_source(t: Tensor) -> tuple[Tensor, int] | None:
    """``(x, k)`` when ``t`` is ``tk.shape(x)[k]``: a dim known only at run time."""
    op = t.op
    if op.type != "StridedSlice" or op.inputs[0].op.type != "Shape":
        return None
    items = op.get_attr("index")
    if len(items) != 1 or items[0][0] != "int":
        return None
    x = op.inputs[0].op.inputs[0]
    k = items[0][1]
    rank = x.shape.ndims
    if k < 0 and rank is None:
        return None
    return x, (k % rank if rank else k)


def _reshape_target(shape: Any, x: Tensor) -> tuple[list[Any], list[Tensor]]:
    """Reshape dims: ints (-1 allowed) or ``("dim", input index, k)`` for dims of other tensors
    (``tk.shape(x)[k]`` entries, or a whole ``tk.shape(x)``), which stay symbolic. Input 0 is
    the reshaped tensor itself; other tensors whose dims are used follow it."""
    sources: list[Tensor] = []

    def index(t: Tensor) -> int:
        if t is x:
            return 0
        if t not in sources:
            sources.append(t)
        return 1 + sources.index(t)

    if is_tensor_like(shape) and constant_value(shape) is None:
        t = convert_to_tensor(shape)
        if t.op.type == "Shape" and t.op.inputs[0].shape.ndims is not None:
            src = t.op.inputs[0]
            i = index(src)
            return [("dim", i, k) for k in range(src.shape.ndims)], sources
    if isinstance(shape, (list, tuple)) and any(is_tensor_like(d) for d in shape):
        target: list[Any] = []
        for d in shape:
            v = constant_value(d) if is_tensor_like(d) else d
            if v is not None:
                target.append(int(np.asarray(v).reshape(())))
                continue
            src = _dim_source(convert_to_tensor(d))
            if src is None:
                raise ValueError("reshape's shape entries must be known when the graph is built (ints, constants) "
                                 "or dims of other tensors (tk.shape(x)[k])")
            target.append(("dim", index(src[0]), src[1]))
        return target, sources
    return _static_ints(shape, "reshape's shape"), sources


def reshape(tensor: Any, shape: Any, name: str | None = None) -> Tensor:
    """``tensor`` with a new shape: ints (one may be -1), constants, or dims of other tensors
    (``tk.reshape(x, [tk.shape(x)[0], -1])``), which compile to symbolic dims."""
    with name_scope(name, "Reshape", [tensor]) as scope:
        x = convert_to_tensor(tensor, name="tensor")
        target, sources = _reshape_target(shape, x)
        ins = [x] + sources
        static = [d if isinstance(d, int) else ins[d[1]].shape[d[2]].value for d in target]
        try:
            if None in static:
                out = tuple(static) if -1 not in static else tuple(None if d == -1 else d for d in static)
            else:
                out = _reshape_static(x.shape, static)
        except ValueError as e:
            raise ValueError(f"{e} for '{scope[:-1]}' (op: 'Reshape') with input shapes: {x.shape.tf_list_str()}, "
                             f"[{len(target)}].") from None
        if all(isinstance(d, int) for d in target):
            build = prim("graph.reshape", shape=tuple(target))
        else:
            def build(ctx, ins):
                dims = tuple(d if isinstance(d, int) else ins[d[1]].type.shape[d[2]] for d in target)
                return [ctx.b.op("graph.reshape", ins[0], shape=dims)]
        if None in out and all(t.shape.ndims is not None for t in ins):
            try:  # the compiler may know more, e.g. [None, 4, 2] -> [-1, 8] is [None, 8]
                (inferred, _), = infer_static_types(build, [(t.shape.as_tuple(), t.dtype.ir) for t in ins])
                out = TensorShape(out).merge_with(inferred).as_tuple()
            except (CompileError, ValueError):
                pass  # not representable symbolically: keep TF's static answer (may fail to compile)
        return make_op("Reshape", ins, name=scope, build=build, out=[(out, x.dtype)],
                       attrs={"T": x.dtype, "shape": target}).outputs[0]


def transpose(a: Any, perm: Any = None, name: str = "transpose", conjugate: bool = False) -> Tensor:
    with name_scope(name, "transpose", [a]) as scope:
        x = convert_to_tensor(a, name="a")
        p = None if perm is None else tuple(_static_ints(perm, "transpose's perm"))

        def build(ctx, ins):
            r = ins[0].type.rank
            return [ctx.b.op("graph.transpose", ins[0], perm=p if p is not None else tuple(reversed(range(r))))]
        unknown = [(None if p is None else (None,) * len(p), x.dtype)]
        return make_op("Transpose", [x], name=scope, build=build, attrs={"T": x.dtype, "perm": p},
                       unknown_rank_out=unknown).outputs[0]


def concat(values: Sequence[Any], axis: int, name: str = "concat") -> Tensor:
    if not isinstance(values, (list, tuple)):
        values = [values]
    ax = _static_ints(axis, "concat's axis")[0]
    if len(values) == 1:
        with name_scope(name) as scope:
            return identity(values[0], name=scope)
    with name_scope(name, "concat", list(values)) as scope:
        ts = [convert_to_tensor(v) for v in values]
        for t in ts[1:]:
            if t.dtype != ts[0].dtype:
                raise TypeError(f"Tensors in list passed to 'values' of 'ConcatV2' Op have types "
                                f"[{', '.join(u.dtype.name for u in ts)}] that don't all match.")
        return make_op("ConcatV2", ts, name=scope, build=prim("graph.concat", axis=ax),
                       attrs={"T": ts[0].dtype, "N": len(ts), "axis": ax}).outputs[0]


def _insert_unit(shape, axis: int):
    s = list(shape)
    s.insert(axis, 1)
    return tuple(s)


def stack(values: Sequence[Any], axis: int = 0, name: str = "stack", _dtype: Any = None) -> Tensor:
    """Stack same-shaped tensors along a new axis (``Pack``)."""
    with name_scope(name, "stack", list(values)) as scope:
        ts = [convert_to_tensor(v, dtype=_dtype) if is_tensor_like(v) else None for v in values]
        dt = _dtype or next((t.dtype for t in ts if t is not None), None)
        ts = [t if t is not None else convert_to_tensor(v, dtype=dt) for t, v in zip(ts, values)]
        for t in ts[1:]:
            if t.dtype != ts[0].dtype:
                raise TypeError(f"Tensors in list passed to 'values' of 'Pack' Op have types "
                                f"[{', '.join(u.dtype.name for u in ts)}] that don't all match.")

        def build(ctx, ins):
            rank = ins[0].type.rank
            if not -rank - 1 <= axis <= rank:
                raise ValueError(f"axis {axis} out of range for stacking rank-{rank} tensors")
            ax = axis % (rank + 1)
            for v in ins[1:]:
                if v.type.shape != ins[0].type.shape:
                    pair = next(((a, b) for a, b in zip(ins[0].type.shape, v.type.shape) if a != b), None)
                    raise ShapeMismatch(f"'Pack': shapes {ins[0].type} and {v.type} differ", None, pair)
            parts = [ctx.b.op("graph.reshape", v, shape=_insert_unit(v.type.shape, ax)) for v in ins]
            return [parts[0] if len(parts) == 1 else ctx.b.op("graph.concat", *parts, axis=ax)]
        return make_op("Pack", ts, name=scope, build=build, attrs={"T": ts[0].dtype, "N": len(ts), "axis": axis}).outputs[0]


def unstack(value: Any, num: int | None = None, axis: int = 0, name: str = "unstack") -> list[Tensor]:
    """Split along ``axis`` into ``num`` tensors of rank one less (``Unpack``)."""
    with name_scope(name, "unstack", [value]) as scope:
        x = convert_to_tensor(value, name="value")
        if x.shape.ndims is None and num is None:
            raise ValueError(f"Cannot infer num from shape {x.shape}")
        if num is None:
            rank = x.shape.ndims
            if not -rank <= axis < rank:
                raise ValueError(f"axis = {axis} not in [{-rank}, {rank})")
            num = x.shape[axis % rank].value
            if num is None:
                raise ValueError(f"Cannot infer num from shape {x.shape}")

        def build(ctx, ins):
            v = ins[0]
            rank = v.type.rank
            ax = axis % rank
            if v.type.shape[ax] != num:
                raise ShapeMismatch(f"'Unpack': dim {ax} of {v.type} is not {num}", None, (v.type.shape[ax], num))
            outs = []
            rest = v.type.shape[:ax] + v.type.shape[ax + 1:]
            for i in range(num):
                begin = [0] * rank
                begin[ax] = i
                size = list(v.type.shape)
                size[ax] = 1
                piece = ctx.b.op("graph.slice", v, begin=begin, size=size)
                outs.append(ctx.b.op("graph.reshape", piece, shape=rest))
            return outs
        op = make_op("Unpack", [x], name=scope, build=build, attrs={"T": x.dtype, "num": num, "axis": axis},
                     unknown_rank_out=[(None, x.dtype)] * num)
        return op.outputs


def expand_dims(input: Any, axis: Any = None, name: str | None = None, dim: Any = None) -> Tensor:
    if axis is None and dim is None:
        raise ValueError("Must specify an axis argument to tk.expand_dims()")
    if axis is not None and dim is not None:
        raise ValueError("Cannot specify both 'axis' and 'dim'")
    ax = _static_ints(axis if axis is not None else dim, "expand_dims's axis")[0]
    with name_scope(name, "ExpandDims", [input]) as scope:
        x = convert_to_tensor(input, name="input")

        def build(ctx, ins):
            rank = ins[0].type.rank
            if not -rank - 1 <= ax <= rank:
                raise ValueError(f"axis {ax} out of range [{-rank - 1}, {rank}]")
            return [ctx.b.op("graph.reshape", ins[0], shape=_insert_unit(ins[0].type.shape, ax % (rank + 1)))]
        try:
            return make_op("ExpandDims", [x], name=scope, build=build, attrs={"T": x.dtype, "dim": ax}).outputs[0]
        except ValueError as e:
            raise ValueError(f"{e} for '{scope[:-1]}' (op: 'ExpandDims') with input shapes: {x.shape.tf_list_str()}.") from None


def squeeze(input: Any, axis: Any = None, name: str | None = None, squeeze_dims: Any = None) -> Tensor:
    """Remove size-1 dims (all known ones, or exactly ``axis``; an unknown dim there is taken as 1)."""
    if axis is not None and squeeze_dims is not None:
        raise ValueError("Cannot specify both 'axis' and 'squeeze_dims'")
    ax = axis if axis is not None else squeeze_dims
    axes = None if ax is None else _static_ints(ax, "squeeze's axis")
    with name_scope(name, "Squeeze", [input]) as scope:
        x = convert_to_tensor(input, name="input")

        def build(ctx, ins):
            shape = ins[0].type.shape
            rank = len(shape)
            if axes is None:
                keep = [d for d in shape if d != 1]
            else:
                drop = set()
                for a in axes:
                    if not -rank <= a < rank:
                        raise ValueError(f"Tried to squeeze dim index {a} for tensor with {rank} dimensions.")
                    a %= rank
                    if shape[a] != 1:
                        if isinstance(shape[a], SymDim):
                            raise ShapeMismatch(f"squeeze: dim {a} must be 1", None, (shape[a], 1))
                        raise ValueError(f"Can not squeeze dim[{a}], expected a dimension of 1, got {shape[a]}")
                    drop.add(a)
                keep = [d for k, d in enumerate(shape) if k not in drop]
            return [ctx.b.op("graph.reshape", ins[0], shape=tuple(keep))]
        try:
            return make_op("Squeeze", [x], name=scope, build=build, attrs={"T": x.dtype, "squeeze_dims": axes}).outputs[0]
        except ValueError as e:
            if "for '" in str(e):
                raise
            raise ValueError(f"{e} for '{scope[:-1]}' (op: 'Squeeze') with input shapes: {x.shape.tf_list_str()}.") from None


def slice(input_: Any, begin: Any, size: Any, name: str | None = None) -> Tensor:  # noqa: A001
    """``input_[begin : begin + size]`` per dim; a size of -1 runs to the end."""
    b = _static_ints(begin, "slice's begin")
    s = _static_ints(size, "slice's size")
    with name_scope(name, "Slice", [input_]) as scope:
        x = convert_to_tensor(input_, name="input")

        def build(ctx, ins):
            shape = ins[0].type.shape
            if len(b) != len(shape) or len(s) != len(shape):
                raise ValueError(f"Slice: begin and size must have {len(shape)} entries, got {b} and {s}")
            for d, b0, s0 in zip(shape, b, s):
                if isinstance(d, SymDim) and s0 != -1:
                    raise ValueError("Slice with a fixed size along an unknown dimension cannot be bounds-checked; "
                                     "use size -1 or a known dimension")
            return [ctx.b.op("graph.slice", ins[0], begin=b, size=s)]
        return make_op("Slice", [x], name=scope, build=build, attrs={"T": x.dtype, "begin": b, "size": s}).outputs[0]


def gather(params: Any, indices: Any, validate_indices: Any = None, name: str | None = None, axis: int = 0) -> Tensor:
    """``params`` indexed along ``axis`` by integer ``indices``. An index outside ``[0, dim)`` makes
    ``Session.run`` raise InvalidArgumentError (``indices[i] = v is not in [0, dim)``, as TF on the
    CPU) and assign no variable in that run; the generated code clamps it, so nothing is read out
    of bounds (a compiled DSL function or an exported library, which have no checks, clamp)."""
    with name_scope(name, "GatherV2", [params, indices]) as scope:
        p = convert_to_tensor(params, name="params")
        ix = convert_to_tensor(indices, name="indices")
        if not ix.dtype.is_integer:
            raise TypeError(f"Value passed to parameter 'indices' has DataType {ix.dtype.name} not in list of "
                            "allowed values: int32, int64")
        ax = int(axis)

        def build(ctx, ins):
            ctx.check_indices(ins[1], ins[0].type.shape[ax], "indices")
            return [ctx.b.op("graph.gather", ins[0], ins[1], axis=ax)]
        return make_op("GatherV2", [p, ix], name=scope, build=build,
                       dtypes=[p.dtype], attrs={"Tparams": p.dtype, "Tindices": ix.dtype, "axis": ax}).outputs[0]


def one_hot(indices: Any, depth: int, on_value: Any = None, off_value: Any = None, axis: int | None = None,
            dtype: Any = None, name: str | None = None) -> Tensor:
    with name_scope(name, "one_hot", [indices, on_value, off_value]) as scope:
        ix = convert_to_tensor(indices, name="indices")
        given = [v for v in (on_value, off_value) if v is not None]
        dt = _dt.as_dtype(dtype) if dtype is not None else (
            convert_to_tensor(given[0]).dtype if given and is_tensor_like(given[0]) else
            constant(given[0]).dtype if given else _dt.float32)
        on = convert_to_tensor((True if dt.is_bool else 1) if on_value is None else on_value, dtype=dt, name="on_value")
        off = convert_to_tensor((False if dt.is_bool else 0) if off_value is None else off_value, dtype=dt, name="off_value")
        d = _static_ints(depth, "one_hot's depth")[0]
        ax = -1 if axis is None else int(axis)
        on_c, off_c = constant_value(on), constant_value(off)
        if on_c is not None and off_c is not None and on_c.shape == () and off_c.shape == () and not dt.is_bool:
            build = prim("graph.one_hot", depth=d, axis=ax, on_value=float(on_c), off_value=float(off_c), dtype=dt.ir)
            inputs = [ix]
        else:
            def build(ctx, ins):
                b = ctx.b
                mask = one_hot_mask(b, ins[0], d, ax)
                if not dt.is_bool:
                    return [b.op("graph.where", mask, ins[1], ins[2])]
                # bool values go through i32: the loop lowering cannot splat i1 constants yet
                on_i, off_i = (b.op("graph.cast", v, dtype=i32) for v in ins[1:])
                zero = b.op("graph.constant", value=np.array(0, dtype=np.int32))
                return [b.op("graph.ne", b.op("graph.where", mask, on_i, off_i), zero)]
            inputs = [ix, on, off]
        return make_op("OneHot", inputs, name=scope, build=build, dtypes=[dt],
                       attrs={"T": dt, "TI": ix.dtype, "depth": d, "axis": ax}).outputs[0]


def one_hot_mask(b, labels, depth: int, axis: int = -1):
    """A bool one-hot mask (made via i32: the loop lowering has no i1 one_hot constants)."""
    oh = b.op("graph.one_hot", labels, depth=depth, axis=axis, dtype=i32)
    return b.op("graph.eq", oh, b.op("graph.constant", value=np.array(1, dtype=np.int32)))


def where(condition: Any, x: Any = None, y: Any = None, name: str | None = None) -> Tensor:
    """Elementwise ``x if condition else y``; a rank-1 condition selects rows of higher-rank x, y."""
    if x is None or y is None:
        if x is None and y is None:
            raise NotImplementedError("tk.where(condition) (coordinates of true elements) has a data-dependent "
                                      "shape, which the compiler does not support")
        raise ValueError("x and y must both be non-None or both be None.")
    with name_scope(name, "Select", [condition, x, y]) as scope:
        c = convert_to_tensor(condition, name="condition")
        if not c.dtype.is_bool:
            raise TypeError(f"condition must be bool, got {c.dtype.name}")
        from .math_ops import binary_inputs

        a, b = binary_inputs("Select", x, y)

        def build(ctx, ins):
            cond, xa, yb = ins
            if cond.type.rank == 1 and xa.type.rank > 1:
                cond = ctx.b.op("graph.reshape", cond, shape=tuple(cond.type.shape) + (1,) * (xa.type.rank - 1))
            return [ctx.b.op("graph.where", cond, xa, yb)]
        return make_op("Select", [c, a, b], name=scope, build=build, dtypes=[a.dtype], attrs={"T": a.dtype}).outputs[0]


# --------------------------------------------------------------------------- fills, shapes


def _fill_build(target: list[Any]):
    """Broadcast input 0 to ``target``: ints, or ``("dim", input index, k)`` entries."""
    def build(ctx, ins):
        v = ins[0]
        shape = tuple(d if isinstance(d, int) else ins[d[1]].type.shape[d[2]] for d in target)
        return [v if not shape else ctx.b.op("graph.broadcast_to", v, shape=shape)]
    return build


def _fill_op(dims: Any, v: Tensor, scope: str, what: str) -> Tensor:
    target, sources = _reshape_target(dims if not isinstance(dims, int) else [dims], None)
    if any(isinstance(d, int) and d < 0 for d in target):
        raise ValueError(f"{what} must be non-negative, got {target}")
    static = tuple(d if isinstance(d, int) else sources[d[1] - 1].shape[d[2]].value for d in target)
    return make_op("Fill", [v] + sources, name=scope, build=_fill_build(target), out=[(static, v.dtype)],
                   attrs={"T": v.dtype}).outputs[0]


def fill(dims: Any, value: Any, name: str | None = None) -> Tensor:
    """A tensor of shape ``dims`` (ints, or dims of other tensors such as ``tk.shape(x)``) filled
    with the scalar ``value``."""
    with name_scope(name, "Fill", [value]) as scope:
        v = convert_to_tensor(value, name="value")
        if v.shape.ndims not in (None, 0):
            raise ValueError(f"value must be a scalar, got shape {v.shape}")
        return _fill_op(dims, v, scope, "fill's dims")


def _filled(value: int, shape: Any, dtype: Any, name: str) -> Tensor:
    dt = _dt.as_dtype(dtype)
    with name_scope(name) as scope:
        v = constant(value, dtype=dt, name="Const")
        return _fill_op(shape, v, scope, f"{name}'s shape")


def zeros(shape: Any, dtype: Any = _dt.float32, name: str | None = None) -> Tensor:
    return _filled(False if _dt.as_dtype(dtype).is_bool else 0, shape, dtype, name or "zeros")


def ones(shape: Any, dtype: Any = _dt.float32, name: str | None = None) -> Tensor:
    return _filled(True if _dt.as_dtype(dtype).is_bool else 1, shape, dtype, name or "ones")


def _like(op_type: str, value: int, tensor: Any, dtype: Any, name: str | None, default: str) -> Tensor:
    with name_scope(name, default, [tensor]) as scope:
        x = convert_to_tensor(tensor, name="tensor")
        dt = _dt.as_dtype(dtype) if dtype is not None else x.dtype
        fill_value = np.array(bool(value) if dt.is_bool else value, dtype=dt.as_numpy_dtype)

        def build(ctx, ins):
            c = ctx.b.op("graph.constant", value=fill_value)
            shape = ins[0].type.shape
            return [c if not shape else ctx.b.op("graph.broadcast_to", c, shape=shape)]
        return make_op(op_type, [x], name=scope, build=build, out=[(x.shape.as_tuple(), dt)], attrs={"T": dt}).outputs[0]


def zeros_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> Tensor:
    return _like("ZerosLike", 0, tensor, dtype, name, "zeros_like")


def ones_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> Tensor:
    return _like("OnesLike", 1, tensor, dtype, name, "ones_like")


def shape(input: Any, name: str | None = None, out_type: Any = _dt.int32) -> Tensor:
    """The dynamic shape of ``input`` as a 1-D integer tensor."""
    dt = _dt.as_dtype(out_type)
    with name_scope(name, "Shape", [input]) as scope:
        x = convert_to_tensor(input, name="input")

        def build(ctx, ins):
            dims = ins[0].type.shape
            if not dims:
                return [ctx.b.op("graph.constant", value=np.zeros((0,), dtype=dt.as_numpy_dtype))]
            parts = [ctx.b.op("graph.reshape", ctx.dim_value(d, dt.ir), shape=(1,)) for d in dims]
            return [parts[0] if len(parts) == 1 else ctx.b.op("graph.concat", *parts, axis=0)]
        return make_op("Shape", [x], name=scope, build=build, out=[((x.shape.ndims,), dt)],
                       attrs={"T": x.dtype, "out_type": dt}).outputs[0]


def size(input: Any, name: str | None = None, out_type: Any = _dt.int32) -> Tensor:
    dt = _dt.as_dtype(out_type)
    with name_scope(name, "Size", [input]) as scope:
        x = convert_to_tensor(input, name="input")

        def build(ctx, ins):
            return [ctx.dim_value(dim_product(ins[0].type.shape), dt.ir)]
        return make_op("Size", [x], name=scope, build=build, out=[((), dt)], attrs={"T": x.dtype}).outputs[0]


def rank(input: Any, name: str | None = None) -> Tensor:
    with name_scope(name, "Rank", [input]) as scope:
        x = convert_to_tensor(input, name="input")

        def build(ctx, ins):
            return [ctx.b.op("graph.constant", value=np.array(ins[0].type.rank, dtype=np.int32))]
        return make_op("Rank", [x], name=scope, build=build, out=[((), _dt.int32)], attrs={"T": x.dtype}).outputs[0]
