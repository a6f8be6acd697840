"""``import tensorkiln.compat.v1 as tf``: the TensorFlow 1.x namespace, so TF-1 programs run as written.

Everything public in ``tensorkiln`` is here under its TF name (``tf.placeholder``, ``tf.Session``,
``tf.nn``, ``tf.train``, ``tf.summary``…), plus what TF 1.x programs and tutorials still spell:

* ``tf.app`` (``run``, ``flags``), ``tf.flags``, ``tf.gfile``, ``tf.logging`` — small
  implementations in this package (:mod:`.app`, :mod:`.flags`, :mod:`.gfile`, :mod:`.tf_logging`);
* the pre-1.0 names: ``initialize_all_variables``, ``initialize_local_variables``,
  ``scalar_summary``/``histogram_summary``/``image_summary`` (their tags are used exactly as given,
  outside name scopes, as in TF 0.x), ``merge_summary``/``merge_all_summaries``,
  ``train.SummaryWriter``, ``pack``/``unpack``, ``mul``/``sub``/``neg``, ``select``, ``to_float``…;
* TF 2's switches that TF-1 code calls under ``tf.compat.v1`` (``disable_eager_execution``,
  ``disable_v2_behavior``), which change nothing here: graphs and Sessions are the only mode.

Subpackages that may be added to ``tensorkiln`` later (``train``, ``layers``, ``losses``,
``summary``, ``aot``) are resolved when first used, so this module imports quickly and keeps
working as the library grows. There is no ``tf.contrib``.
"""
from __future__ import annotations

import builtins as _builtins
import importlib as _importlib
import types as _types
from typing import Any as _Any

import tensorkiln as _tk

from . import app, flags, gfile  # noqa: F401
from . import tf_logging as logging  # noqa: F401

_PACKAGE = "tensorkiln"


