"""Timing for the benchmark rows: every contender of a row timed in alternating rounds.

This VM has phases lasting seconds to minutes in which some work runs up to twice as slow: the
hypervisor moves its two vCPUs so that together they deliver one core's FMA throughput, or so that
a cache line takes ~5× as long between them (``capacity.py`` measures both, and the train rows
report them per round), and other phases slow the interpreter itself. Timed one contender
after the other, a phase could cover one contender's block and not the next one's, and a row's
ratio then measured the phase, in either direction (one run of session 11: JAX's chain at 102 ms
against its usual 25, in another our MLP step at 375 µs against its usual 200–260).
:func:`interleaved_medians` times ``rounds`` blocks of each contender in turn (A B C, A B C, …) and
takes each one's median over all its calls, so a phase falls on every contender alike (it still
hurts most whoever uses both cores most). Before each block it sleeps ``SETTLE_S``, so the previous
contender's idle threads have gone to sleep: after a call numpy's OpenBLAS keeps one core busy
spinning for ~105 ms (the process's CPU time while its main thread sleeps, session 12), our pool's
workers for ~0.2 ms, JAX's and TensorFlow's not measurably; an MLP step of ours timed while
OpenBLAS spun ran at its one-thread time in 15 of 197 blocks of 200 steps, in 0 of 230 with
``OPENBLAS_NUM_THREADS=1``. Then it makes untimed calls for ``WAKE_S`` (at least one): the first
calls after a pause can be slower for a contender whose threads slept (an sgemm 1024³ of ours, timed
right after a pause and one untimed call, took 8.4–11 ms in about a third of the trials — the
one-thread time —, against 4.7–5.3 back to back; numpy's OpenBLAS, whose threads spin far longer,
kept its 9–10 ms), and the targets are about steady state.
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
                        rounds: int = ROUNDS,
                        blocks: dict[str, list[tuple[float, float, float]]] | None = None) -> dict[str, float]:
    """Median seconds per call of each of ``fns`` over at least ``repeats`` calls each, timed in
    ``rounds`` alternating blocks (each after a pause and ``WAKE_S`` of untimed calls) after
    ``warmup`` untimed calls each. ``blocks``, if given, receives each contender's timed blocks in
    order as (start, end, median seconds per call), ``time.perf_counter`` times."""
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
            first = time.perf_counter()
            for _ in range(per_block):
                t = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t)
            if blocks is not None:
                blocks.setdefault(name, []).append((first, time.perf_counter(), statistics.median(ts[-per_block:])))
    return {name: statistics.median(ts) for name, ts in times.items()}
