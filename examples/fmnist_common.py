"""Shared pieces of the Fashion-MNIST examples: command-line flags, data loading, step counts and the
test-set evaluation. Each example keeps its own model and training loop."""
from __future__ import annotations

import argparse
from typing import Any, Callable

from tensorkiln.datasets import mnist


def parse_args(doc: str, epochs: float, learning_rate: float,
               extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--epochs", type=float, default=epochs)
    p.add_argument("--batch_size", type=int, default=100)
    p.add_argument("--learning_rate", type=float, default=learning_rate)
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    p.add_argument("--data_dir", default=None)
    p.add_argument("--seed", type=int, default=0)
    if extra is not None:
        extra(p)
    return p.parse_args()


def load(args: argparse.Namespace) -> tuple[Any, int, int]:
    """(data sets, steps per epoch, total steps) for these flags."""
    data = mnist.read_data_sets(args.data_dir, seed=args.seed)
    print(f"data: {data.train.num_examples} train / {data.test.num_examples} test images from {data.train.source}")
    steps_per_epoch = data.train.num_examples // args.batch_size
    total = int(round(args.epochs * steps_per_epoch))
    if args.max_steps:
        total = min(total, args.max_steps)
    return data, steps_per_epoch, total


def evaluate(sess, correct, x, y, data, batch: int = 1000) -> float:
    """Accuracy over a whole data set, ``batch`` images per run (``correct`` counts the hits)."""
    hits = 0
    for start in range(0, data.num_examples, batch):
        stop = min(start + batch, data.num_examples)
        hits += int(sess.run(correct, {x: data.images[start:stop], y: data.labels[start:stop]}))
    return hits / data.num_examples
