"""Streaming: the same rows and features as load_source, in batches, in bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from aezoo.data.sources import describe_stream, iter_batches, load_source
from aezoo.data.sources import stream as stream_module
from aezoo.errors import ConfigError
from tests.data.conftest import N_IMAGES


@pytest.mark.parametrize("kind", ["npy", "npz", "csv", "parquet"])
def test_table_files_stream_every_row_in_exact_batches(digits, table_files, kind) -> None:
    X, _ = digits
    label = None if kind in ("npy", "npz") else "label"
    batches = list(iter_batches(table_files[kind], 100, label_column=label, quiet=True))
    assert [len(b) for b in batches] == [100] * 17 + [97]
    assert all(b.dtype == np.float32 and b.flags.c_contiguous for b in batches)
    np.testing.assert_array_equal(np.concatenate(batches), X.astype(np.float32))
    d = describe_stream(table_files[kind], label_column=label)
    assert (d.kind, d.n_features, d.rows, d.image_shape, d.name) == (
        "table",
        64,
        1797,
        None,
        "digits",
    )


def test_npy_is_memory_mapped_and_parquet_read_by_row_group(table_files, monkeypatch) -> None:
    loads = []
    real_load = np.load
    monkeypatch.setattr(
        stream_module.np, "load", lambda *a, **k: loads.append(k) or real_load(*a, **k)
    )
    next(iter_batches(table_files["npy"], 10, quiet=True))
    assert loads == [{"mmap_mode": "r", "allow_pickle": False}]
    import pyarrow.parquet as pq

    sizes = []
    real_iter = pq.ParquetFile.iter_batches

    def spy(self, *args, **kwargs):
        for batch in real_iter(self, *args, **kwargs):
            sizes.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    first = next(iter_batches(table_files["parquet"], 100, label_column="label", quiet=True))
    assert first.shape == (100, 64) and sizes == [100]  # read what one batch needs, no more


def test_image_folder_streams_as_load_source_decodes(digits, image_folder) -> None:
    whole = load_source(image_folder, val_fraction=0.0, test_fraction=0.0, quiet=True)
    batches = list(iter_batches(image_folder, 16, quiet=True))
    assert [len(b) for b in batches] == [16, 16, 16, N_IMAGES - 48]
    np.testing.assert_array_equal(np.concatenate(batches), whole.splits["train"][0])
    d = describe_stream(image_folder, image_mode="RGB", image_size=(4, 4))
    assert (d.kind, d.image_shape, d.n_features, d.rows) == ("images", (3, 4, 4), 48, N_IMAGES)
    rgb = next(iter_batches(image_folder, 8, image_mode="RGB", image_size=(4, 4), quiet=True))
    assert rgb.shape == (8, 48)


def test_saved_datasets_stream(digits, saved_table_dataset, saved_image_dataset) -> None:
    X, _ = digits
    table = np.concatenate(list(iter_batches(saved_table_dataset, 500, quiet=True)))
    np.testing.assert_array_equal(table, X.astype(np.float32))  # the ClassLabel is no feature
    images = np.concatenate(list(iter_batches(saved_image_dataset, 7, quiet=True)))
    whole = load_source(saved_image_dataset, val_fraction=0.0, quiet=True)
    np.testing.assert_array_equal(
        images, np.concatenate([whole.splits[s][0] for s in ("train", "test")])
    )


def test_split_folders_stream_train_then_val_then_test(tmp_path) -> None:
    from PIL import Image

    for value, split in enumerate(("test", "val", "train")):
        (tmp_path / split).mkdir()
        Image.new("L", (2, 2), value).save(tmp_path / split / "a.png")
    streamed = np.concatenate(list(iter_batches(tmp_path, 2, quiet=True)))
    np.testing.assert_array_equal(streamed[:, 0] * 255, [2, 1, 0])


def test_batch_size_is_checked(table_files) -> None:
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        iter_batches(table_files["npy"], 0)


def test_streaming_a_npy_keeps_rss_bounded(tmp_path) -> None:
    psutil = pytest.importorskip("psutil")
    path = tmp_path / "big.npy"
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(262_144, 64))
    X[:] = 1.0  # 64 MiB on disk
    X.flush()
    del X
    process = psutil.Process()
    start, peak, total = process.memory_info().rss, 0, 0.0
    for batch in iter_batches(path, 4096, quiet=True):
        total += float(batch.sum())
        peak = max(peak, process.memory_info().rss - start)
    assert total == 262_144 * 64
    assert peak < 24 * 2**20  # the mapped pages are dropped as they are read
