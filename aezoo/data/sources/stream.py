"""The sources of :func:`~aezoo.data.sources.load_source` in bounded memory (extraction).

:func:`iter_batches` yields float32 ``(b, n_features)`` batches of exactly ``batch_size``
rows (the last may be shorter), every row of the source in its order (a folder's or a
DatasetDict's ``train``, ``val``, ``test`` in that order), the same features as
``load_source`` gives: ``.npy`` memory-mapped; parquet one row group at a time
(``pyarrow.parquet.ParquetFile.iter_batches``); CSV in blocks (``pyarrow.csv.open_csv``);
image folders decoded chunk by chunk in a thread pool; Hugging Face datasets through
``Dataset.iter`` over their memory-mapped Arrow files. ``.npz`` members are compressed
or zipped, so an ``.npz``'s ``X`` is read whole.
"""

from __future__ import annotations

import mmap
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from aezoo.data.pixels import to_unit
from aezoo.data.sources import images as _images
from aezoo.data.sources import table as _table
from aezoo.data.sources.raw import (
    ACCEPTED,
    ARRAY_SUFFIXES,
    DEFAULT_MAX_IMAGE_PIXELS,
    TABLE_SUFFIXES,
    check_finite,
    need,
    one_line,
    slug,
)
from aezoo.errors import ConfigError, DataError

_FEATURE = "streaming a data source"


@dataclass(frozen=True)
class StreamDescription:
    """What a streamed source holds, found without reading it whole.

    Attributes:
        source: the path or ``hf:`` reference.
        kind: ``"table"`` or ``"images"``.
        n_features: values in one flattened sample.
        image_shape: ``(channels, height, width)`` for images, else None.
        columns: feature column names of a table, else None.
        rows: rows in the whole source (every split).
        name: the registry-safe slug :func:`~aezoo.data.sources.base.slug` suggests.
    """

    source: str
    kind: Literal["table", "images"]
    n_features: int
    image_shape: tuple[int, int, int] | None
    columns: list[str] | None
    rows: int
    name: str


@dataclass
class _Stream:
    """A source opened for streaming: its description and a factory of raw batches."""

    description: StreamDescription
    batches: Any  # (batch_size) -> Iterator[np.ndarray]
    header_lines: int | None = None


def _npz_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    with zipfile.ZipFile(path) as archive, archive.open("X.npy") as handle:
        version = np.lib.format.read_magic(handle)
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read(handle)
    return shape, dtype


def _release(data: Any, end: int) -> None:
    """Drop the pages of a memory map up to row ``end`` from RSS (they are clean file pages;
    without this, RSS grows to the file's size while streaming)."""
    mm = getattr(data, "_mmap", None)
    if mm is None or not hasattr(mm, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    offset = data.offset if hasattr(data, "offset") else 0
    stop = offset + min(end, data.shape[0]) * data.strides[0]
    stop -= stop % mmap.PAGESIZE
    if stop > 0:
        mm.madvise(mmap.MADV_DONTNEED, 0, stop)


def _open_array(path: Path, where: str) -> _Stream:
    try:
        if path.suffix.lower() == ".npy":
            X = np.load(path, mmap_mode="r", allow_pickle=False)
            shape = X.shape
        else:
            shape, X = _npz_header(path)[0], None
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{where}: not a readable {path.suffix} file with an X ({one_line(exc)})"
        ) from None
    if len(shape) != 2:
        raise DataError(f"{where}: X has shape {shape}; expected (n_samples, n_features)")

    def batches(size: int) -> Iterator[np.ndarray]:
        data = X
        if data is None:
            with np.load(path, allow_pickle=False) as loaded:
                data = loaded["X"]
        for start in range(0, shape[0], size):
            batch = np.array(data[start : start + size], dtype=np.float32)
            _release(data, start + size)
            yield batch

    desc = StreamDescription(where, "table", int(shape[1]), None, None, int(shape[0]), slug(where))
    return _Stream(desc, batches)


def _open_parquet(path: Path, where: str, label_column: Any, feature_columns: Any) -> _Stream:
    pa, pq = need("pyarrow", _FEATURE), need("pyarrow.parquet", _FEATURE)
    try:
        # pre_buffer reads ahead whole row groups of every column: 3x the file in RSS
        parquet = pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{where}: not a readable parquet file ({one_line(exc)})") from None
    features = _table.feature_names(parquet.schema_arrow, where, label_column, feature_columns)

    def batches(size: int) -> Iterator[np.ndarray]:
        for batch in parquet.iter_batches(batch_size=size, columns=features):
            yield _table.to_features(batch, features, where)

    rows = parquet.metadata.num_rows
    desc = StreamDescription(where, "table", len(features), None, features, rows, slug(where))
    return _Stream(desc, batches)


