"""Train a Fashion-MNIST classifier with a Session and export it for C: ``classifier.so`` + ``.h``.

The model (softmax regression) is built from placeholders and Variables, trained by
``Session.run`` and exported with ``tk.aot.export(sess, feeds, fetches, ...)``, which freezes the
trained variables into constants: the C function takes only the images. The test images are
written next to the library as raw float32 / uint8 files for the C program (``main.c``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import tensorkiln as tk
import tensorkiln.aot

HERE = Path(__file__).resolve().parent


def train_step(loss, logits, images, labels, W, b, learning_rate: float):
    """Gradient descent: ``tk.train`` when it is there, else the softmax gradient spelled out."""
    if hasattr(tk, "train") and hasattr(tk.train, "GradientDescentOptimizer"):
        return tk.train.GradientDescentOptimizer(learning_rate).minimize(loss)
    n = tk.cast(tk.shape(images)[0], tk.float32)
    dlogits = (tk.nn.softmax(logits) - tk.one_hot(labels, 10)) / n
    return tk.group(tk.assign_sub(W, learning_rate * tk.matmul(images, dlogits, transpose_a=True)),
                    tk.assign_sub(b, learning_rate * tk.reduce_sum(dlogits, axis=0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "build"))
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--test-images", type=int, default=1000)
    ap.add_argument("--data", default=None, help="directory of the MNIST-format files (default: tk.datasets' search)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = tk.datasets.mnist.read_data_sets(args.data, validation_size=0, seed=0)

    images = tk.placeholder(tk.float32, [None, 784], name="images")
    labels = tk.placeholder(tk.int64, [None], name="labels")
    W = tk.Variable(tk.zeros([784, 10]), name="W")
    b = tk.Variable(tk.zeros([10]), name="b")
    logits = tk.matmul(images, W) + b
    probs = tk.nn.softmax(logits, name="probs")
    label = tk.argmax(logits, axis=1, name="label")
    loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    step = train_step(loss, logits, images, labels, W, b, 0.5)

    test_x = np.ascontiguousarray(data.test.images[: args.test_images], dtype=np.float32)
    test_y = data.test.labels[: args.test_images]
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        for _ in range(args.steps):
            bx, by = data.train.next_batch(100)
            sess.run(step, {images: bx, labels: by})
        session_labels = sess.run(label, {images: test_x})
        # The pruned subgraph images -> (probs, label), variables frozen: classifier.so + classifier.h
        so, header = tk.aot.export(sess, feeds=[images], fetches=[probs, label], name="classifier", output_dir=out)

    test_x.tofile(out / "test_images.f32")
    test_y.astype(np.uint8).tofile(out / "test_labels.u8")
    _, aot_labels = tk.aot.load(so)(test_x)  # the same library, from Python
    assert (aot_labels == session_labels).all(), "the exported library disagrees with Session.run"
    print(f"wrote {so} and {header} (trained on {data.source})")
    print(f"accuracy from Python on {len(test_x)} test images: {(aot_labels == test_y).mean():.4f}")


if __name__ == "__main__":
    main()
