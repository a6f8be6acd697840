"""Event files written by ``tensorkiln.summary`` read back by TensorBoard's own code.

Every kind of record (scalars, histograms, images, text, graphs, run metadata) is loaded with
TensorBoard's ``EventAccumulator`` (the legacy one and the plugin one behind its data provider), and one
test starts the real TensorBoard server on a free port of 127.0.0.1 and asks its HTTP API for our runs
and tags, then stops it and its data-server child by process group.
"""
from __future__ import annotations

import glob
import io
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("tensorboard")

from PIL import Image  # noqa: E402  (a dependency of tensorboard)
from tensorboard.backend.event_processing import data_provider as tb_data_provider  # noqa: E402
from tensorboard.backend.event_processing import event_accumulator as ea  # noqa: E402
from tensorboard.backend.event_processing import event_file_loader  # noqa: E402
from tensorboard.backend.event_processing import plugin_event_accumulator as pea  # noqa: E402
from tensorboard.backend.event_processing import plugin_event_multiplexer as pem  # noqa: E402
from tensorboard.compat.proto import config_pb2, step_stats_pb2, summary_pb2, types_pb2  # noqa: E402
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow as tb_crc  # noqa: E402
from tensorboard import context as tb_context  # noqa: E402

from tensorkiln.errors import InvalidArgumentError  # noqa: E402
from tensorkiln.summary import FileWriter  # noqa: E402
from tensorkiln.summary import encode  # noqa: E402
from tensorkiln.summary.event_writer import frame_record, masked_crc32c, read_records  # noqa: E402
from tensorkiln.summary.graph_def import (  # noqa: E402
    DTypeAttr,
    NodeSpec,
    ShapeAttr,
    TensorAttr,
    build_graph_def,
)

ALL = {ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.IMAGES: 0, ea.TENSORS: 0, ea.COMPRESSED_HISTOGRAMS: 0}


def load(logdir: str) -> ea.EventAccumulator:
    acc = ea.EventAccumulator(str(logdir), size_guidance=ALL)
    acc.Reload()
    return acc


def event_files(logdir) -> list[str]:
    return sorted(glob.glob(os.path.join(str(logdir), "events.out.tfevents.*")))


# --------------------------------------------------------------------------- framing


def test_masked_crc_matches_tensorboard_and_the_check_value():
    from tensorkiln.summary.event_writer import crc32c

    assert crc32c(b"123456789") == 0xE3069283  # CRC-32C's standard check value
    for data in (b"", b"a", b"brain.Event:2", os.urandom(1000)):
        assert masked_crc32c(data) == tb_crc.masked_crc32c(data)
    rec = frame_record(b"hello")
    assert struct.unpack("<Q", rec[:8])[0] == 5 and rec[12:17] == b"hello"


def test_file_name_framing_and_first_record(tmp_path):
    with FileWriter(str(tmp_path / "run")) as w:
        w.add_summary(encode.scalar_summary("x", 1.5), 3)
        path = w.event_file
    (only,) = event_files(tmp_path / "run")
    assert only == path
    host = re.escape(socket.gethostname())
    assert re.fullmatch(rf"events\.out\.tfevents\.\d{{10}}\.{host}", os.path.basename(path))
    records = read_records(path)  # our reader checks both CRCs of every record
    events = list(event_file_loader.LegacyEventFileLoader(path).Load())  # TensorBoard's reader checks them too
    assert len(records) == len(events) == 2
    assert events[0].file_version == "brain.Event:2" and events[0].wall_time > 0
    assert events[1].step == 3 and events[1].summary.value[0].simple_value == 1.5


# --------------------------------------------------------------------------- scalars


def test_scalars_read_back_with_steps_and_values(tmp_path):
    with FileWriter(str(tmp_path)) as w:
        for step in range(0, 50, 5):
            w.add_summary(encode.scalar_summary("loss", 1.0 / (step + 1)), step)
            w.add_summary(encode.scalar_summary("accuracy", np.float64(step / 100)).SerializeToString(), step)
    acc = load(tmp_path)
    assert set(acc.Tags()["scalars"]) == {"loss", "accuracy"}
    loss = acc.Scalars("loss")
    assert [e.step for e in loss] == list(range(0, 50, 5))
    np.testing.assert_allclose([e.value for e in loss], [1.0 / (s + 1) for s in range(0, 50, 5)], rtol=1e-6)
    acc_values = [e.value for e in acc.Scalars("accuracy")]
    np.testing.assert_allclose(acc_values, [s / 100 for s in range(0, 50, 5)], rtol=1e-6)


