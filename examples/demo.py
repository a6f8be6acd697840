"""The demo behind ``make demo``: a TF-1 program trained, inspected, logged, plotted and exported.

1. Softmax regression on Fashion-MNIST written as TensorFlow 1.x code (``import
   tensorkiln.compat.v1 as tf``: placeholders, Variables,
   ``tf.train.GradientDescentOptimizer(0.5).minimize``), trained under a tqdm progress bar. Each
   ``Session.run`` of the train step is one call into native code that LLVM generated.
2. The compiler at work: the train step's optimized IR (gradients expanded, then folding, CSE,
   DCE and fusion), from ``tk.get_ir``.
3. The test accuracy; the loss and accuracy curves as a PNG; TensorBoard logs
   (``tensorboard --logdir DEMO_OUT/logs``).
4. The trained classifier compiled ahead of time to a shared object plus a C header
   (``tk.aot.export``), loaded back and checked against the Session.

The full Fashion-MNIST is used when installed (``/usr/share/datasets/fashion-mnist``), else the subset
shipped with tensorkiln; the steps are bounded so the demo takes about a minute.

    python examples/demo.py [--out demo_out] [--steps 1000] [--no_ir]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")

import tensorkiln as tk  # noqa: E402  (tensorkiln-only features: get_ir, aot)
import tensorkiln.aot  # noqa: E402,F401
import tensorkiln.compat.v1 as tf  # noqa: E402  (the TF-1 program)
from tensorkiln.datasets import mnist as input_data  # noqa: E402

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot")


def build_model(learning_rate: float):
    """Softmax regression, TF-1 style. Returns the tensors the demo feeds and fetches."""
    with tf.name_scope("input"):
        x = tf.placeholder(tf.float32, [None, 784], name="images")
        y_ = tf.placeholder(tf.float32, [None, 10], name="labels")
    with tf.name_scope("softmax_regression"):
        W = tf.Variable(tf.zeros([784, 10]), name="weights")
        b = tf.Variable(tf.zeros([10]), name="biases")
        logits = tf.matmul(x, W) + b
        probs = tf.nn.softmax(logits, name="probs")
        label = tf.argmax(logits, 1, name="label")
    with tf.name_scope("loss"):
        cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=logits))
    train_step = tf.train.GradientDescentOptimizer(learning_rate).minimize(cross_entropy)
    with tf.name_scope("accuracy"):
        accuracy = tf.reduce_mean(tf.cast(tf.equal(label, tf.argmax(y_, 1)), tf.float32))
    tf.summary.scalar("cross_entropy", cross_entropy)
    tf.summary.scalar("accuracy", accuracy)
    tf.summary.histogram("weights", W)
    return x, y_, probs, label, cross_entropy, train_step, accuracy


def show_ir(train_step, feeds, cross_entropy) -> None:
    """Print the train step's IR before and after the optimizing passes."""
    fetches = [train_step, cross_entropy]
    graph_ir = tk.get_ir(fetches, feeds, stage="graph")
    optimized = tk.get_ir(fetches, feeds, stage="optimized")

    def count(text: str, what: str = "") -> int:
        """Top-level ops of the function body (fused regions count once)."""
        return sum(1 for line in text.splitlines()
                   if line.startswith("  ") and not line.startswith("   ") and what in line
                   and not line.strip().startswith(("^", "}", "return")))

    print(f"\n==== the train step (forward, gradients, SGD update) as IR: {count(graph_ir)} ops with the "
          f"gradients expanded; {count(optimized)} after folding, CSE, DCE and fusion, "
          f"{count(optimized, 'graph.fused')} of them fused kernels ====")
    print(optimized.rstrip())
    print("==== (tensorkiln dump / tk.get_ir(..., stage='loops'|'llvm'|'asm') show the later stages) ====\n")


