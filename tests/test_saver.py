"""tk.train.Saver: round trips, max_to_keep, the checkpoint state file, corruption detection and a
process killed in the middle of a save."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.train import checkpoint_io


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


def _vars():
    a = tk.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="a")
    b = tk.Variable(np.array([1, 2, 3], dtype=np.int64), name="scope/b")
    c = tk.Variable(2.5, dtype=tk.float64, name="c")
    return a, b, c


def test_round_trip_restores_values(tmp_path):
    a, b, c = _vars()
    saver = tk.train.Saver()
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "model.ckpt"))
        assert path == str(tmp_path / "model.ckpt")
        assert tk.train.checkpoint_exists(path)
        sess.run([a.assign(tk.zeros([2, 3])), b.assign([0, 0, 0]), c.assign(0.0)])
        saver.restore(sess, path)
        got = sess.run([a, b, c])
    np.testing.assert_array_equal(got[0], np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(got[1], [1, 2, 3])
    assert got[1].dtype == np.int64 and got[2] == 2.5
    assert sorted(tk.train.list_variables(path)) == [("a", [2, 3]), ("c", []), ("scope/b", [3])]
    np.testing.assert_array_equal(tk.train.load_variable(path, "scope/b"), [1, 2, 3])


def test_restore_into_a_new_session_without_initializing(tmp_path):
    a, b, c = _vars()
    saver = tk.train.Saver([a, c])
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        sess.run(a.assign_add(tk.ones([2, 3])))
        path = saver.save(sess, str(tmp_path / "m"), global_step=7)
    assert path.endswith("m-7")
    with tk.Session() as sess:
        saver.restore(sess, path)  # restores a and c; b stays uninitialized
        np.testing.assert_array_equal(sess.run(a), np.arange(6).reshape(2, 3) + 1)
        with pytest.raises(tk.errors.FailedPreconditionError):
            sess.run(b)
    reader = tk.train.NewCheckpointReader(path)
    assert reader.has_tensor("a") and not reader.has_tensor("scope/b")
    assert reader.get_variable_to_shape_map() == {"a": [2, 3], "c": []}


def test_var_list_as_dict_and_restore_errors(tmp_path):
    a, b, c = _vars()
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        path = tk.train.Saver({"renamed": a}).save(sess, str(tmp_path / "x"))
        assert tk.train.list_variables(path) == [("renamed", [2, 3])]
        with pytest.raises(tk.errors.NotFoundError, match="Key a not found"):
            tk.train.Saver([a]).restore(sess, path)
        wrong = tk.Variable(tk.zeros([3, 2]), name="w")
        with pytest.raises(tk.errors.InvalidArgumentError, match="shape"):
            tk.train.Saver({"renamed": wrong}).restore(sess, path)
        with pytest.raises(ValueError, match="not a valid checkpoint"):
            tk.train.Saver([a]).restore(sess, str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="same name"):
        tk.train.Saver([a, a])
    tk.reset_default_graph()
    with pytest.raises(ValueError, match="No variables"):
        tk.train.Saver()


def test_max_to_keep_and_latest_checkpoint(tmp_path):
    v = tk.Variable(0.0, name="v")
    saver = tk.train.Saver(max_to_keep=2)
    assert tk.train.latest_checkpoint(str(tmp_path)) is None
    prefix = str(tmp_path / "model.ckpt")
    with tk.Session() as sess:
        sess.run(v.initializer)
        paths = []
        for step in range(1, 5):
            sess.run(v.assign(float(step)))
            paths.append(saver.save(sess, prefix, global_step=step))
            assert tk.train.latest_checkpoint(str(tmp_path)) == paths[-1]
        assert saver.last_checkpoints == paths[-2:]
        assert [tk.train.checkpoint_exists(p) for p in paths] == [False, False, True, True]
        state = (tmp_path / "checkpoint").read_text()
        assert 'model_checkpoint_path: "model.ckpt-4"' in state
        assert state.count("all_model_checkpoint_paths") == 2
        st = tk.train.get_checkpoint_state(str(tmp_path))
        assert st.all_model_checkpoint_paths == paths[-2:]
        saver.restore(sess, tk.train.latest_checkpoint(str(tmp_path)))
        assert sess.run(v) == 4.0
        saver.restore(sess, paths[2])
        assert sess.run(v) == 3.0
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_global_step_tensor_and_keep_all(tmp_path):
    v = tk.Variable(1.0, name="v")
    gs = tk.train.get_or_create_global_step()
    inc = tk.assign_add(gs, 5)
    saver = tk.train.Saver(max_to_keep=None)
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        p1 = saver.save(sess, str(tmp_path / "m"), global_step=gs)
        sess.run(inc)
        p2 = saver.save(sess, str(tmp_path / "m"), global_step=gs)
    assert p1.endswith("m-0") and p2.endswith("m-5")
    assert tk.train.checkpoint_exists(p1) and tk.train.checkpoint_exists(p2)
    assert tk.train.latest_checkpoint(str(tmp_path)) == p2
    del v


def _corrupt(path: str, how: str) -> None:
    data = bytearray(Path(path).read_bytes())
    if how == "flip_data":  # one bit inside the array "a"
        header, start = checkpoint_io.read_header(path, bytes(data))
        entry = {e["name"]: e for e in header["tensors"]}["a"]
        data[start + entry["offset"] + 5] ^= 0x40
    elif how == "flip_header":
        data[40] ^= 0x01
    elif how == "truncate":
        data = data[:-3]
    elif how == "magic":
        data[:4] = b"JUNK"
    elif how == "empty":
        data = bytearray()
    Path(path).write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["flip_data", "flip_header", "truncate", "magic", "empty"])
def test_corrupted_checkpoint_is_data_loss(tmp_path, how):
    a, b, c = _vars()
    saver = tk.train.Saver()
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "m"))
        _corrupt(checkpoint_io.data_path(path), how)
        sess.run(a.assign(tk.zeros([2, 3])))
        with pytest.raises(tk.errors.DataLossError, match="corrupted"):
            saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(a), np.zeros((2, 3)))  # nothing was assigned


def test_file_format_is_json_header_and_raw_little_endian(tmp_path):
    arrays = {"x": np.arange(5, dtype=np.float32), "flags": np.array([True, False]), "big": np.ones((2, 2), ">f8")}
    path = checkpoint_io.write_checkpoint(str(tmp_path / "f"), arrays, {"note": "hi"})
    blob = Path(path).read_bytes()
    assert blob[:8] == checkpoint_io.MAGIC and b"pickle" not in blob
    header, start = checkpoint_io.read_header(path, blob)
    entry = {e["name"]: e for e in header["tensors"]}["x"]
    raw = blob[start + entry["offset"]:start + entry["offset"] + entry["nbytes"]]
    np.testing.assert_array_equal(np.frombuffer(raw, "<f4"), np.arange(5))
    got, meta = checkpoint_io.read_checkpoint(str(tmp_path / "f"))
    assert meta == {"note": "hi"} and got["flags"].tolist() == [True, False]
    np.testing.assert_array_equal(got["big"], np.ones((2, 2)))


_KILLED_SAVE = textwrap.dedent("""
    import os, sys
    import numpy as np
    import tensorkiln as tk
    d = sys.argv[1]
    v = tk.Variable(np.array([1.0, 2.0], np.float32), name="v")
    saver = tk.train.Saver()
    with tk.Session() as sess:
        sess.run(v.initializer)
        saver.save(sess, os.path.join(d, "model"), global_step=1)
        sess.run(v.assign([3.0, 4.0]))
        os.environ["TENSORKILN_CKPT_PAUSE_BEFORE_RENAME"] = "60"
        print("saving", flush=True)
        saver.save(sess, os.path.join(d, "model"), global_step=2)
        print("saved", flush=True)
""")


def test_kill_during_save_leaves_previous_checkpoint(tmp_path):
    script = tmp_path / "killed_save.py"
    script.write_text(_KILLED_SAVE)
    ckpt_dir = tmp_path / "ckpt"
    ckpt_dir.mkdir()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt_dir)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert proc.stdout.readline().strip() == "saving"
        deadline = time.time() + 30
        while not [p for p in os.listdir(ckpt_dir) if "model-2" in p and ".tmp-" in p]:
            assert time.time() < deadline, "the save never started writing"
            time.sleep(0.02)
        time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    latest = tk.train.latest_checkpoint(str(ckpt_dir))
    assert latest == str(ckpt_dir / "model-1")
    assert not tk.train.checkpoint_exists(str(ckpt_dir / "model-2"))
    v = tk.Variable(np.zeros(2, np.float32), name="v")
    with tk.Session() as sess:
        tk.train.Saver().restore(sess, latest)
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0])