def test_scalar_summary_rejects_non_scalars():
    with pytest.raises(InvalidArgumentError):
        encode.scalar_summary("bad", np.zeros(3))
    with pytest.raises(InvalidArgumentError):
        encode.scalar_summary("bad", "text")


# --------------------------------------------------------------------------- histograms


def test_default_bucket_edges_are_tensorflows():
    lim = np.asarray(encode.DEFAULT_BUCKET_LIMITS)
    n = (len(lim) - 1) // 2
    assert len(lim) == 2 * n + 1 and lim[n] == 0.0
    np.testing.assert_array_equal(lim[:n], -lim[n + 1 :][::-1])  # symmetric about 0
    pos = lim[n + 1 :]
    assert pos[0] == 1e-12 and pos[-1] == sys.float_info.max and pos[-2] < 1e20 <= pos[-2] * 1.1
    np.testing.assert_allclose(pos[1:-1] / pos[:-2], 1.1, rtol=1e-12)
    assert np.all(np.diff(lim) > 0)


def test_histogram_counts_statistics_and_collapsed_empty_runs():
    values = np.array([[0.0, 1.0], [1.0, -2.5], [3e-13, 7.0]], dtype=np.float32)
    h = encode.histogram_proto(values, "h")
    x = values.astype(np.float64).ravel()
    assert (h.num, h.min, h.max) == (6, -2.5, 7.0)
    assert h.sum == pytest.approx(x.sum()) and h.sum_squares == pytest.approx((x * x).sum())
    assert sum(h.bucket) == 6 and len(h.bucket) == len(h.bucket_limit)
    limits = np.asarray(encode.DEFAULT_BUCKET_LIMITS)
    for v in x:  # each value sits in the bucket [previous limit, limit) of the full layout
        k = int(np.searchsorted(limits, v, side="right"))
        j = h.bucket_limit[:].index(limits[k])
        assert h.bucket[j] >= 1
    # no two empty buckets in a row, and the last limit is DBL_MAX
    assert all(not (a == 0 and b == 0) for a, b in zip(h.bucket, h.bucket[1:]))
    assert h.bucket_limit[-1] == sys.float_info.max and list(h.bucket_limit) == sorted(h.bucket_limit)
    # the 0.0 bucket is [0, 1e-12): 0.0 alone; 3e-13 falls in it as well
    j0 = list(h.bucket_limit).index(1e-12)
    assert h.bucket[j0] == 2


def test_histogram_of_nan_is_an_error_like_tf():
    with pytest.raises(InvalidArgumentError, match="Nan in summary histogram for: w"):
        encode.histogram_summary("w", np.array([1.0, np.nan]))


def test_histograms_read_back(tmp_path):
    rng = np.random.default_rng(0)
    with FileWriter(str(tmp_path)) as w:
        for step in range(3):
            w.add_summary(encode.histogram_summary("layer1/weights", rng.normal(step, 1.0, size=(30, 20))), step)
    acc = load(tmp_path)
    assert acc.Tags()["histograms"] == ["layer1/weights"]
    hs = acc.Histograms("layer1/weights")
    assert [e.step for e in hs] == [0, 1, 2]
    assert all(e.histogram_value.num == 600 for e in hs)
    means = [e.histogram_value.sum / e.histogram_value.num for e in hs]
    assert means[0] < means[1] < means[2]
    comp = acc.CompressedHistograms("layer1/weights")  # the Distributions dashboard's view
    assert len(comp) == 3 and len(comp[0].compressed_histogram_values) == 9


# --------------------------------------------------------------------------- images


def _png(image: summary_pb2.Summary.Image) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image.encoded_image_string)))


