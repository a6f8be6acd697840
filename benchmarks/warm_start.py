"""The softmax-regression start-up from the disk cache, stage by stage, in fresh processes.

``python benchmarks/warm_start.py [--processes 10] [--root DIR ...]`` primes a temporary disk cache,
then runs the program of ``models.COLD`` (import, graph, initializer run, first train step) in
fresh processes and prints, per process, the import and the three stages in ms, then their
medians. With several ``--root`` checkouts (a ``git worktree`` of another commit, say) the
processes alternate between them, each with its own cache, so a slow phase of a shared machine
hits both sides alike. Python bytecode is cached (as in an installed package) in a temporary
directory.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys, time
t0 = time.perf_counter()
import numpy as np
import tensorkiln as tk
ti = time.perf_counter()
x = tk.placeholder(tk.float32, [None, 784]); y = tk.placeholder(tk.int64, [None])
logits = tk.matmul(x, tk.Variable(tk.zeros([784, 10]))) + tk.Variable(tk.zeros([10]))
loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
train = tk.train.GradientDescentOptimizer(0.5).minimize(loss)
t1 = time.perf_counter()
sess = tk.Session(); sess.run(tk.global_variables_initializer())
t2 = time.perf_counter()
sess.run(train, {x: np.zeros((100, 784), np.float32), y: np.zeros(100, np.int64)})
t3 = time.perf_counter()
assert tk.__file__.startswith(sys.argv[1]), tk.__file__
print(*(f"{1e3 * v:.2f}" for v in (ti - t0, t1 - ti, t2 - t1, t3 - t2, t3 - ti)))
"""
COLUMNS = ("import", "build", "init run", "train step", "total")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--processes", type=int, default=10)
    p.add_argument("--root", action="append", help="a checkout to take tensorkiln from (default: this one)")
    args = p.parse_args(argv)
    roots = [str(Path(r).resolve()) for r in (args.root or [str(ROOT)])]
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pyc")

        def run(root: str) -> list[float]:
            e = dict(env, PYTHONPATH=root, TENSORKILN_CACHE_DIR=os.path.join(tmp, f"cache{roots.index(root)}"))
            r = subprocess.run([sys.executable, "-c", CHILD, root], capture_output=True, text=True, env=e, timeout=300,
                               cwd=tmp)  # not a checkout: "-c" puts the working directory first on sys.path
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
            return [float(v) for v in r.stdout.split()]

        for root in roots:  # the cold run fills the cache; the second writes no more
            run(root)
            run(root)
        got: dict[str, list[list[float]]] = {r: [] for r in roots}
        for _ in range(args.processes):
            for root in roots:
                got[root].append(run(root))
                print(f"{root}: " + "  ".join(f"{c} {v:.2f}" for c, v in zip(COLUMNS, got[root][-1])), flush=True)
    for root in roots:
        med = [statistics.median(col) for col in zip(*got[root])]
        print(f"median {root}: " + "  ".join(f"{c} {v:.2f}" for c, v in zip(COLUMNS, med)) + " ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
