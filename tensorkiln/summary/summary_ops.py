"""``tk.summary.scalar/histogram/image/text/merge/merge_all``: TF 1.x's summary ops as graph nodes.

Each call creates the nodes TensorFlow would (``<scope>/tags`` string ``Const`` + ``ScalarSummary``
named by the summary scope, and so on) and adds the result to ``GraphKeys.SUMMARIES``. The result is
a scalar string tensor; fetching it with ``Session.run`` gives the serialized ``Summary`` bytes to hand
to ``FileWriter.add_summary``. The numbers a summary reads are computed by the one compiled call; the
summary op itself is a *host op* (:mod:`tensorkiln.summary.host`) that packs them into a proto.

Tags follow TF: the name is cleaned (characters outside ``[-/\\w.]`` become ``_``), then scoped by the
enclosing name scopes (``layer1/weights/mean``), made unique like op names, and prefixed by ``family``.
"""
from __future__ import annotations

import contextlib
import re
import warnings
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from ..framework import dtypes as _dt
from ..framework.constant_op import convert_to_tensor
from ..framework.graph import GraphKeys, get_default_graph
from ..framework.ops import Tensor, graph_of, make_op
from ..ir import types as irt
from ..ir.diagnostics import CompileError
from . import encode
from ..runtime import session as _session
from .host import mark_host_op, plan_host_fetches

# Summary ops exist only once this module is imported; from then on Session.run finishes them on the host.
_session._host_planner = plan_host_fetches

__all__ = ["string", "scalar", "histogram", "image", "text", "merge", "merge_all"]


class _StringDType(_dt.DType):
    """TF's ``string`` dtype for host-side values (summaries, tags); the compiler has no such type."""

    __slots__ = ()
    is_floating = property(lambda self: False)
    is_integer = property(lambda self: False)
    is_bool = property(lambda self: False)
    size = property(lambda self: 0)
    is_numpy_compatible = property(lambda self: False)

    @property
    def min(self) -> Any:
        raise TypeError("Cannot find minimum value of tk.string.")

    @property
    def max(self) -> Any:
        raise TypeError("Cannot find maximum value of tk.string.")

    def __reduce__(self):
        return (_string_dtype, ())


def _string_dtype() -> "_StringDType":
    return string


string = _StringDType("string", np.object_, 7, None)  # enum 7 is TF's DT_STRING

_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w\.]")


def _no_native_code(ctx: Any, inputs: Any) -> Any:
    raise CompileError("summary ops produce serialized protos on the host and cannot be compiled; fetch them "
                       "with Session.run (or merge them) instead of feeding them to other ops")


def clean_tag(name: Optional[str]) -> Optional[str]:
    """TF's ``clean_tag``: illegal characters become ``_``, a leading ``/`` is dropped."""
    if name is None:
        return None
    new = _INVALID_TAG_CHARACTERS.sub("_", name).lstrip("/")
    if new != name:
        warnings.warn(f"Summary name {name} is illegal; using {new} instead.", stacklevel=3)
    return new


@contextlib.contextmanager
def summary_scope(name: str, family: Optional[str], values: Sequence[Any]) -> Iterator[tuple[str, str, Any]]:
    """``(tag, scope, graph)`` for a summary created in the values' graph (TF's ``summary_scope``)."""
    name = clean_tag(name) or "summary"
    family = clean_tag(family)
    base = name if family is None else f"{family}/{name}"
    g = graph_of([v for v in values if isinstance(v, Tensor)], default=get_default_graph())
    with g.name_scope(base) as scope:
        tag = scope.rstrip("/") if family is None else f"{family}/{scope.rstrip('/')}"
        yield tag, scope, g


def _host_op(op_type: str, inputs: list[Tensor], name: str, fn: Any, attrs: dict[str, Any], graph: Any) -> Tensor:
    """A host op with one scalar string output (the compiler sees an i64 it can never build)."""
    op = make_op(op_type, inputs, name=name, build=_no_native_code, out=[((), irt.i64)], attrs=attrs, graph=graph)
    op._outputs[0]._dtype = string
    mark_host_op(op, fn)
    return op.outputs[0]


def _string_const(value: Any, name: str, graph: Any) -> Tensor:
    """A ``Const`` of dtype string, held on the host (tags, text)."""
    arr = np.asarray(value, dtype=object)
    arr.setflags(write=False)
    op = make_op("Const", [], name=name, build=_no_native_code, out=[(arr.shape, irt.i64)],
                 attrs={"value": arr, "dtype": string}, graph=graph)
    op._outputs[0]._dtype = string
    mark_host_op(op, lambda _inputs, _v=arr: _v)
    return op.outputs[0]


def _collect(t: Tensor, collections: Optional[Sequence[str]], graph: Any) -> None:
    for key in (collections if collections is not None else [GraphKeys.SUMMARIES]):
        graph.add_to_collection(key, t)


def _serialize(summary: Any) -> bytes:
    return summary.SerializeToString()