def _open_csv(
    path: Path, where: str, label_column: Any, feature_columns: Any, count: bool
) -> _Stream:
    pa, pacsv = need("pyarrow", _FEATURE), need("pyarrow.csv", _FEATURE)

    def reader(convert: Any = None) -> Any:
        try:
            return pacsv.open_csv(path, convert_options=convert)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(_table.locate_csv_error(path) or f"{where}: {one_line(exc)}") from None

    with reader() as blocks:  # the first block decides, as the whole file does in load_source
        try:
            head = pa.Table.from_batches([blocks.read_next_batch()])
        except StopIteration:
            head = blocks.schema.empty_table()
        except pa.ArrowInvalid as exc:
            located = _table.locate_csv_error(path)
            raise DataError(located or f"{where}: {one_line(exc)}") from None
    features = _table.select_features(head, where, label_column, feature_columns, 1)
    convert = pacsv.ConvertOptions(
        column_types={name: pa.float64() for name in features}, include_columns=features
    )

    def batches(size: int) -> Iterator[np.ndarray]:
        with reader(convert) as blocks:
            while True:
                try:
                    batch = blocks.read_next_batch()
                except StopIteration:
                    return
                except pa.ArrowInvalid as exc:
                    located = _table.locate_csv_error(path) or _table.locate_csv_value(
                        path, features
                    )
                    raise DataError(located or f"{where}: {one_line(exc)}") from None
                yield _table.to_features(batch, features, where, header_lines=1)

    # CSV has no row count: one bounded pass counts, when asked (0: unknown)
    rows = sum(len(X) for X in batches(1 << 16)) if count else 0
    desc = StreamDescription(where, "table", len(features), None, features, rows, slug(where))
    return _Stream(desc, batches, header_lines=1)


def _open_images(root: Path, where: str, options: dict[str, Any]) -> _Stream:
    parts = _images.list_folder(root)
    items = [it for part in parts.values() for it in part]
    how = _images.plan(
        items, options["image_size"], options["image_mode"], options["max_image_pixels"]
    )
    return _image_stream(lambda: items, len(items), how, where)


def _image_stream(items: Callable[[], Iterable[Any]], rows: int, how: Any, where: str) -> _Stream:
    """Decode ``items()`` chunk by chunk (a chunk is a batch) in one thread pool."""

    def batches(size: int) -> Iterator[np.ndarray]:
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            for chunk in _images.chunks(items(), size):
                pixels = np.stack(list(pool.map(lambda it: _images.decode_one(it, how), chunk)))
                yield to_unit(pixels)

    n_features = int(np.prod(how.image_shape))
    desc = StreamDescription(where, "images", n_features, how.image_shape, None, rows, slug(where))
    return _Stream(desc, batches)


def _open_hub(source: Any, where: str, options: dict[str, Any]) -> _Stream:
    from aezoo.data.sources import hub

    if isinstance(source, str) and source.startswith("hf:"):
        obj = hub.open_hub(source)
    else:
        obj = hub.open_disk(Path(source))
    parts = hub.dataset_parts(obj, where)
    first = next(iter(parts.values()))
    image_col, label, _ = hub.pick_columns(
        first.features, where, options["label_column"], options["feature_columns"]
    )
    rows = sum(ds.num_rows for ds in parts.values())
    if image_col is None:
        features = _table.feature_names(
            first.features.arrow_schema, where, label, options["feature_columns"]
        )

        def batches(size: int) -> Iterator[np.ndarray]:
            for ds in parts.values():
                for batch in ds.select_columns(features).with_format("arrow").iter(size):
                    yield _table.to_features(batch, features, where)

        desc = StreamDescription(where, "table", len(features), None, features, rows, slug(where))
        return _Stream(desc, batches)

    def items() -> Iterator[Any]:
        return hub.iter_image_items(parts, image_col, where)

    how = _images.plan(
        items(), options["image_size"], options["image_mode"], options["max_image_pixels"]
    )
    return _image_stream(items, rows, how, where)


