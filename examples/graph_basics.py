"""TensorFlow 1.x's programming model on tensorkiln: graphs, sessions, feeds, fetches, variables, IR.

Run: ``.venv/bin/python examples/graph_basics.py``. Every ``sess.run`` below executes as ONE
compiled native function (its feeds and the Session's variable buffers in, its fetches and the
variable updates out); the last section prints the IR of one of them.
"""
from __future__ import annotations

import numpy as np

import tensorkiln as tk

# --------------------------------------------------------------------------- a graph
g = tk.Graph()
with g.as_default():
    x = tk.placeholder(tk.float32, [None, 3], name="x")  # None: any batch size, compiled once
    with tk.name_scope("layer"):
        w = tk.Variable(tk.truncated_normal([3, 2], stddev=0.5, seed=1), name="w")
        b = tk.Variable(tk.zeros([2]), name="b")
        y = tk.nn.relu(tk.matmul(x, w) + b, name="y")
    total = tk.reduce_sum(y, axis=1, name="total")
    step = tk.Variable(0, name="step", trainable=False)
    with tk.control_dependencies([step.assign_add(1)]):
        scaled = tk.identity(y * 10.0, name="scaled")  # running it also counts a step
    init = tk.global_variables_initializer()

print("ops:", [op.name for op in g.get_operations()][:8], "...")
print("y:", y, "| device:", repr(y.device), "| static shape:", y.shape.as_list())
print("trainable:", [v.name for v in g.get_collection(tk.GraphKeys.TRAINABLE_VARIABLES)])
print("lookup by name:", g.get_tensor_by_name("layer/y:0") is y)

# --------------------------------------------------------------------------- a session
data = np.arange(6, dtype=np.float32).reshape(2, 3)
with tk.Session(graph=g) as sess:
    sess.run(init)  # runs every variable's initializer (random numbers made by generated code)
    print("\nw =\n", sess.run(w))
    out = sess.run({"y": y, "total": total}, feed_dict={x: data})  # any nesting of fetches
    print("fetch a dict:", {k: v.tolist() for k, v in out.items()})
    print("feed by name, bigger batch:", sess.run("total:0", {"x:0": np.ones((4, 3))}))
    print("a transposed view works:", sess.run(total, {x: np.ones((3, 2), np.float32).T}))
    for _ in range(3):
        sess.run(scaled, {x: data})
    print("steps counted in place:", sess.run(step))
    print("signatures compiled by this session:", sess.compile_count)
    try:
        sess.run(total)
    except tk.errors.InvalidArgumentError as e:
        print("missing feed ->", type(e).__name__ + ":", e)
    try:
        sess.run(total, {x: np.ones((2, 4))})
    except ValueError as e:
        print("wrong shape ->", e)

# --------------------------------------------------------------------------- state belongs to a Session
with g.as_default():
    other = tk.Session()
    try:
        other.run(step)
    except tk.errors.FailedPreconditionError as e:
        print("a new session has its own, uninitialized, buffers ->", e)
    other.close()

# --------------------------------------------------------------------------- the IR of one signature
print("\nIR of sess.run(total, feed_dict={x: ...}), graph stage:\n")
print(tk.get_ir(total, [x]))
print("optimized stage:\n")
print(tk.get_ir(total, [x], stage="optimized"))
