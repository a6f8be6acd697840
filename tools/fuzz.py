"""`make fuzz`: differential fuzzing for a chosen number of minutes.

Random graphs from tests/fuzz_graphs.py are compiled and compared with the reference interpreter in
child processes of a few hundred cases each, so a crash of native code is caught and reported
(with the batch's seed) rather than ending the run. Prints graphs run, mismatches and crashes.

    python tools/fuzz.py --minutes 10
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, traceback
sys.path.insert(0, {tests!r})
import numpy as np
from hypothesis import given, settings, HealthCheck, Phase
from fuzz_graphs import graphs
from test_fuzz import check_case
stats = {{"graphs": 0, "mismatches": 0, "failures": []}}
@settings(max_examples={n}, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(graphs())
def run(case):
    stats["graphs"] += 1
    try:
        check_case(case)
    except AssertionError as e:
        stats["mismatches"] += 1
        stats["failures"].append(repr(case)[:4000] + "\n" + str(e)[:2000])
run()
print("FUZZSTATS " + json.dumps(stats))
"""


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=float(os.environ.get("MINUTES", 5)))
    p.add_argument("--batch", type=int, default=200)
    args = p.parse_args()
    deadline = time.time() + args.minutes * 60
    total = {"graphs": 0, "mismatches": 0, "crashes": 0}
    failures: list[str] = []
    batch = 0
    env = {**os.environ, "TENSORKILN_CACHE": "0", "HYPOTHESIS_SEED": ""}
    while time.time() < deadline:
        batch += 1
        code = CHILD.format(tests=str(ROOT / "tests"), n=args.batch)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**env, "PYTHONHASHSEED": str(batch)})
        line = next((l for l in r.stdout.splitlines() if l.startswith("FUZZSTATS ")), None)
        if r.returncode != 0 or line is None:
            total["crashes"] += 1
            failures.append(f"batch {batch}: exit {r.returncode}\n{r.stderr[-3000:]}")
            continue
        s = json.loads(line[len("FUZZSTATS "):])
        total["graphs"] += s["graphs"]
        total["mismatches"] += s["mismatches"]
        failures += s["failures"]
        print(f"batch {batch}: {total['graphs']} graphs, {total['mismatches']} mismatches, {total['crashes']} crashes", flush=True)
    for f in failures[:10]:
        print("-" * 60 + "\n" + f)
    print(f"fuzzed {total['graphs']} graphs in {args.minutes:g} min: {total['mismatches']} mismatches, {total['crashes']} crashes")
    return 1 if (total["mismatches"] or total["crashes"]) else 0


if __name__ == "__main__":
    sys.exit(main())