def scalar(name: str, tensor: Any, collections: Optional[Sequence[str]] = None, family: Optional[str] = None) -> Tensor:
    """``tf.summary.scalar``: a ``Summary`` with one ``simple_value`` (the tensor must be a scalar)."""
    tensor = convert_to_tensor(tensor)
    n = tensor.shape.num_elements()
    if tensor.shape.ndims is not None and tensor.shape.ndims > 0 and n is not None and n != 1:
        raise ValueError(f"tk.summary.scalar needs a scalar, got shape {tensor.shape} for '{name}'")
    with summary_scope(name, family, [tensor]) as (tag, scope, g):
        tags = _string_const(tag, "tags", g)
        out = _host_op("ScalarSummary", [tags, tensor], scope,
                       lambda v: _serialize(encode.scalar_summary(str(v[0].item()), v[1])),
                       {"T": tensor.dtype}, g)
    _collect(out, collections, g)
    return out


def histogram(name: str, values: Any, collections: Optional[Sequence[str]] = None,
              family: Optional[str] = None) -> Tensor:
    """``tf.summary.histogram``: a ``HistogramProto`` of all elements, with TF's bucket edges."""
    values = convert_to_tensor(values)
    with summary_scope(name, family, [values]) as (tag, scope, g):
        tags = _string_const(tag, "tag", g)
        out = _host_op("HistogramSummary", [tags, values], scope,
                       lambda v: _serialize(encode.histogram_summary(str(v[0].item()), v[1])),
                       {"T": values.dtype}, g)
    _collect(out, collections, g)
    return out


def image(name: str, tensor: Any, max_outputs: int = 3, collections: Optional[Sequence[str]] = None,
          family: Optional[str] = None) -> Tensor:
    """``tf.summary.image``: up to ``max_outputs`` PNGs of a ``[batch, height, width, 1|3|4]`` tensor."""
    tensor = convert_to_tensor(tensor)
    shape = tensor.shape.as_list() if tensor.shape.ndims is not None else None
    if shape is not None and (len(shape) != 4 or shape[-1] not in (1, 3, 4, None)):
        raise ValueError(f"Tensor must be 4-D with last dim 1, 3, or 4, not {shape} (summary '{name}')")
    max_outputs = int(max_outputs)
    if max_outputs < 1:
        raise ValueError(f"max_outputs must be positive, got {max_outputs}")
    with summary_scope(name, family, [tensor]) as (tag, scope, g):
        tags = _string_const(tag, "tag", g)
        bad = np.array([255, 0, 0, 255], dtype=np.uint8)
        out = _host_op("ImageSummary", [tags, tensor], scope,
                       lambda v: _serialize(encode.image_summaries(str(v[0].item()), v[1], max_outputs)),
                       {"T": tensor.dtype, "max_images": max_outputs, "bad_color": bad}, g)
    _collect(out, collections, g)
    return out


def _as_text(value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind in "SUO":
        return arr
    return np.vectorize(lambda x: str(x), otypes=[object])(arr) if arr.size else arr.astype(object)


def text(name: str, tensor: Any, collections: Optional[Sequence[str]] = None) -> Tensor:
    """``tf.summary.text``: a string tensor for TensorBoard's text plugin (markdown).

    ``tensor`` is a Python string, a (nested) list or numpy array of strings, a string tensor, or a
    numeric tensor (formatted like ``tf.as_string``)."""
    is_tensor = isinstance(tensor, Tensor)
    with summary_scope(name, None, [tensor] if is_tensor else []) as (tag, scope, g):
        src = tensor if is_tensor else _string_const(_as_text(tensor), "Const", g)
        tags = _string_const(tag, "tag", g)
        out = _host_op("TensorSummaryV2", [tags, src], scope,
                       lambda v: _serialize(encode.text_summary(str(v[0].item()), _as_text(v[1]))),
                       {"T": src.dtype}, g)
    _collect(out, collections, g)
    return out


def merge(inputs: Sequence[Any], collections: Optional[Sequence[str]] = None, name: Optional[str] = None) -> Tensor:
    """``tf.summary.merge``: one ``Summary`` with the values of all inputs (duplicate tags are an error
    when it runs)."""
    inputs = [convert_to_tensor(t) if not isinstance(t, Tensor) else t for t in inputs]
    for t in inputs:
        if t.dtype != string:
            raise TypeError(f"tk.summary.merge takes summary (string) tensors, got {t}")
    g = graph_of(inputs, default=get_default_graph())
    with g.name_scope(name or "Merge"):
        out = _host_op("MergeSummary", inputs, "MergeSummary",
                       lambda v: encode.merge_summaries(v).SerializeToString(), {"N": len(inputs)}, g)
    if collections:
        _collect(out, collections, g)
    return out


def merge_all(key: str = GraphKeys.SUMMARIES, scope: Optional[str] = None,
              name: Optional[str] = None) -> Optional[Tensor]:
    """``tf.summary.merge_all``: merge every summary in collection ``key`` (``None`` when there is none)."""
    ops = get_default_graph().get_collection(key, scope)
    if not ops:
        return None
    return merge(ops, name=name)
