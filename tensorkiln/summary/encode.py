"""Build TensorBoard ``Summary`` protos from numpy values, the way TensorFlow 1.x's summary ops do.

Everything here runs *after* a compiled call, on the numbers it returned: it only packs them into
TensorBoard's compiled protobuf messages (``tensorboard.compat.proto``) — no hand-written encoder.

* :func:`scalar_summary` — ``Summary.Value(simple_value=...)`` (TF's ``ScalarSummary``).
* :func:`histogram_summary` — ``HistogramProto`` with TF's default bucket edges from ``histogram.cc``:
  ``±1e-12·1.1^k`` up to ``1e20``, ``±DBL_MAX`` and ``0``; runs of empty buckets collapse into one.
* :func:`image_summaries` — PNG images (Pillow), float images rescaled to ``uint8`` per image like TF's
  ``ImageSummary``; tags ``<tag>/image`` or ``<tag>/image/<i>``.
* :func:`text_summary` — a ``DT_STRING`` tensor with the text plugin's metadata.
* :func:`merge_summaries` — TF's ``MergeSummary``: concatenate values, reject duplicate tags.
"""
from __future__ import annotations

import io
import sys
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np
from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.text import metadata as text_metadata

from ..errors import InvalidArgumentError

__all__ = [
    "SummaryLike",
    "DEFAULT_BUCKET_LIMITS",
    "as_summary",
    "datatype_enum",
    "numpy_to_tensor_proto",
    "tensor_shape_proto",
    "scalar_summary",
    "histogram_proto",
    "histogram_summary",
    "normalize_image",
    "encode_png",
    "image_summaries",
    "text_summary",
    "merge_summaries",
]

SummaryLike = Union[summary_pb2.Summary, bytes, bytearray]

_DBL_MAX = sys.float_info.max


def _default_bucket_limits() -> tuple[float, ...]:
    """TF's default histogram bucket upper edges (``InitDefaultBucketsInner`` in ``histogram.cc``)."""
    pos: list[float] = []
    v = 1.0e-12
    while v < 1.0e20:  # grows by 10% per bucket; Python floats are doubles, as in C++
        pos.append(v)
        v *= 1.1
    pos.append(_DBL_MAX)
    neg = [-x for x in reversed(pos)]
    return tuple(neg + [0.0] + pos)


DEFAULT_BUCKET_LIMITS: tuple[float, ...] = _default_bucket_limits()
_LIMITS_ARRAY = np.asarray(DEFAULT_BUCKET_LIMITS, dtype=np.float64)


# --------------------------------------------------------------------------- dtypes and tensors

_NP_TO_DT = {
    np.dtype(np.float32): types_pb2.DT_FLOAT,
    np.dtype(np.float64): types_pb2.DT_DOUBLE,
    np.dtype(np.float16): types_pb2.DT_HALF,
    np.dtype(np.int8): types_pb2.DT_INT8,
    np.dtype(np.int16): types_pb2.DT_INT16,
    np.dtype(np.int32): types_pb2.DT_INT32,
    np.dtype(np.int64): types_pb2.DT_INT64,
    np.dtype(np.uint8): types_pb2.DT_UINT8,
    np.dtype(np.uint16): types_pb2.DT_UINT16,
    np.dtype(np.uint32): types_pb2.DT_UINT32,
    np.dtype(np.uint64): types_pb2.DT_UINT64,
    np.dtype(np.bool_): types_pb2.DT_BOOL,
    np.dtype(np.complex64): types_pb2.DT_COMPLEX64,
    np.dtype(np.complex128): types_pb2.DT_COMPLEX128,
}
_NAME_TO_DT = {
    # tensorkiln IR names
    "f16": types_pb2.DT_HALF, "f32": types_pb2.DT_FLOAT, "f64": types_pb2.DT_DOUBLE,
    "i8": types_pb2.DT_INT8, "i16": types_pb2.DT_INT16, "i32": types_pb2.DT_INT32, "i64": types_pb2.DT_INT64,
    "u8": types_pb2.DT_UINT8, "i1": types_pb2.DT_BOOL,
    # TensorFlow / numpy names
    "half": types_pb2.DT_HALF, "float16": types_pb2.DT_HALF, "float": types_pb2.DT_FLOAT,
    "float32": types_pb2.DT_FLOAT, "double": types_pb2.DT_DOUBLE, "float64": types_pb2.DT_DOUBLE,
    "int8": types_pb2.DT_INT8, "int16": types_pb2.DT_INT16, "int32": types_pb2.DT_INT32,
    "int64": types_pb2.DT_INT64, "uint8": types_pb2.DT_UINT8, "uint16": types_pb2.DT_UINT16,
    "uint32": types_pb2.DT_UINT32, "uint64": types_pb2.DT_UINT64, "bool": types_pb2.DT_BOOL,
    "string": types_pb2.DT_STRING, "str": types_pb2.DT_STRING, "bytes": types_pb2.DT_STRING,
    "resource": types_pb2.DT_RESOURCE, "variant": types_pb2.DT_VARIANT,
    "complex64": types_pb2.DT_COMPLEX64, "complex128": types_pb2.DT_COMPLEX128,
    "bfloat16": types_pb2.DT_BFLOAT16,
}


