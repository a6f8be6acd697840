"""CI smoke of the benchmark runner: every row runs at tiny sizes (no timing assertions)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmarks_quick_smoke():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for row in ("chain", "sgemm", "softmax train step", "mlp train step", "Session.run"):
        assert row in r.stdout, r.stdout