def _resolve(name: str) -> _Any:
    """``tensorkiln.<name>``: the attribute if the package has it, else the submodule, else None."""
    try:
        return getattr(_tk, name)
    except AttributeError:
        pass
    try:
        return _importlib.import_module(f"{_PACKAGE}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{_PACKAGE}.{name}":
            raise
    return None


class _Deferred:
    """A namespace member computed on first access (keeps heavy imports out of module load)."""

    def __init__(self, fn: _Any):
        self.fn = fn


class _LazyNamespace(_types.ModuleType):
    """``tf.train``, ``tf.summary``…: forwards to ``tensorkiln.<name>``, resolved on first use, with
    ``extras`` (TF-1 spellings) taking precedence."""

    def __init__(self, name: str, extras: dict[str, _Any] | None = None, doc: str | None = None):
        super().__init__(f"{__name__}.{name}", doc)
        self._tk_name = name
        self._extras = dict(extras or {})

    def _target(self) -> _Any:
        target = _resolve(self._tk_name)
        if target is None:
            raise AttributeError(f"tensorkiln.{self._tk_name} is not available in this build of tensorkiln")
        return target

    def __getattr__(self, attr: str) -> _Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        extras = self.__dict__["_extras"]
        if attr in extras:
            value = extras[attr]
            if isinstance(value, _Deferred):
                value = extras[attr] = value.fn()
            return value
        try:
            return getattr(self._target(), attr)
        except AttributeError:
            raise AttributeError(f"module '{self.__name__}' has no attribute '{attr}'") from None

    def __dir__(self) -> list[str]:
        names = set(self._extras)
        try:
            names.update(n for n in dir(self._target()) if not n.startswith("_"))
        except AttributeError:
            pass
        return sorted(names)

    def __repr__(self) -> str:
        return f"<namespace '{self.__name__}' -> tensorkiln.{self._tk_name}>"


def _file_writer() -> _Any:
    from ..summary import FileWriter

    return FileWriter


train = _LazyNamespace("train", {"SummaryWriter": _Deferred(_file_writer)}, "tf.train (tensorkiln.train)")
summary = _LazyNamespace("summary", {"FileWriter": _Deferred(_file_writer)}, "tf.summary (tensorkiln.summary)")
nn = _LazyNamespace("nn", None, "tf.nn (tensorkiln.nn)")
layers = _LazyNamespace("layers", None, "tf.layers (tensorkiln.layers)")
losses = _LazyNamespace("losses", None, "tf.losses (tensorkiln.losses)")
aot = _LazyNamespace("aot", None, "tensorkiln.aot")


# --------------------------------------------------------------------------- TF 0.x summaries


def _exact_tag_summary(op_type: str, tag: _Any, tensor: _Any, encoder: _Any, attrs: dict, collections: _Any,
                       name: _Any) -> _Any:
    """A summary op whose tag is ``tag`` exactly (TF 0.x did not prefix tags with name scopes)."""
    from ..framework.constant_op import convert_to_tensor
    from ..framework.ops import graph_of
    from ..summary import summary_ops as so

    if not isinstance(tag, str):
        raise TypeError(f"{op_type}: the tag must be a Python string here, got {type(tag).__name__}")
    tensor = convert_to_tensor(tensor)
    g = graph_of([tensor])
    with g.name_scope(name or op_type) as scope:
        tags = so._string_const(tag, "tags", g)
        out = so._host_op(op_type, [tags, tensor], scope,
                          lambda v: so._serialize(encoder(str(v[0].item()), v[1])), dict(attrs, T=tensor.dtype), g)
    so._collect(out, collections, g)
    return out


def scalar_summary(tags: str, values: _Any, collections: _Any = None, name: _Any = None) -> _Any:
    """TF 0.x ``tf.scalar_summary(tags, values)``; use ``tf.summary.scalar`` in new code."""
    from ..summary import encode

    return _exact_tag_summary("ScalarSummary", tags, values, encode.scalar_summary, {}, collections, name)


def histogram_summary(tag: str, values: _Any, collections: _Any = None, name: _Any = None) -> _Any:
    """TF 0.x ``tf.histogram_summary(tag, values)``; use ``tf.summary.histogram`` in new code."""
    from ..summary import encode

    return _exact_tag_summary("HistogramSummary", tag, values, encode.histogram_summary, {}, collections, name)


def image_summary(tag: str, tensor: _Any, max_images: int = 3, collections: _Any = None, name: _Any = None) -> _Any:
    """TF 0.x ``tf.image_summary(tag, tensor, max_images)``; use ``tf.summary.image`` in new code."""
    from ..summary import encode

    shape = _tk.convert_to_tensor(tensor).shape
    if shape.ndims is not None and (shape.ndims != 4 or shape.as_list()[-1] not in (1, 3, 4, None)):
        raise ValueError(f"Tensor must be 4-D with last dim 1, 3, or 4, not {shape.as_list()} (summary '{tag}')")
    n = int(max_images)
    return _exact_tag_summary("ImageSummary", tag, tensor, lambda t, v: encode.image_summaries(t, v, n),
                              {"max_images": n}, collections, name)


def merge_summary(inputs: _Any, collections: _Any = None, name: _Any = None) -> _Any:
    """TF 0.x ``tf.merge_summary``: ``tf.summary.merge``."""
    return summary.merge(inputs, collections=collections, name=name)


def merge_all_summaries(key: str = "summaries") -> _Any:
    """TF 0.x ``tf.merge_all_summaries``: ``tf.summary.merge_all``."""
    return summary.merge_all(key)


# --------------------------------------------------------------------------- other pre-1.0 names


def pack(values: _Any, axis: int = 0, name: str = "pack") -> _Any:
    """TF 0.x ``tf.pack``: ``tf.stack``."""
    return _tk.stack(values, axis=axis, name=name)


def unpack(value: _Any, num: _Any = None, axis: int = 0, name: str = "unpack") -> _Any:
    """TF 0.x ``tf.unpack``: ``tf.unstack``."""
    return _tk.unstack(value, num=num, axis=axis, name=name)


def mul(x: _Any, y: _Any, name: _Any = None) -> _Any:
    """TF 0.x ``tf.mul``: ``tf.multiply``."""
    return _tk.multiply(x, y, name=name)


def sub(x: _Any, y: _Any, name: _Any = None) -> _Any:
    """TF 0.x ``tf.sub``: ``tf.subtract``."""
    return _tk.subtract(x, y, name=name)


def neg(x: _Any, name: _Any = None) -> _Any:
    """TF 0.x ``tf.neg``: ``tf.negative``."""
    return _tk.negative(x, name=name)


def select(condition: _Any, x: _Any, y: _Any, name: _Any = None) -> _Any:
    """TF 0.x ``tf.select``: ``tf.where`` with both branches."""
    return _tk.where(condition, x, y, name=name)


def initialize_local_variables() -> _Any:
    """TF 0.x ``tf.initialize_local_variables``: ``tf.local_variables_initializer()``."""
    return _tk.local_variables_initializer()


def initialize_variables(var_list: _Any, name: str = "init") -> _Any:
    """TF 0.x ``tf.initialize_variables``: ``tf.variables_initializer``."""
    return _tk.variables_initializer(var_list, name=name)


# --------------------------------------------------------------------------- protos


class RunMetadata(_tk.RunMetadata):
    """``tf.RunMetadata``: what ``Session.run(..., run_metadata=md)`` records, and, as TF's is a
    proto, ``SerializeToString()`` — so ``FileWriter.add_run_metadata(md, tag)`` stores it and
    TensorBoard's graph dashboard shows the step's timing per node."""

    def to_proto(self) -> _Any:
        from tensorboard.compat.proto import config_pb2

        proto = config_pb2.RunMetadata()
        for dev in self.step_stats.dev_stats:
            dev_proto = proto.step_stats.dev_stats.add(device=dev.device)
            for node in dev.node_stats:
                dev_proto.node_stats.add(
                    node_name=node.node_name, all_start_micros=int(node.all_start_micros),
                    op_start_rel_micros=0, op_end_rel_micros=int(node.all_end_rel_micros),
                    all_end_rel_micros=int(node.all_end_rel_micros), timeline_label=node.timeline_label)
        return proto

    def SerializeToString(self) -> bytes:
        return self.to_proto().SerializeToString()


# --------------------------------------------------------------------------- TF 2 switches


def disable_eager_execution() -> None:
    """Nothing to do: tensorkiln only builds graphs."""


def disable_v2_behavior() -> None:
    """Nothing to do: tensorkiln only has TF 1.x behaviour."""


def enable_eager_execution(*_: _Any, **__: _Any) -> None:
    raise NotImplementedError("tensorkiln has no eager mode: build a graph and run it in a tf.Session")


def executing_eagerly() -> _builtins.bool:
    return False


# --------------------------------------------------------------------------- the rest of tensorkiln


def _gradients_fallback() -> _Any:
    from ..framework.gradients_impl import gradients

    return gradients


#: Names TF-1 code expects that may live outside ``tensorkiln``'s top level in this build.
_FALLBACKS = {"gradients": _gradients_fallback}
#: Top-level names of ``tensorkiln`` that are not part of TF's API.
_SKIP = {"Path", "Union", "annotations", "backends", "compiler", "framework", "ir", "runtime", "parse",
         "compile"}

for _name, _value in _builtins.list(vars(_tk).items()):
    if not _name.startswith("_") and _name not in _SKIP and _name not in globals():
        globals()[_name] = _value
del _name, _value


def __getattr__(name: str) -> _Any:
    if name == "contrib":
        raise AttributeError("tensorkiln.compat.v1 has no 'contrib': TF 1.x's contrib is not provided "
                             "(tf.layers, tf.losses and tf.train hold what the tutorials need)")
    if name.startswith("__") or name in _SKIP:
        raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
    value = _resolve(name)
    if value is None and name in _FALLBACKS:
        value = _FALLBACKS[name]()
    if value is None:
        raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
    return value


def __dir__() -> list[str]:
    names = {n for n in globals() if not n.startswith("_")}
    names.update(n for n in dir(_tk) if not n.startswith("_") and n not in _SKIP)
    names.update(_FALLBACKS)
    return sorted(names)
