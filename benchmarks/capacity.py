"""What the VM's cores deliver right now: their FMA peak, and how fast two of them exchange a line.

A benchmark row's time is only half a fact on a shared VM. Measured in session 12 (docs/
performance.md), this VM's two vCPUs change places under the hypervisor for seconds to minutes at a
time, in two ways that a parallel train step feels and a peer's single-threaded work does not:
sometimes the two together deliver the FMA throughput of one core (each at half speed, both busy,
as when they are the two hardware threads of one physical core), and sometimes a cache line takes
five times as long to go from one to the other and back (~415 ns instead of ~80, as when they sit
on different core complexes), which every hand-over between the threads of a parallel step pays.
``MachineProbe`` measures both, with code LLVM compiles for the host like tensorkiln's own: a loop
of independent fused multiply-adds on the widest vectors the host has (12 accumulators cover the
FMA latency on Zen 4/5 and recent Intel cores) run on every thread at once, each timing its own
loop; then a counter passed back and forth between two threads (acquire/release atomics, ``pause``
while waiting, as in tensorkiln's thread pool), timed after the first exchange. As a callable for
``timing.interleaved_medians`` it is timed in the same rounds as a row's contenders and records
what each call saw, and the row reports it beside its times. ``python benchmarks/capacity.py
[seconds] [--step mlp]`` prints both figures each second, and the median of a model's train steps
timed in between.
"""
from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import llvmlite.ir as ir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
from tensorkiln.backends.llvm.gemm import config_for  # noqa: E402
from tensorkiln.backends.llvm.jit import JitModule  # noqa: E402
from tensorkiln.backends.llvm.target import host_features, host_target_machine  # noqa: E402
from tensorkiln.backends.llvm.threadpool import spin_hint  # noqa: E402

ACCUMULATORS = 12
ROUND_TRIPS = 2000


