"""A cache hit in a new process loads only the kernel libraries its object code refers to."""
from __future__ import annotations

import os
import subprocess
import sys

SRC = "def mm(a: f32[M, K], b: f32[K, N]) -> f32[M, N] {\n    return a @ b\n}\n"
PROG = f"""
import numpy as np, tensorkiln as tk
from tensorkiln.backends.llvm import kernels
m = tk.compile({SRC!r})
rng = np.random.default_rng(0)
a, b = rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal((7, 3)).astype(np.float32)
np.testing.assert_allclose(m.mm(a, b), a @ b, rtol=1e-5, atol=1e-5)
print("hit" if m.from_cache else "miss", "f64" in kernels._libraries)
"""


def run(env: dict[str, str]) -> str:
    r = subprocess.run([sys.executable, "-c", PROG], capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_hit_for_an_f32_gemm_never_builds_the_f64_library(tmp_path):
    env = {"TENSORKILN_CACHE_DIR": str(tmp_path)}
    assert run(env) == "miss False"
    entries = sorted(p.name for p in tmp_path.glob("*.tkobj"))
    assert run(env) == "hit False"  # the f32 library came from the cache; f64 was never needed
    assert sorted(p.name for p in tmp_path.glob("*.tkobj")) == entries


def test_source_fingerprint_follows_contents_and_names_not_bytecode(tmp_path):
    from tensorkiln.runtime.compiled_module import source_fingerprint

    (tmp_path / "compiler" / "passes").mkdir(parents=True)
    (tmp_path / "compiler" / "a.py").write_text("x = 1\n")
    (tmp_path / "compiler" / "passes" / "b.py").write_text("y = 2\n")
    (tmp_path / "compiler" / "g.lark").write_text("start: 'a'\n")
    fp = source_fingerprint(str(tmp_path), ("compiler",))
    (tmp_path / "compiler" / "__pycache__").mkdir()
    (tmp_path / "compiler" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0" * 8)
    (tmp_path / "compiler" / "notes.txt").write_text("not source")
    assert source_fingerprint(str(tmp_path), ("compiler",)) == fp
    (tmp_path / "compiler" / "passes" / "b.py").write_text("y = 3\n")
    changed = source_fingerprint(str(tmp_path), ("compiler",))
    assert changed != fp
    (tmp_path / "compiler" / "passes" / "b.py").rename(tmp_path / "compiler" / "passes" / "c.py")
    assert source_fingerprint(str(tmp_path), ("compiler",)) not in (fp, changed)
    (tmp_path / "compiler" / "g.lark").write_text("start: 'b'\n")
    assert len({fp, changed, source_fingerprint(str(tmp_path), ("compiler",))}) == 3


def test_memoized_fingerprint_reuses_the_hash_only_while_the_sources_are_untouched(tmp_path):
    from tensorkiln.runtime.compiled_module import memoized_fingerprint, source_fingerprint

    src = tmp_path / "src"
    (src / "compiler").mkdir(parents=True)
    a = src / "compiler" / "a.py"
    a.write_text("x = 1\n")
    memo = tmp_path / "cache" / "fingerprint.memo"
    fp = memoized_fingerprint(str(src), ("compiler",), memo)
    assert fp == source_fingerprint(str(src), ("compiler",)) and memo.read_text().split()[1] == fp
    # a memo whose stamp matches is believed (here: a planted hash, to see that it was read) ...
    stamp = memo.read_text().split()[0]
    memo.write_text(f"{stamp} {'0' * 64}\n")
    assert memoized_fingerprint(str(src), ("compiler",), memo) == "0" * 64
    # ... and any write to a source, even one restoring the same size and mtime, changes the stamp
    st = a.stat()
    a.write_text("x = 2\n")
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    fresh = memoized_fingerprint(str(src), ("compiler",), memo)
    assert fresh == source_fingerprint(str(src), ("compiler",)) != fp
    (src / "compiler" / "b.py").write_text("")  # a new file
    assert memoized_fingerprint(str(src), ("compiler",), memo) not in (fp, fresh)
    memo.write_text("garbage")  # a damaged memo is recomputed and rewritten
    assert memoized_fingerprint(str(src), ("compiler",), memo) == source_fingerprint(str(src), ("compiler",))
    assert memoized_fingerprint(str(src), ("compiler",), None) == source_fingerprint(str(src), ("compiler",))
