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
sys.path.insert(0, str(Path(__file__).resolve().parent))
import models  # noqa: E402

# models.COLD (import, graph, initializer run, first step, in seconds), run from the checkout named
# by argv[1]: the assertion catches a process that imported another one.
CHILD = models.COLD + "assert tk.__file__.startswith(sys.argv[1]), tk.__file__\n"
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
            imp, build, init, step = (1e3 * float(v) for v in r.stdout.split())
            return [imp, build, init, step, build + init + step]

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
