"""``tk.losses``: TF-1's loss functions with weights and reductions.

Each loss computes per-element losses, multiplies them by ``weights`` (a scalar or a tensor that
broadcasts to the losses) and reduces them as ``reduction`` says; the default,
``Reduction.SUM_BY_NONZERO_WEIGHTS``, divides the weighted sum by the number of non-zero weights
(the mean, for the default ``weights=1.0``). The result is added to ``loss_collection``
(``GraphKeys.LOSSES``); ``get_total_loss`` adds them up with the regularization losses.
"""
from __future__ import annotations

from typing import Any

from .framework import dtypes as _dt
from .framework.array_ops import ones_like, size, squeeze, where
from .framework.constant_op import convert_to_tensor, is_tensor_like
from .framework.graph import GraphKeys, get_collection, get_default_graph, name_scope
from .framework.math_ops import (
    abs as _abs, add, add_n, cast, divide, greater, log, maximum, minimum, multiply, not_equal, reduce_mean, reduce_sum,
    square, subtract,
)
from .framework.nn_ops import (
    sigmoid_cross_entropy_with_logits, softmax_cross_entropy_with_logits_v2, sparse_softmax_cross_entropy_with_logits,
)
from .framework.ops import Tensor


class Reduction:
    """How a weighted loss is reduced (TF's ``tf.losses.Reduction``)."""

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple[str, ...]:
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key: str) -> None:
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}.")


def _safe_div(num: Tensor, den: Tensor) -> Tensor:
    """``num / den``, or 0 where ``den`` is 0."""
    positive = greater(den, 0.0)
    return where(positive, divide(num, where(positive, den, ones_like(den))), multiply(num, 0.0))


def _num_elements(t: Tensor) -> Tensor:
    n = t.shape.num_elements()
    return convert_to_tensor(float(n), dtype=t.dtype) if n is not None else cast(size(t), t.dtype)


