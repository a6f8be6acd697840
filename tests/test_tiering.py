"""Tiered compilation (backends/llvm/tiering.py): a module missing from the disk cache first runs
quickly compiled tier-0 code, then the optimized tier-1 code compiled on a background thread; only
tier-1 code reaches the disk cache; ``TENSORKILN_TIERED=0`` compiles fully at once; tier-0 code is
right (including empty nests with huge outer extents, which only O3 used to remove)."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.backends.llvm import tiering
from tensorkiln.backends.llvm.codegen import emit_module
from tensorkiln.runtime.compiled_module import compile_graph_module

SRC = """
def chain(x: f32[N, M]) -> f32[N, M] {
    return tanh(x * 1.5 + 0.25) * sigmoid(x) + x * x
}
def rows(x: f32[N, M]) -> f32[N] {
    return sum(exp(x - max(x, axis=1)), axis=1)
}
def mm(a: f32[M, K], b: f32[K, N]) -> f32[M, N] {
    return a @ b
}
"""


def _np_chain(x):
    x = x.astype(np.float64)
    return np.tanh(x * 1.5 + 0.25) / (1 + np.exp(-x)) + x * x


def _np_rows(x):
    x = x.astype(np.float64)
    return np.exp(x - x.max(axis=1, keepdims=True)).sum(axis=1)


def _check(mod, rng):
    # stated tolerances: f32 vector math and reordered sums against float64 numpy
    x = rng.standard_normal((300, 257)).astype(np.float32)
    np.testing.assert_allclose(mod.chain(x), _np_chain(x), rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(mod.rows(x), _np_rows(x), rtol=1e-5)
    a, b = rng.standard_normal((40, 33)).astype(np.float32), rng.standard_normal((33, 21)).astype(np.float32)
    np.testing.assert_allclose(mod.mm(a, b), a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)


def _child_ok(code: str, cache: Path) -> None:
    """Run ``code`` in a fresh Python with its own disk cache; it must print ``ok``."""
    env = dict(os.environ, TENSORKILN_CACHE_DIR=str(cache))
    r = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.split() == ["ok"], (r.stdout, r.stderr)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORKILN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TENSORKILN_TIERED", "always")
    tiering.wait()  # nothing of an earlier test's still compiling
    return tmp_path


def test_tier0_runs_first_then_tier1_is_swapped_in_and_cached(cache_dir):
    rng = np.random.default_rng(0)
    with tiering.foreground():  # holds the worker back: the tier-0 code is what runs here
        mod = compile_graph_module(tk.parse(SRC)[0])
        assert not mod.from_cache
        assert {mod[e].tier for e in mod.entries} == {0}
        _check(mod, rng)
        assert not compile_graph_module(tk.parse(SRC)[0]).from_cache  # tier-0 code is not cached
        cached_before = {p.name for p in cache_dir.iterdir()}
    assert tiering.wait(60)
    assert {mod[e].tier for e in mod.entries} == {1}
    _check(mod, rng)
    assert mod._entries["chain"].build.tier1.error is None
    # the optimized object is in the disk cache now (the tier-0 one never was) ...
    new = {p.name for p in cache_dir.iterdir()} - cached_before
    assert new
    again = compile_graph_module(tk.parse(SRC)[0])
    assert again.from_cache and {again[e].tier for e in again.entries} == {1}
    tier1_obj = mod._entries["chain"].build._jit.object_code
    key_files = [p for p in cache_dir.iterdir() if p.name in new]
    assert any(tier1_obj in p.read_bytes() for p in key_files)
    # ... and a cache hit runs exactly the optimized code: same bits
    x = rng.standard_normal((500, 300)).astype(np.float32)
    np.testing.assert_array_equal(again.chain(x), mod.chain(x))
    np.testing.assert_array_equal(again.rows(x), mod.rows(x))


def test_off_compiles_fully_before_the_first_call(cache_dir, monkeypatch):
    monkeypatch.setenv("TENSORKILN_TIERED", "0")
    jobs = tiering._last
    mod = compile_graph_module(tk.parse(SRC)[0])
    assert {mod[e].tier for e in mod.entries} == {1}
    assert tiering._last is jobs  # nothing queued
    _check(mod, np.random.default_rng(1))


def test_small_modules_are_not_tiered(cache_dir, monkeypatch):
    monkeypatch.setenv("TENSORKILN_TIERED", "1")
    mod = compile_graph_module(tk.parse("def f(x: f32[5]) -> f32[5] {\n    return x + 1.0\n}\n")[0])
    assert tiering.model_chars(mod.ir("f", "llvm")) < tiering.MIN_IR_CHARS and mod["f"].tier == 1
    np.testing.assert_array_equal(mod.f(np.arange(5, dtype=np.float32)), np.arange(5, dtype=np.float32) + 1)


def test_a_collected_module_is_optimized_for_the_cache_only(cache_dir):
    with tiering.foreground():
        mod = compile_graph_module(tk.parse(SRC)[0], use_cache=False)
        build = mod._entries["chain"].build
        del mod
        gc.collect()
    assert tiering.wait(60)
    assert build.tier1.done.is_set() and build.tier1.error is None
    assert build._jit is None  # no cache, no live function: nothing compiled
    # with a disk cache the optimized code is still compiled and cached: a module run once (an
    # initializer) would otherwise be recompiled at tier 0 by every later process
    with tiering.foreground():
        mod = compile_graph_module(tk.parse(SRC)[0])
        del mod
        gc.collect()
    assert tiering.wait(60)
    again = compile_graph_module(tk.parse(SRC)[0])
    assert again.from_cache and again["chain"].tier == 1


def test_calls_racing_the_swap_stay_right(cache_dir):
    mod = compile_graph_module(tk.parse(SRC)[0])
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 700)).astype(np.float32)
    want = _np_chain(x)
    errors: list[BaseException] = []

    def hammer():
        try:
            for _ in range(400):
                np.testing.assert_allclose(mod.chain(x), want, rtol=2e-6, atol=2e-6)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[0]
    assert tiering.wait(60) and mod["chain"].tier == 1


def test_a_small_module_waits_for_optimized_kernels_without_deadlock(cache_dir, monkeypatch):
    """A big tiered module leaves the optimized GEMM kernels queued; a small module compiled fully
    right after waits for them (it keeps its kernels for good) while a compile of its own is in
    progress: the worker must still run."""
    monkeypatch.setenv("TENSORKILN_TIERED", "1")
    code = (
        "import numpy as np, tensorkiln as tk\n"
        "from tensorkiln.backends.llvm import kernels\n"
        "big = tk.compile(" + repr(SRC) + ")\n"
        "assert big['chain'].tier in (0, 1)\n"
        "small = tk.compile('def g(a: f32[N, 256], b: f32[256, 10]) -> f32[N, 10] {\\n    return a @ b\\n}\\n')\n"
        "assert small['g'].tier == 1\n"
        "a, b = np.ones((7, 256), np.float32), np.ones((256, 10), np.float32)\n"
        "assert (small.g(a, b) == 256).all()\n"
        "kinds = kernels.kernels_used(small.ir('g', 'llvm'))\n"
        "assert kinds and all(kernels._pending[k].done.is_set() for k in kinds if k in kernels._pending), kinds\n"
        "print('ok')\n")
    _child_ok(code, cache_dir / "child")


def test_tier0_code_skips_empty_nests_with_huge_extents(cache_dir):
    x = tk.placeholder(tk.float32, [None, None], name="x")
    y = tk.reduce_sum(tk.transpose(x) * 2.0, axis=0)  # an empty result
    z = tk.transpose(x) * 2.0
    with tiering.foreground():
        sess = tk.Session()
        got_z = sess.run(z, {x: np.zeros((0, 2 ** 40), np.float32)})  # (2^40, 0): 2^40 empty rows
        got_y = sess.run(y, {x: np.zeros((0, 5), np.float32)})
    assert got_z.shape == (2 ** 40, 0)
    np.testing.assert_array_equal(got_y, np.zeros(0, np.float32))
    w = tk.reduce_sum(x, axis=0)  # a sum over an empty axis still stores its zeros
    with tiering.foreground():
        np.testing.assert_array_equal(sess.run(w, {x: np.zeros((0, 6), np.float32)}), np.zeros(6, np.float32))


def test_kernels_tier0_then_tier1_in_the_symbol_table(cache_dir):
    """In a fresh process the first GEMM kernels are tier 0 and never cached; the optimized ones
    replace them and are cached (a later process loads those)."""
    code = (
        "import numpy as np, tensorkiln as tk\n"
        "from tensorkiln.backends.llvm import kernels, tiering\n"
        "from tensorkiln.runtime.cache import DiskCache\n"
        "kernels.ensure_kernels(['skinny-f32'], DiskCache())\n"
        "t0 = kernels._libraries['skinny-f32']\n"
        "assert t0 in kernels._tier0\n"
        "assert tiering.wait(60)\n"
        "assert kernels._libraries['skinny-f32'] is not t0 and kernels._pending['skinny-f32'].error is None\n"
        "m = tk.compile('def g(a: f32[N, 64], b: f32[64, 3]) -> f32[N, 3] {\\n    return a @ b\\n}\\n')\n"
        "a, b = np.ones((5, 64), np.float32), np.ones((64, 3), np.float32)\n"
        "assert (m.g(a, b) == 64).all()\n"
        "print('ok')\n")
    _child_ok(code, cache_dir / "k")
    # a new process finds the optimized kernels in the cache: nothing tier 0
    _child_ok("from tensorkiln.backends.llvm import kernels\nfrom tensorkiln.runtime.cache import DiskCache\n"
              "kernels.ensure_kernels(['skinny-f32'], DiskCache())\n"
              "assert not kernels._tier0 and not kernels._pending\nprint('ok')\n", cache_dir / "k")


def test_optimized_stages_wait_for_tier1(cache_dir):
    mod = compile_graph_module(tk.parse(SRC)[0])
    text = mod.ir("chain", "llvm-opt")
    assert "<16 x float>" in text or "<8 x float>" in text  # vectorized: O3's code, not tier 0's
    assert mod["chain"].tier == 1


def test_mode_parsing(monkeypatch):
    for v, want in (("0", "0"), ("off", "0"), ("1", "1"), ("", "1"), ("always", "always"), ("ALWAYS", "always")):
        monkeypatch.setenv("TENSORKILN_TIERED", v)
        assert tiering.mode() == want
    monkeypatch.setenv("TENSORKILN_TIERED", "1")
    assert not tiering.wanted("x" * (tiering.MIN_IR_CHARS - 1)) and tiering.wanted("x" * tiering.MIN_IR_CHARS)
    # the Python wrappers' IR (and their C API declarations) does not count
    mod = compile_graph_module(tk.parse(SRC)[0])
    loops = mod._entries["chain"].build.stages["loops"]
    bare, wrapped = (str(emit_module(loops, py_wrappers=w, extern_kernels=True)) for w in (False, True))
    assert len(wrapped) > len(bare) + 1000 and abs(tiering.model_chars(wrapped) - len(bare)) <= 2  # blank lines


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_does_not_wait_for_the_parents_queue(cache_dir):
    code = (
        "import os, numpy as np, tensorkiln as tk\n"
        "from tensorkiln.backends.llvm import kernels, tiering\n"
        "with tiering.foreground():\n"
        "    big = tk.compile(" + repr(SRC) + ")\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        small = tk.compile('def g(a: f32[N, 256], b: f32[256, 10]) -> f32[N, 10] {\\n    return a @ b\\n}\\n')\n"
        "        ok = (small.g(np.ones((3, 256), np.float32), np.ones((256, 10), np.float32)) == 256).all()\n"
        "        ok = ok and (big.mm(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)) == 3).all()\n"
        "        os._exit(0 if ok and tiering.wait(5) else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "assert tiering.wait(60) and status == 0, status\n"
        "print('ok')\n")
    _child_ok(code, cache_dir / "f")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_fork_during_a_tier1_compile_waits_for_it(cache_dir):
    """The worker holds llvmlite's lock on and off while compiling: a child forked mid-job would
    hang on its first compile, so the fork waits for the job to end."""
    code = (
        "import os, time, numpy as np, tensorkiln as tk\n"
        "from tensorkiln.backends.llvm import tiering\n"
        "big = tk.compile(" + repr(SRC) + ")\n"
        "t = time.monotonic()\n"
        "while tiering._running[0] is None and not big['chain'].tier and time.monotonic() - t < 30:\n"
        "    time.sleep(0.0005)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.environ['TENSORKILN_TIERED'] = '0'\n"
        "    m = tk.compile('def g(x: f32[N]) -> f32[N] {\\n    return x * 3.0\\n}\\n')\n"
        "    os._exit(0 if (m.g(np.ones(4, np.float32)) == 3).all() else 1)\n"
        "deadline = time.monotonic() + 60\n"
        "while True:\n"
        "    done, status = os.waitpid(pid, os.WNOHANG)\n"
        "    if done or time.monotonic() > deadline:\n"
        "        break\n"
        "    time.sleep(0.01)\n"
        "if not done:\n"
        "    os.kill(pid, 9)\n"
        "assert done and status == 0, ('child hung' if not done else status)\n"
        "print('ok')\n")
    _child_ok(code, cache_dir / "g")


def test_a_failed_tier1_compile_warns_and_keeps_tier0():
    """A tier-1 job that raises leaves the tier-0 code in use (correct, slower) and says so: a
    RuntimeWarning naming the error, instead of a silent slowdown."""
    installed = []

    def broken():
        raise NameError("name 'transpose' is not defined")

    with pytest.warns(RuntimeWarning, match="tier-1.*NameError: name 'transpose'"):
        job = tiering.submit(broken, installed.append)
        assert tiering.wait_for(job, 60)
    assert installed == [] and isinstance(job.error, NameError)