def test_images_png_tags_and_normalization(tmp_path):
    rng = np.random.default_rng(1)
    u8 = rng.integers(0, 256, size=(5, 6, 7, 3), dtype=np.uint8)
    pos = rng.random((2, 4, 4, 1)).astype(np.float32)
    mixed = np.array([[[[-1.0], [0.0]], [[0.5], [np.nan]]]], dtype=np.float32)
    with FileWriter(str(tmp_path)) as w:
        w.add_summary(encode.image_summaries("rgb", u8, max_outputs=3), 0)
        w.add_summary(encode.image_summaries("gray", pos, max_outputs=1), 0)
        w.add_summary(encode.image_summaries("mixed", mixed), 0)
    acc = load(tmp_path)
    assert sorted(acc.Tags()["images"]) == ["gray/image", "mixed/image/0", "rgb/image/0", "rgb/image/1", "rgb/image/2"]
    for i in range(3):
        (ev,) = acc.Images(f"rgb/image/{i}")
        assert (ev.width, ev.height) == (7, 6)
        assert ev.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(ev.encoded_image_string))), u8[i])
    (g,) = acc.Images("gray/image")
    got = np.asarray(Image.open(io.BytesIO(g.encoded_image_string)))
    np.testing.assert_array_equal(got, (pos[0, ..., 0] * (255.0 / pos[0].max())).astype(np.uint8))
    (m,) = acc.Images("mixed/image/0")
    # negatives: scale 127/max|x|, offset 128; NaN pixels are the bad colour (255 in grey)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(m.encoded_image_string))), [[1, 128], [191, 255]])


def test_image_summary_shape_errors():
    with pytest.raises(InvalidArgumentError):
        encode.image_summaries("bad", np.zeros((4, 4, 3)))
    with pytest.raises(InvalidArgumentError):
        encode.image_summaries("bad", np.zeros((1, 4, 4, 2)))


# --------------------------------------------------------------------------- text


def test_text_read_back_through_the_text_plugins_data(tmp_path):
    with FileWriter(str(tmp_path)) as w:
        for step in range(3):
            w.add_summary(encode.text_summary("notes", f"step **{step}**"), step)
        w.add_summary(encode.text_summary("table", np.array([["a", "b"], ["c", "d"]])), 0)
    acc = pea.EventAccumulator(str(tmp_path), size_guidance={pea.TENSORS: 0})
    acc.Reload()
    assert set(acc.PluginTagToContent("text")) == {"notes", "table"}
    notes = acc.Tensors("notes")
    assert [e.step for e in notes] == [0, 1, 2]
    assert [e.tensor_proto.string_val[0].decode() for e in notes] == [f"step **{s}**" for s in range(3)]
    assert acc.SummaryMetadata("notes").plugin_data.plugin_name == "text"
    (table,) = acc.Tensors("table")
    assert table.tensor_proto.dtype == types_pb2.DT_STRING
    assert [d.size for d in table.tensor_proto.tensor_shape.dim] == [2, 2]
    # the plugin metadata is written with the first value of a tag only, as TF's FileWriter does
    events = list(event_file_loader.LegacyEventFileLoader(event_files(tmp_path)[0]).Load())[1:]
    with_meta = [e.step for e in events
                 if e.summary.value[0].tag == "notes" and e.summary.value[0].HasField("metadata")]
    assert with_meta == [0]


def test_data_provider_lists_every_kind(tmp_path):
    rng = np.random.default_rng(2)
    with FileWriter(str(tmp_path / "train")) as w:
        for step in range(4):
            summ = encode.merge_summaries([
                encode.scalar_summary("loss", 4.0 - step),
                encode.histogram_summary("w", rng.normal(size=50)),
                encode.image_summaries("input", rng.random((2, 3, 3, 1)).astype(np.float32), max_outputs=1),
                encode.text_summary("note", "hi"),
            ])
            w.add_summary(summ, step)
    multiplexer = pem.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    provider = tb_data_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))
    ctx = tb_context.RequestContext()
    assert [r.run_name for r in provider.list_runs(ctx, experiment_id="")] == ["train"]
    scalars = provider.read_scalars(ctx, experiment_id="", plugin_name="scalars", downsample=100)
    assert [(d.step, d.value) for d in scalars["train"]["loss"]] == [(s, 4.0 - s) for s in range(4)]
    assert list(provider.list_tensors(ctx, experiment_id="", plugin_name="histograms")["train"]) == ["w"]
    assert list(provider.list_blob_sequences(ctx, experiment_id="", plugin_name="images")["train"]) == ["input/image"]
    assert list(provider.list_tensors(ctx, experiment_id="", plugin_name="text")["train"]) == ["note"]


def test_merge_rejects_duplicate_tags():
    with pytest.raises(InvalidArgumentError, match="Duplicate tag a"):
        encode.merge_summaries([encode.scalar_summary("a", 1), encode.scalar_summary("a", 2).SerializeToString()])


# --------------------------------------------------------------------------- graphs and run metadata


