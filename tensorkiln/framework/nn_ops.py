"""Neural-network ops (``tk.nn``): activations, softmax, the cross-entropy losses, ``in_top_k``,
``dropout``, ``bias_add``, ``l2_loss``.

Composite TF ops (the cross entropies, ``in_top_k``, ``dropout``…) are one graph op each whose
``build`` emits graph-dialect primitives when the signature is compiled. Notes: a sparse label
outside ``[0, num_classes)`` gives a loss of 0 (TF raises at run time); ``in_top_k`` is false for
such a target or a non-finite prediction, and ties straddling the k-th place count as in (TF).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.dialects.graph import ShapeMismatch
from ..ir.types import SymDim, i32
from . import dtypes as _dt
from .array_ops import _static_ints, constant_value, one_hot_mask
from .constant_op import convert_to_tensor, is_tensor_like
from .graph import name_scope
from .math_ops import _check_dtype, prim, unary
from .ops import Tensor, make_op
from .random_ops import get_seed, uniform_unit


def _fc(b, v: float, like):
    return b.op("graph.constant", value=np.array(v, dtype=like.type.dtype.np_dtype))


def relu(features, name=None): return unary("Relu", "graph.relu", features, name)
def sigmoid(x, name=None): return unary("Sigmoid", "graph.sigmoid", x, name, "float")
def tanh(x, name=None): return unary("Tanh", "graph.tanh", x, name, "float")


def _elementwise(op_type: str, x: Any, name: str | None, fn, allowed: str = "float") -> Tensor:
    with name_scope(name, op_type, [x]) as scope:
        t = convert_to_tensor(x, name="features")
        _check_dtype(op_type, "features", t.dtype, allowed)
        return make_op(op_type, [t], name=scope, build=lambda ctx, ins: [fn(ctx.b, ins[0])],
                       attrs={"T": t.dtype}).outputs[0]


def relu6(features, name=None):
    return _elementwise("Relu6", features, name, lambda b, x: b.op("graph.minimum", b.op("graph.relu", x), _fc(b, 6, x)), "numeric")


def leaky_relu(features, alpha=0.2, name=None):
    return _elementwise("LeakyRelu", features, name, lambda b, x: b.op("graph.maximum", x, b.op("graph.mul", x, _fc(b, alpha, x))))


def elu(features, name=None):
    return _elementwise("Elu", features, name, lambda b, x: b.op(
        "graph.where", b.op("graph.gt", x, _fc(b, 0, x)), x, b.op("graph.expm1", x)))


def softplus(features, name=None):
    return _elementwise("Softplus", features, name, lambda b, x: b.op(
        "graph.add", b.op("graph.relu", x), b.op("graph.log1p", b.op("graph.exp", b.op("graph.neg", b.op("graph.abs", x))))))


def _softmax(op_type: str, graph_op: str, logits, axis, name, dim):
    if axis is not None and dim is not None:
        raise ValueError("Cannot specify both 'axis' and 'dim'")
    ax = -1 if axis is None and dim is None else int(axis if axis is not None else dim)
    with name_scope(name, op_type, [logits]) as scope:
        x = convert_to_tensor(logits, name="logits")
        _check_dtype(op_type, "logits", x.dtype, "float")
        return make_op(op_type, [x], name=scope, build=prim(graph_op, axis=ax), attrs={"T": x.dtype}).outputs[0]


def softmax(logits, axis=None, name=None, dim=None):
    return _softmax("Softmax", "graph.softmax", logits, axis, name, dim)


def log_softmax(logits, axis=None, name=None, dim=None):
    return _softmax("LogSoftmax", "graph.log_softmax", logits, axis, name, dim)


def _same_shape(a, b, what: str) -> None:
    if a.type.shape != b.type.shape:
        pair = next(((x, y) for x, y in zip(a.type.shape, b.type.shape) if x != y), None)
        raise ShapeMismatch(f"{what}: logits and labels must be the same shape, got {a.type} and {b.type}", None,
                            pair if len(a.type.shape) == len(b.type.shape) else None)


def softmax_cross_entropy_with_logits_v2(_sentinel=None, labels=None, logits=None, dim=-1, name=None, axis=None):
    """``-sum(labels * log_softmax(logits), axis)``; labels and logits have the same shape."""
    if _sentinel is not None or labels is None or logits is None:
        raise ValueError("Only call `softmax_cross_entropy_with_logits` with named arguments (labels=..., logits=..., ...)")
    ax = int(axis if axis is not None else dim)
    with name_scope(name, "softmax_cross_entropy_with_logits", [logits, labels]) as scope:
        x = convert_to_tensor(logits, name="logits")
        y = convert_to_tensor(labels, dtype=x.dtype, name="labels")
        _check_dtype("SoftmaxCrossEntropyWithLogits", "logits", x.dtype, "float")

        def build(ctx, ins):
            lg, lb = ins
            _same_shape(lg, lb, "SoftmaxCrossEntropyWithLogits")
            ls = ctx.b.op("graph.log_softmax", lg, axis=ax)
            s = ctx.b.op("graph.reduce_sum", ctx.b.op("graph.mul", lb, ls), axes=[ax])
            return [ctx.b.op("graph.neg", s)]
        return make_op("SoftmaxCrossEntropyWithLogits", [x, y], name=scope, build=build, attrs={"T": x.dtype}).outputs[0]


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1, name=None):
    return softmax_cross_entropy_with_logits_v2(_sentinel, labels=labels, logits=logits, dim=dim, name=name)


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """``-log_softmax(logits)[i, labels[i]]`` for integer class labels of rank one less. A label
    outside ``[0, classes)`` makes ``Session.run`` raise InvalidArgumentError (as TF on the CPU) and
    assign no variable in that run."""
    if _sentinel is not None or labels is None or logits is None:
        raise ValueError("Only call `sparse_softmax_cross_entropy_with_logits` with named arguments (labels=..., logits=..., ...)")
    with name_scope(name, "SparseSoftmaxCrossEntropyWithLogits", [labels, logits]) as scope:
        x = convert_to_tensor(logits, name="logits")
        y = convert_to_tensor(labels, name="labels")
        _check_dtype("SparseSoftmaxCrossEntropyWithLogits", "logits", x.dtype, "float")
        if not y.dtype.is_integer:
            raise TypeError(f"labels must be int32 or int64, got {y.dtype.name}")
        if x.shape.ndims is not None and y.shape.ndims is not None and y.shape.ndims != x.shape.ndims - 1:
            raise ValueError(f"Rank mismatch: Rank of labels (received {y.shape.ndims}) should equal rank of logits "
                             f"minus 1 (received {x.shape.ndims}).")

        def build(ctx, ins):
            lg, lb = ins
            depth = lg.type.shape[-1]
            if isinstance(depth, SymDim):
                raise ValueError("sparse_softmax_cross_entropy_with_logits needs a known number of classes")
            if lb.type.shape != lg.type.shape[:-1]:
                pair = next(((a, b) for a, b in zip(lb.type.shape, lg.type.shape) if a != b), None)
                raise ShapeMismatch(f"labels {lb.type} do not match logits {lg.type}", None, pair)
            ctx.check_indices(lb, depth, "labels")
            ls = ctx.b.op("graph.log_softmax", lg, axis=-1)
            mask = one_hot_mask(ctx.b, lb, depth)
            picked = ctx.b.op("graph.where", mask, ls, _fc(ctx.b, 0.0, ls))
            return [ctx.b.op("graph.neg", ctx.b.op("graph.reduce_sum", picked, axes=[-1]))]
        return make_op("SparseSoftmaxCrossEntropyWithLogits", [x, y], name=scope, build=build, dtypes=[x.dtype],
                       attrs={"T": x.dtype, "Tlabels": y.dtype}).outputs[0]


def in_top_k(predictions, targets, k, name=None):
    """Whether ``targets[i]`` is among the ``k`` largest of ``predictions[i]`` (ties count as in)."""
    kk = _static_ints(k, "in_top_k's k")[0]
    with name_scope(name, "in_top_k", [predictions, targets]) as scope:
        p = convert_to_tensor(predictions, name="predictions")
        t = convert_to_tensor(targets, name="targets")
        if p.dtype != _dt.float32:
            raise TypeError(f"Value passed to parameter 'predictions' has DataType {p.dtype.name} not in list of "
                            "allowed values: float32")
        if not t.dtype.is_integer:
            raise TypeError(f"targets must be int32 or int64, got {t.dtype.name}")

        def build(ctx, ins):
            pr, tg = ins
            b = ctx.b
            if pr.type.rank != 2 or tg.type.rank != 1:
                raise ValueError(f"in_top_k needs predictions of rank 2 and targets of rank 1, got {pr.type} and {tg.type}")
            n, depth = pr.type.shape
            if tg.type.shape[0] != n:
                raise ShapeMismatch("in_top_k: batch sizes differ", None, (tg.type.shape[0], n))
            if isinstance(depth, SymDim):
                raise ValueError("in_top_k needs a known number of classes")
            mask = one_hot_mask(b, tg, depth)
            tv = b.op("graph.reduce_max", b.op("graph.where", mask, pr, _fc(b, -np.inf, pr)), axes=[1], keepdims=True)
            above = b.op("graph.reduce_sum", b.op("graph.cast", b.op("graph.gt", pr, tv), dtype=i32), axes=[1])
            ok = b.op("graph.lt", above, b.op("graph.constant", value=np.array(kk, dtype=np.int32)))
            finite = b.op("graph.eq", b.op("graph.sub", tv, tv), _fc(b, 0.0, tv))
            valid = b.op("graph.reshape", finite, shape=(n,))
            in_range = b.op("graph.logical_and",
                            b.op("graph.ge", tg, b.op("graph.constant", value=np.array(0, dtype=tg.type.dtype.np_dtype))),
                            b.op("graph.lt", tg, b.op("graph.constant", value=np.array(depth, dtype=tg.type.dtype.np_dtype))))
            return [b.op("graph.logical_and", b.op("graph.logical_and", ok, valid), in_range)]
        return make_op("InTopK", [p, t], name=scope, build=build, dtypes=[_dt.bool_], attrs={"k": kk, "T": t.dtype}).outputs[0]


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """``x / keep_prob`` where a fresh uniform draw is below ``keep_prob``, else 0 (new mask per run)."""
    if keep_prob is None and rate is None:
        raise ValueError("dropout needs keep_prob or rate")
    if keep_prob is not None and rate is not None:
        raise ValueError("Cannot specify both 'keep_prob' and 'rate'")
    with name_scope(name, "dropout", [x]) as scope:
        t = convert_to_tensor(x, name="x")
        if not t.dtype.is_floating:
            raise ValueError(f"x has to be a floating point tensor since it's going to be scaled. Got a {t.dtype.name} tensor instead.")
        if rate is not None:
            if not is_tensor_like(rate):
                if not 0 <= float(rate) < 1:
                    raise ValueError(f"rate must be a scalar tensor or a float in the range [0, 1), got {rate}")
                keep_prob = 1.0 - float(rate)
            else:
                keep_prob = 1 - convert_to_tensor(rate, dtype=t.dtype)
        if not is_tensor_like(keep_prob) and not 0 < float(keep_prob) <= 1:
            raise ValueError(f"keep_prob must be a scalar tensor or a float in the range (0, 1], got {keep_prob}")
        kp = convert_to_tensor(keep_prob, dtype=t.dtype, name="keep_prob")
        if kp.shape.ndims not in (None, 0):
            raise ValueError(f"keep_prob must be a scalar, got shape {kp.shape}")
        cv = constant_value(kp)
        if cv is not None and float(cv) == 1.0:
            return t
        ns = None if noise_shape is None else tuple(_static_ints(noise_shape, "dropout's noise_shape"))
        seeds = get_seed(seed)

        def build(ctx, ins):
            v, keep = ins
            shape = v.type.shape if ns is None else ns
            u = uniform_unit(ctx, seeds, shape, v.type.dtype)
            mask = ctx.b.op("graph.floor", ctx.b.op("graph.add", keep, u))
            return [ctx.b.op("graph.mul", ctx.b.op("graph.div", v, keep), mask)]
        return make_op("Dropout", [t, kp], name=scope, build=build, out=[(t.shape.as_tuple(), t.dtype)],
                       attrs={"T": t.dtype, "seed": seeds[0], "seed2": seeds[1]}).outputs[0]


def bias_add(value, bias, data_format=None, name=None):
    with name_scope(name, "BiasAdd", [value, bias]) as scope:
        v = convert_to_tensor(value, name="input")
        b = convert_to_tensor(bias, dtype=v.dtype, name="bias")
        if b.shape.ndims not in (None, 1):
            raise ValueError(f"Shape must be rank 1 but is rank {b.shape.ndims} for '{scope[:-1]}' (op: 'BiasAdd')")

        def build(ctx, ins):
            x, bb = ins
            if x.type.rank < 2:
                raise ValueError(f"BiasAdd needs an input of rank >= 2, got {x.type}")
            if x.type.shape[-1] != bb.type.shape[0]:
                raise ShapeMismatch("BiasAdd: bias size differs from the last dimension", None, (bb.type.shape[0], x.type.shape[-1]))
            return [ctx.b.op("graph.add", x, bb)]
        return make_op("BiasAdd", [v, b], name=scope, build=build, attrs={"T": v.dtype}).outputs[0]


def l2_loss(t, name=None):
    """``sum(t ** 2) / 2``."""
    return _elementwise("L2Loss", t, name, lambda b, x: b.op(
        "graph.mul", b.op("graph.reduce_sum", b.op("graph.square", x)), _fc(b, 0.5, x)))


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """``max(x, 0) - x * z + log(1 + exp(-|x|))``, the stable logistic loss."""
    if _sentinel is not None or labels is None or logits is None:
        raise ValueError("Only call `sigmoid_cross_entropy_with_logits` with named arguments (labels=..., logits=..., ...)")
    with name_scope(name, "logistic_loss", [logits, labels]) as scope:
        x = convert_to_tensor(logits, name="logits")
        z = convert_to_tensor(labels, dtype=x.dtype, name="labels")

        def build(ctx, ins):
            lg, lb = ins
            _same_shape(lg, lb, "logistic_loss")
            b = ctx.b
            soft = b.op("graph.log1p", b.op("graph.exp", b.op("graph.neg", b.op("graph.abs", lg))))
            return [b.op("graph.add", b.op("graph.sub", b.op("graph.relu", lg), b.op("graph.mul", lg, lb)), soft)]
        return make_op("LogisticLoss", [x, z], name=scope, build=build, attrs={"T": x.dtype}).outputs[0]


def embedding_lookup(params, ids, name=None, **_: Any):
    from .array_ops import gather

    return gather(params, ids, name=name or "embedding_lookup")