def _fma_function(m: ir.Module, width: int) -> None:
    """``void tk_fma_probe(i64 iters, ptr out)``: ``iters`` rounds of ACCUMULATORS independent
    ``<width x float>`` FMAs; the sum of the accumulators is stored to ``out`` so none is dead."""
    f32, i64 = ir.FloatType(), ir.IntType(64)
    vec = ir.VectorType(f32, width)
    fma = ir.Function(m, ir.FunctionType(vec, [vec, vec, vec]), f"llvm.fma.v{width}f32")
    fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [i64, f32.as_pointer()]), "tk_fma_probe")
    iters, out = fn.args
    entry, loop, done = (fn.append_basic_block(n) for n in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    b.branch(loop)
    b.position_at_end(loop)
    splat = lambda v: ir.Constant(vec, [v] * width)  # noqa: E731
    i = b.phi(i64)
    # Each accumulator is scaled by 0.999 toward a fixed point (+0.001): normal values for any count.
    accs = [b.phi(vec) for _ in range(ACCUMULATORS)]
    new = [b.call(fma, [a, splat(0.999), splat(0.001)]) for a in accs]
    i1 = b.add(i, ir.Constant(i64, 1))
    b.cbranch(b.icmp_unsigned("<", i1, iters), loop, done)
    i.add_incoming(ir.Constant(i64, 0), entry)
    i.add_incoming(i1, loop)
    for k, (a, n) in enumerate(zip(accs, new)):
        a.add_incoming(splat(0.5 + k / 64), entry)
        a.add_incoming(n, loop)
    b.position_at_end(done)
    total = new[0]
    for n in new[1:]:
        total = b.fadd(total, n)
    b.store(b.extract_element(total, ir.Constant(ir.IntType(32), 0)), out)
    b.ret_void()


def _exchange_function(m: ir.Module, name: str, counter: ir.GlobalVariable,
                       pause: tuple[ir.Function, list[ir.Constant]] | None,
                       pinging: bool) -> None:
    """``void name(i64 first, i64 last)``: for each i in [first, last), the pinging side stores
    2i+1 and waits for 2i+2; the answering side waits for 2i+1 and stores 2i+2."""
    i64 = ir.IntType(64)
    fn = ir.Function(m, ir.FunctionType(ir.VoidType(), [i64, i64]), name)
    first, last = fn.args
    entry, head, send, wait, spin, step, done = (fn.append_basic_block(n) for n in (
        "entry", "head", "send", "wait", "spin", "step", "done"))
    b = ir.IRBuilder(entry)
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(i64)
    two_i = b.shl(i, ir.Constant(i64, 1))
    mine = b.add(two_i, ir.Constant(i64, 1 if pinging else 2))
    theirs = b.add(two_i, ir.Constant(i64, 2 if pinging else 1))
    b.cbranch(b.icmp_signed("<", i, last), send if pinging else wait, done)
    b.position_at_end(send)
    b.store_atomic(mine, counter, "release", 8)
    b.branch(wait if pinging else step)
    b.position_at_end(wait)
    arrived = b.icmp_signed("==", b.load_atomic(counter, "acquire", 8), theirs)
    b.cbranch(arrived, step if pinging else send, spin)
    b.position_at_end(spin)
    if pause is not None:
        b.call(*pause)
    b.branch(wait)
    b.position_at_end(step)
    i1 = b.add(i, ir.Constant(i64, 1))
    b.branch(head)
    i.add_incoming(first, entry)
    i.add_incoming(i1, step)
    b.position_at_end(done)
    b.ret_void()


def _probe_ir(width: int) -> str:
    tm = host_target_machine()
    m = ir.Module(name="machine_probe")
    m.triple, m.data_layout = tm.triple, str(tm.target_data)
    _fma_function(m, width)
    counter = ir.GlobalVariable(m, ir.IntType(64), "tk_probe_counter")
    counter.initializer = ir.Constant(ir.IntType(64), 0)
    counter.align = 64
    pause = None
    hint = spin_hint(tm.triple)  # the same hint as the pool's spin loops
    if hint is not None:
        name, args = hint
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(32)] * len(args))
        pause = (ir.Function(m, fnty, name), [ir.Constant(ir.IntType(32), a) for a in args])
    _exchange_function(m, "tk_probe_ping", counter, pause, pinging=True)
    _exchange_function(m, "tk_probe_pong", counter, pause, pinging=False)
    reset = ir.Function(m, ir.FunctionType(ir.VoidType(), []), "tk_probe_reset")
    b = ir.IRBuilder(reset.append_basic_block("entry"))
    b.store_atomic(ir.Constant(ir.IntType(64), 0), counter, "seq_cst", 8)
    b.ret_void()
    return str(m)