def _mlp_nodes() -> list[NodeSpec]:
    cpu = "/device:CPU:0"
    return [
        NodeSpec("input/x", "Placeholder", device=cpu, attrs={"dtype": "float32", "shape": [None, 784]}),
        NodeSpec("layer1/weights/Variable", "VariableV2", device=cpu,
                 attrs={"dtype": np.float32, "shape": [784, 10], "_output_shapes": [[784, 10]]}),
        NodeSpec("layer1/Wx_plus_b/MatMul", "MatMul", ["input/x", "layer1/weights/Variable"], cpu,
                 {"T": DTypeAttr("f32"), "transpose_a": False, "_output_shapes": [[None, 10]]}),
        NodeSpec("layer1/scale", "Const", device=cpu,
                 attrs={"dtype": "float32", "value": TensorAttr(np.array([2.0], np.float32))}),
        NodeSpec("init", "NoOp"),
        NodeSpec("layer1/out", "Mul", ["layer1/Wx_plus_b/MatMul", "layer1/scale", "^init"], cpu,
                 {"T": "float32", "note": ShapeAttr([None, 10])}),
    ]


def test_graph_read_back_with_scopes_inputs_devices_and_attrs(tmp_path):
    with FileWriter(str(tmp_path), graph=_mlp_nodes()):
        pass
    acc = load(tmp_path)
    assert acc.Tags()["graph"] is True
    gd = acc.Graph()
    nodes = {n.name: n for n in gd.node}
    assert list(nodes) == [n.name for n in _mlp_nodes()]
    x = nodes["input/x"]
    assert x.op == "Placeholder" and x.device == "/device:CPU:0"
    assert x.attr["dtype"].type == types_pb2.DT_FLOAT
    assert [d.size for d in x.attr["shape"].shape.dim] == [-1, 784]
    mm = nodes["layer1/Wx_plus_b/MatMul"]
    assert list(mm.input) == ["input/x", "layer1/weights/Variable"] and mm.attr["T"].type == types_pb2.DT_FLOAT
    assert mm.attr["transpose_a"].b is False
    assert [d.size for d in mm.attr["_output_shapes"].list.shape[0].dim] == [-1, 10]
    assert list(nodes["layer1/out"].input)[-1] == "^init"
    t = nodes["layer1/scale"].attr["value"].tensor
    assert t.dtype == types_pb2.DT_FLOAT and np.frombuffer(t.tensor_content, np.float32).tolist() == [2.0]


def test_graph_checks_names_and_inputs():
    with pytest.raises(ValueError, match="duplicate"):
        build_graph_def([NodeSpec("a", "NoOp"), NodeSpec("a", "NoOp")])
    with pytest.raises(ValueError, match="names no node"):
        build_graph_def([NodeSpec("a", "Identity", ["b:0"])])
    assert len(build_graph_def([NodeSpec("b", "Split"), NodeSpec("a", "Identity", ["b:1", "^b"])]).node) == 2


def test_run_metadata_read_back(tmp_path):
    rm = config_pb2.RunMetadata(
        step_stats=step_stats_pb2.StepStats(dev_stats=[step_stats_pb2.DeviceStepStats(device="/device:CPU:0")])
    )
    with FileWriter(str(tmp_path)) as w:
        w.add_run_metadata(rm, "step0", global_step=0)
    acc = load(tmp_path)
    assert acc.Tags()["run_metadata"] == ["step0"]
    assert acc.RunMetadata("step0").step_stats.dev_stats[0].device == "/device:CPU:0"


# --------------------------------------------------------------------------- the writer itself


