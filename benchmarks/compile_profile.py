"""Where the compile time of the softmax-regression train step goes, stage by stage.

``python benchmarks/compile_profile.py [--repeats 3]`` runs three fresh processes, each timing every
stage from ``import tensorkiln`` to the end of the first training step:

* ``cold`` — an empty disk cache: the GEMM kernel library and the thread pool are compiled too;
* ``cold model`` — the kernel libraries already in the disk cache (as after any earlier run on the
  machine), the train step itself compiled from scratch;
* ``warm`` — a new process with everything in the disk cache.

Stages are timed by wrapping the functions that do them (nothing in the library is changed for
it), in CPU time of the compiling thread (``time.thread_time``), which other processes on a
shared machine disturb far less than wall time; the ``TOTAL`` rows give wall time and the main
thread's CPU time. Tiered compilation (``backends/llvm/tiering.py``) compiles the optimized code of
a cold module on a background thread after the quick tier-0 compile: its stages are the ``tier 1,
background thread`` rows, waited for before the process reports.
LLVM work is attributed to the kernel libraries while ``ensure_libraries_for`` runs and to the model
otherwise (the tier-0 model object is compiled on a thread beside ``ensure_libraries_for``, so part of
it may land in the kernel rows). Python bytecode is cached (``PYTHONPYCACHEPREFIX`` in a temporary directory, warmed
first) as in any installed package, even when the environment sets ``PYTHONDONTWRITEBYTECODE``:
otherwise every process would recompile tensorkiln's sources (~0.1 s). Each column is the one of
``--repeats`` processes whose first train step took the least CPU time (the least disturbed).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
T = {}
clock = time.thread_time
t0 = clock()
import numpy as np
T["import numpy"] = clock() - t0
t0 = clock()
import tensorkiln as tk
T["import tensorkiln"] = clock() - t0
import llvmlite.binding as llvm
from tensorkiln.backends.llvm import jit, kernels, target, tiering
from tensorkiln.compiler import pipeline
from tensorkiln.compiler.passes import base
from tensorkiln.runtime import cache, compiled_module, signature

where = ["model"]

def timed(owner, attr, label, scoped=False):
    fn = getattr(owner, attr)
    def wrapper(*a, **k):
        # the tier-1 compiles on the background thread are their own rows (where[] is the
        # foreground's)
        name = f"tier 1, background thread: {label}" if tiering.in_worker() else \
            f"{where[0]}: {label}" if scoped else label
        t = clock()
        try:
            return fn(*a, **k)
        finally:
            T[name] = T.get(name, 0.0) + clock() - t
    setattr(owner, attr, wrapper)

def kernels_scope(fn):
    def wrapper(*a, **k):
        if tiering.in_worker():
            return fn(*a, **k)
        where[0] = "kernel libraries"
        t = clock()
        try:
            return fn(*a, **k)
        finally:
            where[0] = "model"
            T["kernel libraries (total)"] = T.get("kernel libraries (total)", 0.0) + clock() - t
    return wrapper

def run_passes(self, module):
    for p in self.passes:
        t = clock()
        p.apply(module)
        if self.verify:
            base.verify_module(module)
        T["pass " + p.name] = T.get("pass " + p.name, 0.0) + clock() - t
        if self.after_pass is not None:
            self.after_pass(p.name, module)
    return module

base.PassManager.run = run_passes
compiled_module.ensure_libraries_for = kernels_scope(compiled_module.ensure_libraries_for)
timed(signature, "lower_signature", "frontend: graph -> IR (incl. autodiff)")
timed(pipeline, "clone_module", "copy IR between stages")
timed(compiled_module._Build, "llvm_ir", "codegen: loops -> LLVM IR text")
timed(kernels, "kernel_library_ir", "kernel libraries: GEMM -> LLVM IR text")
timed(compiled_module, "compiler_fingerprint", "cache key: compiler source fingerprint")
timed(compiled_module, "print_module", "cache key: print graph IR")
timed(cache.DiskCache, "get", "cache: read + verify")
timed(cache.DiskCache, "put", "cache: write")
timed(llvm, "parse_assembly", "LLVM parse", scoped=True)
timed(llvm.ModuleRef, "verify", "LLVM verify", scoped=True)
timed(target, "optimize", "LLVM optimize (IR passes)", scoped=True)
timed(llvm.ExecutionEngine, "finalize_object", "LLVM machine code / load object", scoped=True)
timed(llvm.ExecutionEngine, "add_object_file", "LLVM add cached object", scoped=True)
timed(compiled_module, "compile_object", "tier 0 model: LLVM IR -> object, on its own thread (all of it)")

def total(label, fn):
    w, c = time.perf_counter(), clock()
    fn()
    T[f"TOTAL {label}, wall"] = time.perf_counter() - w
    T[f"TOTAL {label}, CPU"] = clock() - c

t0 = clock()
x = tk.placeholder(tk.float32, [None, 784]); y = tk.placeholder(tk.int64, [None])
logits = tk.matmul(x, tk.Variable(tk.zeros([784, 10]))) + tk.Variable(tk.zeros([10]))
loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
train = tk.train.GradientDescentOptimizer(0.5).minimize(loss)
sess = tk.Session()
T["build the graph"] = clock() - t0
total("initializer run (compile + run)", lambda: sess.run(tk.global_variables_initializer()))
feeds = {x: np.zeros((100, 784), np.float32), y: np.zeros(100, np.int64)}
total("first train step (compile + run)", lambda: sess.run(train, feeds))
total("second train step (run only)", lambda: sess.run(train, feeds))
tiering.wait()
print(json.dumps(T))
"""

