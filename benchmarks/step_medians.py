"""One model's train step (``benchmarks/models.tk_step``, batch 100) in this process: seven medians
of 300 calls each, printed in order, so that a phase change of a shared machine shows instead of
hiding in one figure. For A/B comparisons, run two checkouts alternately:

    python benchmarks/step_medians.py [softmax|mlp|convnet]
"""
from __future__ import annotations

import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import models  # noqa: E402


def main(argv: list[str]) -> int:
    model = argv[0] if argv else "softmax"
    sess, train, px, py = models.tk_step(model, 0.5 if model == "softmax" else 0.1)
    x, y, _ = models._data(np.random.default_rng(0))
    models.SETTLE_S = 0.0
    meds = [models.median_us(lambda: sess.run(train, {px: x, py: y}), 300) for _ in range(7)]
    print(f"{model}: " + " ".join(f"{m:.1f}" for m in meds) + f"   median {statistics.median(meds):.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