def test_background_thread_flushes_within_flush_secs(tmp_path):
    w = FileWriter(str(tmp_path), flush_secs=0.2, max_queue=1000)
    try:
        w.add_summary(encode.scalar_summary("s", 7.0), 1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if len(read_records(w.event_file)) == 2:
                break
            time.sleep(0.05)
        assert len(read_records(w.event_file)) == 2
    finally:
        w.close()


def test_concurrent_writers_close_idempotent_and_reopen(tmp_path):
    w = FileWriter(str(tmp_path), flush_secs=0.05, max_queue=3)

    def work(k: int) -> None:
        for i in range(200):
            w.add_summary(encode.scalar_summary(f"t{k}", float(i)), i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    w.close()
    w.close()  # idempotent
    w.add_summary(encode.scalar_summary("dropped", 1.0), 0)  # after close: dropped, like TF
    first = w.event_file
    assert len(read_records(first)) == 1 + 8 * 200
    acc = load(tmp_path)
    assert all(len(acc.Scalars(f"t{k}")) == 200 for k in range(8)) and "dropped" not in acc.Tags()["scalars"]
    w.reopen()
    w.add_summary(encode.scalar_summary("again", 2.0), 5)
    w.close()
    assert w.event_file != first and len(event_files(tmp_path)) == 2
    assert [r for r in read_records(w.event_file)][1:] and w.get_logdir() == str(tmp_path)


def test_unclosed_writers_still_reach_the_disk(tmp_path):
    import gc

    w = FileWriter(str(tmp_path / "dropped"), flush_secs=600, max_queue=100)
    w.add_summary(encode.scalar_summary("s", 1.0), 1)
    path = w.event_file
    del w
    gc.collect()  # the flush thread holds the writer weakly: dropping it closes the file
    assert len(read_records(path)) == 2
    code = ("import sys; from tensorkiln.summary import FileWriter, scalar_summary; "
            "w = FileWriter(sys.argv[1], flush_secs=600, max_queue=100); "
            "w.add_summary(scalar_summary('s', 2.0), 7)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "exit")], check=True, timeout=120)
    (f,) = event_files(tmp_path / "exit")
    assert len(read_records(f)) == 2  # closed at interpreter exit


def test_writers_opened_in_the_same_second_get_distinct_files(tmp_path):
    a, b = FileWriter(str(tmp_path)), FileWriter(str(tmp_path))
    a.close()
    b.close()
    assert a.event_file != b.event_file and len(event_files(tmp_path)) == 2


# --------------------------------------------------------------------------- the real server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode("utf-8"))


def _children(pid: int) -> list[int]:
    out = []
    for entry in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(entry.split("/")[2]))
        except (OSError, IndexError, ValueError):
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (server + data-server child), SIGKILL after a grace period."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


@pytest.mark.skipif(sys.platform == "win32", reason="process groups")
def test_real_tensorboard_server_lists_our_runs_and_tags(tmp_path):
    logdir = tmp_path / "logs"
    for run, base in (("train", 1.0), ("test", 2.0)):
        with FileWriter(str(logdir / run), graph=_mlp_nodes() if run == "train" else None) as w:
            for step in range(5):
                w.add_summary(encode.scalar_summary("accuracy", base * step / 10), step)
                w.add_summary(encode.scalar_summary("cross_entropy", base / (step + 1)), step)
    port = _free_port()
    cmd = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
           "--port", str(port), "--reload_interval", "1"]
    log = open(tmp_path / "tensorboard.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    children: list[int] = []
    try:
        runs, tags = None, None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                runs = _get_json(base_url + "/data/runs")
                tags = _get_json(base_url + "/data/plugin/scalars/tags")
                if sorted(runs) == ["test", "train"] and all(
                    set(tags.get(r, {})) == {"accuracy", "cross_entropy"} for r in runs
                ):
                    break
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                pass
            time.sleep(0.5)
        log.flush()
        server_log = (tmp_path / "tensorboard.log").read_text(errors="replace")
        assert proc.poll() is None, f"TensorBoard exited early:\n{server_log}"
        assert runs is not None and sorted(runs) == ["test", "train"], f"runs={runs}\n{server_log}"
        assert set(tags["train"]) == {"accuracy", "cross_entropy"}, tags
        series = _get_json(base_url + "/data/plugin/scalars/scalars?run=train&tag=accuracy")
        assert [row[1] for row in series] == list(range(5))
        np.testing.assert_allclose([row[2] for row in series], [s / 10 for s in range(5)], rtol=1e-6)
        # the Graphs dashboard's endpoints: which runs have a graph, and the graph itself (pbtxt)
        info = _get_json(base_url + "/data/plugin/graphs/info")
        assert info["train"]["run_graph"] is True and not info.get("test", {}).get("run_graph")
        url = base_url + "/data/plugin/graphs/graph?run=train&limit_attr_size=1024&large_attrs_key=_too_large_attrs"
        with urllib.request.urlopen(url, timeout=10) as r:
            pbtxt = r.read().decode("utf-8")
        assert 'name: "layer1/Wx_plus_b/MatMul"' in pbtxt and 'input: "^init"' in pbtxt
        children = _children(proc.pid)
    finally:
        _stop_group(proc)
        log.close()
    assert proc.returncode is not None
    deadline = time.monotonic() + 10
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(c) for c in children), f"left running: {children}"
