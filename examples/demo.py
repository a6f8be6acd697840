"""The demo behind `make demo`: compile the example DSL program, print every stage, run it.

It compiles examples/softmax.tk, prints the IR of `chain` at each stage (graph → optimized → loops →
LLVM → machine code excerpt), runs every entry on random data and checks the results against numpy.
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np

import tensorkiln as tk

HERE = Path(__file__).resolve().parent


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def main() -> int:
    src = HERE / "softmax.tk"
    t0 = time.perf_counter()
    mod = tk.compile(src)
    print(f"compiled {src.name}: entries {', '.join(mod.entries)} in {time.perf_counter() - t0:.2f} s\n")
    for stage in ("graph", "optimized", "loops"):
        print(f"==== chain @ {stage} ====")
        print(mod.ir("chain", stage))
    llvm = mod.ir("chain", "llvm-opt")
    print(f"==== chain @ llvm-opt ({len(llvm.splitlines())} lines; the vector body) ====")
    print("\n".join([l for l in llvm.splitlines() if "<16 x float>" in l or "<8 x float>" in l][:12]))
    asm = mod.ir("chain", "asm")
    packed = [l.strip() for l in asm.splitlines() if re.search(r"\bv\w+ps\s.*%[yz]mm", l)]
    print(f"\n==== chain @ asm: {len(packed)} packed-single vector instructions, e.g. ====")
    print("\n".join(packed[:8]))

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 784)).astype(np.float32)
    W = (rng.standard_normal((784, 10)) * 0.05).astype(np.float32)
    b = rng.standard_normal(10).astype(np.float32)
    checks = {
        "predict": (mod.predict(x, W, b), softmax(x @ W + b)),
        "axpy": (mod.axpy(np.float32(2.0), x[0], x[1]), 2.0 * x[0] + x[1]),
        "chain": (mod.chain(x[0]), np.tanh(x[0] * 1.5 + 0.25) / (1 + np.exp(-x[0])) + x[0] * x[0]),
    }
    m, am = mod.stats(x)
    checks["stats.mean"] = (m, np.exp(x - x.max(axis=1, keepdims=True)).mean(axis=1))
    checks["stats.argmax"] = (am, x.argmax(axis=1))
    print("\n==== results against numpy ====")
    ok = True
    for name, (got, want) in checks.items():
        err = float(np.max(np.abs(np.asarray(got, dtype=np.float64) - want)))
        good = err < 1e-4
        ok &= good
        print(f"{name:14s} max |error| = {err:.2e}  {'ok' if good else 'MISMATCH'}")
    big = rng.standard_normal(1 << 24).astype(np.float32)
    mod.chain(big)
    t = time.perf_counter()
    mod.chain(big)
    dt = time.perf_counter() - t
    t = time.perf_counter()
    np.tanh(big * 1.5 + 0.25) / (1 + np.exp(-big)) + big * big
    dn = time.perf_counter() - t
    print(f"\nchain on 2^24 floats: tensorkiln {dt * 1e3:.1f} ms, numpy {dn * 1e3:.1f} ms ({dn / dt:.1f}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
