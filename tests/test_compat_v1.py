"""``tensorkiln.compat.v1``: the TF 1.x namespace, pre-1.0 spellings, flags, app.run, gfile, logging."""
from __future__ import annotations

import importlib.util
import logging as pylogging
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tensorkiln as tk
import tensorkiln.compat.v1 as tf
from tensorkiln.compat import flags as flags_mod

from tensorboard.compat.proto import summary_pb2


@pytest.fixture(autouse=True)
def _fresh_graph():
    tk.reset_default_graph()
    yield
    tk.reset_default_graph()


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


# --------------------------------------------------------------------------- the namespace


def test_reexports_tensorkiln_names():
    for name in ("placeholder", "Variable", "Session", "InteractiveSession", "matmul", "reduce_mean",
                 "float32", "int64", "global_variables_initializer", "name_scope", "Graph", "errors",
                 "RunOptions", "RunMetadata", "ConfigProto", "nn"):
        assert hasattr(tf, name), name
    assert tf.placeholder is tk.placeholder
    assert tf.Session is tk.Session
    assert tf.RunOptions.FULL_TRACE == 3
    assert tf.nn.relu is tk.nn.relu
    assert "placeholder" in dir(tf) and "app" in dir(tf)


def test_summary_writers_are_file_writer():
    from tensorkiln.summary import FileWriter

    assert tf.summary.FileWriter is FileWriter
    assert tf.train.SummaryWriter is FileWriter
    assert callable(tf.summary.scalar)


def test_contrib_and_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="contrib"):
        tf.contrib  # noqa: B018
    with pytest.raises(AttributeError):
        tf.no_such_thing_anywhere  # noqa: B018
    with pytest.raises(AttributeError):
        tf.train.NoSuchOptimizer  # noqa: B018
    assert not hasattr(tf, "Path") and not hasattr(tf, "Union")


def test_tf2_switches_are_no_ops():
    tf.disable_eager_execution()
    tf.disable_v2_behavior()
    assert tf.executing_eagerly() is False
    with pytest.raises(NotImplementedError):
        tf.enable_eager_execution()


def test_gradients_available():
    x = tf.placeholder(tf.float32, [3])
    (g,) = tf.gradients(tf.reduce_sum(x * x), [x])
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(g, {x: [1.0, 2.0, 3.0]}), [2.0, 4.0, 6.0], rtol=1e-6)