def plot(path: Path, steps, losses, eval_steps, accs, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(steps, losses, color="tab:blue", alpha=0.3, linewidth=0.8, label="per batch")
    k = max(1, len(losses) // 40)
    if len(losses) >= k:
        smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
        ax1.plot(steps[k - 1:], smooth, color="tab:blue", linewidth=2, label=f"mean of {k}")
    ax1.set_xlabel("step")
    ax1.set_ylabel("cross-entropy (log scale)")
    ax1.set_yscale("log")
    ax1.set_title("training loss")
    ax1.grid(alpha=0.3)
    ax1.legend()
    ax2.plot(eval_steps, accs, color="tab:green", marker="o", markersize=3)
    ax2.set_xlabel("step")
    ax2.set_ylabel("accuracy")
    ax2.set_title(f"test accuracy (final {accs[-1]:.4f})")
    ax2.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="demo_out", help="output directory (plot, logs, shared object)")
    p.add_argument("--data_dir", default=None)
    p.add_argument("--steps", type=int, default=1000, help="training steps (TF's tutorial: 1000)")
    p.add_argument("--batch_size", type=int, default=100)
    p.add_argument("--learning_rate", type=float, default=0.5)
    p.add_argument("--eval_every", type=int, default=50)
    p.add_argument("--no_ir", action="store_true", help="do not print the IR")
    args = p.parse_args()

    from tqdm import tqdm

    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = input_data.read_data_sets(args.data_dir, one_hot=True, seed=0)
    print(f"Fashion-MNIST from {data.train.source}: {data.train.num_examples} training, "
          f"{data.test.num_examples} test images")

    x, y_, probs, label, cross_entropy, train_step, accuracy = build_model(args.learning_rate)
    if not args.no_ir:
        show_ir(train_step, [x, y_], cross_entropy)

    merged = tf.summary.merge_all()
    logdir = out / "logs"
    if tf.gfile.Exists(str(logdir)):
        tf.gfile.DeleteRecursively(str(logdir))
    steps_per_epoch = data.train.num_examples // args.batch_size
    total = max(1, args.steps)
    test_feed = {x: data.test.images, y_: data.test.labels}
    steps, losses, eval_steps, accs = [], [], [], []

    with tf.Session() as sess:
        train_writer = tf.summary.FileWriter(str(logdir / "train"), sess.graph)
        test_writer = tf.summary.FileWriter(str(logdir / "test"))
        sess.run(tf.global_variables_initializer())
        t_train = time.perf_counter()
        bar = tqdm(range(1, total + 1), desc="training", unit="step", file=sys.stdout, mininterval=0.2)
        for step in bar:
            batch_xs, batch_ys = data.train.next_batch(args.batch_size)
            feed = {x: batch_xs, y_: batch_ys}
            if step % 10 == 0:
                summary, _, loss = sess.run([merged, train_step, cross_entropy], feed)
                train_writer.add_summary(summary, step)
            else:
                _, loss = sess.run([train_step, cross_entropy], feed)
            steps.append(step)
            losses.append(float(loss))
            if step % args.eval_every == 0 or step == total:
                summary, acc = sess.run([merged, accuracy], test_feed)
                test_writer.add_summary(summary, step)
                eval_steps.append(step)
                accs.append(float(acc))
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}", test_acc=f"{acc:.4f}")
        bar.close()
        train_s = time.perf_counter() - t_train
        train_writer.close()
        test_writer.close()
        test_acc = accs[-1]
        print(f"trained {total} steps of {args.batch_size} ({total / steps_per_epoch:.2f} epochs) in {train_s:.1f} s, "
              f"first-call compiles included")
        print(f"test accuracy: {test_acc:.4f} (over the last {min(5, len(accs))} evaluations: "
              f"{min(accs[-5:]):.4f} to {max(accs[-5:]):.4f}; a learning rate of 0.5 makes it swing, see the plot)")

        png = out / "training.png"
        plot(png, np.array(steps), np.array(losses), eval_steps, accs,
             f"softmax regression on Fashion-MNIST ({data.train.source if data.train.source == 'embedded' else 'full'}), "
             f"SGD lr {args.learning_rate}, batch {args.batch_size}")
        print(f"plot of loss and accuracy: {png}")
        print(f"TensorBoard logs: tensorboard --logdir {logdir}")

        # Ahead of time: the classifier as a shared object, trained weights baked in.
        t0 = time.perf_counter()
        so_path, header = tk.aot.export(sess, feeds=[x], fetches=[probs, label], name="fashion_classifier",
                                        output_dir=str(out / "aot"))
        print(f"exported the classifier in {time.perf_counter() - t0:.1f} s: {so_path} and {header}")
        decl = next((line for line in header.read_text().splitlines()
                     if line.startswith("int32_t fashion_classifier(")), None)
        if decl:
            print(f"  C: {decl}")
        sample = data.test.images[:8]
        session_labels = sess.run(label, {x: sample})

    lib = tk.aot.load(so_path)
    so_probs, so_labels = lib(sample)
    agree = bool(np.array_equal(np.asarray(so_labels), session_labels))
    truth = data.test.labels[:8].argmax(1)
    print("  the .so on 8 test images: " + ", ".join(
        f"{CLASSES[int(c)]}{'' if c == t else ' (x)'}" for c, t in zip(so_labels, truth)))
    print(f"  same classes as the Session: {'yes' if agree else 'NO'}")
    print(f"demo finished in {time.perf_counter() - t_start:.1f} s")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
