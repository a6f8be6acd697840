"""Build the Fashion-MNIST subset embedded in tensorkiln/datasets/data/fashion-mnist-subset/.

    python tools/make_embedded_fmnist.py [--src /usr/share/datasets/fashion-mnist]
                                         [--train-per-class 1000] [--test-per-class 100]

The selection uses no random numbers, so it is the same on every machine: for each class, the
first K examples of that class in the original file order (which is already shuffled). The chosen
examples are then arranged in chunks of 100 per class (1,000 examples), each chunk in original file
order, so that every prefix of a multiple of 1,000 examples -- e.g. the default 5,000-example
validation split of ``read_data_sets`` -- is exactly class-balanced. The gzip streams carry no
name or timestamp: running the script twice gives byte-identical files.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tensorkiln.datasets.idx import read_idx, write_idx  # noqa: E402
from tensorkiln.datasets.mnist import (TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES,  # noqa: E402
                                       TRAIN_LABELS, NUM_CLASSES)

DEFAULT_SRC = Path("/usr/share/datasets/fashion-mnist")
COPYRIGHT = Path("/usr/share/doc/dataset-fashion-mnist/copyright")
OUT = ROOT / "tensorkiln" / "datasets" / "data" / "fashion-mnist-subset"
CHUNK_PER_CLASS = 100

MIT_TEXT = """\
Permission is hereby granted, free of charge, to any person obtaining a
copy of this software and associated documentation files (the "Software"),
to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense,
and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included
in all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY
CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT,
TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def select(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of a class-balanced subset, ordered so that each chunk of
    CHUNK_PER_CLASS * NUM_CLASSES consecutive examples is itself balanced."""
    firsts = []
    for c in range(NUM_CLASSES):
        idx = np.flatnonzero(labels == c)
        if len(idx) < per_class:
            raise SystemExit(f"class {c} has only {len(idx)} examples, {per_class} wanted")
        firsts.append(idx[:per_class])
    chunk = min(CHUNK_PER_CLASS, per_class)
    order = []
    for start in range(0, per_class, chunk):
        block = np.concatenate([f[start:start + chunk] for f in firsts])
        order.append(np.sort(block))
    return np.concatenate(order)


def find(src: Path, name: str) -> Path:
    for p in (src / (name + ".gz"), src / name):
        if p.is_file():
            return p
    raise SystemExit(f"{src / name}(.gz) not found; install Debian's dataset-fashion-mnist or "
                     "pass --src")


def licence_text() -> str:
    # The copyright line as the Debian copyright file gives it for the data ("Files: *").
    holder = "2017 Zalando SE, https://tech.zalando.com"
    if COPYRIGHT.is_file():
        for line in COPYRIGHT.read_text().splitlines():
            if line.startswith("Copyright:") and "Zalando" in line:
                holder = line.split(":", 1)[1].strip().replace("https:tech", "https://tech")
                break
    return f"The MIT License (MIT)\n\nCopyright (c) {holder}\n\n{MIT_TEXT}"


README = """\
Fashion-MNIST subset embedded in tensorkiln
===========================================

A class-balanced subset of Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando Research, 2017,
https://github.com/zalandoresearch/fashion-mnist), shipped so that examples and tests run on
machines without the full data set and without network access. Licence: MIT, see LICENSE.

Files (IDX format, gzip-compressed, the original file names):
  train-images-idx3-ubyte.gz  {n_train} images, 28x28 uint8 ({train_pc} per class)
  train-labels-idx1-ubyte.gz  {n_train} labels 0-9
  t10k-images-idx3-ubyte.gz   {n_test} images ({test_pc} per class), from the original test set
  t10k-labels-idx1-ubyte.gz   {n_test} labels

How it was made: tools/make_embedded_fmnist.py, from the full data set as packaged by Debian
(dataset-fashion-mnist, /usr/share/datasets/fashion-mnist). No random numbers are used: for each
class the script takes the first examples of that class in the original file order, then arranges
them in chunks of 1,000 (100 per class, each chunk in original order), so any prefix of a multiple
of 1,000 examples -- such as the default 5,000-example validation split -- is exactly balanced.
Images and labels are unchanged.

Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
8 Bag, 9 Ankle boot.

Used by tensorkiln.datasets.mnist.read_data_sets() when no train_dir is given and neither
$TENSORKILN_DATA nor /usr/share/datasets/fashion-mnist holds the full data set.
"""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--train-per-class", type=int, default=1000)
    ap.add_argument("--test-per-class", type=int, default=100)
    args = ap.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    for images_name, labels_name, per_class in ((TRAIN_IMAGES, TRAIN_LABELS, args.train_per_class),
                                                (TEST_IMAGES, TEST_LABELS, args.test_per_class)):
        images = read_idx(find(args.src, images_name))
        labels = read_idx(find(args.src, labels_name))
        keep = select(labels, per_class)
        write_idx(args.out / (images_name + ".gz"), images[keep])
        write_idx(args.out / (labels_name + ".gz"), labels[keep])
    (args.out / "LICENSE").write_text(licence_text())
    (args.out / "README").write_text(README.format(
        n_train=NUM_CLASSES * args.train_per_class, train_pc=args.train_per_class,
        n_test=NUM_CLASSES * args.test_per_class, test_pc=args.test_per_class))
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