def datatype_enum(dtype: Any) -> int:
    """TensorFlow ``DataType`` enum value for a numpy dtype, a tensorkiln ``DType``, a TF-like dtype
    object (``as_numpy_dtype`` / ``np_dtype`` / ``name``) or a name (``"float32"``, ``"f32"``)."""
    if isinstance(dtype, int) and not isinstance(dtype, bool):
        return dtype
    if isinstance(dtype, str):
        key = dtype.lower().removeprefix("dt_") if dtype.upper().startswith("DT_") else dtype.lower()
        if key in _NAME_TO_DT:
            return _NAME_TO_DT[key]
        try:
            return _NP_TO_DT[np.dtype(key)]
        except (TypeError, KeyError):
            raise TypeError(f"no TensorFlow DataType for dtype {dtype!r}") from None
    enum = getattr(dtype, "as_datatype_enum", None)  # TF-like dtype objects carry TF's enum
    if isinstance(enum, int) and not isinstance(enum, bool) and enum > 0:
        return enum
    for attr in ("np_dtype", "as_numpy_dtype"):
        if hasattr(dtype, attr):
            return datatype_enum(np.dtype(getattr(dtype, attr)))
    if isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        dt = np.dtype(dtype)
        if dt.kind in "SUO":
            return types_pb2.DT_STRING
        if dt in _NP_TO_DT:
            return _NP_TO_DT[dt]
        raise TypeError(f"no TensorFlow DataType for numpy dtype {dt}")
    if hasattr(dtype, "name") and isinstance(dtype.name, str):
        return datatype_enum(dtype.name)
    raise TypeError(f"no TensorFlow DataType for {dtype!r}")


def tensor_shape_proto(shape: Optional[Iterable[Any]]) -> tensor_shape_pb2.TensorShapeProto:
    """``TensorShapeProto``; ``None`` is unknown rank, a ``None`` (or symbolic) dim is size -1."""
    if shape is None:
        return tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
    dims = []
    for d in shape:
        if isinstance(d, (int, np.integer)) and not isinstance(d, bool):
            dims.append(tensor_shape_pb2.TensorShapeProto.Dim(size=int(d)))
        else:  # None, a symbolic dim (``N``) or anything not a concrete size
            dims.append(tensor_shape_pb2.TensorShapeProto.Dim(size=-1))
    return tensor_shape_pb2.TensorShapeProto(dim=dims)


def numpy_to_tensor_proto(value: Any) -> tensor_pb2.TensorProto:
    """``TensorProto`` holding ``value``: strings in ``string_val``, numbers as raw ``tensor_content``."""
    arr = np.asarray(value)
    shape = tensor_shape_proto(arr.shape)
    if arr.dtype.kind in "SUO":
        flat = [x if isinstance(x, bytes) else str(x).encode("utf-8") for x in arr.reshape(-1).tolist()]
        return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=shape, string_val=flat)
    dt = datatype_enum(arr.dtype)
    content = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
    return tensor_pb2.TensorProto(dtype=dt, tensor_shape=shape, tensor_content=content)