class MachineProbe:
    """Calling it runs ``seconds`` of FMAs on ``threads`` threads at once (this one and helpers),
    appending the GFLOP/s they delivered together to ``rates``, then (two or more threads)
    ``ROUND_TRIPS`` exchanges of a counter between this thread and the first helper, appending the
    nanoseconds per round trip to ``round_trips``."""

    def __init__(self, threads: int = 2, seconds: float = 0.003):
        self.width = config_for(host_features(), 32).vl  # f32 lanes of the GEMM's vectors
        self.module = JitModule(_probe_ir(self.width))
        fn = lambda name, *args: ctypes.CFUNCTYPE(None, *args)(self.module.address(name))  # noqa: E731
        self._fma = fn("tk_fma_probe", ctypes.c_int64, ctypes.c_void_p)
        self._ping = fn("tk_probe_ping", ctypes.c_int64, ctypes.c_int64)
        self._pong = fn("tk_probe_pong", ctypes.c_int64, ctypes.c_int64)
        self._reset = fn("tk_probe_reset")
        self._sink = ctypes.c_float()
        self._seen = [0.0] * threads
        self.flops_per_iter = 2 * ACCUMULATORS * self.width
        self.iters = 1 << 16
        self._run(0)  # calibrates: a call takes about ``seconds`` at this core's current peak
        self.iters = max(1, int(seconds * self._seen[0] * 1e9 / self.flops_per_iter))
        self.threads = threads
        self.rates: list[float] = []
        self.round_trips: list[float] = []
        self.times: list[float] = []  # time.perf_counter() at the end of each call
        self._go = [threading.Event() for _ in range(threads - 1)]
        self._done = [threading.Event() for _ in range(threads - 1)]
        self._task = "fma"
        for k in range(threads - 1):
            threading.Thread(target=self._helper, args=(k,), daemon=True).start()

    def _run(self, slot: int) -> None:
        t = time.perf_counter()
        self._fma(self.iters, ctypes.addressof(self._sink))  # ctypes releases the GIL for the call
        self._seen[slot] = self.iters * self.flops_per_iter / (time.perf_counter() - t) / 1e9

    def _helper(self, k: int) -> None:
        while True:
            self._go[k].wait()
            self._go[k].clear()
            if self._task == "fma":
                self._run(k + 1)
            elif k == 0:
                self._pong(0, ROUND_TRIPS + 1)
            self._done[k].set()

    def _all(self, task: str, mine: Callable[[], None]) -> None:
        self._task = task
        for ev in self._go:
            ev.set()
        mine()
        for ev in self._done:
            ev.wait()
            ev.clear()

    def __call__(self) -> None:
        self._all("fma", lambda: self._run(0))
        self.rates.append(sum(self._seen))
        if self.threads < 2:
            self.times.append(time.perf_counter())
            return

        def ping() -> None:
            self._ping(0, 1)  # returns once the helper answers: its start-up is not timed
            t = time.perf_counter()
            self._ping(1, ROUND_TRIPS + 1)
            self.round_trips.append((time.perf_counter() - t) / ROUND_TRIPS * 1e9)
        self._reset()
        self._all("exchange", ping)
        self.times.append(time.perf_counter())

    def between(self, start: float, end: float) -> tuple[float, float]:
        """The medians of the peak (GFLOP/s) and of the round trip (ns, 0 on one thread) over the
        calls that ended between ``start`` and ``end``."""
        picked = [k for k, t in enumerate(self.times) if start <= t <= end]
        rt = [self.round_trips[k] for k in picked if k < len(self.round_trips)]
        return statistics.median(self.rates[k] for k in picked), (statistics.median(rt) if rt else 0.0)

    def summary(self) -> str:
        """One line: the median and tenth percentile of the peak, the median round trip."""
        low = sorted(self.rates)[len(self.rates) // 10]
        line = (f"{self.threads} cores' FMA peak {statistics.median(self.rates):.0f} GFLOP/s "
                f"(tenth percentile {low:.0f})")
        if self.round_trips:
            line += f", core-to-core round trip {statistics.median(self.round_trips):.0f} ns"
        return line


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description="The FMA peak of one and of two cores and the core-to-core "
                                "round trip, each second; with --step, a model's train step timed in between.")
    p.add_argument("seconds", type=float, nargs="?", default=10.0)
    p.add_argument("--step", choices=("softmax", "mlp", "convnet"))
    args = p.parse_args(argv)
    one, two = MachineProbe(1), MachineProbe(2)
    step = None
    if args.step:
        import numpy as np
        import models
        sess, train, px, py = models.tk_step(args.step, 0.1)
        x, y, _ = models._data(np.random.default_rng(0))
        step = lambda: sess.run(train, {px: x, py: y})  # noqa: E731
    end = time.perf_counter() + args.seconds
    while time.perf_counter() < end:
        n1, n2, times = len(one.rates), len(two.rates), []
        second = time.perf_counter() + 1.0
        while time.perf_counter() < second:
            one()
            two()
            if step is not None:
                for _ in range(20):
                    t = time.perf_counter()
                    step()
                    times.append(time.perf_counter() - t)
        line = f"{time.strftime('%H:%M:%S')}  1 core {statistics.median(one.rates[n1:]):6.1f}  " \
            f"2 cores {statistics.median(two.rates[n2:]):6.1f} GFLOP/s  round trip " \
            f"{statistics.median(two.round_trips[n2:]):5.0f} ns"
        if times:
            line += f"   {args.step} step {statistics.median(times) * 1e6:8.1f} us"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