def _open(source: Any, options: dict[str, Any], count_rows: bool = True) -> _Stream:
    if isinstance(source, str) and source.startswith("hf:"):
        return _open_hub(source, source, options)
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(
            f"streaming reads files and hf: datasets, not {type(source).__name__}; "
            "pass in-memory data to load_source"
        )
    path = Path(source).expanduser()
    where = str(path)
    if path.is_dir():
        from aezoo.data.sources import hub

        if hub.is_saved_dataset(path):
            return _open_hub(path, where, options)
        return _open_images(path, where, options)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in ARRAY_SUFFIXES:
        return _open_array(path, where)
    if suffix == ".csv":
        return _open_csv(
            path, where, options["label_column"], options["feature_columns"], count_rows
        )
    if suffix in TABLE_SUFFIXES:
        return _open_parquet(path, where, options["label_column"], options["feature_columns"])
    raise DataError(f"{path}: unknown file type {suffix or '(none)'!r}; accepted: {ACCEPTED}")


def describe_stream(
    source: Any,
    *,
    label_column: str | None = None,
    feature_columns: list[str] | None = None,
    image_size: tuple[int, int] | None = None,
    image_mode: Literal["L", "RGB"] | None = None,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    **_: Any,
) -> StreamDescription:
    """n_features, image shape, columns and rows of a source, from headers and metadata
    (a CSV is counted in one bounded pass; image headers are read, never their pixels).

    Other options of :func:`~aezoo.data.sources.load_source` are accepted and ignored.

    Raises:
        DataError: as :func:`~aezoo.data.sources.load_source`, for what headers reveal.
    """
    options = dict(
        label_column=label_column,
        feature_columns=feature_columns,
        image_size=image_size,
        image_mode=image_mode,
        max_image_pixels=max_image_pixels,
    )
    return _open(source, options).description


def iter_batches(
    source: Any,
    batch_size: int,
    *,
    label_column: str | None = None,
    feature_columns: list[str] | None = None,
    image_size: tuple[int, int] | None = None,
    image_mode: Literal["L", "RGB"] | None = None,
    allow_missing: bool = False,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    quiet: bool = False,
    **_: Any,
) -> Iterator[np.ndarray]:
    """Every row of a source as float32 batches ``(b, n_features)``, in bounded memory.

    The source is opened (and its headers checked) when called; rows are read as the
    iterator is consumed.

    Batches hold exactly ``batch_size`` rows but the last; values and features are those
    :func:`~aezoo.data.sources.load_source` gives (images in [0, 1], channel-first).
    ``seed`` and the split fractions are accepted and ignored: every row is streamed.

    Args:
        source: a ``.npy``/``.npz``/``.csv``/``.parquet`` file, an image folder, a
            ``save_to_disk`` directory or ``"hf:NAME[:CONFIG]"``.
        batch_size: rows per batch, >= 1.
        allow_missing: let NaN/infinity through (else the first is named, by row and column).
        quiet: no progress bar (rows per second) on stderr.

    Raises:
        ConfigError: ``batch_size`` < 1.
        DataError: as :func:`~aezoo.data.sources.load_source`; NaN is found batch by batch.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    stream = _open(
        source,
        dict(
            label_column=label_column,
            feature_columns=feature_columns,
            image_size=image_size,
            image_mode=image_mode,
            max_image_pixels=max_image_pixels,
        ),
        count_rows=False,
    )
    return _generate(stream, batch_size, allow_missing, quiet)


def _generate(
    stream: _Stream, batch_size: int, allow_missing: bool, quiet: bool
) -> Iterator[np.ndarray]:
    desc = stream.description
    unit = "img" if desc.kind == "images" else "row"
    offset = 0
    with tqdm(
        total=desc.rows or None, unit=unit, desc=desc.name, disable=True if quiet else None
    ) as bar:
        batches = _rebatch(stream.batches(batch_size), batch_size)
        for X in batches:
            if not allow_missing and not np.isfinite(X).all():
                # the message counts every NaN of the source, as load_source's does
                count = sum(_n_nonfinite(B) for B in batches) + _n_nonfinite(X)
                where, header = desc.source, stream.header_lines
                check_finite(X, where, desc.columns, header, "all", offset, count)
            offset += X.shape[0]
            bar.update(X.shape[0])
            yield X


def _n_nonfinite(X: np.ndarray) -> int:
    return int(X.size - np.count_nonzero(np.isfinite(X)))


def _rebatch(batches: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Regroup batches of any sizes into batches of exactly ``size`` rows (the last shorter)."""
    held: list[np.ndarray] = []
    count = 0
    for X in batches:
        while X.shape[0]:
            take = min(size - count, X.shape[0])
            held.append(X[:take])
            count += take
            X = X[take:]
            if count == size:
                yield np.ascontiguousarray(np.concatenate(held) if len(held) > 1 else held[0])
                held, count = [], 0
    if held:
        yield np.ascontiguousarray(np.concatenate(held))
