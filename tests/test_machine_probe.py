"""The benchmarks' machine probe (``benchmarks/capacity.py``): its generated FMA loop computes what
the recurrence says, its counter exchange hands every value over, and its script prints its figures."""
import ctypes
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import capacity  # noqa: E402


@pytest.fixture(scope="module")
def probe():
    return capacity.MachineProbe(threads=2, seconds=0.0005)


@pytest.mark.parametrize("iters", [1, 2, 7, 1000])
def test_fma_loop_matches_the_recurrence(probe, iters):
    """The sink holds lane 0 of the sum of the accumulators after ``iters`` steps of
    a <- a*0.999 + 0.001 from 0.5 + k/64: float64 reference, float32 rounding allowed for."""
    probe.iters = iters
    probe._run(0)
    a = 0.5 + np.arange(capacity.ACCUMULATORS) / 64
    for _ in range(iters):
        a = a * np.float32(0.999) + np.float32(0.001)
    assert abs(probe._sink.value - a.sum()) <= 1e-5 * a.sum() * (1 + iters / 100)
    assert probe._seen[0] > 0


def test_exchange_hands_over_every_value(probe):
    """After a call, the counter the two threads passed back and forth reads 2 × (round trips + 1)
    (the untimed first exchange included); every round trip was timed as a positive duration."""
    before = len(probe.round_trips)
    probe()
    counter = ctypes.c_int64.from_address(probe.module.engine.get_global_value_address("tk_probe_counter"))
    assert counter.value == 2 * (capacity.ROUND_TRIPS + 1)
    assert len(probe.round_trips) == before + 1 and probe.round_trips[-1] > 0
    assert len(probe.rates) >= 1 and probe.rates[-1] > 0
    assert "FMA peak" in probe.summary() and "round trip" in probe.summary()


def test_capacity_script_prints_its_figures():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "capacity.py"), "1", "--step", "softmax"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    line = r.stdout.splitlines()[0]
    assert "1 core" in line and "2 cores" in line and "round trip" in line and "softmax step" in line, r.stdout
