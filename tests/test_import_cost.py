"""``import tensorkiln`` stays light: no plotting/TensorBoard/image libraries, no parser tables, no passes."""
from __future__ import annotations

import os
import subprocess
import sys

HEAVY = ("matplotlib", "PIL", "tensorboard", "google.protobuf", "lark", "tqdm",
         "tensorkiln.compiler.pipeline", "tensorkiln.ir.parser", "tensorkiln.summary", "tensorkiln.aot")


def test_import_tensorkiln_loads_no_heavy_module():
    code = ("import sys, tensorkiln\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_a_cache_hit_needs_neither_passes_nor_parser(tmp_path):
    code = """
import sys, numpy as np, tensorkiln as tk
m = tk.compile("def f(x: f32[N]) -> f32[N] {\\n    return x * 2.0\\n}\\n")
np.testing.assert_allclose(m.f(np.arange(5, dtype=np.float32)), np.arange(5) * 2.0)
print(m.from_cache, 'tensorkiln.compiler.pipeline' in sys.modules)
"""
    env = {"TENSORKILN_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           env={**os.environ, **env}) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr
    assert [r.stdout.split() for r in runs] == [["False", "True"], ["True", "False"]]
