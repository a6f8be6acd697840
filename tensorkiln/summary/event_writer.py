"""TFRecord framing and the event-file writer that TensorBoard reads.

An event file is a sequence of TFRecords, each one serialized ``tensorboard.Event`` proto::

    uint64  length               (little endian)
    uint32  masked_crc32c(length bytes)
    bytes   data[length]
    uint32  masked_crc32c(data)

The first record of every file is ``Event(wall_time=..., file_version="brain.Event:2")``; the file is
named ``events.out.tfevents.<10-digit seconds>.<hostname>[suffix]`` like TensorFlow 1.x's C++
``EventsWriter``.

CRC32C comes from the ``crc32c`` package (hardware accelerated) when it is installed, otherwise from
TensorBoard's own pure-Python implementation (``tensorboard.compat.tensorflow_stub``), which is correct
but slow (about 5 MB/s) — fine for scalars and small graphs.

:class:`EventFileWriter` is thread-safe: records are appended under a lock to a buffered file, and a
daemon thread flushes the file to the OS every ``flush_secs`` seconds. ``close`` is idempotent.
"""
from __future__ import annotations

import atexit
import os
import socket
import struct
import threading
import time
import weakref
from typing import Callable, Optional

from tensorboard.compat.proto import event_pb2

__all__ = [
    "crc32c",
    "masked_crc32c",
    "frame_record",
    "read_records",
    "EventFileWriter",
    "CRC32C_IMPLEMENTATION",
    "FILE_VERSION",
]

FILE_VERSION = "brain.Event:2"
_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF


def _pick_crc32c() -> tuple[Callable[[bytes], int], str]:
    try:
        import crc32c as _fast  # type: ignore[import-not-found]

        return (lambda data: _fast.crc32c(data) & _U32), "crc32c"
    except ImportError:  # pragma: no cover - depends on the environment
        from tensorboard.compat.tensorflow_stub import pywrap_tensorflow as _tb

        return (lambda data: _tb.crc32c(data) & _U32), "tensorboard (pure Python)"