MODES = ("cold", "cold model", "warm")
KEY = "TOTAL first train step (compile + run), CPU"  # per mode, the run where this is least is shown


def _child(env: dict[str, str]) -> dict[str, float]:
    r = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def profile(repeats: int = 3) -> dict[str, dict[str, float]]:
    """{mode: {stage: seconds}}: per mode, the one of ``repeats`` fresh processes whose first train
    step took the least CPU time (stages from one run add up; minima per stage would not)."""
    out: dict[str, dict[str, float]] = {m: {} for m in MODES}
    with tempfile.TemporaryDirectory() as pyc:
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        base["PYTHONPYCACHEPREFIX"] = pyc
        base["PYTHONPATH"] = str(ROOT) + os.pathsep + base.get("PYTHONPATH", "")
        subprocess.run([sys.executable, "-c", "import tensorkiln"], env=base, check=True, cwd=ROOT)  # write the .pyc files
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as cache_dir:
                env = {**base, "TENSORKILN_CACHE_DIR": cache_dir}
                results = {"cold": _child(env)}
                results["warm"] = _child(env)
                results["cold model"] = _cold_model(env, cache_dir)
            for mode, times in results.items():
                if times[KEY] < out[mode].get(KEY, float("inf")):
                    out[mode] = times
    return out


KERNELS_ONLY = r"""
import numpy as np, tensorkiln as tk
from tensorkiln.backends.llvm.kernels import ensure_kernels
from tensorkiln.runtime.cache import DiskCache
ensure_kernels(["f32"], DiskCache())
"""


def _cold_model(env: dict[str, str], cache_dir: str) -> dict[str, float]:
    """A process whose disk cache holds only the kernel libraries (the thread pool, f32 GEMM)."""
    for p in Path(cache_dir).glob("*.tkobj"):
        p.unlink()
    subprocess.run([sys.executable, "-c", KERNELS_ONLY], env=env, check=True, cwd=ROOT, capture_output=True)
    return _child(env)


def print_table(prof: dict[str, dict[str, float]]) -> None:
    stages = []
    for mode in MODES:
        for k in prof[mode]:
            if k not in stages:
                stages.append(k)
    stages.sort(key=lambda s: (s.startswith("TOTAL"), s.startswith("kernel"), s))
    print(f"| stage (ms; CPU of the compiling thread unless marked wall) | {' | '.join(MODES)} |")
    print("| --- | " + " | ".join("---:" for _ in MODES) + " |")
    for s in stages:
        cells = [f"{prof[m][s] * 1e3:.1f}" if s in prof[m] else "" for m in MODES]
        print(f"| {s} | {' | '.join(cells)} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    print_table(profile(args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