def compute_weighted_loss(losses: Any, weights: Any = 1.0, scope: str | None = None,
                          loss_collection: str | None = GraphKeys.LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """``losses * weights`` reduced by ``reduction`` (see :class:`Reduction`)."""
    Reduction.validate(reduction)
    with name_scope(scope, "weighted_loss", [losses, weights]):
        x = convert_to_tensor(losses)
        if not x.dtype.is_floating:
            x = cast(x, _dt.float32)
        scalar_weight = not is_tensor_like(weights) and getattr(weights, "ndim", 0) == 0
        if scalar_weight:
            w_value = float(weights)
            weighted = x if w_value == 1.0 else multiply(x, w_value)
            if reduction == Reduction.NONE:
                loss = weighted
            elif reduction == Reduction.SUM or w_value == 0.0:  # no non-zero weights: 0, as TF's safe division
                loss = reduce_sum(weighted)
            elif reduction == Reduction.MEAN:  # sum(w l) / sum(w) = mean(l)
                loss = reduce_mean(x)
            else:  # SUM_BY_NONZERO_WEIGHTS and SUM_OVER_BATCH_SIZE: sum(w l) / N
                loss = reduce_mean(weighted)
        else:
            w = convert_to_tensor(weights, dtype=x.dtype)
            weighted = multiply(x, w)
            if reduction == Reduction.NONE:
                loss = weighted
            else:
                total = reduce_sum(weighted)
                if reduction == Reduction.SUM:
                    loss = total
                elif reduction == Reduction.MEAN:
                    loss = _safe_div(total, reduce_sum(multiply(w, ones_like(x))))
                elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                    loss = _safe_div(total, _num_elements(x))
                else:
                    present = cast(not_equal(multiply(w, ones_like(x)), 0.0), x.dtype)
                    loss = _safe_div(total, reduce_sum(present))
        if loss_collection:
            get_default_graph().add_to_collection(loss_collection, loss)
        return loss


def _check_shapes(a: Tensor, b: Tensor, what: str) -> None:
    if not a.shape.is_compatible_with(b.shape):
        raise ValueError(f"Shapes {a.shape} and {b.shape} are incompatible ({what})")


def _float(x: Any, like: Tensor | None = None) -> Tensor:
    t = convert_to_tensor(x)
    want = like.dtype if like is not None else (t.dtype if t.dtype.is_floating else _dt.float32)
    return t if t.dtype == want else cast(t, want)


def sparse_softmax_cross_entropy(labels: Any, logits: Any, weights: Any = 1.0, scope: str | None = None,
                                 loss_collection: str | None = GraphKeys.LOSSES,
                                 reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Cross entropy of integer ``labels`` [N] against ``logits`` [N, C] (labels [N, 1] are squeezed)."""
    if labels is None or logits is None:
        raise ValueError("labels and logits must not be None")
    with name_scope(scope, "sparse_softmax_cross_entropy_loss", [logits, labels, weights]) as s:
        lg = convert_to_tensor(logits, name="logits")
        lb = convert_to_tensor(labels, name="labels")
        if lb.shape.ndims is not None and lg.shape.ndims is not None and lb.shape.ndims == lg.shape.ndims \
                and lb.shape[-1].value == 1:
            lb = squeeze(lb, [-1])
        losses = sparse_softmax_cross_entropy_with_logits(labels=lb, logits=lg, name="xentropy")
        return compute_weighted_loss(losses, weights, s, loss_collection, reduction)


def softmax_cross_entropy(onehot_labels: Any, logits: Any, weights: Any = 1.0, label_smoothing: float = 0.0,
                          scope: str | None = None, loss_collection: str | None = GraphKeys.LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Cross entropy of one-hot (or probability) ``onehot_labels`` against ``logits``; with
    ``label_smoothing`` the labels become ``labels * (1 - ls) + ls / num_classes``."""
    if onehot_labels is None or logits is None:
        raise ValueError("onehot_labels and logits must not be None")
    with name_scope(scope, "softmax_cross_entropy_loss", [logits, onehot_labels, weights]) as s:
        lg = convert_to_tensor(logits, name="logits")
        lb = _float(onehot_labels, lg)
        _check_shapes(lg, lb, "logits and onehot_labels")
        if label_smoothing:
            classes = lg.shape[-1].value
            if classes is None:
                raise ValueError("label_smoothing needs a known number of classes")
            lb = add(multiply(lb, 1.0 - label_smoothing), label_smoothing / classes)
        losses = softmax_cross_entropy_with_logits_v2(labels=lb, logits=lg, name="xentropy")
        return compute_weighted_loss(losses, weights, s, loss_collection, reduction)


def sigmoid_cross_entropy(multi_class_labels: Any, logits: Any, weights: Any = 1.0, label_smoothing: float = 0.0,
                          scope: str | None = None, loss_collection: str | None = GraphKeys.LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Logistic loss of 0/1 ``multi_class_labels`` against ``logits`` of the same shape."""
    with name_scope(scope, "sigmoid_cross_entropy_loss", [logits, multi_class_labels, weights]) as s:
        lg = convert_to_tensor(logits, name="logits")
        lb = _float(multi_class_labels, lg)
        _check_shapes(lg, lb, "logits and multi_class_labels")
        if label_smoothing:
            lb = add(multiply(lb, 1.0 - label_smoothing), 0.5 * label_smoothing)
        losses = sigmoid_cross_entropy_with_logits(labels=lb, logits=lg, name="xentropy")
        return compute_weighted_loss(losses, weights, s, loss_collection, reduction)


def _pointwise(default: str, fn, labels: Any, predictions: Any, weights: Any, scope: str | None,
               loss_collection: str | None, reduction: str) -> Tensor:
    if labels is None or predictions is None:
        raise ValueError("labels and predictions must not be None")
    with name_scope(scope, default, [predictions, labels, weights]) as s:
        p = _float(predictions)
        y = _float(labels, p)
        _check_shapes(p, y, "predictions and labels")
        return compute_weighted_loss(fn(p, y), weights, s, loss_collection, reduction)


def mean_squared_error(labels: Any, predictions: Any, weights: Any = 1.0, scope: str | None = None,
                       loss_collection: str | None = GraphKeys.LOSSES,
                       reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """``(predictions - labels)^2``, weighted and reduced (float64 inputs stay float64)."""
    return _pointwise("mean_squared_error", lambda p, y: square(subtract(p, y)), labels, predictions, weights, scope,
                      loss_collection, reduction)


def absolute_difference(labels: Any, predictions: Any, weights: Any = 1.0, scope: str | None = None,
                        loss_collection: str | None = GraphKeys.LOSSES,
                        reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """``|predictions - labels|``, weighted and reduced."""
    return _pointwise("absolute_difference", lambda p, y: _abs(subtract(p, y)), labels, predictions, weights, scope,
                      loss_collection, reduction)


def huber_loss(labels: Any, predictions: Any, weights: Any = 1.0, delta: float = 1.0, scope: str | None = None,
               loss_collection: str | None = GraphKeys.LOSSES,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """``0.5 e^2`` for ``|e| <= delta``, else ``delta (|e| - 0.5 delta)``, with ``e = predictions - labels``."""
    def fn(p, y):
        err = _abs(subtract(p, y))
        quad = minimum(err, delta)
        return add(multiply(0.5, square(quad)), multiply(delta, subtract(err, quad)))
    return _pointwise("huber_loss", fn, labels, predictions, weights, scope, loss_collection, reduction)


def log_loss(labels: Any, predictions: Any, weights: Any = 1.0, epsilon: float = 1e-7, scope: str | None = None,
             loss_collection: str | None = GraphKeys.LOSSES,
             reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """``-y log(p + eps) - (1 - y) log(1 - p + eps)``."""
    def fn(p, y):
        pos = multiply(y, log(add(p, epsilon)))
        neg = multiply(subtract(1.0, y), log(add(subtract(1.0, p), epsilon)))
        return subtract(multiply(pos, -1.0), neg)
    return _pointwise("log_loss", fn, labels, predictions, weights, scope, loss_collection, reduction)


def hinge_loss(labels: Any, logits: Any, weights: Any = 1.0, scope: str | None = None,
               loss_collection: str | None = GraphKeys.LOSSES,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """``max(0, 1 - (2 labels - 1) logits)`` for 0/1 labels."""
    def fn(p, y):
        signs = subtract(multiply(y, 2.0), 1.0)
        return maximum(subtract(1.0, multiply(signs, p)), 0.0)
    return _pointwise("hinge_loss", fn, labels, logits, weights, scope, loss_collection, reduction)


# --------------------------------------------------------------------------- collections


def add_loss(loss: Any, loss_collection: str = GraphKeys.LOSSES) -> None:
    if loss_collection:
        get_default_graph().add_to_collection(loss_collection, loss)


def get_losses(scope: str | None = None, loss_collection: str = GraphKeys.LOSSES) -> list[Any]:
    return get_collection(loss_collection, scope)


def get_regularization_losses(scope: str | None = None) -> list[Any]:
    return get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope: str | None = None, name: str = "total_regularization_loss") -> Tensor:
    losses = get_regularization_losses(scope)
    return add_n(losses, name=name) if losses else convert_to_tensor(0.0, name=name)


def get_total_loss(add_regularization_losses: bool = True, name: str = "total_loss", scope: str | None = None) -> Tensor:
    """The sum of the collected losses (and regularization losses); ``ValueError`` if there are none."""
    losses = get_losses(scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope)
    if not losses:
        raise ValueError("No losses to add.")
    return add_n(losses, name=name)
