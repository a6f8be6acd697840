"""Concurrent ``Session.run`` calls from many Python threads give the serial results, and the GIL is
released during the native call."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import tensorkiln as tk


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


def test_concurrent_pure_runs_match_serial():
    x = tk.placeholder(tk.float32, [None, 8], name="x")
    w = tk.constant(np.random.RandomState(0).randn(8, 4).astype(np.float32))
    y = tk.nn.softmax(tk.matmul(x, w))
    inputs = [np.random.RandomState(i).rand(i % 5 + 1, 8).astype(np.float32) for i in range(64)]
    with tk.Session() as sess:
        serial = [sess.run(y, {x: a}) for a in inputs]
        with ThreadPoolExecutor(8) as pool:
            parallel = list(pool.map(lambda a: sess.run(y, {x: a}), inputs))
    for s, p in zip(serial, parallel):
        np.testing.assert_array_equal(s, p)


def test_concurrent_first_runs_compile_once():
    x = tk.placeholder(tk.float32, [None], name="x")
    y = tk.exp(x) + 1.0
    with tk.Session() as sess:
        with ThreadPoolExecutor(8) as pool:
            outs = list(pool.map(lambda n: sess.run(y, {x: np.zeros(n)}), range(1, 17)))
        assert all((o == 2.0).all() for o in outs)
        assert sess.compile_count == 1


def test_concurrent_variable_updates_are_serialized():
    counter = tk.Variable(0, name="counter")
    total = tk.Variable(tk.zeros([16]), name="total")
    inc = tk.group(counter.assign_add(1), total.assign_add(tk.ones([16])))
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        threads = 8
        per_thread = 50

        def work():
            for _ in range(per_thread):
                sess.run(inc)
        ts = [threading.Thread(target=work) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert sess.run(counter) == threads * per_thread
        np.testing.assert_array_equal(sess.run(total), np.full(16, threads * per_thread))


def test_readers_see_whole_updates():
    v = tk.Variable(tk.zeros([4096]), name="v")
    bump = v.assign_add(tk.ones([4096]))
    spread = tk.reduce_max(v) - tk.reduce_min(v)
    with tk.Session() as sess:
        sess.run(v.initializer)
        stop = threading.Event()
        bad = []

        def writer():
            while not stop.is_set():
                sess.run(bump)

        def reader():
            for _ in range(200):
                if sess.run(spread) != 0.0:
                    bad.append(1)
        w = threading.Thread(target=writer)
        w.start()
        readers = [threading.Thread(target=reader) for _ in range(4)]
        for r in readers:
            r.start()
        for r in readers:
            r.join()
        stop.set()
        w.join()
        assert not bad


def test_gil_is_released_during_the_native_call():
    # A long native call on one thread must not stop a Python thread from making progress: a
    # ticker thread's longest pause during the calls stays well under one call (held, the GIL would
    # stop it for whole calls). One intra-op thread leaves the other core to the ticker.
    x = tk.placeholder(tk.float32, [None, 512], name="x")
    y = tk.reduce_sum(tk.matmul(x, x, transpose_b=True))
    big = np.random.rand(2000, 512).astype(np.float32)  # 4 GFLOP: ~40 ms on one core here
    with tk.Session(config=tk.ConfigProto(intra_op_parallelism_threads=1)) as sess:
        sess.run(y, {x: big[:2]})
        start = time.perf_counter()
        sess.run(y, {x: big})
        one_call = time.perf_counter() - start
        ticks = []
        done = threading.Event()

        def ticker():
            while not done.is_set():
                ticks.append(time.perf_counter())
                time.sleep(0.0005)
        t = threading.Thread(target=ticker)
        t.start()
        time.sleep(0.01)
        start = time.perf_counter()
        for _ in range(3):
            sess.run(y, {x: big})
        end = time.perf_counter()
        done.set()
        t.join()
    during = [start] + [tk_ for tk_ in ticks if start < tk_ < end] + [end]
    longest = max(b - a for a, b in zip(during, during[1:]))
    assert one_call > 0.005, one_call  # long enough for a held GIL to show
    assert longest < 0.5 * one_call, (longest, one_call)
