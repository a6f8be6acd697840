"""Timing for the benchmark rows: every contender of a row timed in alternating rounds.

This VM has phases lasting seconds in which everything runs up to twice as slow (a one-thread step,
a peer's, the interpreter itself). Timed one contender after the other, a phase could cover one
contender's block and not the next one's, and a row's ratio then measured the phase, in either
direction (one run of session 11: JAX's chain at 102 ms against its usual 25, in another our MLP
step at 375 µs against its usual 200–260). :func:`interleaved_medians` times ``rounds`` blocks of
each contender in turn (A B C, A B C, …) and takes each one's median over all its calls, so a phase
falls on every contender alike. Before each block it sleeps ``SETTLE_S``, so the previous
contender's idle threads have gone to sleep (after a call, numpy's OpenBLAS keeps one core busy
spinning for ~105 ms (the process's CPU time while its main thread sleeps, measured in session
12), our pool's workers ~0.2 ms, JAX's not measurably; an MLP step of
ours timed while OpenBLAS spun ran at its one-thread time in 15 of 197 blocks of 200 steps, in 0 of
230 with ``OPENBLAS_NUM_THREADS=1``), then makes untimed calls for ``WAKE_S`` (at least one): the first
calls after a pause can be slower for a contender whose threads slept (an sgemm 1024³ of ours, timed
right after a pause and one untimed call, took 8.4–11 ms in about a third of the trials — the
one-thread time, as if the pool's worker had not come back —, against 4.7–5.3 back to back; numpy's
OpenBLAS, whose threads spin far longer, kept its 9–10 ms), and the targets are about steady state.
(In one probe our back-to-back calls also ran at the one-thread time throughout: such phases exist
without pauses too; interleaving spreads them over every contender.)
"""
from __future__ import annotations

import math
import statistics
import time
from typing import Callable

from tensorkiln.backends.llvm import tiering

SETTLE_S = 0.15
WAKE_S = 0.02
ROUNDS = 5


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1,
                        rounds: int = ROUNDS) -> dict[str, float]:
    """Median seconds per call of each of ``fns`` over at least ``repeats`` calls each, timed in
    ``rounds`` alternating blocks (each after a pause and ``WAKE_S`` of untimed calls) after
    ``warmup`` untimed calls each."""
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
            start = time.perf_counter()
            while True:  # untimed, ≥ WAKE_S: the contender's threads (and the vCPUs) are back
                fn()
                if time.perf_counter() - start >= WAKE_S:
                    break
            ts = times[name]
            for _ in range(per_block):
                t = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}
