"""Devices and configuration: device scopes are recorded and checked at run time (unknown devices
are InvalidArgumentError unless soft placement is allowed), ConfigProto fields are accepted, and
log_device_placement prints each op's device."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


def test_cpu_device_runs():
    with tk.device("/cpu:0"):
        a = tk.constant([1.0, 2.0])
        b = a * 2.0
    with tk.device("/job:localhost/replica:0/task:0/device:CPU:0"):
        c = b + 1.0
    assert b.device == "/device:CPU:0"
    assert c.device == "/job:localhost/replica:0/task:0/device:CPU:0"
    with tk.Session() as sess:
        np.testing.assert_array_equal(sess.run(c), [3, 5])


def test_unknown_device_is_invalid_argument_at_run_time():
    with tk.device("/gpu:0"):
        a = tk.constant([1.0, 2.0], name="on_gpu")
        b = a * 2.0
    assert a.device == "/device:GPU:0"  # construction is fine
    ok = tk.constant(1.0) + 1.0
    with tk.Session() as sess:
        assert sess.run(ok) == 2.0
        with pytest.raises(tk.errors.InvalidArgumentError, match="Cannot assign a device for operation 'on_gpu'"):
            sess.run(b)
        with pytest.raises(tk.errors.InvalidArgumentError):
            sess.run(b)  # still failing on the next try


def test_soft_placement_puts_unknown_devices_on_cpu():
    with tk.device("/device:GPU:3"):
        b = tk.constant([1.0, 2.0]) * 2.0
    config = tk.ConfigProto(allow_soft_placement=True)
    with tk.Session(config=config) as sess:
        np.testing.assert_array_equal(sess.run(b), [2, 4])


def test_config_proto_fields():
    c = tk.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=3, log_device_placement=False,
                       allow_soft_placement=True, device_count={"CPU": 1})
    assert c.intra_op_parallelism_threads == 2 and c.inter_op_parallelism_threads == 3
    assert c.allow_soft_placement and not c.log_device_placement and c.device_count == {"CPU": 1}
    assert tk.ConfigProto().intra_op_parallelism_threads == 0
    c.gpu_options.allow_growth = True
    with pytest.raises(ValueError):
        tk.ConfigProto(not_a_field=1)
    with tk.Session(config=c) as sess:
        assert sess.run(tk.constant(1.0)) == 1.0
    with pytest.raises(TypeError):
        tk.Session(config={"allow_soft_placement": True})


def test_log_device_placement_prints_each_op(capfd):
    a = tk.constant(1.0, name="a")
    b = tk.add(a, 2.0, name="b")
    with tk.Session(config=tk.ConfigProto(log_device_placement=True)) as sess:
        sess.run(b)
    err = capfd.readouterr().err
    assert "b: (Add): /job:localhost/replica:0/task:0/device:CPU:0" in err
    assert "a: (Const): /job:localhost/replica:0/task:0/device:CPU:0" in err


def test_list_devices():
    with tk.Session() as sess:
        devs = sess.list_devices()
    assert [d.name for d in devs] == ["/job:localhost/replica:0/task:0/device:CPU:0"]
    assert devs[0].device_type == "CPU"


def _llvm_of_first_signature(sess):
    (runner,) = sess._runners.values()
    return runner.sig.ir("llvm")


def test_intra_op_threads_are_honoured():
    x = tk.placeholder(tk.float32, [None, 1024], name="x")
    y = tk.exp(x) * 2.0
    data = np.random.rand(300, 1024).astype(np.float32)
    outs = []
    for threads in (1, 4):
        with tk.Session(config=tk.ConfigProto(intra_op_parallelism_threads=threads)) as sess:
            outs.append(sess.run(y, {x: data}))
            llvm = _llvm_of_first_signature(sess)
            assert ("parallel_for" in llvm) == (threads > 1)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
    np.testing.assert_allclose(outs[0], np.exp(data) * 2, rtol=1e-5)
