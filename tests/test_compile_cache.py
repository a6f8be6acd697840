"""The on-disk compile cache: hits in a new process, integrity checks, corrupted entries recompiled."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from tensorkiln.runtime.cache import DiskCache, make_key

SRC = "def f(x: f32[N]) -> f32[N] {\n    return exp(x) * 2.0 + x\n}\n"
PROG = f"""
import sys, numpy as np, tensorkiln as tk
m = tk.compile({SRC!r})
x = np.linspace(-2, 2, 37, dtype=np.float32)
assert np.allclose(m.f(x), np.exp(x) * 2 + x, rtol=1e-5)
print("hit" if m.from_cache else "miss")
"""


def run(env):
    r = subprocess.run([sys.executable, "-c", PROG], capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_second_process_hits_the_cache(tmp_path):
    env = {"TENSORKILN_CACHE_DIR": str(tmp_path)}
    assert run(env) == "miss"
    assert len(list(tmp_path.glob("*.tkobj"))) == 2  # the module and the thread pool; no matmul: no GEMM library
    assert run(env) == "hit"


def test_corrupted_entry_is_recompiled_not_executed(tmp_path):
    env = {"TENSORKILN_CACHE_DIR": str(tmp_path)}
    assert run(env) == "miss"
    for entry in tmp_path.glob("*.tkobj"):  # the module's and the thread pool's
        data = bytearray(entry.read_bytes())
        data[-20] ^= 0xFF  # flip bits in the machine code
        entry.write_bytes(bytes(data))
    assert run(env) == "miss"  # detected by the checksum, recompiled
    assert run(env) == "hit"   # and the rewritten entry is good


def test_cache_can_be_disabled(tmp_path):
    env = {"TENSORKILN_CACHE_DIR": str(tmp_path), "TENSORKILN_CACHE": "0"}
    assert run(env) == "miss" and run(env) == "miss"
    assert not list(tmp_path.glob("*.tkobj"))


def test_verify_rejects_truncation_wrong_key_and_garbage(tmp_path):
    c = DiskCache(tmp_path)
    key = make_key("a", "b")
    c.put(key, b"\x7fELF" + bytes(100))
    assert c.get(key) == b"\x7fELF" + bytes(100)
    p = c.path(key)
    raw = p.read_bytes()
    p.write_bytes(raw[:-1])
    assert c.get(key) is None and not p.exists()
    other = make_key("c")
    c.put(other, b"xyz")
    c.path(other).rename(c.path(key))
    assert c.get(key) is None  # header names another key
    c.path(key).write_bytes(b"not a cache entry")
    assert c.get(key) is None