def as_summary(summary: SummaryLike) -> summary_pb2.Summary:
    """A ``Summary`` proto from a proto or its serialized bytes (what a fetched summary op returns)."""
    if isinstance(summary, summary_pb2.Summary):
        return summary
    if isinstance(summary, np.ndarray) and summary.shape == () and summary.dtype.kind in "SO":
        summary = summary.item()
    if isinstance(summary, (bytes, bytearray)):
        out = summary_pb2.Summary()
        out.ParseFromString(bytes(summary))
        return out
    raise TypeError(f"expected a Summary proto or serialized Summary bytes, got {type(summary).__name__}")


# --------------------------------------------------------------------------- scalars


def scalar_summary(tag: str, value: Any) -> summary_pb2.Summary:
    """TF's ``ScalarSummary`` for one tag: the value must be a scalar (any real dtype)."""
    arr = np.asarray(value)
    if arr.size != 1 or arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != 1):
        raise InvalidArgumentError(
            None, None, f"tags and values not the same shape: [] != {list(arr.shape)} (tag '{tag}')"
        )
    if arr.dtype.kind not in "biuf":
        raise InvalidArgumentError(None, None, f"scalar summary '{tag}' needs a real number, got {arr.dtype}")
    v = summary_pb2.Summary.Value(tag=tag, simple_value=float(arr.reshape(())))
    return summary_pb2.Summary(value=[v])


# --------------------------------------------------------------------------- histograms


def histogram_proto(values: Any, tag: str = "") -> summary_pb2.HistogramProto:
    """``HistogramProto`` of all elements of ``values`` with TF's default buckets.

    A bucket ``i`` counts the values ``v`` with ``limit[i-1] <= v < limit[i]`` (``upper_bound``), and
    consecutive empty buckets are emitted as one (``EncodeToProto(preserve_zero_buckets=false)``).
    Non-finite values are an ``InvalidArgumentError``, as in TF's ``HistogramSummary``.
    """
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise InvalidArgumentError(None, None, f"histogram summary '{tag}' needs real numbers, got {arr.dtype}")
    x = arr.astype(np.float64, copy=False).reshape(-1)
    if x.size and not np.isfinite(x).all():
        raise InvalidArgumentError(None, None, f"Nan in summary histogram for: {tag}")
    nb = len(DEFAULT_BUCKET_LIMITS)
    if x.size:
        idx = np.searchsorted(_LIMITS_ARRAY, x, side="right")
        np.minimum(idx, nb - 1, out=idx)  # only +DBL_MAX itself would land past the end
        counts = np.bincount(idx, minlength=nb).astype(np.float64)
        lo, hi = float(x.min()), float(x.max())
        total, squares = float(x.sum()), float(np.dot(x, x))
    else:
        counts = np.zeros(nb, dtype=np.float64)
        lo, hi, total, squares = _DBL_MAX, -_DBL_MAX, 0.0, 0.0
    limits: list[float] = []
    buckets: list[float] = []
    nonzero = np.flatnonzero(counts > 0)
    # Walk the buckets like EncodeToProto: each non-empty bucket is emitted; a run of empty ones becomes
    # a single zero bucket whose limit is the last limit of the run.
    i = 0
    for j in nonzero.tolist():
        if j > i:
            limits.append(DEFAULT_BUCKET_LIMITS[j - 1])
            buckets.append(0.0)
        limits.append(DEFAULT_BUCKET_LIMITS[j])
        buckets.append(float(counts[j]))
        i = j + 1
    if i < nb:
        limits.append(DEFAULT_BUCKET_LIMITS[nb - 1])
        buckets.append(0.0)
    return summary_pb2.HistogramProto(
        min=lo, max=hi, num=float(x.size), sum=total, sum_squares=squares, bucket_limit=limits, bucket=buckets
    )


def histogram_summary(tag: str, values: Any) -> summary_pb2.Summary:
    """TF's ``HistogramSummary``: one ``Summary.Value(histo=...)``."""
    v = summary_pb2.Summary.Value(tag=tag, histo=histogram_proto(values, tag))
    return summary_pb2.Summary(value=[v])


# --------------------------------------------------------------------------- images

_BAD_COLOR = np.array([255, 0, 0, 255], dtype=np.uint8)


