"""A source too large for memory, streamed once to a float32 file on disk, for training.

:func:`spill_source` is :func:`~aezoo.data.sources.load_source` for data above the
in-memory limit (``aezoo train --data`` decides; :data:`IN_MEMORY_BYTES` by default). It
reads the source once through :func:`~aezoo.data.sources.iter_batches` (bounded memory)
and sends each row, by a seeded uniform draw, to the test split or the validation split
(each ``min(fraction, max_eval_rows / rows)`` of the rows, so they stay small enough for
memory) or to the training split, which is written to ``workdir/train.f32`` as raw
float32 rows and comes back as a read-only :class:`numpy.memmap` ``(n_train, n_features)``.
The trainers read such a split in chunks (:class:`aezoo.training.disk_rows.DiskRows`), so a
training process holds a few chunks of it, never the whole.

Labels are not streamed: a spilled source trains without a classifier (``y`` is None),
and its splits are not stratified. Its content hash is the sha256 of every row's float32
bytes in source order.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from aezoo.data.sources.base import DataDescription, LoadedData
from aezoo.data.sources.stream import StreamDescription, describe_stream, iter_batches
from aezoo.errors import DataError

IN_MEMORY_BYTES = 512 * 2**20  # sources whose float32 rows are larger are spilled to disk
MAX_EVAL_ROWS = 20_000  # validation and test rows of a spilled source, each, at most
_BATCH_ROWS = 8_192


def needs_spill(source: Any, limit: int, **options: Any) -> StreamDescription | None:
    """The source's description when its float32 rows take more than ``limit`` bytes, else
    None (in-memory data: arrays, tables and DataFrames are in memory already).

    Read from headers (:func:`~aezoo.data.sources.describe_stream`), except that a CSV file
    of at most ``limit / 2`` bytes is not counted at all: each value takes at least two
    bytes of text (a digit and a separator), so its float32 rows fit.

    Raises:
        DataError: as :func:`~aezoo.data.sources.describe_stream`.
    """
    if not isinstance(source, (str, Path)):
        return None
    path = Path(source)
    if path.suffix.lower() == ".csv" and path.is_file() and 2 * path.stat().st_size <= limit:
        return None
    d = describe_stream(source, **options)
    return d if int(d.rows) * d.n_features * 4 > limit else None


def _release_arrow_memory() -> None:
    """Give pyarrow's pooled buffers back to the OS once the source is read (its allocator
    keeps them for reuse; training would otherwise run on top of them)."""
    import sys

    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()


def spill_source(
    source: str | Path,
    workdir: str | Path,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    max_eval_rows: int = MAX_EVAL_ROWS,
    description: StreamDescription | None = None,
    **options: Any,
) -> LoadedData:
    """The source's rows split as the module docstring says, the training split on disk.

    Args:
        source: a path or ``hf:NAME[:CONFIG]`` that :func:`iter_batches` streams.
        workdir: an existing directory for ``train.f32`` (removed by the caller).
        seed: seeds the per-row split draw.
        val_fraction, test_fraction: shares of the rows, before the ``max_eval_rows`` cap.
        max_eval_rows: most rows of the validation and of the test split, each.
        description: the source's :func:`describe_stream` when already made (not read again).
        **options: ``feature_columns``, ``image_size``, ``image_mode``, ``allow_missing``,
            ``max_image_pixels`` (as for :func:`iter_batches`; ``label_column`` only leaves
            that column out of the features).

    Returns:
        A :class:`LoadedData`: ``train`` X a read-only ``numpy.memmap``, ``val`` and ``test``
        X in memory, every y None.

    Raises:
        DataError: as :func:`iter_batches`; fewer than 3 rows; no training row.
    """
    desc = description or describe_stream(source, **options)
    n, width = int(desc.rows), desc.n_features
    if n < 3:
        raise DataError(f"{source}: {n} rows; training needs at least 3")
    p_test = min(test_fraction, max_eval_rows / n)
    p_val = min(val_fraction, max_eval_rows / n)
    rng = np.random.default_rng(seed)
    digest = hashlib.sha256()
    path = Path(workdir) / "train.f32"
    held: dict[str, list[np.ndarray]] = {"val": [], "test": []}
    n_train = 0
    with open(path, "wb") as f:
        for X in iter_batches(source, _BATCH_ROWS, **options):
            X = np.ascontiguousarray(X, dtype=np.float32)
            digest.update(X.tobytes())
            u = rng.random(len(X))
            test, val = u < p_test, (u >= p_test) & (u < p_test + p_val)
            train = ~(test | val)
            held["test"].append(X[test])
            held["val"].append(X[val])
            f.write(X[train].tobytes())
            n_train += int(train.sum())
    _release_arrow_memory()
    if n_train == 0:
        raise DataError(f"{source}: no row left for training after the validation and test draw")
    splits: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        "train": (np.memmap(path, np.float32, "r", shape=(n_train, width)), None)
    }
    for k in ("val", "test"):
        rows = np.concatenate(held[k]) if held[k] else np.empty((0, width), np.float32)
        splits[k] = (rows, None)
    description = DataDescription(
        source=desc.source,
        kind=desc.kind,
        n_features=width,
        image_shape=desc.image_shape,
        columns=desc.columns,
        class_names=None,
        rows={k: len(v[0]) for k, v in splits.items()},
        content_hash=digest.hexdigest(),
        split_protocol=(
            f"streamed once to disk ({n:,} rows, above the in-memory limit): each row drawn "
            f"uniformly (seed {seed}) into test ({p_test:.3%}) or validation ({p_val:.3%}), "
            "the rest train; labels not used"
        ),
        name=desc.name,
    )
    return LoadedData(splits, description)
