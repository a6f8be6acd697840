"""MNIST-style data sets with the interface of TensorFlow 1's tutorial ``input_data`` module.

``read_data_sets(train_dir)`` reads the four IDX files of MNIST or Fashion-MNIST (``.gz`` or raw)
and returns ``Datasets(train, validation, test)``; each :class:`DataSet` hands out shuffled
mini-batches with :meth:`DataSet.next_batch`. Nothing is ever downloaded.

Where the files come from, with ``train_dir=None``: the directory ``$TENSORKILN_DATA`` (or its
``fashion-mnist`` subfolder), then the system copy of Fashion-MNIST (Debian's
``dataset-fashion-mnist``), then a small class-balanced subset of Fashion-MNIST shipped inside this
package (see ``data/fashion-mnist-subset/README``). An explicit ``train_dir`` is used as given:
if it lacks the files, ``FileNotFoundError`` lists every path that was looked at.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple, Optional

import numpy as np

from .idx import IdxFormatError, read_idx

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
NUM_CLASSES = 10

ENV_VAR = "TENSORKILN_DATA"
#: Directories searched after ``$TENSORKILN_DATA`` when no ``train_dir`` is given.
SYSTEM_DATA_DIRS: tuple[str, ...] = ("/usr/share/datasets/fashion-mnist",)
#: The Fashion-MNIST subset shipped with the package.
EMBEDDED_DIR = Path(__file__).resolve().parent / "data" / "fashion-mnist-subset"
EMBEDDED = "embedded"


def _numpy_dtype(dtype: Any) -> np.dtype:
    """Accept numpy dtypes and names, tensorkiln IR dtypes (``np_dtype``) and TF-like dtypes
    (``as_numpy_dtype``)."""
    for attr in ("np_dtype", "as_numpy_dtype"):
        if hasattr(dtype, attr):
            dtype = getattr(dtype, attr)
            break
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"invalid image dtype {dtype!r}: expected uint8 or float32") from None
    if dt not in (np.dtype(np.uint8), np.dtype(np.float32)):
        raise TypeError(f"invalid image dtype {dt}: expected uint8 or float32")
    return dt


def dense_to_one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Class indices [N] -> one-hot float32 rows [N, num_classes]."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}), found values from {labels.min()} to "
            f"{labels.max()}")
    out = np.zeros((labels.size, num_classes), dtype=np.float32)
    out[np.arange(labels.size), labels] = 1.0
    return out


class DataSet:
    """Images and labels, with TF-tutorial mini-batching.

    ``images`` are [N, rows*cols] (``reshape=True``) or [N, rows, cols, 1]; float32 in [0, 1] or the
    raw uint8 values. ``labels`` are uint8 class indices [N] or float32 one-hot rows [N, 10].
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, fake_data: bool = False,
                 one_hot: bool = False, dtype: Any = np.float32, reshape: bool = True,
                 seed: Optional[int] = None, source: Optional[str] = None):
        dt = _numpy_dtype(dtype)
        self._rng = np.random.default_rng(seed)
        self.source = source
        self._one_hot = one_hot
        self._fake = fake_data
        if fake_data:
            self._num_examples = 10000
            self._images = np.zeros((0, 784) if reshape else (0, 28, 28, 1), dt)
            self._labels = np.zeros((0, NUM_CLASSES) if one_hot else (0,), np.float32)
        else:
            images = np.asarray(images)
            labels = np.asarray(labels)
            if images.shape[0] != labels.shape[0]:
                raise ValueError(f"images.shape: {images.shape} labels.shape: {labels.shape} "
                                 "(different numbers of examples)")
            if images.ndim == 3:  # [N, rows, cols] as stored in IDX
                images = images[..., np.newaxis]
            if images.ndim != 4 and reshape is False:
                raise ValueError(f"reshape=False needs [N, rows, cols(, 1)] images, got "
                                 f"{images.shape}")
            if reshape:
                images = images.reshape(images.shape[0], int(np.prod(images.shape[1:])))
            if dt == np.float32 and np.issubdtype(images.dtype, np.integer):
                images = images.astype(np.float32) * np.float32(1.0 / 255.0)
            else:
                images = images.astype(dt, copy=False)
            if one_hot and labels.ndim == 1:
                labels = dense_to_one_hot(labels)
            self._num_examples = images.shape[0]
            self._images = images
            self._labels = labels
        self._epochs_completed = 0
        self._index_in_epoch = 0
        self._order: Optional[np.ndarray] = None  # permutation of the current epoch

    @property
    def images(self) -> np.ndarray:
        return self._images

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    @property
    def num_examples(self) -> int:
        return self._num_examples

    @property
    def epochs_completed(self) -> int:
        return self._epochs_completed

    def __repr__(self) -> str:
        return (f"DataSet(num_examples={self._num_examples}, images={self._images.shape} "
                f"{self._images.dtype}, labels={self._labels.shape} {self._labels.dtype}, "
                f"source={self.source!r})")

    def _fake_batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        # As TF's tutorial: images of ones, every label class 0.
        images = np.ones((batch_size,) + self._images.shape[1:], self._images.dtype)
        if self._one_hot:
            labels = np.zeros((batch_size, NUM_CLASSES), np.float32)
            labels[:, 0] = 1.0
        else:
            labels = np.zeros((batch_size,), np.uint8)
        return images, labels

    def next_batch(self, batch_size: int, fake_data: bool = False,
                   shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The next ``batch_size`` examples.

        Each epoch visits every example once, in a fresh random order when ``shuffle`` (the order
        is drawn when the epoch starts). A batch that runs past the end of an epoch is completed
        with the first examples of the next, already shuffled, epoch. ``epochs_completed`` counts
        the epochs whose examples have all been handed out.
        """
        batch_size = int(batch_size)
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if fake_data or self._fake:
            return self._fake_batch(batch_size)
        if self._num_examples == 0:
            raise ValueError("next_batch on an empty DataSet")
        parts: list[np.ndarray] = []
        needed = batch_size
        while needed:
            if self._order is None or self._index_in_epoch == self._num_examples:
                self._start_epoch(shuffle)
            start = self._index_in_epoch
            end = min(start + needed, self._num_examples)
            parts.append(self._order[start:end])
            needed -= end - start
            self._index_in_epoch = end
            if end == self._num_examples:
                self._epochs_completed += 1
        idx = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return self._images[idx], self._labels[idx]

    def _start_epoch(self, shuffle: bool) -> None:
        n = self._num_examples
        self._order = self._rng.permutation(n) if shuffle else np.arange(n)
        self._index_in_epoch = 0


class Datasets(NamedTuple):
    train: DataSet
    validation: DataSet
    test: DataSet

    @property
    def source(self) -> Optional[str]:
        """The directory the files were read from, or ``"embedded"`` for the packaged subset."""
        return self.train.source


def _find_file(directory: Path, name: str) -> tuple[Optional[Path], list[Path]]:
    """The gzipped or raw file ``name`` in ``directory``, and the paths tried."""
    tried = [directory / (name + ".gz"), directory / name]
    for p in tried:
        if p.is_file():
            return p, tried
    return None, tried


def _find_files(directory: Path) -> tuple[Optional[dict[str, Path]], list[Path]]:
    found: dict[str, Path] = {}
    tried: list[Path] = []
    for name in FILES:
        p, t = _find_file(directory, name)
        tried += t
        if p is not None:
            found[name] = p
    return (found if len(found) == len(FILES) else None), tried


def candidate_dirs() -> list[Path]:
    """The directories searched, in order, when ``read_data_sets`` gets no ``train_dir``."""
    dirs: list[Path] = []
    env = os.environ.get(ENV_VAR)
    if env:
        dirs += [Path(env), Path(env) / "fashion-mnist"]
    dirs += [Path(d) for d in SYSTEM_DATA_DIRS]
    dirs.append(EMBEDDED_DIR)
    return dirs


def locate(train_dir: Optional[str | os.PathLike] = None) -> tuple[dict[str, Path], str]:
    """The four IDX files to read and a description of their source (a directory or "embedded").

    With an explicit ``train_dir``, only that directory is searched.
    """
    dirs = [Path(train_dir).expanduser()] if train_dir is not None else candidate_dirs()
    tried: list[Path] = []
    for d in dirs:
        files, t = _find_files(d)
        tried += t
        if files is not None:
            return files, (EMBEDDED if d == EMBEDDED_DIR else str(d))
    where = f"in {dirs[0]}" if train_dir is not None else "in any of the data directories"
    listing = "\n  ".join(str(p) for p in tried)
    raise FileNotFoundError(
        f"MNIST-format IDX files not found {where} (nothing is downloaded). Looked at:\n"
        f"  {listing}\nPut the four files {', '.join(FILES)} (.gz or raw) there, set "
        f"${ENV_VAR}, or pass train_dir=None to use the system or embedded Fashion-MNIST.")


def _read_images(path: Path) -> np.ndarray:
    arr = read_idx(path)
    if arr.ndim != 3 or arr.dtype != np.uint8:
        raise IdxFormatError(f"{path}: expected uint8 images [N, rows, cols], got {arr.dtype} "
                             f"array of shape {arr.shape}")
    return arr


def _read_labels(path: Path) -> np.ndarray:
    arr = read_idx(path)
    if arr.ndim != 1 or arr.dtype != np.uint8:
        raise IdxFormatError(f"{path}: expected uint8 labels [N], got {arr.dtype} array of shape "
                             f"{arr.shape}")
    if arr.size and arr.max() >= NUM_CLASSES:
        raise IdxFormatError(f"{path}: label {arr.max()} out of range [0, {NUM_CLASSES})")
    return arr


def _child_seeds(seed: Optional[int]) -> list[Optional[int]]:
    if seed is None:
        return [None, None, None]
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(3)]


def read_data_sets(train_dir: Optional[str | os.PathLike] = None, fake_data: bool = False,
                   one_hot: bool = False, dtype: Any = np.float32, reshape: bool = True,
                   validation_size: int = 5000, seed: Optional[int] = None) -> Datasets:
    """Read MNIST or Fashion-MNIST into ``Datasets(train, validation, test)``.

    The first ``validation_size`` training examples form the validation set. ``dtype`` float32
    scales pixels to [0, 1]; uint8 keeps them raw. ``seed`` makes every set's shuffling
    deterministic. ``train_dir=None`` searches ``$TENSORKILN_DATA``, the system Fashion-MNIST and
    finally the embedded subset; an explicit ``train_dir`` without the files raises
    ``FileNotFoundError``. The result's ``source`` says where the data came from.
    """
    seeds = _child_seeds(seed)
    if fake_data:
        sets = [DataSet([], [], fake_data=True, one_hot=one_hot, dtype=dtype, reshape=reshape,
                        seed=s, source="fake") for s in seeds]
        return Datasets(*sets)
    files, source = locate(train_dir)
    train_images = _read_images(files[TRAIN_IMAGES])
    train_labels = _read_labels(files[TRAIN_LABELS])
    test_images = _read_images(files[TEST_IMAGES])
    test_labels = _read_labels(files[TEST_LABELS])
    for im, lb, what in ((train_images, train_labels, "train"), (test_images, test_labels, "test")):
        if im.shape[0] != lb.shape[0]:
            raise IdxFormatError(f"{source}: {what} set has {im.shape[0]} images but "
                                 f"{lb.shape[0]} labels")
    if not 0 <= validation_size <= len(train_images):
        raise ValueError(f"validation_size should be between 0 and {len(train_images)}, "
                         f"got {validation_size}")
    kw = dict(one_hot=one_hot, dtype=dtype, reshape=reshape, source=source)
    v = validation_size
    return Datasets(
        train=DataSet(train_images[v:], train_labels[v:], seed=seeds[0], **kw),
        validation=DataSet(train_images[:v], train_labels[:v], seed=seeds[1], **kw),
        test=DataSet(test_images, test_labels, seed=seeds[2], **kw),
    )


def load_data(train_dir: Optional[str | os.PathLike] = None
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Keras-style ``((x_train, y_train), (x_test, y_test))``: uint8 [N, 28, 28] and uint8 [N]."""
    files, _ = locate(train_dir)
    return ((_read_images(files[TRAIN_IMAGES]), _read_labels(files[TRAIN_LABELS])),
            (_read_images(files[TEST_IMAGES]), _read_labels(files[TEST_LABELS])))
