"""Training rows on disk, read by chunks (aezoo.training.disk_rows), and the spilled split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aezoo.data.preprocess import apply_scaling, fit_scaling
from aezoo.training.disk_rows import DiskRows


def _memmap(tmp_path: Path, n: int = 1000, width: int = 8) -> tuple[np.memmap, np.ndarray]:
    X = np.random.default_rng(0).normal(5.0, 3.0, (n, width)).astype(np.float32)
    X.tofile(tmp_path / "rows.f32")
    return np.memmap(tmp_path / "rows.f32", np.float32, "r", shape=X.shape), X


def test_every_row_once_per_epoch_and_no_batch_spans_two_chunks(tmp_path: Path) -> None:
    mm, X = _memmap(tmp_path)
    rows = DiskRows(mm, chunk_bytes=100 * 8 * 4)  # 100 rows a chunk
    assert rows.chunk_rows == 100 and len(rows) == 1000
    seen = []
    for idx, x in rows.batches(32, torch.Generator().manual_seed(0)):
        assert len({int(i) // 100 for i in idx}) == 1  # one chunk
        np.testing.assert_array_equal(x.numpy(), X[idx.numpy()])
        seen.append(idx)
    order = torch.cat(seen)
    assert sorted(order.tolist()) == list(range(1000))
    again = torch.cat([i for i, _ in rows.batches(32, torch.Generator().manual_seed(0))])
    assert torch.equal(order, again)  # seeded: a resumed epoch is the same epoch
    other = torch.cat([i for i, _ in rows.batches(32, torch.Generator().manual_seed(1))])
    assert not torch.equal(order, other)
    assert (
        rows.chunk_rows < 1000 and order[:100].div(100, rounding_mode="floor").unique().numel() == 1
    )


def test_scaling_a_memmap_reads_chunks_and_writes_a_file(tmp_path: Path, monkeypatch) -> None:
    import aezoo.data.preprocess as pre

    mm, X = _memmap(tmp_path)
    monkeypatch.setattr(pre, "_CHUNK_BYTES", 64 * 8 * 8)  # 64 rows a chunk, the last short
    for method in ("minmax", "standard"):
        off, sc = fit_scaling(mm, method)
        want_off, want_sc = fit_scaling(X, method)  # in memory (also chunked: 64 rows)
        # the same float64 sums over the same 64-row chunks, read from a file or from memory
        np.testing.assert_array_equal(off, want_off)
        np.testing.assert_array_equal(sc, want_sc)
    ref = X.astype(np.float64)
    # float64 sums in another order (~1e-16 relative), stored as float32: an ulp at most
    got = fit_scaling(mm, "standard")[1]
    np.testing.assert_allclose(got, ref.std(axis=0), rtol=np.finfo(np.float32).eps)
    np.testing.assert_allclose(fit_scaling(mm, "minmax")[0], ref.min(axis=0), rtol=0)
    scaled = apply_scaling(mm, *fit_scaling(mm))
    assert isinstance(scaled, np.memmap) and Path(scaled.filename).name == "rows.f32.scaled"
    np.testing.assert_array_equal(np.asarray(scaled), apply_scaling(X, *fit_scaling(X)))


def test_disk_rows_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="memmap"):
        DiskRows(np.zeros((3, 2), np.float32))  # type: ignore[arg-type]
