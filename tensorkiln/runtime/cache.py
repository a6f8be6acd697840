"""The on-disk compile cache: machine code keyed by what determines it, verified before use.

A compile's key hashes the graph-stage IR text, tensorkiln's and llvmlite's versions, the host CPU
name and features, and the thread setting. An entry is one file: a magic line, a JSON header with
the payload's length and SHA-256, then the object code. Reads check all three; a damaged entry is
deleted and reported as a miss, so it is recompiled and never executed. Writes go to a temporary
file renamed into place, so a reader never sees a half-written entry. They are not fsynced (that
cost 5-20 ms per entry on a cold compile): after a power loss an entry may be empty or torn, and
the checksum turns that into a recompile. Nothing here unpickles or evaluates anything.

``TENSORKILN_CACHE_DIR`` picks the directory (default ``~/.cache/tensorkiln``);
``TENSORKILN_CACHE=0`` turns the cache off.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

MAGIC = b"TKOBJ1\n"


def cache_enabled() -> bool:
    return os.environ.get("TENSORKILN_CACHE", "1") not in ("0", "", "false", "off")


def cache_dir() -> Path:
    env = os.environ.get("TENSORKILN_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "tensorkiln"


def make_key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()


class DiskCache:
    def __init__(self, directory: Path | None = None):
        self.dir = directory or cache_dir()

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.tkobj"

    def get(self, key: str) -> bytes | None:
        p = self.path(key)
        try:
            raw = p.read_bytes()
        except OSError:
            return None
        payload = self._verify(raw, key)
        if payload is None:
            try:
                p.unlink()  # damaged: drop it so the next compile rewrites it
            except OSError:
                pass
        return payload

    @staticmethod
    def _verify(raw: bytes, key: str) -> bytes | None:
        if not raw.startswith(MAGIC):
            return None
        nl = raw.find(b"\n", len(MAGIC))
        if nl < 0:
            return None
        try:
            header = json.loads(raw[len(MAGIC):nl])
        except ValueError:
            return None
        payload = raw[nl + 1:]
        if not isinstance(header, dict) or header.get("key") != key or header.get("size") != len(payload):
            return None
        if header.get("sha256") != hashlib.sha256(payload).hexdigest():
            return None
        return payload

    def put(self, key: str, payload: bytes) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            header = json.dumps({"key": key, "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}).encode()
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-", suffix=".tkobj")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(MAGIC + header + b"\n" + payload)
                os.replace(tmp, self.path(key))
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            pass  # an unwritable cache only costs a recompile next time
