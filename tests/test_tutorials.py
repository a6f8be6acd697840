"""The four TF-1 MNIST tutorial programs (``examples/tutorials/``) and the demo run end to end, shortened.

All five start at once in subprocesses (a module fixture), so the file costs about as long as the
slowest of them. Each test then checks one program's exit status, its printed accuracy and what it
wrote: checkpoints and events for ``fully_connected_feed.py``, ``train/`` and ``test/`` runs that
TensorBoard's ``EventAccumulator`` reads (scalars, histograms, images, graph) for
``mnist_with_summaries.py``.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "examples" / "tutorials"
TIMEOUT_S = 240

FLOAT = r"([01](?:\.\d+)?(?:e-?\d+)?)"


def _commands(tmp: Path) -> dict[str, list[str]]:
    return {
        "mnist_softmax": [TUTORIALS / "mnist_softmax.py", "--steps=200"],
        "fully_connected_feed": [TUTORIALS / "fully_connected_feed.py", "--max_steps=200",
                                 f"--log_dir={tmp / 'fcf_logs'}"],
        "mnist_with_summaries": [TUTORIALS / "mnist_with_summaries.py", "--max_steps=12",
                                 f"--log_dir={tmp / 'mws_logs'}"],
        "mnist_deep": [TUTORIALS / "mnist_deep.py", "--steps=30", "--test_size=500", "--test_batch_size=250"],
        # `make demo`, shortened: the same program with fewer steps and without the IR listing.
        "demo": [ROOT / "examples" / "demo.py", f"--out={tmp / 'demo_out'}", "--steps=200", "--no_ir"],
    }


def _launch_all(tmp: Path) -> dict[str, list]:
    env = dict(os.environ, TMPDIR=str(tmp), TEST_TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    procs = {}
    for name, (script, *args) in _commands(tmp).items():
        procs[name] = subprocess.Popen([sys.executable, str(script), *args], cwd=str(tmp), env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    try:
        for name, p in procs.items():
            out, err = p.communicate(timeout=TIMEOUT_S)
            results[name] = [p.returncode, out, err]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.communicate()
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run every program once per test session, even when pytest-xdist spreads these tests over
    several workers: the first worker runs them under a file lock, the others read its results."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by all workers of this session
    tmp = base / "tutorial_runs"
    tmp.mkdir(exist_ok=True)
    with open(tmp / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = tmp / "results.json"
        if done.exists():
            results = json.loads(done.read_text())
        else:
            results = _launch_all(tmp)
            done.write_text(json.dumps(results))
    return tmp, {name: tuple(r) for name, r in results.items()}


def _ok(runs, name: str) -> str:
    _, results = runs
    rc, out, err = results[name]
    assert rc == 0, f"{name} exited with {rc}\n--- stdout\n{out[-3000:]}\n--- stderr\n{err[-3000:]}"
    return out


def test_mnist_softmax(runs):
    out = _ok(runs, "mnist_softmax")
    acc = float(out.strip().splitlines()[-1])
    assert 0.5 < acc <= 1.0, out


def test_fully_connected_feed(runs):
    tmp, _ = runs
    out = _ok(runs, "fully_connected_feed")
    assert re.search(r"Step 0: loss = \d+\.\d\d \(\d+\.\d+ sec\)", out)
    assert "Step 100: loss" in out
    precisions = [float(p) for p in re.findall(r"Precision @ 1: " + FLOAT, out)]
    assert len(precisions) == 3, out  # training, validation and test, once at the last step
    assert all(0.2 < p <= 1.0 for p in precisions), out
    for header in ("Training Data Eval:", "Validation Data Eval:", "Test Data Eval:"):
        assert header in out
    logs = tmp / "fcf_logs"
    assert list(logs.glob("model.ckpt-199*")), sorted(p.name for p in logs.iterdir())
    assert (logs / "checkpoint").exists()
    assert list(logs.glob("events.out.tfevents.*"))


def test_fully_connected_feed_checkpoint_restores(runs):
    """The checkpoint written by the tutorial restores into the same graph, in a new process."""
    tmp, _ = runs
    _ok(runs, "fully_connected_feed")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import tensorkiln.compat.v1 as tf\nimport mnist\n"
        "images = tf.placeholder(tf.float32, (None, mnist.IMAGE_PIXELS))\n"
        "logits = mnist.inference(images, 128, 32)\n"
        "mnist.training(mnist.loss(logits, tf.placeholder(tf.int32, (None,))), 0.01)\n"
        "saver = tf.train.Saver()\n"
        "with tf.Session() as sess:\n"
        "    saver.restore(sess, tf.train.latest_checkpoint(sys.argv[2]))\n"
        "    print('global_step', sess.run(tf.train.get_global_step()))\n"
    )
    res = subprocess.run([sys.executable, "-c", code, str(TUTORIALS), str(tmp / "fcf_logs")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "global_step 200" in res.stdout


def test_mnist_with_summaries(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tmp, _ = runs
    out = _ok(runs, "mnist_with_summaries")
    accs = [float(a) for a in re.findall(r"Accuracy at step (?:\d+): " + FLOAT, out)]
    assert len(accs) == 2 and all(0.0 <= a <= 1.0 for a in accs), out
    size_guidance = {"images": 0, "histograms": 0, "scalars": 0}
    for run, steps in (("train", list(range(1, 10)) + [11]), ("test", [0, 10])):
        acc = EventAccumulator(str(tmp / "mws_logs" / run), size_guidance=size_guidance)
        acc.Reload()
        tags = acc.Tags()
        scalars = tags["scalars"]
        # As in TF, the summaries named like an existing scope get "_1": accuracy_1, cross_entropy_1.
        for prefix in ("accuracy", "cross_entropy", "dropout/dropout_keep_probability",
                       "layer1/weights/summaries/mean", "layer2/biases/summaries/stddev"):
            assert any(t.startswith(prefix) for t in scalars), (run, prefix, scalars)
        acc_tag = next(t for t in scalars if t.startswith("accuracy"))
        assert [e.step for e in acc.Scalars(acc_tag)] == steps
        assert all(0.0 <= e.value <= 1.0 for e in acc.Scalars(acc_tag))
        for hist in ("layer1/Wx_plus_b/pre_activations", "layer1/activations", "layer2/weights/summaries/histogram"):
            assert hist in tags["histograms"], (run, hist, tags["histograms"])
        assert len([t for t in tags["images"] if t.startswith("input_reshape/input/image")]) == 10, tags["images"]
        img = acc.Images(tags["images"][0])[0]
        assert (img.width, img.height) == (28, 28) and img.encoded_image_string.startswith(b"\x89PNG")
        if run == "train":
            assert tags["graph"], "the train writer was given sess.graph"
            names = {n.name for n in acc.Graph().node}
            assert any(n.startswith("layer1/") for n in names) and any(n.startswith("train/") for n in names)


def test_mnist_deep(runs):
    out = _ok(runs, "mnist_deep")
    assert "Saving graph to: " in out
    assert re.search(r"step 0, training accuracy " + FLOAT, out), out
    acc = float(re.search(r"test accuracy " + FLOAT, out).group(1))
    assert 0.0 <= acc <= 1.0
    graph_dir = Path(re.search(r"Saving graph to: (\S+)", out).group(1))
    assert list(graph_dir.glob("events.out.tfevents.*"))


def test_demo(runs):
    tmp, _ = runs
    out = _ok(runs, "demo")
    acc = float(re.search(r"test accuracy: " + FLOAT, out).group(1))
    assert 0.3 < acc <= 1.0, out
    demo = tmp / "demo_out"
    png = demo / "training.png"
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000
    assert f"tensorboard --logdir {demo / 'logs'}" in out
    assert list((demo / "logs" / "train").glob("events.out.tfevents.*"))
    assert list((demo / "logs" / "test").glob("events.out.tfevents.*"))
    assert (demo / "aot" / "fashion_classifier.so").exists() and (demo / "aot" / "fashion_classifier.h").exists()
    assert "same classes as the Session: yes" in out
