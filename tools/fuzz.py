"""`make fuzz`: differential fuzzing for a chosen number of minutes.

Two generators, run in alternating batches by default (``--kind both``):

* ``ir`` — random graph-dialect functions (tests/fuzz_graphs.py) compiled directly and compared with
  the reference interpreter (tests/test_fuzz.py's ``check_case``);
* ``session`` — random TF-1 graphs built with the public API (tests/fuzz_session.py) run through
  ``Session.run`` at two batch sizes and compared with numpy and with the reference interpreter on
  the Session's IR (tests/test_fuzz_session.py's ``check_session_case``).

Each batch of a few hundred cases runs in a child process with its own hypothesis seed, so a crash
of native code is caught and reported (with the seed, the case number and the program that was
running) rather than ending the run; ``--seed S --kind K`` replays one batch. Prints graphs run,
mismatches (wrong numbers), errors (an exception on a valid graph) and crashes (the child died).

    python tools/fuzz.py --minutes 10 [--kind session|ir|both] [--bounds-check]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

KINDS = {
    "ir": ("fuzz_graphs", "graphs", "test_fuzz", "check_case"),
    "session": ("fuzz_session", "session_graphs", "test_fuzz_session", "check_session_case"),
}

CHILD = r"""
import json, sys, traceback
sys.path.insert(0, {tests!r})
from hypothesis import given, settings, seed, HealthCheck, Phase
from {gen_module} import {strategy} as strategy
from {check_module} import {checker} as check
stats = {{"graphs": 0, "mismatches": 0, "errors": 0, "failures": []}}

@seed({seed})
@settings(max_examples={n}, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(strategy())
def run(case):
    stats["graphs"] += 1
    text = repr(case)[:6000]
    with open({current!r}, "w") as f:  # what was running, should native code take the process down
        f.write(f"case {{stats['graphs']}} of batch seed {seed}\n{{text}}\n")
    try:
        check(case)
    except AssertionError as e:
        stats["mismatches"] += 1
        stats["failures"].append(f"MISMATCH (seed {seed}, case {{stats['graphs']}})\n{{text}}\n{{str(e)[:2000]}}")
    except Exception as e:
        stats["errors"] += 1
        tb = traceback.format_exc()[-2500:]
        stats["failures"].append(f"ERROR (seed {seed}, case {{stats['graphs']}})\n{{text}}\n{{tb}}")
run()
print("FUZZSTATS " + json.dumps(stats))
"""


def run_batch(kind: str, seed: int, n: int, env: dict) -> tuple[dict, list[str]]:
    gen_module, strategy, check_module, checker = KINDS[kind]
    with tempfile.NamedTemporaryFile("w+", suffix=".txt", delete=False) as cur:
        current = cur.name
    try:
        code = CHILD.format(tests=str(ROOT / "tests"), gen_module=gen_module, strategy=strategy,
                            check_module=check_module, checker=checker, seed=seed, n=n, current=current)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        line = next((l for l in r.stdout.splitlines() if l.startswith("FUZZSTATS ")), None)
        if r.returncode != 0 or line is None:
            running = Path(current).read_text() if Path(current).exists() else ""
            started = int(running.split()[1]) if running.startswith("case ") else 0  # "case K of batch seed S"
            return ({"graphs": started, "mismatches": 0, "errors": 0, "crashes": 1},
                    [f"CRASH ({kind}, seed {seed}): exit {r.returncode}\n{running[:6000]}\n{r.stderr[-3000:]}"])
        s = json.loads(line[len("FUZZSTATS "):])
        return {"graphs": s["graphs"], "mismatches": s["mismatches"], "errors": s["errors"], "crashes": 0}, s["failures"]
    finally:
        Path(current).unlink(missing_ok=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=float(os.environ.get("MINUTES", 5)))
    p.add_argument("--kind", choices=["session", "ir", "both"], default=os.environ.get("KIND", "both"))
    p.add_argument("--batch", type=int, default=200, help="cases per child process")
    p.add_argument("--seed", type=int, default=None, help="replay the one batch with this seed")
    p.add_argument("--bounds-check", action="store_true", help="compile with TENSORKILN_BOUNDS_CHECK=1")
    args = p.parse_args()
    # as in the test suite (tests/conftest.py): the IR verifier runs after every pass
    env = {"TENSORKILN_VERIFY": "1", **os.environ, "TENSORKILN_CACHE": "0"}
    if args.bounds_check:
        env["TENSORKILN_BOUNDS_CHECK"] = "1"
    kinds = ["session", "ir"] if args.kind == "both" else [args.kind]
    totals = {k: {"graphs": 0, "mismatches": 0, "errors": 0, "crashes": 0} for k in kinds}
    failures: list[str] = []
    deadline = time.time() + args.minutes * 60
    batch = 0
    while batch == 0 or (args.seed is None and time.time() < deadline):
        kind = kinds[batch % len(kinds)]
        seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
        batch += 1
        stats, fails = run_batch(kind, seed, args.batch, env)
        for key in totals[kind]:
            totals[kind][key] += stats[key]
        failures += fails
        for f in fails:  # as they happen: a long run that is stopped keeps what it found
            print("-" * 70 + "\n" + f, flush=True)
        summary = "; ".join(f"{k}: {t['graphs']} graphs, {t['mismatches']} mismatches, {t['errors']} errors, "
                            f"{t['crashes']} crashes" for k, t in totals.items())
        print(f"batch {batch} ({kind}, seed {seed}): {summary}", flush=True)
    if failures:
        print(f"{len(failures)} failures (printed above as they were found)")
    bad = 0
    for k, t in totals.items():
        print(f"{k}: fuzzed {t['graphs']} graphs: {t['mismatches']} mismatches, {t['errors']} errors, "
              f"{t['crashes']} crashes")
        bad += t["mismatches"] + t["errors"] + t["crashes"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
