"""Timing for the benchmark rows: every contender of a row timed in alternating rounds.

This VM has phases lasting seconds in which everything runs up to twice as slow (a one-thread
step, a peer's, the interpreter itself). Timed one contender after the other, a phase could cover
one contender's block and not the next one's, and a row's ratio then measured the phase, in either
direction (one run of session 11: JAX's chain at 102 ms against its usual 25, in another our MLP
step at 375 µs against its usual 200–260). :func:`interleaved_medians` times ``rounds`` blocks of
each contender in turn (A B C, A B C, …) and takes each one's median over all its calls, so a phase
falls on every contender alike. Before each block it sleeps ``SETTLE_S``, so the previous
contender's idle threads (OpenBLAS and TensorFlow spin for a while after a call, our pool's workers
for ~0.2 ms) have gone to sleep, then makes one untimed call: the first call after a pause is
slower for every contender (threads asleep, a vCPU that idled: an sgemm 1024³ timed so took 6–9 ms
for us and 9.2–12.4 for numpy, against 4.8 and 9.1–9.4 in back-to-back calls), and the targets
are about steady state.
"""
from __future__ import annotations

import math
import statistics
import time
from typing import Callable

from tensorkiln.backends.llvm import tiering

SETTLE_S = 0.1
ROUNDS = 5


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1,
                        rounds: int = ROUNDS) -> dict[str, float]:
    """Median seconds per call of each of ``fns`` over at least ``repeats`` calls each, timed in
    ``rounds`` alternating blocks (each after a pause and one untimed call) after ``warmup``
    untimed calls each."""
    for fn in fns.values():
        time.sleep(SETTLE_S)
        for _ in range(warmup):
            fn()
    tiering.wait()  # steady state: a cold module's optimized code is in place (see tiering.py)
    per_block = max(1, math.ceil(repeats / rounds))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            time.sleep(SETTLE_S)
            fn()  # untimed: wakes the contender's threads (and the vCPU) after the pause
            ts = times[name]
            for _ in range(per_block):
                t = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}