_crc32c_impl, CRC32C_IMPLEMENTATION = _pick_crc32c()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data`` as an unsigned 32-bit int."""
    return _crc32c_impl(bytes(data))


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: rotate the CRC right by 15 bits and add a constant (mod 2**32)."""
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def frame_record(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC of the length, the data, masked CRC of the data."""
    header = struct.pack("<Q", len(data))
    return b"".join(
        (header, struct.pack("<I", masked_crc32c(header)), data, struct.pack("<I", masked_crc32c(data)))
    )


def read_records(path: str, check_crc: bool = True) -> list[bytes]:
    """Read back every record of a TFRecord file (for tests and tools); raises ValueError when corrupt."""
    out: list[bytes] = []
    with open(path, "rb") as f:
        blob = f.read()
    pos = 0
    while pos < len(blob):
        if pos + 12 > len(blob):
            raise ValueError(f"{path}: truncated record header at byte {pos}")
        header = blob[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", blob[pos + 8 : pos + 12])
        if check_crc and hcrc != masked_crc32c(header):
            raise ValueError(f"{path}: bad length CRC at byte {pos}")
        start, end = pos + 12, pos + 12 + length
        if end + 4 > len(blob):
            raise ValueError(f"{path}: truncated record at byte {pos}")
        data = blob[start:end]
        (dcrc,) = struct.unpack("<I", blob[end : end + 4])
        if check_crc and dcrc != masked_crc32c(data):
            raise ValueError(f"{path}: bad data CRC at byte {pos}")
        out.append(data)
        pos = end + 4
    return out


_open_writers: "weakref.WeakSet[EventFileWriter]" = weakref.WeakSet()


@atexit.register
def _close_open_writers() -> None:
    """Writers never closed still get their buffered events onto disk when the interpreter exits."""
    for w in list(_open_writers):
        try:
            w.close()
        except Exception:
            pass


def _event_file_name(logdir: str, filename_suffix: str) -> str:
    """TF 1.x's name, made unique if another writer in this directory took it in the same second."""
    base = "events.out.tfevents.%010d.%s" % (int(time.time()), socket.gethostname())
    path = os.path.join(logdir, base + filename_suffix)
    n = 0
    while os.path.exists(path):
        n += 1
        path = os.path.join(logdir, f"{base}.{os.getpid()}.{n}{filename_suffix}")
    return path


class EventFileWriter:
    """Writes ``Event`` protos as TFRecords to a new event file in ``logdir``.

    ``max_queue`` bounds how many records may sit in Python's buffer before they are pushed to the OS;
    independently a background thread flushes every ``flush_secs`` seconds. Writes after ``close`` are
    dropped (TensorFlow 1.x's behaviour); ``reopen`` starts a new file.
    """

    def __init__(self, logdir: str, max_queue: int = 10, flush_secs: float = 120, filename_suffix: str = ""):
        if flush_secs is not None and flush_secs <= 0:
            raise ValueError(f"flush_secs must be positive, got {flush_secs}")
        self._logdir = str(logdir)
        self._max_queue = max(1, int(max_queue))
        self._flush_secs = float(flush_secs) if flush_secs is not None else None
        self._suffix = filename_suffix or ""
        self._lock = threading.RLock()
        self._file = None
        self._path = ""
        self._pending = 0
        self._closed = True
        self._stop: Optional[threading.Event] = None
        self._thread: Optional[threading.Thread] = None
        self._open()

    # ------------------------------------------------------------------ lifecycle

    def _open(self) -> None:
        os.makedirs(self._logdir, exist_ok=True)
        with self._lock:
            self._path = _event_file_name(self._logdir, self._suffix)
            self._file = open(self._path, "wb")
            self._closed = False
            self._pending = 0
            first = event_pb2.Event(wall_time=time.time(), file_version=FILE_VERSION)
            self._file.write(frame_record(first.SerializeToString()))
            self._file.flush()
        _open_writers.add(self)
        if self._flush_secs is not None:
            stop = threading.Event()
            self._stop = stop
            self._thread = threading.Thread(
                target=_flush_loop, args=(weakref.ref(self), stop, self._flush_secs),
                name="tensorkiln-event-flush", daemon=True,
            )
            self._thread.start()

    def reopen(self) -> None:
        """Open a new event file after ``close`` (no-op while open)."""
        with self._lock:
            if not self._closed:
                return
        self._open()

    def close(self) -> None:
        """Flush and close the file and stop the flush thread; calling it again does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            stop, thread = self._stop, self._thread
            self._stop = self._thread = None
            f, self._file = self._file, None
        if stop is not None:
            stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        if f is not None:
            f.flush()
            try:
                os.fsync(f.fileno())
            except OSError:  # pragma: no cover - e.g. filesystems without fsync
                pass
            f.close()

    def __del__(self) -> None:  # a writer dropped without close() still writes its buffered events
        try:
            self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ writing

    @property
    def path(self) -> str:
        """Path of the current (or last) event file."""
        return self._path

    @property
    def closed(self) -> bool:
        return self._closed

    def get_logdir(self) -> str:
        return self._logdir

    def add_event(self, event: event_pb2.Event) -> None:
        """Append one ``Event`` proto (or its serialized bytes)."""
        data = event if isinstance(event, (bytes, bytearray)) else event.SerializeToString()
        self.write_serialized(bytes(data))

    def write_serialized(self, data: bytes) -> None:
        record = frame_record(data)  # CRCs computed outside the lock
        with self._lock:
            if self._closed or self._file is None:
                return
            self._file.write(record)
            self._pending += 1
            if self._pending >= self._max_queue:
                self._file.flush()
                self._pending = 0

    def flush(self) -> None:
        """Push everything written so far to the OS, so that a reader sees it."""
        with self._lock:
            if self._closed or self._file is None:
                return
            self._file.flush()
            self._pending = 0


def _flush_loop(ref: "weakref.ref[EventFileWriter]", stop: threading.Event, period: float) -> None:
    """The background flusher; it holds the writer weakly so that an unclosed writer can be collected."""
    while not stop.wait(period):
        writer = ref()
        if writer is None:
            return
        try:
            writer.flush()
        except Exception:  # never let the flusher die noisily; close() reports real I/O errors
            pass
        del writer
