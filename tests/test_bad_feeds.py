"""A corpus of bad feeds, run in a subprocess so a crash would be caught: each either raises a clear
error (TF's classes: ValueError / TypeError / InvalidArgumentError, naming the placeholder) or, where
TF accepts the value, computes the right numbers (NaN/Inf, empty batches, float64 for float32,
lists, strided and transposed views)."""
from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r'''
import json, numpy as np, tensorkiln as tk
x = tk.placeholder(tk.float32, [None, 3], name="x")
i = tk.placeholder(tk.int64, [None], name="i")
s = tk.reduce_sum(x * 2.0, axis=1) + tk.cast(i, tk.float32)
sess = tk.Session()
big = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape=(2**40, 3), strides=(0, 0))
E = "error"
cases = [
    ("rank 1", {x: np.zeros(3, np.float32), i: [0]}, E),
    ("rank 3", {x: np.zeros((1, 1, 3), np.float32), i: [0]}, E),
    ("wrong last dim", {x: np.zeros((2, 4), np.float32), i: [0, 0]}, E),
    ("wrong last dim 0", {x: np.zeros((2, 0), np.float32), i: [0, 0]}, E),
    ("batch mismatch", {x: np.zeros((2, 3), np.float32), i: [0, 0, 0]}, E),
    ("scalar for matrix", {x: 1.0, i: [0]}, E),
    ("string", {x: "abc", i: [0]}, E),
    ("list of strings", {x: [["a", "b", "c"]], i: [0]}, E),
    ("object array", {x: np.array([[object(), 1, 2]], dtype=object), i: [0]}, E),
    ("dict value", {x: {"a": 1}, i: [0]}, E),
    ("None value", {x: None, i: [0]}, E),
    ("ragged list", {x: [[1, 2, 3], [1, 2]], i: [0, 0]}, E),
    ("complex", {x: np.zeros((1, 3), np.complex64), i: [0]}, E),
    ("float for int", {x: np.zeros((1, 3), np.float32), i: [0.5]}, "ok-or-error"),
    ("string index", {x: np.zeros((1, 3), np.float32), i: ["a"]}, E),
    ("missing feed", {x: np.zeros((1, 3), np.float32)}, E),
    ("unknown key", {x: np.zeros((1, 3), np.float32), i: [0], "nope:0": [1]}, E),
    ("non-placeholder key type", {x: np.zeros((1, 3), np.float32), i: [0], 3: [1]}, E),
    ("too large to allocate", {x: big, i: np.lib.stride_tricks.as_strided(np.zeros(1, np.int64), shape=(2**40,), strides=(0,))}, E),
    ("huge batch mismatch", {x: big[:5], i: [0, 0]}, E),
    ("bool for float", {x: np.ones((1, 3), bool), i: [0]}, [6.0]),
    ("nan", {x: np.full((1, 3), np.nan, np.float32), i: [0]}, "nan"),
    ("inf", {x: np.full((1, 3), np.inf, np.float32), i: [0]}, "inf"),
    ("-inf and inf", {x: np.array([[np.inf, -np.inf, 0]], np.float32), i: [0]}, "nan"),
    ("empty batch", {x: np.zeros((0, 3), np.float32), i: np.zeros(0, np.int64)}, []),
    ("float64 for float32", {x: np.ones((2, 3)), i: [1, 2]}, [7.0, 8.0]),
    ("int list for float", {x: [[1, 2, 3]], i: [0]}, [12.0]),
    ("strided view", {x: np.arange(24, dtype=np.float32).reshape(4, 6)[::2, ::2], i: [0, 0]}, [12.0, 84.0]),
    ("transposed view", {x: np.arange(6, dtype=np.float32).reshape(3, 2).T, i: [0, 0]}, [12.0, 18.0]),
    ("fortran order", {x: np.asfortranarray(np.ones((2, 3), np.float32)), i: [0, 1]}, [6.0, 7.0]),
    ("int32 index", {x: np.ones((1, 3), np.float32), i: np.array([5], np.int32)}, [11.0]),
    ("numpy scalar batch", {x: np.ones((1, 3), np.float32), i: np.int64(1)}, E),
    ("read-only array", {x: np.frombuffer(np.ones(3, np.float32).tobytes(), np.float32).reshape(1, 3), i: [0]}, [6.0]),
]
out = []
for name, feed, want in cases:
    try:
        got = sess.run(s, feed)
        if want == E:
            out.append((name, False, f"no error, got {got!r}"))
        elif want in ("nan", "inf"):
            ok = bool(np.isnan(got).all()) if want == "nan" else bool(np.isinf(got).all())
            out.append((name, ok, repr(got)))
        elif want == "ok-or-error":
            out.append((name, True, repr(got)))
        else:
            out.append((name, bool(np.allclose(got, want)) and got.shape == np.asarray(want).shape, repr(got)))
    except (ValueError, TypeError, tk.errors.InvalidArgumentError, tk.errors.ResourceExhaustedError, KeyError) as e:
        msg = str(e)
        ok = want in (E, "ok-or-error") and len(msg) > 10
        out.append((name, ok, f"{type(e).__name__}: {msg[:200]}"))
print("RESULTS " + json.dumps(out))
'''


def test_bad_feed_corpus_in_a_subprocess():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"the process died (exit {r.returncode}):\n{r.stderr[-3000:]}"
    line = next(l for l in r.stdout.splitlines() if l.startswith("RESULTS "))
    results = json.loads(line[len("RESULTS "):])
    assert len(results) >= 30
    bad = [r for r in results if not r[1]]
    assert not bad, "\n".join(f"{n}: {d}" for n, _, d in bad)