def test_pre_1_0_math_spellings():
    a = tf.constant([1.0, 2.0, 3.0])
    b = tf.constant([4.0, 5.0, 6.0])
    packed = tf.pack([a, b])
    first, second = tf.unpack(packed)
    fetches = {
        "mul": tf.mul(a, b), "sub": tf.sub(b, a), "neg": tf.neg(a), "pack": packed, "second": second,
        "first": first, "to_float": tf.to_float(tf.constant([1, 2], dtype=tf.int32)),
        "to_int64": tf.to_int64(tf.constant([7, 8], dtype=tf.int32)),
        "select": tf.select(tf.greater(a, 1.5), a, b),
    }
    with tf.Session() as sess:
        out = sess.run(fetches)
    np.testing.assert_allclose(out["mul"], [4, 10, 18])
    np.testing.assert_allclose(out["sub"], [3, 3, 3])
    np.testing.assert_allclose(out["neg"], [-1, -2, -3])
    np.testing.assert_allclose(out["pack"], [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_allclose(out["first"], [1, 2, 3])
    np.testing.assert_allclose(out["second"], [4, 5, 6])
    assert out["to_float"].dtype == np.float32 and out["to_int64"].dtype == np.int64
    np.testing.assert_allclose(out["select"], [4, 2, 3])


def test_initialize_all_variables():
    v = tf.Variable(tf.constant([1.5, 2.5]))
    w = tf.Variable(3.0)
    with tf.Session() as sess:
        sess.run(tf.initialize_all_variables())
        np.testing.assert_allclose(sess.run(v), [1.5, 2.5])
        sess.run(tf.initialize_variables([w]))
        assert sess.run(w) == 3.0


def _parse(serialized: bytes) -> summary_pb2.Summary:
    s = summary_pb2.Summary()
    s.ParseFromString(serialized)
    return s


def test_pre_1_0_summaries_keep_exact_tags():
    x = tf.placeholder(tf.float32, [None, 4])
    with tf.name_scope("outer"):
        tf.scalar_summary("loss", tf.reduce_mean(x))
        tf.histogram_summary("weights/hist", x)
        tf.image_summary("input", tf.reshape(x, [-1, 2, 2, 1]), max_images=2)
    merged = tf.merge_all_summaries()
    with tf.Session() as sess:
        out = _parse(sess.run(merged, {x: np.arange(12, dtype=np.float32).reshape(3, 4)}))
    tags = [v.tag for v in out.value]
    assert "loss" in tags and "weights/hist" in tags
    assert sum(t.startswith("input/image") for t in tags) == 2
    (loss,) = [v for v in out.value if v.tag == "loss"]
    assert loss.simple_value == pytest.approx(5.5)
    (hist,) = [v for v in out.value if v.tag == "weights/hist"]
    assert hist.histo.num == 12 and hist.histo.max == 11


def test_merge_summary_and_new_api_mix():
    a = tf.scalar_summary("a", tf.constant(1.0))
    b = tf.summary.scalar("b", tf.constant(2.0))
    merged = tf.merge_summary([a, b])
    with tf.Session() as sess:
        out = _parse(sess.run(merged))
    assert {v.tag: v.simple_value for v in out.value} == {"a": 1.0, "b": 2.0}


def test_summary_writer_writes_event_file(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    s = tf.scalar_summary("acc", tf.constant(0.75))
    writer = tf.train.SummaryWriter(str(tmp_path), tf.get_default_graph())
    with tf.Session() as sess:
        writer.add_summary(sess.run(s), 3)
    writer.close()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [e.value for e in acc.Scalars("acc")] == [0.75]


@pytest.mark.skipif(not _has("tensorkiln.train"), reason="tensorkiln.train is not in this build")
def test_tf1_training_loop_through_compat():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((64, 3)).astype(np.float32)
    ys = xs @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.25
    x = tf.placeholder(tf.float32, [None, 3])
    y_ = tf.placeholder(tf.float32, [None, 1])
    W = tf.Variable(tf.zeros([3, 1]))
    b = tf.Variable(tf.zeros([1]))
    loss = tf.reduce_mean(tf.square(tf.matmul(x, W) + b - y_))
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.initialize_all_variables())
        for _ in range(300):
            sess.run(step, {x: xs, y_: ys})
        assert sess.run(loss, {x: xs, y_: ys}) < 1e-4


# --------------------------------------------------------------------------- flags


@pytest.fixture
def fv():
    values = flags_mod.FlagValues()
    flags_mod.DEFINE_string("name", "abc", "a string", flag_values=values)
    flags_mod.DEFINE_integer("steps", 10, "an int", flag_values=values)
    flags_mod.DEFINE_float("rate", 0.5, "a float", flag_values=values)
    flags_mod.DEFINE_boolean("fake", False, "a bool", flag_values=values)
    flags_mod.DEFINE_bool("verbose", True, "another bool", flag_values=values)
    flags_mod.DEFINE_enum("mode", "train", ["train", "eval"], "an enum", flag_values=values)
    flags_mod.DEFINE_list("layers", "1,2", "a list", flag_values=values)
    return values


def test_flags_defaults(fv):
    fv.mark_as_parsed()
    assert (fv.name, fv.steps, fv.rate, fv.fake, fv.verbose, fv.mode, fv.layers) == \
        ("abc", 10, 0.5, False, True, "train", ["1", "2"])
    assert isinstance(fv.steps, int) and isinstance(fv.rate, float)
    assert fv.flag_values_dict()["steps"] == 10
    assert "steps" in fv and "nope" not in fv


def test_flags_absl_spellings(fv):
    rest = fv(["prog", "--name=xyz", "--steps", "7", "-rate=0.25", "--fake", "--noverbose",
               "--mode=eval", "--layers=a,b,c", "positional"])
    assert rest == ["prog", "positional"]
    assert (fv.name, fv.steps, fv.rate, fv.fake, fv.verbose, fv.mode, fv.layers) == \
        ("xyz", 7, 0.25, True, False, "eval", ["a", "b", "c"])
    fv(["prog", "--fake=false", "--verbose=1"])
    assert fv.fake is False and fv.verbose is True


def test_flags_bool_does_not_take_next_argument(fv):
    assert fv(["prog", "--fake", "false"]) == ["prog", "false"]
    assert fv.fake is True


def test_flags_double_dash_ends_flags(fv):
    assert fv(["prog", "--steps=3", "--", "--steps=4", "x"]) == ["prog", "--steps=4", "x"]
    assert fv.steps == 3


def test_flags_errors(fv):
    with pytest.raises(flags_mod.UnrecognizedFlagError, match="bogus"):
        fv(["prog", "--bogus=1"])
    assert fv(["prog", "--bogus=1", "--steps=2"], known_only=True) == ["prog", "--bogus=1"]
    assert fv.steps == 2
    with pytest.raises(flags_mod.IllegalFlagValueError):
        fv(["prog", "--steps=abc"])
    with pytest.raises(flags_mod.IllegalFlagValueError):
        fv(["prog", "--mode=test"])
    with pytest.raises(flags_mod.IllegalFlagValueError):
        fv(["prog", "--fake=maybe"])
    with pytest.raises(flags_mod.DuplicateFlagError):
        flags_mod.DEFINE_integer("steps", 1, "again", flag_values=fv)
    with pytest.raises(flags_mod.IllegalFlagValueError):
        flags_mod.DEFINE_integer("bad_default", "x", "bad", flag_values=fv)
    with pytest.raises(AttributeError):
        fv.undefined_flag  # noqa: B018


def test_flags_bounds_and_assignment(fv):
    flags_mod.DEFINE_integer("positive", 1, "bounded", lower_bound=1, flag_values=fv)
    with pytest.raises(flags_mod.IllegalFlagValueError):
        fv(["prog", "--positive=0"])
    fv.steps = 42
    assert fv.steps == 42
    with pytest.raises(flags_mod.IllegalFlagValueError):
        fv.steps = "many"
    with pytest.raises(AttributeError):
        fv.not_defined = 1


def test_flags_parse_sys_argv_on_first_access(fv, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["prog", "--steps=99", "--unknown_to_us", "file"])
    assert not fv.is_parsed()
    assert fv.steps == 99
    assert fv.is_parsed()
    fv.unparse_flags()
    assert not fv.is_parsed()


def test_flags_help_exits_zero(fv, capsys):
    with pytest.raises(SystemExit) as exc:
        fv(["prog", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--steps" in out and "an int" in out


def test_tf_flags_namespaces():
    assert tf.app.flags is tf.flags is flags_mod
    assert tf.flags.FLAGS is tf.app.flags.FLAGS


# --------------------------------------------------------------------------- app.run


def test_app_run_passes_remaining_argv(monkeypatch):
    tf.flags.DEFINE_integer("compat_test_app_steps", 5, "steps for the app.run test")
    seen = {}

    def main(argv):
        seen["argv"] = argv
        seen["steps"] = tf.flags.FLAGS.compat_test_app_steps
        return 0

    with pytest.raises(SystemExit) as exc:
        tf.app.run(main=main, argv=["prog", "--compat_test_app_steps=8", "--other", "pos"])
    assert exc.value.code == 0
    assert seen == {"argv": ["prog", "--other", "pos"], "steps": 8}


def test_app_run_bad_flag_value_exits_1(capsys):
    tf.flags.DEFINE_integer("compat_test_app_bad", 5, "for the bad-value test")
    with pytest.raises(SystemExit) as exc:
        tf.app.run(main=lambda argv: 0, argv=["prog", "--compat_test_app_bad=xyz"])
    assert exc.value.code == 1
    assert "FATAL Flags parsing error" in capsys.readouterr().err


def test_app_run_script_end_to_end(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import tensorkiln.compat.v1 as tf
        flags = tf.app.flags
        flags.DEFINE_integer("max_steps", 3, "steps")
        flags.DEFINE_boolean("fake_data", False, "fake")
        FLAGS = flags.FLAGS

        def main(argv):
            x = tf.placeholder(tf.float32, [None])
            with tf.Session() as sess:
                total = sess.run(tf.reduce_sum(x), {x: [float(FLAGS.max_steps)] * 2})
            print("steps", FLAGS.max_steps, "fake", FLAGS.fake_data, "rest", argv[1:], "total", total)
            return 3

        if __name__ == "__main__":
            tf.app.run()
    """))
    res = subprocess.run([sys.executable, str(script), "--max_steps=4", "--fake_data", "extra"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 3, res.stderr
    assert "steps 4 fake True rest ['extra'] total 8.0" in res.stdout


# --------------------------------------------------------------------------- gfile


def test_gfile_round_trip(tmp_path):
    d = tmp_path / "a" / "b"
    assert not tf.gfile.Exists(str(d))
    tf.gfile.MakeDirs(str(d))
    tf.gfile.MakeDirs(str(d))  # existing is fine
    assert tf.gfile.Exists(str(d)) and tf.gfile.IsDirectory(str(d))
    with tf.gfile.Open(str(d / "x.txt"), "w") as f:
        f.write("hello\nworld\n")
    with tf.gfile.GFile(str(d / "y.bin"), "wb") as f:
        f.write(b"\x00\x01")
    with tf.gfile.GFile(str(d / "x.txt")) as f:
        assert f.read() == "hello\nworld\n"
    with tf.gfile.Open(str(d / "y.bin"), "rb") as f:
        assert f.read() == b"\x00\x01"
    assert tf.gfile.Glob(str(d / "*.txt")) == [str(d / "x.txt")]
    assert tf.gfile.ListDirectory(str(d)) == ["x.txt", "y.bin"]
    assert tf.gfile.Stat(str(d / "y.bin")).length == 2
    tf.gfile.Copy(str(d / "x.txt"), str(d / "z.txt"))
    with pytest.raises(tf.errors.AlreadyExistsError):
        tf.gfile.Copy(str(d / "x.txt"), str(d / "z.txt"))
    tf.gfile.Rename(str(d / "z.txt"), str(d / "w.txt"))
    tf.gfile.Remove(str(d / "w.txt"))
    assert not tf.gfile.Exists(str(d / "w.txt"))
    tf.gfile.DeleteRecursively(str(tmp_path / "a"))
    assert not tf.gfile.Exists(str(tmp_path / "a"))


def test_gfile_missing_paths_are_not_found(tmp_path):
    missing = str(tmp_path / "missing")
    for call in (lambda: tf.gfile.DeleteRecursively(missing), lambda: tf.gfile.Open(missing),
                 lambda: tf.gfile.Remove(missing), lambda: tf.gfile.ListDirectory(missing)):
        with pytest.raises(tf.errors.NotFoundError):
            call()


# --------------------------------------------------------------------------- logging


def test_logging_levels_and_verbosity():
    assert (tf.logging.DEBUG, tf.logging.INFO, tf.logging.WARN, tf.logging.ERROR) == (10, 20, 30, 40)
    records: list[str] = []

    class ListHandler(pylogging.Handler):
        def emit(self, record):
            records.append(f"{record.levelname}:{record.getMessage()}")

    logger = tf.logging.get_logger()
    handler = ListHandler()
    logger.addHandler(handler)
    old = tf.logging.get_verbosity()
    try:
        tf.logging.set_verbosity(tf.logging.WARN)
        tf.logging.info("hidden %d", 1)
        tf.logging.warning("shown %d", 2)
        tf.logging.set_verbosity(tf.logging.INFO)
        assert tf.logging.get_verbosity() == tf.logging.INFO
        tf.logging.info("now shown %s", "too")
        tf.logging.error("bad")
        for _ in range(5):
            tf.logging.log_first_n(tf.logging.INFO, "first", 2)
    finally:
        logger.removeHandler(handler)
        tf.logging.set_verbosity(old)
    assert records == ["WARNING:shown 2", "INFO:now shown too", "ERROR:bad", "INFO:first", "INFO:first"]


def test_run_metadata_is_written_for_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x = tf.placeholder(tf.float32, [None])
    total = tf.reduce_sum(x * 2.0)
    run_metadata = tf.RunMetadata()
    assert isinstance(run_metadata, tk.RunMetadata)
    with tf.Session() as sess:
        out = sess.run(total, {x: [1.0, 2.0]}, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                       run_metadata=run_metadata)
    assert out == 6.0
    proto = run_metadata.to_proto()
    assert proto.step_stats.dev_stats[0].node_stats, proto
    writer = tf.summary.FileWriter(str(tmp_path))
    writer.add_run_metadata(run_metadata, "step001")
    writer.close()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert acc.Tags()["run_metadata"] == ["step001"]
    assert acc.RunMetadata("step001").step_stats.dev_stats[0].node_stats[0].all_end_rel_micros >= 0


def test_flags_pre_1_5_spellings(fv):
    assert fv._parse_flags(["--steps=12", "left"]) == [sys.argv[0], "left"]
    assert getattr(fv, "__flags")["steps"] == 12