def normalize_image(image: np.ndarray) -> np.ndarray:
    """One ``[h, w, c]`` image as ``uint8``, TF's ``ImageSummary`` rule for float images.

    Non-negative images are scaled so that the max is 255; images with negatives are scaled so that the
    largest magnitude is 127 and shifted by 128. Non-finite pixels become the bad colour (red).
    """
    if image.dtype == np.uint8:
        return image
    x = image.astype(np.float32, copy=False)
    finite = np.isfinite(x)
    pix_ok = finite.all(axis=-1)
    vals = x[finite]
    lo = float(vals.min()) if vals.size else np.inf
    hi = float(vals.max()) if vals.size else -np.inf
    zero = 1e-6
    if lo < 0:
        m = max(abs(lo), abs(hi))
        scale, offset = (0.0 if m < zero else 127.0 / m), 128.0
    else:
        scale, offset = (0.0 if hi < zero else 255.0 / hi), 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        y = np.where(finite, x, 0.0) * np.float32(scale) + np.float32(offset)
    out = np.clip(y, 0, 255).astype(np.uint8)  # truncation, as C++'s static_cast<uint8>
    if not pix_ok.all():
        out[~pix_ok] = _BAD_COLOR[: image.shape[-1]]
    return out


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a ``uint8`` ``[h, w, c]`` image, ``c`` in 1 (grey), 3 (RGB), 4 (RGBA) — via Pillow."""
    from PIL import Image  # Pillow is a dependency of tensorboard

    channels = image.shape[-1]
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    data = np.ascontiguousarray(image[..., 0] if channels == 1 else image)
    buf = io.BytesIO()
    Image.fromarray(data, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def image_summaries(tag: str, images: Any, max_outputs: int = 3) -> summary_pb2.Summary:
    """TF's ``ImageSummary``: up to ``max_outputs`` PNGs of a ``[batch, h, w, c]`` tensor."""
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4):
        raise InvalidArgumentError(
            None, None, f"Tensor must be 4-D with last dim 1, 3, or 4, not {list(arr.shape)} (tag '{tag}')"
        )
    if arr.dtype != np.uint8 and arr.dtype.kind != "f":
        raise InvalidArgumentError(None, None, f"image summary '{tag}' needs uint8 or float images, got {arr.dtype}")
    if max_outputs < 1:
        raise InvalidArgumentError(None, None, f"max_outputs must be positive, got {max_outputs}")
    n = min(int(max_outputs), arr.shape[0])
    _, h, w, c = arr.shape
    values = []
    for i in range(n):
        sub = f"{tag}/image" if max_outputs == 1 else f"{tag}/image/{i}"
        img = summary_pb2.Summary.Image(
            height=h, width=w, colorspace=c, encoded_image_string=encode_png(normalize_image(arr[i]))
        )
        values.append(summary_pb2.Summary.Value(tag=sub, image=img))
    return summary_pb2.Summary(value=values)


# --------------------------------------------------------------------------- text


def text_summary(tag: str, text: Any) -> summary_pb2.Summary:
    """TF's ``tf.summary.text``: a string tensor (any shape) tagged for TensorBoard's text plugin."""
    arr = np.asarray(text)
    if arr.dtype.kind not in "SUO":
        raise InvalidArgumentError(None, None, f"text summary '{tag}' needs strings, got {arr.dtype}")
    meta = text_metadata.create_summary_metadata(display_name="", description="")
    v = summary_pb2.Summary.Value(tag=tag, metadata=meta, tensor=numpy_to_tensor_proto(arr))
    return summary_pb2.Summary(value=[v])


# --------------------------------------------------------------------------- merging


def merge_summaries(summaries: Sequence[SummaryLike]) -> summary_pb2.Summary:
    """TF's ``MergeSummary``: all values of all inputs; a tag seen twice is an InvalidArgumentError."""
    out = summary_pb2.Summary()
    seen: set[str] = set()
    for s in summaries:
        for v in as_summary(s).value:
            if v.tag in seen:
                raise InvalidArgumentError(None, None, f"Duplicate tag {v.tag} found in summary inputs")
            seen.add(v.tag)
            out.value.add().CopyFrom(v)
    return out
