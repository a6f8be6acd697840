"""The METH_FASTCALL builtins around compiled functions (``backends/llvm/pywrappers.py``,
``runtime/fastcall.py``): a compiled function calls through one, the results equal those of the
ctypes path, the builtin refuses a wrong argument count without running anything, a Session run
goes through the builtin of its optimized (tier-1) code, and a builtin stays callable after its
holder is gone (it owns its method definition)."""
from __future__ import annotations

import gc
import types

import numpy as np

import tensorkiln as tk
from tensorkiln.backends.llvm import tiering
from tensorkiln.backends.llvm.pywrappers import BAD_CALL
from tensorkiln.runtime.fastcall import FastEntry

SRC = """
def f(x: f32[N, 3], w: f32[3, 2]) -> f32[N, 2] {
    return tanh(x @ w) * 2.0 + 1.0
}
"""


def test_builtin_matches_the_ctypes_path():
    fn = tk.compile(SRC)["f"]
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((3, 2)).astype(np.float32)
    assert fn._fast is not None and isinstance(fn._fast.call, types.BuiltinFunctionType)
    fast = fn(x, w)
    fn._fast = None  # the ctypes call of the ``.py`` wrapper
    slow = fn(x, w)
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_allclose(fast, np.tanh(x.astype(np.float64) @ w) * 2 + 1, rtol=1e-5, atol=1e-6)


def test_wrong_argument_count_or_dim_type_is_refused_before_native_code():
    fn = tk.compile(SRC)["f"]
    out = np.full((5, 2), 7.0, np.float32)
    x, w = np.ones((5, 3), np.float32), np.ones((3, 2), np.float32)
    assert fn._fast.call(5, x, w) == BAD_CALL  # the output array is missing
    assert fn._fast.call() == BAD_CALL
    assert fn._fast.call("5", x, w, out) == BAD_CALL  # a dim that is no int: refused, no error left set
    assert fn._fast.call(1 << 70, x, w, out) == BAD_CALL  # out of Py_ssize_t's range
    np.testing.assert_array_equal(out, 7.0)
    assert fn._fast.call(5, x, w, out) == 0
    np.testing.assert_allclose(out, np.tanh(np.full((5, 2), 3.0)) * 2 + 1, rtol=1e-6)


def test_session_runs_call_the_builtin():
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [None, 4])
        v = tk.Variable(tk.ones([4]))
        step = tk.assign_add(v, tk.reduce_sum(x, axis=0))
        with tk.Session() as sess:
            sess.run(tk.global_variables_initializer())
            first = sess.run(step, {x: np.ones((3, 4), np.float32)})
            runner = next(r for r in sess._runners.values() if r.fn is not None and r.fn.inputs[0].name == "Placeholder")
            tiering.wait()  # the optimized code by now (re-pointed, with a builtin of its own)
            assert runner.fn.tier == 1 and isinstance(runner.fn._fast, FastEntry)
            calls = []
            real = runner.fn._fast

            class Spy:
                def call(self, *args):
                    calls.append(len(args))
                    return real.call(*args)
            runner.fn._fast = Spy()
            second = sess.run(step, {x: np.ones((3, 4), np.float32)})
    assert calls == [1 + 1 + 1 + 1]  # N, the feed, the variable and the fetched value
    np.testing.assert_array_equal(first, np.full(4, 4.0, np.float32))
    np.testing.assert_array_equal(second, np.full(4, 7.0, np.float32))


def test_builtin_outlives_its_holder():
    fn = tk.compile(SRC)["f"]
    call = fn._fast.call
    fn._fast = None  # the holder gone: the builtin keeps its method definition alive
    gc.collect()
    x, w, out = np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), np.zeros((2, 2), np.float32)
    assert call(2, x, w, out) == 0
    np.testing.assert_allclose(out, np.tanh(np.full((2, 2), 3.0)) * 2 + 1, rtol=1e-6)
