"""MNIST loading: the real local subset, malformed IDX files, and the download path."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from aezoo.data import mnist as data
from aezoo.data.mnist import (
    MNIST_FILES,
    data_fingerprint,
    download_mnist,
    load_mnist,
    read_idx,
    resolve_mnist_dir,
)
from aezoo.errors import DataError


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Raw IDX encoding of a uint8 array (magic defaults to 0x0800 + ndim)."""
    magic = 0x0800 + array.ndim if magic is None else magic
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_dataset(directory: Path, n_train: int = 12, n_test: int = 5, seed: int = 0) -> dict:
    """Write four small valid gzipped IDX files; return {filename: array}."""
    rng = np.random.default_rng(seed)
    arrays = {
        data.TRAIN_IMAGES: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        data.TRAIN_LABELS: rng.integers(0, 10, n_train, dtype=np.uint8),
        data.TEST_IMAGES: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        data.TEST_LABELS: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        (directory / name).write_bytes(gzip.compress(idx_bytes(array)))
    return arrays


def scaled(images: np.ndarray) -> np.ndarray:
    """The loader's contract for pixels: float32 (n, 784), uint8 / 255."""
    return images.reshape(len(images), 784).astype(np.float32) / np.float32(255)


# ---------------------------------------------------------------- real MNIST


@pytest.mark.integration
def test_real_mnist_counts_and_splits(mnist_dir: Path) -> None:
    assert read_idx(mnist_dir / data.TRAIN_IMAGES).shape == (19_690, 28, 28)
    assert read_idx(mnist_dir / data.TEST_LABELS).shape == (5_000,)
    sizes = {split: len(load_mnist(split, mnist_dir)[0]) for split in data.SPLITS}
    assert sizes == {"train": 17_690, "val": 2_000, "test": 5_000, "train_full": 19_690}


@pytest.mark.integration
@pytest.mark.parametrize("split", ["train", "val", "test", "train_full"])
def test_real_mnist_values(mnist_dir: Path, split: str) -> None:
    x, y = load_mnist(split, mnist_dir)
    assert x.dtype == np.float32 and x.shape == (len(y), 784)
    assert y.dtype == np.int64 and y.shape == (len(x),)
    assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(y).tolist()) == set(range(10))


@pytest.mark.integration
def test_real_mnist_val_is_last_2000_of_train_full(mnist_dir: Path) -> None:
    x_full, y_full = load_mnist("train_full", mnist_dir)
    x_train, y_train = load_mnist("train", mnist_dir)
    x_val, y_val = load_mnist("val", mnist_dir)
    np.testing.assert_array_equal(x_val, x_full[-2_000:])
    np.testing.assert_array_equal(y_val, y_full[-2_000:])
    np.testing.assert_array_equal(x_train, x_full[:-2_000])
    np.testing.assert_array_equal(y_train, y_full[:-2_000])
    raw = read_idx(mnist_dir / data.TRAIN_IMAGES)
    np.testing.assert_array_equal(x_full * 255, raw.reshape(len(raw), 784).astype(np.float32))


