"""The `tensorkiln` command line and TENSORKILN_DUMP_DIR, run as a user would (subprocesses)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "softmax.tk"


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tensorkiln.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_dump_every_stage():
    out = {}
    for stage in ("graph", "optimized", "loops", "llvm", "llvm-opt", "asm"):
        r = cli("dump", str(EXAMPLE), "--entry", "chain", "--emit", stage)
        assert r.returncode == 0, r.stderr
        out[stage] = r.stdout
    assert "graph.tanh" in out["graph"] and "graph.fused" not in out["graph"]
    assert "graph.fused" in out["optimized"]
    assert "loops.for" in out["loops"] and "loops.tanh" in out["loops"]
    assert 'define i32 @"chain"(i64' in out["llvm"] and "x86_64" in out["llvm"].split("\n", 3)[1]
    assert "<16 x float>" in out["llvm-opt"] or "<8 x float>" in out["llvm-opt"]
    assert "zmm" in out["asm"] or "ymm" in out["asm"]


def test_print_after_all_heads_each_pass():
    r = cli("dump", str(EXAMPLE), "--entry", "predict", "--emit", "loops", "--print-after-all")
    assert r.returncode == 0, r.stderr
    for name in ("infer-shapes", "decompose", "canonicalize", "fold-constants", "cse", "dce", "fuse", "lower-to-loops"):
        assert f"// ----- IR after {name} -----" in r.stdout
    # decomposition of softmax shows up after its pass
    after = r.stdout.split("// ----- IR after decompose -----", 1)[1]
    assert "graph.reduce_max" in after.split("// -----", 1)[0]


def test_ir_file_input(tmp_path):
    ir = tmp_path / "f.tkir"
    r = cli("dump", str(EXAMPLE), "--entry", "axpy", "--emit", "optimized")
    ir.write_text(r.stdout)
    r2 = cli("dump", str(ir), "--emit", "optimized")
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout == r.stdout


def test_compile_error_exit_status_and_caret(tmp_path):
    bad = tmp_path / "bad.tk"
    bad.write_text("def f(x: f32[N]) -> f32[N] {\n    return x + y\n}\n")
    r = cli("dump", str(bad))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith(f"{bad}:2:16: error:") and "'y'" in lines[0]
    assert lines[-1].strip() == "^"


def test_dump_dir_writes_every_stage(tmp_path):
    code = "import tensorkiln as tk; tk.compile(open(%r).read(), %r)" % (str(EXAMPLE), "softmax.tk")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "TENSORKILN_DUMP_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    names = {p.name for p in tmp_path.iterdir()}
    for stage, ext in (("graph", "tkir"), ("optimized", "tkir"), ("loops", "tkir"), ("llvm", "ll"), ("llvm-opt", "ll"), ("asm", "s")):
        assert f"softmax.chain.{stage}.{ext}" in names
    assert "graph.fused" in (tmp_path / "softmax.chain.optimized.tkir").read_text()
