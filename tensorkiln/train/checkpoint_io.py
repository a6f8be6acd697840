"""The checkpoint file format and atomic file writes. No pickle: a JSON header and raw arrays.

One checkpoint is one file, ``<prefix>.tkckpt``::

    offset 0   magic            8 bytes  b"TKCKPT\\x00\\x01"
    offset 8   header length H  uint64 little-endian
    offset 16  header CRC-32    uint32 little-endian (zlib's CRC-32 of the header bytes)
    offset 20  reserved         4 zero bytes
    offset 24  header           H bytes of UTF-8 JSON
    then       zero padding to a multiple of 64: the data section starts at D
    D + off    each array's bytes, C order, little-endian, each at a 64-byte-aligned offset

The header is ``{"format": "tensorkiln-checkpoint", "version": 1, "data_size": int, "tensors":
[{"name", "dtype", "shape", "offset", "nbytes", "crc32"}, ...], "meta": {...}}``; ``dtype`` is a
numpy name (``float32``, ``int64``, ``bool``…) and ``crc32`` the CRC-32 of that array's bytes.
:func:`read_checkpoint` checks the magic, the header checksum, the file size and every array's
size and checksum, and raises ``tk.errors.DataLossError`` naming the file and what is wrong.

:func:`atomic_write` writes a temporary file in the target's directory, flushes and fsyncs it,
renames it over the target and fsyncs the directory, so a reader sees the old file or the whole
new one. For tests, ``TENSORKILN_CKPT_PAUSE_BEFORE_RENAME=<seconds>`` sleeps between the fsync and
the rename (a process killed there leaves only a ``*.tmp-*`` file behind).
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
import time
import zlib
from typing import Any, Iterable, Mapping

import numpy as np

from .. import errors

MAGIC = b"TKCKPT\x00\x01"
SUFFIX = ".tkckpt"
ALIGN = 64
PAUSE_ENV = "TENSORKILN_CKPT_PAUSE_BEFORE_RENAME"
_PREFIX = struct.Struct("<8sQI4x")
_DTYPES = {"bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
           "float16", "float32", "float64", "complex64", "complex128"}
_MAX_HEADER = 1 << 30


def data_path(prefix: str) -> str:
    """The file holding the checkpoint ``prefix``."""
    return os.fspath(prefix) + SUFFIX


def _pad(n: int) -> int:
    return (-n) % ALIGN


def encode(arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None) -> list[bytes]:
    """The file's contents as a list of byte chunks."""
    entries, chunks, offset = [], [], 0
    for name, value in arrays.items():
        a = np.asarray(value)
        if a.dtype.name not in _DTYPES:
            raise TypeError(f"cannot checkpoint {name!r}: unsupported dtype {a.dtype}")
        a = np.asarray(a, dtype=a.dtype.newbyteorder("<"))
        raw = a.tobytes(order="C")
        entries.append({"name": name, "dtype": a.dtype.name, "shape": list(a.shape), "offset": offset,
                        "nbytes": len(raw), "crc32": zlib.crc32(raw)})
        chunks.append(raw)
        pad = _pad(len(raw))
        if pad:
            chunks.append(b"\0" * pad)
        offset += len(raw) + pad
    header = json.dumps({"format": "tensorkiln-checkpoint", "version": 1, "data_size": offset, "tensors": entries,
                         "meta": dict(meta or {})}, sort_keys=True, separators=(",", ":")).encode()
    head = _PREFIX.pack(MAGIC, len(header), zlib.crc32(header)) + header
    return [head, b"\0" * _pad(len(head))] + chunks


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``path`` atomically (temp file + fsync + rename + directory fsync)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c)
            f.flush()
            os.fsync(f.fileno())
        pause = os.environ.get(PAUSE_ENV)
        if pause:
            time.sleep(float(pause))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def write_checkpoint(prefix: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None) -> str:
    """Write ``arrays`` as the checkpoint ``prefix``; returns the file's path."""
    path = data_path(prefix)
    atomic_write(path, encode(arrays, meta))
    return path


