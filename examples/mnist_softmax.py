"""Softmax regression (multinomial logistic regression) on the full Fashion-MNIST with tensorkiln.

``logits = x W + b`` trained with mini-batch gradient descent on the mean cross-entropy, the
learning rate decayed exponentially per epoch. Prints the test accuracy after every epoch and the
wall times. The Fashion-MNIST authors list about 0.84 for logistic regression.

    python examples/mnist_softmax.py [--epochs 10] [--batch_size 100] [--learning_rate 0.5]
                                     [--decay 0.8] [--max_steps N] [--data_dir DIR]
"""
from __future__ import annotations

import time

import tensorkiln as tk
from fmnist_common import evaluate, load, parse_args


def main() -> None:
    args = parse_args(__doc__, epochs=10, learning_rate=0.5, extra=lambda p: p.add_argument(
        "--decay", type=float, default=0.8, help="learning-rate factor per epoch"))
    data, steps_per_epoch, total = load(args)

    x = tk.placeholder(tk.float32, [None, 784], name="images")
    y = tk.placeholder(tk.int64, [None], name="labels")
    W = tk.Variable(tk.zeros([784, 10]), name="W")
    b = tk.Variable(tk.zeros([10]), name="b")
    logits = tk.matmul(x, W) + b
    loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    global_step = tk.train.get_or_create_global_step()
    lr = tk.train.exponential_decay(args.learning_rate, global_step, steps_per_epoch, args.decay, staircase=True)
    train_op = tk.train.GradientDescentOptimizer(lr).minimize(loss, global_step=global_step)
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
                      f"(learning rate {sess.run(lr):.3g}, {time.perf_counter() - t_train:.1f} s)", flush=True)
        train_s = time.perf_counter() - t_train
    print(f"test accuracy {acc:.4f}")
    print(f"training {train_s:.1f} s ({train_s / max(total, 1) * 1e6:.0f} us/step incl. first-call compile), "
          f"total {time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    main()
