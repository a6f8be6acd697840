"""CI smoke of the benchmark runner: every row runs at tiny sizes (no timing assertions)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmarks_quick_smoke():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for row in ("chain", "sgemm", "softmax train step", "mlp train step", "Session.run", "machine, probed"):
        assert row in r.stdout, r.stdout


def test_skinny_and_step_scripts_smoke():
    """benchmarks/skinny.py checks each product against numpy before timing it (an assertion: a
    wrong kernel fails here); step_medians.py prints its seven medians."""
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "skinny.py"), "20,40,3,n,1", "40,20,7,t,2,a"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("GFLOP/s") == 2, r.stdout
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "step_medians.py"), "softmax"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.startswith("softmax: ") and "median" in r.stdout, r.stdout


def test_warm_start_script_smoke():
    """benchmarks/warm_start.py runs the cached start-up in fresh processes (asserting each one
    imported tensorkiln from the checkout it names) and prints the stages' medians."""
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "warm_start.py"), "--processes", "2",
                        "--root", str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    med = [line for line in r.stdout.splitlines() if line.startswith("median ")]
    assert len(med) == 1 and all(k in med[0] for k in ("build", "init run", "train step", "total")), r.stdout
