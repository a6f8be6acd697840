"""``import tensorkiln`` stays light: no plotting/TensorBoard/image libraries, no parser tables, no passes."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "PIL", "tensorboard", "google.protobuf", "lark", "tqdm",
         "tensorkiln.compiler.pipeline", "tensorkiln.ir.parser", "tensorkiln.summary", "tensorkiln.aot")


def test_import_tensorkiln_loads_no_heavy_module():
    code = ("import sys, tensorkiln\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_a_cache_hit_needs_neither_passes_nor_parser(tmp_path):
    code = """
import sys, numpy as np, tensorkiln as tk
m = tk.compile("def f(x: f32[N]) -> f32[N] {\\n    return x * 2.0\\n}\\n")
np.testing.assert_allclose(m.f(np.arange(5, dtype=np.float32)), np.arange(5) * 2.0)
print(m.from_cache, 'tensorkiln.compiler.pipeline' in sys.modules)
"""
    env = {"TENSORKILN_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           env={**os.environ, **env}) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr
    assert [r.stdout.split() for r in runs] == [["False", "True"], ["True", "False"]]


STEP = """
import sys, numpy as np, tensorkiln as tk
x = tk.placeholder(tk.float32, [None, 4]); y = tk.placeholder(tk.int64, [None])
logits = tk.matmul(x, tk.Variable(tk.ones([4, 3]))) + tk.Variable(tk.zeros([3]))
loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
train = tk.train.GradientDescentOptimizer(0.5).minimize(loss)
sess = tk.Session(); sess.run(tk.global_variables_initializer())
sess.run(train, {x: np.ones((2, 4), np.float32), y: np.zeros(2, np.int64)})
print(float(sess.run(loss, {x: np.ones((2, 4), np.float32), y: np.zeros(2, np.int64)})),
      'tensorkiln.ir.dialects.loops' in sys.modules)
"""


def test_a_cache_hit_never_imports_the_loops_dialect(tmp_path):
    """Op lookups import only the dialect an op name comes from: a process whose code all comes
    from the disk cache never lowers to loops, so it never pays for that dialect's import."""
    env = {**os.environ, "TENSORKILN_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", STEP], capture_output=True, text=True, timeout=120, env=env)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr
    (cold_loss, cold_loops), (warm_loss, warm_loops) = [r.stdout.split() for r in runs]
    assert cold_loops == "True" and warm_loops == "False"
    # the same trained value either way (a cold run's tier-0 kernels may round differently)
    assert abs(float(cold_loss) - float(warm_loss)) < 1e-5


def test_op_lookup_by_dialect_prefix():
    from tensorkiln.errors import CompileError
    from tensorkiln.ir.opdef import lookup, registered_ops

    assert lookup("loops.for").name == "loops.for" and lookup("graph.matmul").name == "graph.matmul"
    assert lookup("return").name == "return"
    for bad in ("loops.frobnicate", "graph.frobnicate", "frobnicate"):
        with pytest.raises(CompileError, match=f"unknown op '{bad}'"):
            lookup(bad)
    ops = registered_ops()
    assert {"loops.for", "graph.matmul", "return"} <= set(ops)


def test_import_starts_the_llvm_set_up_on_a_thread_and_a_fork_waits_for_it(tmp_path):
    """``import tensorkiln`` starts the host CPU query and the shared JIT engine on a thread
    (kernels.warm_up); a child forked while it may still run (llvmlite's lock held by a thread
    the child lacks) must still compile and run."""
    code = (
        "import os, numpy as np, tensorkiln as tk\n"
        "from tensorkiln.backends.llvm import jit, kernels\n"
        "assert kernels._warm_up is not None\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    m = tk.compile('def g(x: f32[N]) -> f32[N] {\\n    return x * 3.0\\n}\\n')\n"
        "    os._exit(0 if (m.g(np.ones(4, np.float32)) == 3).all() else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "kernels._warm_up.join()\n"
        "assert status == 0 and jit.ENGINES.current is not None, status\n"
        "print('ok')\n")
    env = {**os.environ, "TENSORKILN_CACHE_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