def _loss(path: str, what: str) -> errors.DataLossError:
    return errors.DataLossError(None, None, f"Checkpoint {path} is corrupted: {what}")


def read_header(path: str, blob: bytes) -> tuple[dict[str, Any], int]:
    """The parsed header of a checkpoint file's bytes and where its data section starts."""
    if len(blob) < _PREFIX.size:
        raise _loss(path, f"the file is truncated ({len(blob)} bytes)")
    magic, hlen, hcrc = _PREFIX.unpack_from(blob)
    if magic != MAGIC:
        raise _loss(path, "it is not a tensorkiln checkpoint (bad magic bytes)")
    if hlen > min(_MAX_HEADER, len(blob) - _PREFIX.size):
        raise _loss(path, f"the header length {hlen} exceeds the file")
    header = blob[_PREFIX.size:_PREFIX.size + hlen]
    if zlib.crc32(header) != hcrc:
        raise _loss(path, "the header checksum does not match")
    try:
        meta = json.loads(header)
        tensors = meta["tensors"]
        data_size = int(meta["data_size"])
    except (ValueError, KeyError, TypeError):
        raise _loss(path, "the header is not valid") from None
    if meta.get("format") != "tensorkiln-checkpoint" or meta.get("version") != 1:
        raise _loss(path, f"unknown format {meta.get('format')!r} version {meta.get('version')!r}")
    start = _PREFIX.size + hlen
    start += _pad(start)
    if len(blob) != start + data_size:
        raise _loss(path, f"the file has {len(blob)} bytes, the header says {start + data_size}")
    if not isinstance(tensors, list):
        raise _loss(path, "the header is not valid")
    return meta, start


def _entry_array(path: str, blob: bytes, start: int, e: Any) -> np.ndarray:
    try:
        name, dtype, shape = e["name"], e["dtype"], tuple(int(d) for d in e["shape"])
        off, nbytes, crc = int(e["offset"]), int(e["nbytes"]), int(e["crc32"])
    except (KeyError, TypeError, ValueError):
        raise _loss(path, f"a tensor entry is not valid: {e!r}") from None
    if dtype not in _DTYPES:
        raise _loss(path, f"tensor {name!r} has an unknown dtype {dtype!r}")
    dt = np.dtype(dtype).newbyteorder("<")
    if off < 0 or any(d < 0 for d in shape) or nbytes != int(np.prod(shape, dtype=np.int64)) * dt.itemsize:
        raise _loss(path, f"tensor {name!r}: {nbytes} bytes do not fit shape {list(shape)} of {dtype}")
    lo = start + off
    if lo + nbytes > len(blob):
        raise _loss(path, f"tensor {name!r} lies past the end of the file")
    raw = blob[lo:lo + nbytes]
    if zlib.crc32(raw) != crc:
        raise _loss(path, f"the checksum of tensor {name!r} does not match")
    return np.frombuffer(raw, dtype=dt).reshape(shape).astype(dt.newbyteorder("="), copy=True)


def read_checkpoint(prefix: str, names: Iterable[str] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays (all, or those in ``names`` that exist) and the ``meta`` of a checkpoint.

    Raises ``tk.errors.NotFoundError`` when there is no file, ``DataLossError`` when it is corrupt."""
    path = data_path(prefix)
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"Failed to find any matching files for {prefix}") from None
    header, start = read_header(path, blob)
    wanted = None if names is None else set(names)
    out: dict[str, np.ndarray] = {}
    for e in header["tensors"]:
        if wanted is None or (isinstance(e, dict) and e.get("name") in wanted):
            out[e["name"]] = _entry_array(path, blob, start, e)
    return out, dict(header.get("meta") or {})


def read_index(prefix: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """``{name: (shape, dtype name)}`` of a checkpoint, from its (checked) header only."""
    path = data_path(prefix)
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"Failed to find any matching files for {prefix}") from None
    header, _ = read_header(path, blob)
    return {e["name"]: (tuple(e["shape"]), e["dtype"]) for e in header["tensors"]}
