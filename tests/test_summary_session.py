"""Summary ops through ``Session.run`` and ``FileWriter(graph=sess.graph)``, read back by TensorBoard.

The numbers a summary reads come out of the one compiled call (the fetch compiles one signature and
the summary's value equals the tensor fetched beside it); the Session only serializes them. The last
test builds the graph of TF's ``mnist_with_summaries`` tutorial (name scopes, variable summaries,
images, accuracy and cross-entropy) and writes ``train`` and ``test`` runs plus the graph.
"""
from __future__ import annotations

import io

import numpy as np
import pytest

pytest.importorskip("tensorboard")

import tensorkiln as tk  # noqa: E402
import tensorkiln.summary  # noqa: E402,F401  (tk.summary)
from PIL import Image  # noqa: E402
from tensorboard.backend.event_processing import event_accumulator as ea  # noqa: E402
from tensorboard.backend.event_processing import plugin_event_accumulator as pea  # noqa: E402
from tensorboard.compat.proto import summary_pb2, types_pb2  # noqa: E402

from tensorkiln.summary import encode  # noqa: E402

ALL = {ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.IMAGES: 0, ea.TENSORS: 0}


def parse(b: bytes) -> summary_pb2.Summary:
    assert isinstance(b, bytes)
    return summary_pb2.Summary.FromString(b)


def load(logdir) -> ea.EventAccumulator:
    acc = ea.EventAccumulator(str(logdir), size_guidance=ALL)
    acc.Reload()
    return acc


def test_scalar_summary_comes_from_the_same_native_call():
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [None, 3], name="x")
        with tk.name_scope("stats"):
            m = tk.reduce_mean(x * 2.0)
            s = tk.summary.scalar("avg", m)
            t = tk.summary.scalar("mean", m)  # names are unique case-insensitively, as in TF: Mean exists
    assert s.dtype == tk.summary.string and s.op.type == "ScalarSummary" and s.op.name == "stats/avg"
    assert t.op.name == "stats/mean_1"
    assert g.get_collection(tk.GraphKeys.SUMMARIES) == [s, t]
    feed = {x: np.arange(6, dtype=np.float32).reshape(2, 3)}
    with tk.Session(graph=g) as sess:
        before = sess.compile_count
        got, mean = sess.run([s, m], feed)
        assert sess.compile_count == before + 1  # one signature, one native call
        (v,) = parse(got).value
        assert v.tag == "stats/avg" and v.simple_value == pytest.approx(float(mean)) == pytest.approx(5.0)
        assert parse(sess.run(s, {x: np.ones((4, 3))})).value[0].simple_value == pytest.approx(2.0)
        assert sess.compile_count == before + 1  # the batch size is symbolic: no recompilation


def test_histogram_image_and_text_values():
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [None, 16], name="x")
        w = tk.Variable(tk.random_normal([16, 4], seed=3), name="w")
        h = tk.summary.histogram("w", w)
        img = tk.summary.image("input", tk.reshape(x, [-1, 4, 4, 1]), max_outputs=2)
        txt = tk.summary.text("note", "**hello** from tensorkiln")
        num = tk.summary.text("num", tk.reduce_sum(x))
        init = tk.global_variables_initializer()
    batch = np.random.default_rng(0).random((3, 16)).astype(np.float32)
    with tk.Session(graph=g) as sess:
        sess.run(init)
        hs, ims, ts, ns, wv = sess.run([h, img, txt, num, w], {x: batch})
    assert parse(hs).value[0].histo == encode.histogram_proto(wv, "w")
    tags = [v.tag for v in parse(ims).value]
    assert tags == ["input/image/0", "input/image/1"]
    for i, v in enumerate(parse(ims).value):
        got = np.asarray(Image.open(io.BytesIO(v.image.encoded_image_string)))
        want = (batch[i].reshape(4, 4) * (255.0 / batch[i].max())).astype(np.uint8)
        assert (v.image.height, v.image.width, v.image.colorspace) == (4, 4, 1)
        np.testing.assert_array_equal(got, want)
    t = parse(ts).value[0]
    assert t.metadata.plugin_data.plugin_name == "text" and t.tensor.string_val == [b"**hello** from tensorkiln"]
    assert float(parse(ns).value[0].tensor.string_val[0]) == pytest.approx(batch.sum(), rel=1e-5)