@pytest.mark.integration
def test_data_dir_from_env(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AEZOO_DATA_DIR", str(mnist_dir))
    assert resolve_mnist_dir() == mnist_dir
    write_dataset(tmp_path)
    assert resolve_mnist_dir(tmp_path) == tmp_path  # the argument wins over the env
    assert load_mnist("test")[0].shape == (5_000, 784)


# ---------------------------------------------------------------- local files


def test_read_idx_raw_and_gz_round_trip(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a-idx3-ubyte").write_bytes(idx_bytes(array))
    (tmp_path / "a-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte.gz"), array)


def test_loads_synthetic_dir_and_returns_fresh_arrays(tmp_path: Path) -> None:
    arrays = write_dataset(tmp_path, n_train=2_003, n_test=4)
    x, y = load_mnist("train_full", tmp_path)
    np.testing.assert_array_equal(x, scaled(arrays[data.TRAIN_IMAGES]))
    np.testing.assert_array_equal(y, arrays[data.TRAIN_LABELS])
    assert len(load_mnist("train", tmp_path)[0]) == 3
    x[:] = -1.0  # the in-process cache must not hand this back
    assert load_mnist("train_full", tmp_path)[0].min() >= 0.0


def test_cache_notices_a_changed_directory(tmp_path: Path) -> None:
    write_dataset(tmp_path, n_test=5)
    assert len(load_mnist("test", tmp_path)[0]) == 5
    write_dataset(tmp_path, n_test=7, seed=1)
    assert len(load_mnist("test", tmp_path)[0]) == 7


def test_small_training_file_cannot_make_val_split(tmp_path: Path) -> None:
    write_dataset(tmp_path, n_train=2_000)
    with pytest.raises(DataError, match="2000 training images"):
        load_mnist("val", tmp_path)


def test_unknown_split(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown split 'valid'"):
        load_mnist("valid", tmp_path)


def test_wrong_magic(tmp_path: Path) -> None:
    path = tmp_path / "bad-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((2, 28, 28), np.uint8), magic=0x903)))
    with pytest.raises(DataError, match="bad magic 0x00000903") as info:
        read_idx(path)
    assert str(path) in str(info.value) and "0x00000803" in str(info.value)


def test_truncated_payload(tmp_path: Path) -> None:
    path = tmp_path / "short-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-100]))
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert "truncated: header promises 3x28x28 = 2352 bytes of data, file has 2252" in message


def test_trailing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "long-idx1-ubyte"
    path.write_bytes(idx_bytes(np.zeros(5, np.uint8)) + b"\x00\x01")
    with pytest.raises(DataError, match="trailing bytes: header promises 5 = 5 bytes") as info:
        read_idx(path)
    assert str(path) in str(info.value) and "file has 7" in str(info.value)


def test_not_gzip_and_corrupt_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "plain-idx1-ubyte.gz"
    plain.write_bytes(idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(DataError, match="not a gzip file") as info:
        read_idx(plain)
    assert str(plain) in str(info.value)
    broken = tmp_path / "broken-idx1-ubyte.gz"
    broken.write_bytes(gzip.compress(idx_bytes(np.zeros(500, np.uint8)))[:-12])
    with pytest.raises(DataError, match="corrupt gzip") as info:
        read_idx(broken)
    assert str(broken) in str(info.value)


def test_image_and_label_counts_must_agree(tmp_path: Path) -> None:
    write_dataset(tmp_path, n_train=10)
    labels = tmp_path / data.TRAIN_LABELS
    labels.write_bytes(gzip.compress(idx_bytes(np.zeros(9, np.uint8))))
    with pytest.raises(DataError, match=r"10 images but .* 9 labels") as info:
        load_mnist("train_full", tmp_path)
    assert data.TRAIN_IMAGES in str(info.value) and data.TRAIN_LABELS in str(info.value)


def test_given_dir_with_missing_files(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    (tmp_path / data.TEST_LABELS).unlink()
    (tmp_path / data.TRAIN_IMAGES).unlink()
    with pytest.raises(DataError) as info:
        resolve_mnist_dir(tmp_path, mirrors=["http://127.0.0.1:9/never-used"])
    message = str(info.value)
    assert str(tmp_path) in message
    assert data.TEST_LABELS in message and data.TRAIN_IMAGES in message
    assert data.TEST_IMAGES not in message


def test_data_fingerprint() -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert data_fingerprint(a) == data_fingerprint(a.copy())
    assert data_fingerprint(a) != data_fingerprint(a.reshape(3, 2))
    assert data_fingerprint(a) != data_fingerprint(a.astype(np.float64))
    b = a.copy()
    b[1, 2] = 7
    assert data_fingerprint(a) != data_fingerprint(b)
    assert data_fingerprint(a, b) != data_fingerprint(b, a)
    assert len(data_fingerprint(a)) == 64


def test_official_checksum_table() -> None:
    assert set(MNIST_FILES) == {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    }
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in MNIST_FILES.values())


# ---------------------------------------------------------------- download


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, dict, dict]]:
    """A real HTTP server on 127.0.0.1 serving a synthetic dataset.

    Yields (base URL, {filename: sha256}, {filename: array}).
    """
    served = tmp_path / "served"
    arrays = write_dataset(served)
    checksums = {n: hashlib.sha256((served / n).read_bytes()).hexdigest() for n in arrays}
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", checksums, arrays
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def dead_mirror() -> str:
    """A URL on a loopback port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """AEZOO_CACHE_DIR in tmp_path, AEZOO_DATA_DIR unset; returns the MNIST cache dir."""
    monkeypatch.delenv("AEZOO_DATA_DIR", raising=False)
    monkeypatch.setenv("AEZOO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "datasets" / "mnist"


def test_download_into_cache_then_load(mirror, dead_mirror, cache_env: Path) -> None:
    url, checksums, arrays = mirror
    directory = resolve_mnist_dir(mirrors=[dead_mirror, url], checksums=checksums)
    assert directory == cache_env
    assert sorted(p.name for p in directory.iterdir()) == sorted(checksums)  # no temp files
    x, y = load_mnist("test", directory)
    np.testing.assert_array_equal(x, scaled(arrays[data.TEST_IMAGES]))
    np.testing.assert_array_equal(y, arrays[data.TEST_LABELS])
    # Present files are not fetched again: no mirror is needed the second time.
    assert resolve_mnist_dir(mirrors=[], checksums=checksums) == cache_env


def test_download_fetches_only_missing_files(mirror, tmp_path: Path) -> None:
    url, checksums, _ = mirror
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / data.TRAIN_IMAGES).write_bytes(b"kept as is")
    download_mnist(dest, mirrors=[url], checksums=checksums)
    assert (dest / data.TRAIN_IMAGES).read_bytes() == b"kept as is"
    assert (dest / data.TEST_LABELS).is_file()


def test_checksum_mismatch_leaves_no_file(mirror, tmp_path: Path) -> None:
    url, checksums, _ = mirror
    wrong = dict(checksums, **{data.TRAIN_LABELS: "0" * 64})
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as info:
        download_mnist(dest, mirrors=[url], checksums=wrong)
    message = str(info.value)
    assert f"{data.TRAIN_LABELS}: checksum mismatch: expected sha256 {'0' * 64}" in message
    assert f"got {checksums[data.TRAIN_LABELS]}" in message
    assert not (dest / data.TRAIN_LABELS).exists()
    assert not [p for p in dest.iterdir() if p.name.endswith(".part")]


def test_all_mirrors_dead(dead_mirror: str, cache_env: Path) -> None:
    with pytest.raises(DataError) as info:
        resolve_mnist_dir(mirrors=[dead_mirror, f"{dead_mirror}/other"])
    message = str(info.value)
    assert f"{dead_mirror}/{data.TRAIN_IMAGES}" in message
    assert f"{dead_mirror}/other/{data.TRAIN_IMAGES}" in message
    assert "AEZOO_DATA_DIR" in message and "--data-dir" in message
    assert not (cache_env / data.TRAIN_IMAGES).exists()


def test_http_404_is_a_mirror_failure(mirror, tmp_path: Path) -> None:
    url, checksums, _ = mirror
    with pytest.raises(DataError, match="404"):
        download_mnist(tmp_path / "dest", mirrors=[f"{url}/nowhere"], checksums=checksums)


def test_cache_follows_aezoo_home_unless_aezoo_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AEZOO_CACHE_DIR", raising=False)
    monkeypatch.setenv("AEZOO_HOME", str(tmp_path / "home"))
    assert data.cache_root() == tmp_path / "home"
    monkeypatch.setenv("AEZOO_CACHE_DIR", str(tmp_path / "cache"))
    assert data.cache_root() == tmp_path / "cache"


def test_dims_whose_int64_product_wraps_are_truncated_not_a_crash(tmp_path: Path) -> None:
    """2^31 x 2^31 x 4 = 2^64 wraps to 0 in int64; the byte count must be exact."""
    path = tmp_path / "huge-idx3-ubyte"
    dims = (2**31, 2**31, 4)
    path.write_bytes((0x803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims))
    with pytest.raises(DataError, match=r"truncated: header promises 2147483648x2147483648x4"):
        read_idx(path)
