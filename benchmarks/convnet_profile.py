"""Per-op profile of the TF-tutorial convnet train step (batch 100): each op of the step's optimized
graph compiled alone, at the step's shapes, and timed through one native call, with its FLOPs and
GFLOP/s. The ops are those the step's ``optimized`` stage shows (conv, bias + ReLU, pooling, their
adjoints, the dense layers and the SGD updates), so the rows add up to about the whole step.

``python benchmarks/convnet_profile.py [--repeats 9] [--min] [--cpu] [--only "conv1 fwd,conv2 dx"]``
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tensorkiln.backends.llvm import tiering  # noqa: E402
from tensorkiln.ir.core import Builder, Function, Module, Value  # noqa: E402
from tensorkiln.ir.types import DTYPES, TensorType  # noqa: E402
from tensorkiln.runtime.compiled_module import compile_graph_module  # noqa: E402

F32 = DTYPES["f32"]
B = 100
SAME = dict(padding="SAME")
POOL = dict(ksize=(2, 2), strides=(2, 2), padding="VALID")


def conv_flops(n, oh, ow, kh, kw, cin, cout) -> float:
    return 2.0 * n * oh * ow * kh * kw * cin * cout


def zero(b: Builder) -> Value:
    return b.op("graph.constant", value=np.array(0.0, np.float32))


def relu_grad(b: Builder, y: Value, g: Value) -> Value:
    z = zero(b)
    return b.op("graph.where", b.op("graph.gt", y, z), g, b.op("graph.broadcast_to", z, shape=g.type.shape))


def dw_sgd(b: Builder, x: Value, g: Value, w: Value) -> Value:
    """w := w - 0.01 * (xᵀ @ g), as the step's optimizer writes it: lowered to one GEMM accumulating
    into w (gemm_update.py). Returns a small value, since a function must return something."""
    dw = b.op("graph.matmul", x, g, transpose_a=True)
    lr = b.op("graph.constant", value=np.array(0.01, np.float32))
    b.create("graph.assign", [w, b.op("graph.sub", w, b.op("graph.mul", dw, lr))])
    return b.op("graph.reduce_sum", g, axes=[0])


# name -> (input shapes, body, FLOPs); shapes are the step's (see `get_ir(..., stage="optimized")`)
CASES: dict[str, tuple[list[tuple[int, ...]], Callable, float]] = {
    # bias and ReLU folded into the conv (fuse-nn: conv2d(x, f, b) {activation = "relu"})
    "conv1 fwd+b+relu": ([(B, 28, 28, 1), (5, 5, 1, 32), (32,)],
                         lambda b, x, f, c: b.op("graph.conv2d", x, f, c, activation="relu", **SAME), conv_flops(B, 28, 28, 5, 5, 1, 32)),
    "pool1 fwd": ([(B, 28, 28, 32)], lambda b, x: b.op("graph.max_pool", x, **POOL), 3.0 * B * 14 * 14 * 32),
    "conv2 fwd+b+relu": ([(B, 14, 14, 32), (5, 5, 32, 64), (64,)],
                         lambda b, x, f, c: b.op("graph.conv2d", x, f, c, activation="relu", **SAME), conv_flops(B, 14, 14, 5, 5, 32, 64)),
    "pool2 fwd": ([(B, 14, 14, 64)], lambda b, x: b.op("graph.max_pool", x, **POOL), 3.0 * B * 7 * 7 * 64),
    "dense1 fwd": ([(B, 3136), (3136, 1024)], lambda b, x, w: b.op("graph.matmul", x, w), 2.0 * B * 3136 * 1024),
    "dense1 dx": ([(B, 1024), (3136, 1024)], lambda b, g, w: b.op("graph.matmul", g, w, transpose_b=True), 2.0 * B * 3136 * 1024),
    # the weight gradient with the SGD update folded in (the step computes it so)
    "dense1 dW+SGD": ([(B, 3136), (B, 1024), (3136, 1024)], dw_sgd, 2.0 * B * 3136 * 1024),
    "dense1 bias+relu": ([(B, 1024), (1024,)], lambda b, x, c: b.op("graph.relu", b.op("graph.add", x, c)), 2.0 * B * 1024),
    "dense1 relu grad": ([(B, 1024), (B, 1024)], relu_grad, 0.0),
    # the ReLU gradient is folded into the pool adjoint (fuse-nn: mask_positive)
    "pool2 adj+relu": ([(B, 14, 14, 64), (B, 7, 7, 64)], lambda b, x, g: b.op("graph.max_pool_grad", x, g, mask_positive=True, **POOL), 0.0),
    "conv2 bias grad": ([(B, 14, 14, 64)], lambda b, g: b.op("graph.reduce_sum", g, axes=(0, 1, 2)), 1.0 * B * 14 * 14 * 64),
    "conv2 dx": ([(B, 14, 14, 64), (5, 5, 32, 64)],
                 lambda b, g, f: b.op("graph.conv2d_backprop_input", g, f, input_shape=(B, 14, 14, 32), **SAME), conv_flops(B, 14, 14, 5, 5, 32, 64)),
    "conv2 dW": ([(B, 14, 14, 32), (B, 14, 14, 64)],
                 lambda b, x, g: b.op("graph.conv2d_backprop_filter", x, g, filter_shape=(5, 5, 32, 64), **SAME), conv_flops(B, 14, 14, 5, 5, 32, 64)),
    "pool1 adj+relu": ([(B, 28, 28, 32), (B, 14, 14, 32)], lambda b, x, g: b.op("graph.max_pool_grad", x, g, mask_positive=True, **POOL), 0.0),
    "conv1 bias grad": ([(B, 28, 28, 32)], lambda b, g: b.op("graph.reduce_sum", g, axes=(0, 1, 2)), 1.0 * B * 28 * 28 * 32),
    "conv1 dW": ([(B, 28, 28, 1), (B, 28, 28, 32)],
                 lambda b, x, g: b.op("graph.conv2d_backprop_filter", x, g, filter_shape=(5, 5, 1, 32), **SAME), conv_flops(B, 28, 28, 5, 5, 1, 32)),
}


def build(name: str, shapes, body) -> Function:
    types = [TensorType(s, F32) for s in shapes]
    f = Function("f", types, [], [f"a{i}" for i in range(len(types))])
    b = Builder(f.body)
    out = body(b, *f.args)
    b.create("return", [out])
    f.result_types = [out.type]
    return f


def time_case(name: str, repeats: int, best: bool = False, clock: Callable[[], float] = time.perf_counter) -> float:
    shapes, body, _ = CASES[name]
    fn = compile_graph_module(Module([build(name, shapes, body)]))["f"]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    fn.call(arrays)
    tiering.wait()  # the optimized code, not tier 0 (tiering.py)
    ts = []
    for _ in range(repeats):
        t = clock()
        fn.call(arrays)
        ts.append(clock() - t)
    return min(ts) if best else statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--only", default="")
    ap.add_argument("--min", action="store_true", help="report the fastest call, not the median (a loaded machine)")
    ap.add_argument("--cpu", action="store_true",
                    help="process CPU time, not wall time: steadier on a shared machine, meaningful with TENSORKILN_NUM_THREADS=1")
    args = ap.parse_args()
    names = [n for n in CASES if not args.only or any(k.strip() in n for k in args.only.split(","))]
    total = 0.0
    print(f"{'op':<18} {'ms':>8} {'GFLOP':>7} {'GFLOP/s':>8}")
    for name in names:
        t = time_case(name, args.repeats, args.min, time.process_time if args.cpu else time.perf_counter)
        total += t
        fl = CASES[name][2]
        rate = f"{fl / t / 1e9:8.1f}" if fl else f"{'':>8}"
        print(f"{name:<18} {t * 1e3:8.2f} {fl / 1e9:7.3f} {rate}", flush=True)
    print(f"{'sum':<18} {total * 1e3:8.2f}")


if __name__ == "__main__":
    main()
