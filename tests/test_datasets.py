"""tk.datasets: the IDX reader/writer and TF-tutorial-style MNIST data sets."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from tensorkiln.datasets import idx, mnist
from tensorkiln.datasets.idx import IdxFormatError, read_idx, write_idx
from tensorkiln.datasets.mnist import DataSet, read_data_sets

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

# --------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (0, 28, 28), (2, 1, 3, 1)])
def test_idx_round_trip(tmp_path, dtype, suffix, shape):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is not None:
        a = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    else:
        a = (rng.standard_normal(shape) * 1e3).astype(dtype)
    path = write_idx(tmp_path / f"a{suffix}", a)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    assert b.shape == shape
    np.testing.assert_array_equal(a, b)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_idx_layout_is_big_endian(tmp_path):
    path = write_idx(tmp_path / "x", np.array([[1, 258]], dtype=np.int32))
    assert path.read_bytes() == bytes.fromhex("00000c02" "00000001" "00000002"
                                              "00000001" "00000102")


def test_idx_gzip_detected_by_content_and_reproducible(tmp_path):
    a = np.arange(100, dtype=np.uint8)
    p1 = write_idx(tmp_path / "a.gz", a)
    p2 = tmp_path / "no_suffix"
    p2.write_bytes(p1.read_bytes())
    np.testing.assert_array_equal(read_idx(p2), a)
    assert write_idx(tmp_path / "b.gz", a).read_bytes() == p1.read_bytes()  # no mtime in header


def test_idx_rejects_unsupported_dtype(tmp_path):
    for dt in (np.int64, np.uint16, np.bool_, np.float16):
        with pytest.raises(TypeError, match="IDX cannot hold"):
            write_idx(tmp_path / "x", np.zeros(3, dt))


def _good_bytes() -> bytes:
    return idx.idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


CORRUPT = {
    "empty": (b"", "truncated IDX header"),
    "short magic": (b"\x00\x00", "truncated IDX header"),
    "bad magic": (b"\x01\x02" + _good_bytes()[2:], "not an IDX file"),
    "unknown type": (b"\x00\x00\x07\x03" + _good_bytes()[4:], "unknown IDX element type 0x07"),
    "truncated dims": (_good_bytes()[:9], "truncated IDX header"),
    "truncated data": (_good_bytes()[:-1], "truncated IDX data"),
    "trailing bytes": (_good_bytes() + b"\x00\x00", "trailing bytes"),
    "absurd dims": (b"\x00\x00\x0d\x02" + b"\xff" * 8 + b"\x00" * 16, "truncated IDX data"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
@pytest.mark.parametrize("gz", [False, True])
def test_idx_corrupt_files_raise_value_error(tmp_path, case, gz):
    data, message = CORRUPT[case]
    path = tmp_path / ("f.gz" if gz else "f")
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert isinstance(info.value, IdxFormatError)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "not gzip"])
def test_idx_damaged_gzip_raises_value_error(tmp_path, damage):
    z = gzip.compress(_good_bytes())
    data = {"truncated": z[: len(z) // 2], "garbage": z[:10] + b"\xde\xad" * 20,
            "not gzip": b"plain text, not gzip"}[damage]
    path = tmp_path / "f.gz"
    path.write_bytes(data)
    with pytest.raises(IdxFormatError, match="gzip|not an IDX"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_random_damage_never_crashes(tmp_path, gz):
    rng = np.random.default_rng(7)
    good = idx.idx_bytes(np.arange(60, dtype=np.int16).reshape(3, 4, 5))
    path = tmp_path / ("f.gz" if gz else "f")
    for _ in range(300):
        data = bytearray(gzip.compress(good, mtime=0) if gz else good)
        if rng.random() < 0.5:
            del data[rng.integers(0, len(data)):]
        for _ in range(rng.integers(0, 4) if data else 0):
            data[rng.integers(0, len(data))] = rng.integers(256)
        path.write_bytes(bytes(data))
        try:
            out = read_idx(path)
        except IdxFormatError:
            continue
        assert isinstance(out, np.ndarray)


def test_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.gz")


# --------------------------------------------------------------------------- synthetic data set
# Example i has pixel 0 = i % 256, pixel 1 = i // 256 and label i % 10, so a batch tells which
# examples it holds.

N_TRAIN, N_TEST = 130, 40


def _images(n: int, offset: int = 0) -> np.ndarray:
    ids = np.arange(offset, offset + n)
    im = np.full((n, 28, 28), 200, dtype=np.uint8)
    im[:, 0, 0] = ids % 256
    im[:, 0, 1] = ids // 256
    im[:, 27, 27] = 255
    return im


def _ids(images: np.ndarray) -> np.ndarray:
    flat = images.reshape(images.shape[0], -1).astype(np.int64)
    return flat[:, 0] + 256 * flat[:, 1]


def _write_set(d: Path, n_train=N_TRAIN, n_test=N_TEST, gz=True) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    sfx = ".gz" if gz else ""
    write_idx(d / (mnist.TRAIN_IMAGES + sfx), _images(n_train))
    write_idx(d / (mnist.TRAIN_LABELS + sfx), (np.arange(n_train) % 10).astype(np.uint8))
    write_idx(d / (mnist.TEST_IMAGES + sfx), _images(n_test, 1000))
    write_idx(d / (mnist.TEST_LABELS + sfx), ((np.arange(n_test) + 1000) % 10).astype(np.uint8))
    return d


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return _write_set(tmp_path / "mnist")


@pytest.fixture
def no_system_data(monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.setattr(mnist, "SYSTEM_DATA_DIRS", ())


def _uint8_train(data_dir, **kw) -> DataSet:
    return read_data_sets(data_dir, dtype=np.uint8, validation_size=0, **kw).train


@pytest.mark.parametrize("gz", [True, False])
def test_read_data_sets_defaults(tmp_path, gz):
    d = _write_set(tmp_path / "m", gz=gz)
    ds = read_data_sets(d, validation_size=30)
    assert ds.source == str(d) and ds.train.source == str(d)
    assert (ds.train.num_examples, ds.validation.num_examples, ds.test.num_examples) == \
        (N_TRAIN - 30, 30, N_TEST)
    assert ds.train.images.shape == (N_TRAIN - 30, 784) and ds.train.images.dtype == np.float32
    assert ds.train.labels.shape == (N_TRAIN - 30,) and ds.train.labels.dtype == np.uint8
    assert ds.train.images.max() == 1.0 and ds.train.images.min() >= 0.0
    np.testing.assert_allclose(ds.train.images[0, 2], 200 / 255, rtol=1e-6)
    assert ds.train.epochs_completed == 0


def test_validation_is_taken_from_start_of_train(data_dir):
    ds = read_data_sets(data_dir, dtype="uint8", validation_size=50)
    np.testing.assert_array_equal(_ids(ds.validation.images), np.arange(50))
    np.testing.assert_array_equal(_ids(ds.train.images), np.arange(50, N_TRAIN))
    np.testing.assert_array_equal(ds.validation.labels, np.arange(50) % 10)
    np.testing.assert_array_equal(_ids(ds.test.images), np.arange(1000, 1000 + N_TEST))
    assert read_data_sets(data_dir, validation_size=N_TRAIN).train.num_examples == 0
    for bad in (-1, N_TRAIN + 1):
        with pytest.raises(ValueError, match="validation_size"):
            read_data_sets(data_dir, validation_size=bad)


def test_one_hot_reshape_and_dtype(data_dir):
    ds = read_data_sets(data_dir, one_hot=True, reshape=False, dtype=np.uint8, validation_size=10)
    assert ds.train.images.shape == (N_TRAIN - 10, 28, 28, 1)
    assert ds.train.images.dtype == np.uint8 and ds.train.images.max() == 255
    assert ds.train.labels.shape == (N_TRAIN - 10, 10) and ds.train.labels.dtype == np.float32
    np.testing.assert_array_equal(ds.train.labels.argmax(1), np.arange(10, N_TRAIN) % 10)
    np.testing.assert_array_equal(ds.train.labels.sum(1), 1.0)
    x, y = ds.train.next_batch(7)
    assert x.shape == (7, 28, 28, 1) and y.shape == (7, 10)
    with pytest.raises(TypeError, match="uint8 or float32"):
        read_data_sets(data_dir, dtype=np.int32, validation_size=0)


def test_dtype_accepts_ir_dtype(data_dir):
    from tensorkiln.ir.types import f32
    assert read_data_sets(data_dir, dtype=f32, validation_size=0).test.images.dtype == np.float32


def test_mismatched_image_and_label_counts(tmp_path):
    d = _write_set(tmp_path / "m")
    write_idx(d / (mnist.TEST_LABELS + ".gz"), np.zeros(N_TEST - 1, np.uint8))
    with pytest.raises(ValueError, match="39 labels"):
        read_data_sets(d)


def test_wrong_file_contents(tmp_path):
    d = _write_set(tmp_path / "m")
    write_idx(d / (mnist.TRAIN_LABELS + ".gz"), np.full(N_TRAIN, 12, np.uint8))
    with pytest.raises(ValueError, match="out of range"):
        read_data_sets(d)
    write_idx(d / (mnist.TRAIN_LABELS + ".gz"), np.zeros((N_TRAIN, 2), np.uint8))
    with pytest.raises(ValueError, match="expected uint8 labels"):
        read_data_sets(d)


# --------------------------------------------------------------------------- next_batch


def test_next_batch_covers_each_epoch_exactly_once(data_dir):
    train = _uint8_train(data_dir, seed=3)
    seen = np.concatenate([_ids(train.next_batch(13)[0]) for _ in range(N_TRAIN // 13)])
    assert train.epochs_completed == 1
    assert sorted(seen) == list(range(N_TRAIN))
    assert not np.array_equal(seen, np.arange(N_TRAIN))  # shuffled
    second = np.concatenate([_ids(train.next_batch(13)[0]) for _ in range(N_TRAIN // 13)])
    assert sorted(second) == list(range(N_TRAIN)) and train.epochs_completed == 2
    assert not np.array_equal(seen, second)  # reshuffled for the new epoch


def test_next_batch_labels_match_images(data_dir):
    train = read_data_sets(data_dir, dtype=np.uint8, one_hot=True, validation_size=0, seed=1).train
    for _ in range(20):
        x, y = train.next_batch(17)
        np.testing.assert_array_equal(y.argmax(1), _ids(x) % 10)


def test_partial_last_batch_is_completed_from_next_epoch(data_dir):
    train = _uint8_train(data_dir, seed=5)
    batch = 40  # 130 = 3 * 40 + 10
    first = [_ids(train.next_batch(batch)[0]) for _ in range(3)]
    assert train.epochs_completed == 0
    x, _ = train.next_batch(batch)
    assert x.shape[0] == batch and train.epochs_completed == 1
    ids = _ids(x)
    epoch1 = np.concatenate(first + [ids[:10]])
    assert sorted(epoch1) == list(range(N_TRAIN))  # no example lost or repeated in epoch 1
    rest = np.concatenate([ids[10:]] + [_ids(train.next_batch(batch)[0]) for _ in range(2)])
    assert train.epochs_completed == 1
    tail = _ids(train.next_batch(20)[0])  # 30 + 2 * 40 + 20 = 130: ends exactly with epoch 2
    assert train.epochs_completed == 2
    epoch2 = np.concatenate([rest, tail])
    assert sorted(epoch2) == list(range(N_TRAIN))


def test_batch_larger_than_data_set(data_dir):
    train = _uint8_train(data_dir, seed=0)
    x, y = train.next_batch(3 * N_TRAIN + 5)
    assert x.shape[0] == 3 * N_TRAIN + 5 and train.epochs_completed == 3
    counts = np.bincount(_ids(x), minlength=N_TRAIN)
    assert counts.min() >= 3 and counts.max() <= 4 and counts.sum() == 3 * N_TRAIN + 5


def test_seed_makes_shuffling_deterministic(data_dir):
    def run(seed):
        ds = read_data_sets(data_dir, dtype=np.uint8, validation_size=20, seed=seed)
        return [_ids(s.next_batch(31)[0]) for s in (ds.train, ds.validation, ds.test)
                for _ in range(6)]
    a, b, c = run(42), run(42), run(43)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_shuffle_false_keeps_file_order(data_dir):
    train = _uint8_train(data_dir)
    got = np.concatenate([_ids(train.next_batch(50, shuffle=False)[0]) for _ in range(3)])
    np.testing.assert_array_equal(got, np.r_[np.arange(N_TRAIN), np.arange(20)])


def test_next_batch_bad_arguments(data_dir):
    ds = read_data_sets(data_dir, validation_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        ds.train.next_batch(0)
    with pytest.raises(ValueError, match="empty"):
        ds.validation.next_batch(1)


def test_fake_data():
    ds = read_data_sets(None, fake_data=True, one_hot=True)
    x, y = ds.train.next_batch(5)
    assert x.shape == (5, 784) and (x == 1).all() and ds.train.num_examples == 10000
    np.testing.assert_array_equal(y.argmax(1), 0)


def test_dataset_from_arrays():
    ds = DataSet(_images(12), np.arange(12) % 10, seed=0)
    assert ds.images.shape == (12, 784) and ds.num_examples == 12
    with pytest.raises(ValueError, match="different numbers"):
        DataSet(_images(3), np.zeros(4))


# --------------------------------------------------------------------------- where the files are


def test_explicit_dir_without_files_lists_every_path(tmp_path):
    missing = tmp_path / "not_here"
    with pytest.raises(FileNotFoundError) as info:
        read_data_sets(missing)
    msg = str(info.value)
    for name in mnist.FILES:
        assert str(missing / name) in msg and str(missing / (name + ".gz")) in msg
    assert "nothing is downloaded" in msg


def test_explicit_dir_with_some_files_is_not_substituted(tmp_path):
    d = _write_set(tmp_path / "m")
    (d / (mnist.TEST_LABELS + ".gz")).unlink()
    with pytest.raises(FileNotFoundError, match=mnist.TEST_LABELS):
        read_data_sets(d)


def test_env_var_is_searched_first(tmp_path, monkeypatch, no_system_data):
    d = _write_set(tmp_path / "env")
    monkeypatch.setenv(mnist.ENV_VAR, str(d))
    assert read_data_sets(validation_size=0).source == str(d)
    sub = _write_set(tmp_path / "root" / "fashion-mnist", n_train=20)
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "root"))
    ds = read_data_sets(validation_size=0)
    assert ds.source == str(sub) and ds.train.num_examples == 20


def test_fallback_to_embedded(tmp_path, monkeypatch, no_system_data):
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "empty"))
    assert read_data_sets(validation_size=0).source == "embedded"
    monkeypatch.setattr(mnist, "SYSTEM_DATA_DIRS", (str(_write_set(tmp_path / "sys")),))
    assert read_data_sets(validation_size=0).source == str(tmp_path / "sys")


def test_no_data_anywhere(tmp_path, monkeypatch, no_system_data):
    monkeypatch.setattr(mnist, "EMBEDDED_DIR", tmp_path / "gone")
    with pytest.raises(FileNotFoundError, match="any of the data directories") as info:
        read_data_sets()
    assert str(tmp_path / "gone" / mnist.TRAIN_IMAGES) in str(info.value)


# --------------------------------------------------------------------------- real data


def test_embedded_subset_loads():
    ds = read_data_sets(mnist.EMBEDDED_DIR, seed=0)
    assert ds.source == "embedded"
    assert (ds.train.num_examples, ds.validation.num_examples, ds.test.num_examples) == \
        (5000, 5000, 1000)
    for s in ds:
        assert s.images.shape == (s.num_examples, 784) and s.images.dtype == np.float32
        assert s.images.min() == 0.0 and s.images.max() == 1.0
        counts = np.bincount(s.labels, minlength=10)
        assert (counts == s.num_examples // 10).all()  # exactly class-balanced
    assert 0.2 < ds.train.images.mean() < 0.4  # real clothing images, not noise or blanks
    d = mnist.EMBEDDED_DIR
    assert (d / "LICENSE").is_file() and "Zalando" in (d / "LICENSE").read_text()
    assert sum(p.stat().st_size for p in d.iterdir()) < 6_000_000


def test_embedded_subset_keras_style():
    (x, y), (xt, yt) = mnist.load_data(mnist.EMBEDDED_DIR)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and y.shape == (10000,)
    assert xt.shape == (1000, 28, 28) and yt.shape == (1000,)


# CI installs the package without Debian's dataset-fashion-mnist; this checks the real system copy
# where it is installed (as on the developers' machines).
@pytest.mark.skipif(not (SYSTEM_DIR / (mnist.TRAIN_IMAGES + ".gz")).is_file(),
                    reason="the system Fashion-MNIST (Debian's dataset-fashion-mnist) is not "
                           "installed on this machine")
def test_system_fashion_mnist(monkeypatch):
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    ds = read_data_sets(None, dtype=np.uint8, validation_size=0)
    assert ds.source == str(SYSTEM_DIR)
    assert ds.train.images.shape == (60000, 784) and ds.test.images.shape == (10000, 784)
    assert (np.bincount(ds.train.labels) == 6000).all()
    assert (np.bincount(ds.test.labels) == 1000).all()
