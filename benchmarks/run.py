"""Benchmarks: tensorkiln beside numpy (always) and JAX / TensorFlow / PyTorch (when importable).

Each row times the same work in every available framework within one run, in alternating rounds
(``timing.py``), and prints medians and ratios to tensorkiln, so the comparison depends neither on
the machine's mood that day nor on a slow phase that covers one contender's turn only.
``python benchmarks/run.py [--quick] [--rows chain,matmul]``; ``--quick`` is the CI smoke (tiny
sizes, few repeats, no claims).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402
import timing  # noqa: E402
import tensorkiln as tk  # noqa: E402
import tensorkiln.runtime.compiled_module  # noqa: E402,F401
from tensorkiln.backends.llvm.codegen import default_threads  # noqa: E402


def importable_peers() -> dict[str, object]:
    found: dict[str, object] = {}
    for name in ("jax", "tensorflow", "torch"):
        try:
            found[name] = __import__(name)
        except Exception:
            pass
    return found


CHAIN_SRC = """
def chain(x: f32[N]) -> f32[N] {
    return tanh(x * 1.5 + 0.25) * sigmoid(x) + x * x
}
def mm(a: f32[M, K], b: f32[K, N]) -> f32[M, N] {
    return a @ b
}
"""


def bench_chain(n: int, repeats: int, mod, have: dict) -> dict[str, float]:
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    fns = {"tensorkiln": lambda: mod.chain(x),
           "numpy": lambda: np.tanh(x * 1.5 + 0.25) * (1 / (1 + np.exp(-x))) + x * x}
    if "jax" in have:
        jax, jnp = have["jax"], have["jax"].numpy
        f = jax.jit(lambda v: jnp.tanh(v * 1.5 + 0.25) * jax.nn.sigmoid(v) + v * v)
        xj = jnp.asarray(x)
        fns["jax"] = lambda: f(xj).block_until_ready()
    if "tensorflow" in have:
        fns["tf1"] = peers.tf1_chain(x)
    if "torch" in have:
        torch = have["torch"]
        xt = torch.from_numpy(x)
        fns["torch"] = lambda: torch.tanh(xt * 1.5 + 0.25) * torch.sigmoid(xt) + xt * xt
    return timing.interleaved_medians(fns, repeats)


def bench_matmul(n: int, repeats: int, mod, have: dict) -> dict[str, float]:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    err = float(np.max(np.abs(mod.mm(a, b) - a @ b)))
    assert err < 1e-2 * n ** 0.5, f"matmul mismatch {err}"
    fns = {"tensorkiln": lambda: mod.mm(a, b), "numpy": lambda: a @ b}
    if "jax" in have:
        jnp = have["jax"].numpy
        aj, bj = jnp.asarray(a), jnp.asarray(b)
        fns["jax"] = lambda: (aj @ bj).block_until_ready()
    if "tensorflow" in have:
        fns["tf1"] = peers.tf1_matmul(a, b)
    if "torch" in have:
        torch = have["torch"]
        at, bt = torch.from_numpy(a), torch.from_numpy(b)
        fns["torch"] = lambda: at @ bt
    return timing.interleaved_medians(fns, repeats)


def report(title: str, times: dict[str, float], flops: float | None = None) -> None:
    base = times["tensorkiln"]
    print(f"\n{title}")
    for name, t in times.items():
        extra = f"  {flops / t / 1e9:7.1f} GFLOP/s" if flops else ""
        print(f"  {name:11s} {t * 1e3:10.3f} ms   {t / base:6.2f}x tensorkiln's time{extra}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, not a measurement")
    p.add_argument("--rows", default="chain,matmul,models,tiny,compile")
    args = p.parse_args(argv)
    rows = set(args.rows.split(","))
    have = {} if args.quick or rows == {"matmul1"} else importable_peers()
    if args.quick:  # a smoke test: no settling pauses
        timing.SETTLE_S = timing.WAKE_S = 0.0
    if rows != {"matmul1"}:
        print(f"peers importable: numpy {np.__version__}" + "".join(f", {k} {getattr(v, '__version__', '?')}" for k, v in have.items()))
    t = time.perf_counter()
    mod = tk.compile(CHAIN_SRC)
    if rows != {"matmul1"}:
        print(f"compile of the benchmark module: {time.perf_counter() - t:.3f} s")
    if "chain" in rows:
        n = 1 << (12 if args.quick else 24)
        report(f"chain tanh(x*1.5+0.25)*sigmoid(x)+x*x on {n} f32 (median of {3 if args.quick else 11})",
               bench_chain(n, 3 if args.quick else 11, mod, have))
    if "matmul" in rows:
        for n in ((64,) if args.quick else (1024, 2048)):
            reps = 3 if args.quick else 5
            report(f"sgemm {n}x{n}x{n}, {default_threads()} threads (median of {reps})", bench_matmul(n, reps, mod, have), 2.0 * n ** 3)
        if not args.quick:
            # numpy's OpenBLAS takes its thread count at import: the one-thread row runs in a child
            # process with both libraries on one thread.
            env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", TENSORKILN_NUM_THREADS="1")
            subprocess.run([sys.executable, __file__, "--rows", "matmul1"], env=env, check=True)
    if "matmul1" in rows:
        one = tk.runtime.compiled_module.compile_graph_module(tk.parse(CHAIN_SRC)[0], threads=1)
        report("sgemm 1024x1024x1024, 1 thread (numpy: OpenBLAS on 1 thread)", bench_matmul(1024, 7, one, {}), 2.0 * 1024 ** 3)
    from models import compile_rows, tiny_run_row, train_rows

    if "models" in rows:
        for title, times, notes in train_rows(have, args.quick):
            report_us(title, times)
            for line in notes:
                print(line)
    if "tiny" in rows:
        report_us(*tiny_run_row(have, args.quick))
    if "compile" in rows and not args.quick:
        for title, times in compile_rows(have):
            print(f"\n{title}: " + ", ".join(f"{k} {v / 1e6:.4f}" for k, v in times.items()))
    return 0


def report_us(title: str, times: dict[str, float]) -> None:
    base = times["tensorkiln"]
    print(f"\n{title}")
    for name, t in times.items():
        print(f"  {name:11s} {t:12.1f} us   {t / base:6.2f}x tensorkiln's time")


if __name__ == "__main__":
    sys.exit(main())
