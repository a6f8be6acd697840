"""A multi-layer perceptron (784-256-10, ReLU) on the full Fashion-MNIST with tensorkiln.

One hidden layer of ``--hidden`` ReLU units (``tk.layers.dense``, Glorot-uniform kernels), trained
with Adam on the mean sparse cross-entropy. Prints the test accuracy after every epoch and the wall
times. The Fashion-MNIST authors list about 0.87 for a 100-unit MLP.

    python examples/mnist_mlp.py [--hidden 256] [--epochs 10] [--batch_size 100]
                                 [--learning_rate 1e-3] [--max_steps N] [--data_dir DIR]
"""
from __future__ import annotations

import time

import tensorkiln as tk
from fmnist_common import evaluate, load, parse_args


def main() -> None:
    args = parse_args(__doc__, epochs=10, learning_rate=1e-3,
                      extra=lambda p: p.add_argument("--hidden", type=int, default=256))
    data, steps_per_epoch, total = load(args)
    tk.set_random_seed(args.seed)

    x = tk.placeholder(tk.float32, [None, 784], name="images")
    y = tk.placeholder(tk.int64, [None], name="labels")
    hidden = tk.layers.dense(x, args.hidden, activation=tk.nn.relu, name="hidden")
    logits = tk.layers.dense(hidden, 10, name="logits")
    loss = tk.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
    train_op = tk.train.AdamOptimizer(args.learning_rate).minimize(
        loss, global_step=tk.train.get_or_create_global_step())
    correct = tk.reduce_sum(tk.cast(tk.equal(tk.argmax(logits, 1), y), tk.int32))

    t_start = time.perf_counter()
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        t_train = time.perf_counter()
        for step in range(1, total + 1):
            bx, by = data.train.next_batch(args.batch_size)
            sess.run(train_op, {x: bx, y: by})
            if step % steps_per_epoch == 0 or step == total:
                acc = evaluate(sess, correct, x, y, data.test, batch=5000)
                print(f"epoch {step / steps_per_epoch:.2f}: test accuracy {acc:.4f} "
                      f"({time.perf_counter() - t_train:.1f} s)", flush=True)
        train_s = time.perf_counter() - t_train
    print(f"test accuracy {acc:.4f}")
    print(f"training {train_s:.1f} s ({train_s / max(total, 1) * 1e3:.2f} ms/step incl. first-call compile), "
          f"total {time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    main()