def test_merge_merge_all_families_and_errors():
    g = tk.Graph()
    with g.as_default():
        assert tk.summary.merge_all() is None  # TF: None when there are no summaries
        c = tk.constant(1.5)
        a = tk.summary.scalar("a", c)
        tk.summary.scalar("b", c * 2.0, family="fam")
        private = tk.summary.scalar("private", c, collections=["mine"])
        merged = tk.summary.merge_all()
        mine = tk.summary.merge_all(key="mine")
        dup = tk.summary.merge([a, a])
    assert merged.op.type == "MergeSummary" and merged.op.name == "Merge/MergeSummary"
    with tk.Session(graph=g) as sess:
        m, p = sess.run([merged, mine])
        assert {v.tag: v.simple_value for v in parse(m).value} == {"a": 1.5, "fam/fam/b": 3.0}
        assert [v.tag for v in parse(p).value] == ["private"]
        assert private not in g.get_collection(tk.GraphKeys.SUMMARIES)
        with pytest.raises(tk.errors.InvalidArgumentError, match="Duplicate tag a"):
            sess.run(dup)


def test_histogram_of_nan_fails_at_run_time():
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [None])
        h = tk.summary.histogram("h", x)
    with tk.Session(graph=g) as sess:
        assert parse(sess.run(h, {x: [1.0, 2.0]})).value[0].histo.num == 2
        with pytest.raises(tk.errors.InvalidArgumentError, match="Nan in summary histogram for: h"):
            sess.run(h, {x: [1.0, np.nan]})


def test_file_writer_writes_the_session_graph(tmp_path):
    g = tk.Graph()
    with g.as_default():
        with tk.device("/cpu:0"):
            x = tk.placeholder(tk.float32, [None, 8], name="x")
            with tk.name_scope("layer"):
                w = tk.Variable(tk.zeros([8, 2]), name="weights")
                y = tk.matmul(x, w, name="y")
        init = tk.global_variables_initializer()
        with tk.control_dependencies([init]):
            out = tk.identity(y, name="out")
        tk.summary.scalar("ysum", tk.reduce_sum(out))
    with tk.Session(graph=g) as sess:
        with tk.summary.FileWriter(str(tmp_path), graph=sess.graph):
            pass
    nodes = {n.name: n for n in load(tmp_path).Graph().node}
    assert [op.name for op in g.get_operations()] == list(nodes)
    px = nodes["x"]
    assert px.op == "Placeholder" and "CPU" in px.device.upper()
    assert px.attr["dtype"].type == types_pb2.DT_FLOAT
    assert [d.size for d in px.attr["shape"].shape.dim] == [-1, 8]
    mm = nodes["layer/y"]
    assert mm.op == "MatMul" and mm.input[0] == "x" and mm.input[1].startswith("layer/weights")
    assert [d.size for d in mm.attr["_output_shapes"].list.shape[0].dim] == [-1, 2]
    assert "^init" in list(nodes["out"].input)
    assert nodes["ysum"].op == "ScalarSummary" and nodes["ysum/tags"].attr["dtype"].type == types_pb2.DT_STRING


def _variable_summaries(var):
    """The tutorial's helper: mean, stddev, max, min and a histogram of a tensor."""
    with tk.name_scope("summaries"):
        mean = tk.reduce_mean(var)
        tk.summary.scalar("mean", mean)
        with tk.name_scope("stddev"):
            stddev = tk.sqrt(tk.reduce_mean(tk.square(var - mean)))
        tk.summary.scalar("stddev", stddev)
        tk.summary.scalar("max", tk.reduce_max(var))
        tk.summary.scalar("min", tk.reduce_min(var))
        tk.summary.histogram("histogram", var)


def _nn_layer(input_tensor, input_dim, output_dim, layer_name, act=tk.nn.relu):
    with tk.name_scope(layer_name):
        with tk.name_scope("weights"):
            weights = tk.Variable(tk.truncated_normal([input_dim, output_dim], stddev=0.1, seed=1))
            _variable_summaries(weights)
        with tk.name_scope("biases"):
            biases = tk.Variable(tk.constant(0.1, shape=[output_dim]))
            _variable_summaries(biases)
        with tk.name_scope("Wx_plus_b"):
            preactivate = tk.matmul(input_tensor, weights) + biases
            tk.summary.histogram("pre_activations", preactivate)
        activations = act(preactivate, name="activation")
        tk.summary.histogram("activations", activations)
        return activations, weights


