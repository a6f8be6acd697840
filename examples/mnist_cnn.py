"""A convnet on the full Fashion-MNIST with ``tk.layers``: the network of TF 1.x's layers tutorial.

conv 5x5x32 (same, ReLU) -> 2x2 max-pool -> conv 5x5x64 (same, ReLU) -> 2x2 max-pool -> dense 1024
(ReLU) -> dropout 0.4 (training only) -> dense 10, trained with Adam on shuffled mini-batches.
Prints the loss and speed as it goes, the test accuracy after every epoch, and the wall times.
The Fashion-MNIST authors list 0.916 for this network (TensorFlow's tutorial convnet).

    python examples/mnist_cnn.py [--epochs 3] [--batch_size 100] [--learning_rate 1e-3]
                                 [--max_steps N] [--data_dir DIR]
"""
from __future__ import annotations

import time

import numpy as np

import tensorkiln as tk
from fmnist_common import evaluate, load, parse_args


def build(learning_rate: float):
    """The graph: placeholders, logits, loss, train op, accuracy; and the training switch."""
    x = tk.placeholder(tk.float32, [None, 784], name="images")
    y = tk.placeholder(tk.int64, [None], name="labels")
    training = tk.placeholder_with_default(False, [], name="training")

    net = tk.reshape(x, [-1, 28, 28, 1])
    net = tk.layers.conv2d(net, filters=32, kernel_size=[5, 5], padding="same", activation=tk.nn.relu)
    net = tk.layers.max_pooling2d(net, pool_size=[2, 2], strides=2)
    net = tk.layers.conv2d(net, filters=64, kernel_size=[5, 5], padding="same", activation=tk.nn.relu)
    net = tk.layers.max_pooling2d(net, pool_size=[2, 2], strides=2)
    net = tk.reshape(net, [-1, 7 * 7 * 64])
    net = tk.layers.dense(net, units=1024, activation=tk.nn.relu)
    net = tk.layers.dropout(net, rate=0.4, training=training)
    logits = tk.layers.dense(net, units=10)

    loss = tk.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
    train_op = tk.train.AdamOptimizer(learning_rate).minimize(
        loss, global_step=tk.train.get_or_create_global_step())
    correct = tk.reduce_sum(tk.cast(tk.equal(tk.argmax(logits, 1), y), tk.int32))
    return x, y, training, loss, train_op, correct


def main() -> None:
    args = parse_args(__doc__, epochs=3, learning_rate=1e-3)
    data, steps_per_epoch, total = load(args)
    tk.set_random_seed(args.seed)
    x, y, training, loss, train_op, correct = build(args.learning_rate)

    t_start = time.perf_counter()
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        t0 = time.perf_counter()
        sess.run(train_op, {x: np.zeros((args.batch_size, 784), np.float32),
                            y: np.zeros(args.batch_size, np.int64), training: True})  # compiles
        sess.run(tk.global_variables_initializer())
        print(f"compiled the train step in {time.perf_counter() - t0:.1f} s; {total} steps of {args.batch_size}")
        t_train = time.perf_counter()
        t_window, losses = time.perf_counter(), []
        for step in range(1, total + 1):
            bx, by = data.train.next_batch(args.batch_size)
            _, l = sess.run([train_op, loss], {x: bx, y: by, training: True})
            losses.append(l)
            if step % 100 == 0:
                dt = (time.perf_counter() - t_window) / 100
                print(f"step {step}/{total}: loss {np.mean(losses):.4f}, {dt * 1e3:.0f} ms/step", flush=True)
                t_window, losses = time.perf_counter(), []
            if step % steps_per_epoch == 0 or step == total:
                acc = evaluate(sess, correct, x, y, data.test)
                print(f"epoch {step / steps_per_epoch:.2f}: test accuracy {acc:.4f} "
                      f"({time.perf_counter() - t_train:.0f} s of training)", flush=True)
        train_s = time.perf_counter() - t_train
    print(f"test accuracy {acc:.4f}")
    print(f"training {train_s:.0f} s ({train_s / max(total, 1) * 1e3:.0f} ms/step), "
          f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
