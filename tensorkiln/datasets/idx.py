"""IDX files: the array format of MNIST and Fashion-MNIST, read and written with numpy.

An IDX file is a 4-byte magic number — two zero bytes, a type code, the number of dimensions —
then one big-endian uint32 per dimension, then the elements in row-major order, big-endian.
Files may be gzip-compressed; a name ending in ``.gz`` (or the gzip magic bytes) says so.

Every malformed input — wrong magic, unknown type code, truncated header or data, trailing bytes,
a damaged gzip stream — raises :class:`IdxFormatError` (a ``ValueError``) naming the file and what
is wrong with it; nothing here may crash or hang on bad bytes.
"""
from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path
from typing import Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

# IDX type code -> element dtype (big-endian on disk).
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_SIZE_TO_CODE = {(dt.kind, dt.itemsize): code for code, dt in _CODE_TO_DTYPE.items()}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(ValueError):
    """A file that is not a well-formed IDX file (or not a well-formed gzip stream around one)."""


def supported_dtypes() -> list[np.dtype]:
    """The element types IDX can hold, in native byte order."""
    return [dt.newbyteorder("=") for dt in _CODE_TO_DTYPE.values()]


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode the (uncompressed) bytes of an IDX file into a native-endian array."""
    if len(data) < 4:
        raise IdxFormatError(f"{name}: truncated IDX header ({len(data)} bytes, need at least 4)")
    if data[0] != 0 or data[1] != 0:
        raise IdxFormatError(
            f"{name}: not an IDX file (magic number {data[:4].hex()} does not start with 0000)")
    code, ndim = data[2], data[3]
    if code not in _CODE_TO_DTYPE:
        known = ", ".join(f"0x{c:02X}" for c in _CODE_TO_DTYPE)
        raise IdxFormatError(f"{name}: unknown IDX element type 0x{code:02X} (known: {known})")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IdxFormatError(
            f"{name}: truncated IDX header: {ndim} dimensions need {header_len} bytes, file has "
            f"{len(data)}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _CODE_TO_DTYPE[code]
    count = 1
    for d in dims:
        count *= d  # Python int: no overflow on absurd headers
    expected = header_len + count * dtype.itemsize
    if len(data) < expected:
        raise IdxFormatError(
            f"{name}: truncated IDX data: shape {dims} of {dtype.newbyteorder('=').name} needs "
            f"{expected - header_len} bytes after the header, file has {len(data) - header_len}")
    if len(data) > expected:
        raise IdxFormatError(
            f"{name}: {len(data) - expected} unexpected trailing bytes after the IDX data of "
            f"shape {dims}")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header_len).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # a writable, native-endian copy


def _decompress(raw: bytes, name: str) -> bytes:
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:  # BadGzipFile is an OSError
        raise IdxFormatError(f"{name}: damaged or truncated gzip data ({e})") from None


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a native-endian numpy array.

    Raises FileNotFoundError when the file is missing and IdxFormatError (a ValueError) when its
    contents are not a well-formed IDX file.
    """
    path = Path(path)
    raw = path.read_bytes()
    name = str(path)
    if path.suffix == ".gz" or raw[:2] == _GZIP_MAGIC:
        raw = _decompress(raw, name)
    return parse_idx(raw, name)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an array as the bytes of an (uncompressed) IDX file."""
    arr = np.asarray(array)
    code = _KIND_SIZE_TO_CODE.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        names = ", ".join(dt.name for dt in supported_dtypes())
        raise TypeError(f"IDX cannot hold dtype {arr.dtype} (supported: {names})")
    if arr.ndim > 255:
        raise ValueError(f"IDX holds at most 255 dimensions, array has {arr.ndim}")
    if any(d > 0xFFFFFFFF for d in arr.shape):
        raise ValueError(f"IDX dimensions must fit in uint32, shape is {arr.shape}")
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(arr, dtype=_CODE_TO_DTYPE[code]).tobytes()


def write_idx(path: PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write an array as an IDX file; gzip it when ``compress`` is true or, by default, when the
    name ends in ``.gz``. The gzip header carries no name or time, so output is reproducible."""
    path = Path(path)
    data = idx_bytes(array)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as f:
            f.write(data)
        data = buf.getvalue()
    path.write_bytes(data)
    return path