def test_mnist_with_summaries_graph_writes_train_and_test_runs(tmp_path):
    data = tk.datasets.mnist.read_data_sets(one_hot=True, validation_size=0, seed=0)
    g = tk.Graph()
    with g.as_default():
        with tk.name_scope("input"):
            x = tk.placeholder(tk.float32, [None, 784], name="x-input")
            y_ = tk.placeholder(tk.float32, [None, 10], name="y-input")
        with tk.name_scope("input_reshape"):
            tk.summary.image("input", tk.reshape(x, [-1, 28, 28, 1]), 10)
        hidden1, w1 = _nn_layer(x, 784, 32, "layer1")
        y, _ = _nn_layer(hidden1, 32, 10, "layer2", act=tk.identity)
        with tk.name_scope("cross_entropy"):
            with tk.name_scope("total"):
                cross_entropy = tk.reduce_mean(tk.nn.softmax_cross_entropy_with_logits_v2(labels=y_, logits=y))
        tk.summary.scalar("cross_entropy", cross_entropy)
        with tk.name_scope("train"):  # a stand-in step that changes the weights between summaries
            train_step = tk.assign_add(w1, tk.fill([784, 32], 0.001))
        with tk.name_scope("accuracy"):
            with tk.name_scope("correct_prediction"):
                correct = tk.equal(tk.argmax(y, 1), tk.argmax(y_, 1))
            with tk.name_scope("accuracy"):
                accuracy = tk.reduce_mean(tk.cast(correct, tk.float32))
        tk.summary.scalar("accuracy", accuracy)
        merged = tk.summary.merge_all()
        init = tk.global_variables_initializer()

    with tk.Session(graph=g) as sess:
        train_writer = tk.summary.FileWriter(str(tmp_path / "train"), sess.graph)
        test_writer = tk.summary.FileWriter(str(tmp_path / "test"))
        sess.run(init)
        test_acc = []
        for i in range(6):
            if i % 2 == 0:
                summary, acc = sess.run([merged, accuracy], {x: data.test.images[:200], y_: data.test.labels[:200]})
                test_writer.add_summary(summary, i)
                test_acc.append(acc)
            else:
                xs, ys = data.train.next_batch(50)
                summary, _ = sess.run([merged, train_step], {x: xs, y_: ys})
                train_writer.add_summary(summary, i)
        train_writer.close()
        test_writer.close()

    train, test = load(tmp_path / "train"), load(tmp_path / "test")
    for run in (train, test):
        tags = run.Tags()
        # the _1 suffixes are TF's too (its TensorBoard shows accuracy_1): "accuracy" and "cross_entropy"
        # meet the name scopes of the same name, "mean" the "Mean" op (names are unique case-insensitively)
        assert {"accuracy_1", "cross_entropy_1", "layer1/weights/summaries/mean_1", "layer2/biases/summaries/stddev_1",
                "layer1/weights/summaries/max_1", "layer1/weights/summaries/min_1"} <= set(tags["scalars"])
        assert {"layer1/weights/summaries/histogram", "layer1/biases/summaries/histogram",
                "layer1/Wx_plus_b/pre_activations", "layer1/activations",
                "layer2/activations"} <= set(tags["histograms"])
        assert set(tags["images"]) == {f"input_reshape/input/image/{k}" for k in range(10)}
    assert [e.step for e in test.Scalars("accuracy_1")] == [0, 2, 4]
    np.testing.assert_allclose([e.value for e in test.Scalars("accuracy_1")], test_acc, rtol=1e-6)
    assert [e.step for e in train.Scalars("cross_entropy_1")] == [1, 3, 5]
    means = [e.value for e in train.Scalars("layer1/weights/summaries/mean_1")]
    assert means[0] < means[1] < means[2]  # the weights moved between the train steps
    assert train.Tags()["graph"] and not test.Tags()["graph"]
    names = {n.name for n in train.Graph().node}
    assert {"input/x-input", "layer1/weights/Variable", "accuracy/accuracy/Mean"} & names
    assert any(n.startswith("layer1/Wx_plus_b/") for n in names)
    plugin = pea.EventAccumulator(str(tmp_path / "test"))
    plugin.Reload()
    assert "accuracy_1" in plugin.PluginTagToContent("scalars")
