"""Hugging Face datasets: ``hf:NAME[:CONFIG]`` (``datasets.load_dataset``, its cache and
offline mode) and directories written by ``Dataset(Dict).save_to_disk``.

A dataset with an ``Image`` column is an image source (decoded as :mod:`.images` decodes
files); otherwise its numeric columns are a table (:mod:`.table`). A single ``ClassLabel``
column is the label unless ``label_column`` says otherwise, and keeps its names in index
order. A ``DatasetDict``'s ``train``, ``validation`` (or ``val``/``valid``) and ``test``
splits are used as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from aezoo.data.sources import images as _images
from aezoo.data.sources import table as _table
from aezoo.data.sources.raw import DEFAULT_MAX_IMAGE_PIXELS, RawData, encode_labels, need, one_line
from aezoo.errors import DataError

SPLIT_NAMES = {"train": "train", "validation": "val", "val": "val", "valid": "val", "test": "test"}
_FEATURE = "reading Hugging Face datasets"


def is_saved_dataset(path: Path) -> bool:
    """Whether ``path`` was written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    return (path / "dataset_dict.json").is_file() or (
        (path / "state.json").is_file() and (path / "dataset_info.json").is_file()
    )


def open_disk(path: Path) -> Any:
    """``datasets.load_from_disk`` (memory-mapped Arrow files), mapping its errors.

    Raises:
        DataError: the directory cannot be read as a saved Dataset or DatasetDict.
    """
    datasets = need("datasets", _FEATURE)
    try:
        return datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError, KeyError) as exc:
        raise DataError(f"{path}: not a readable datasets directory ({one_line(exc)})") from None


def load_disk(path: Path, **options: Any) -> RawData:
    """A ``save_to_disk`` directory read whole; see :func:`from_dataset`."""
    return from_dataset(open_disk(path), str(path), **options)


def parse_ref(source: str) -> tuple[str, str | None]:
    """``"hf:NAME[:CONFIG]"`` -> ``(NAME, CONFIG or None)``."""
    name, _, config = source[len("hf:") :].partition(":")
    if not name:
        raise DataError(f"{source!r}: expected hf:NAME[:CONFIG], e.g. hf:ylecun/mnist")
    return name, config or None


def open_hub(source: str) -> Any:
    """``datasets.load_dataset`` of an ``hf:`` reference (a DatasetDict), mapping its errors.

    Raises:
        DataError: not cached while offline (saying how to fix it), not on the Hub, no
            such config, or the Hub cannot be reached.
    """
    datasets = need("datasets", _FEATURE)
    name, config = parse_ref(source)
    try:
        return datasets.load_dataset(name, config)
    except (ConnectionError, FileNotFoundError, ValueError, OSError) as exc:
        cache = datasets.config.HF_DATASETS_CACHE
        if datasets.config.HF_HUB_OFFLINE:
            raise DataError(
                f"{source}: not in the local datasets cache ({cache}) and offline mode is on "
                "(HF_DATASETS_OFFLINE/HF_HUB_OFFLINE=1); load it once with network access, or "
                "point HF_DATASETS_CACHE (or HF_HOME) at a cache that holds it"
            ) from None
        kind = type(exc).__name__
        raise DataError(f"{source}: cannot load from the Hub ({kind}: {one_line(exc)})") from None


def load_hub(source: str, **options: Any) -> RawData:
    """An ``hf:NAME[:CONFIG]`` dataset; see :func:`open_hub` and :func:`from_dataset`."""
    return from_dataset(open_hub(source), source, **options)


def dataset_parts(obj: Any, where: str) -> dict[str, Any]:
    """A Dataset or DatasetDict as ``{"all": ds}`` or its ``train``/``val``/``test`` splits."""
    if not hasattr(obj, "keys"):
        return {"all": obj}
    known = {SPLIT_NAMES[s]: obj[s] for s in obj if s in SPLIT_NAMES}
    if "train" in known:
        return known
    if len(obj) == 1:
        return {"all": next(iter(obj.values()))}
    raise DataError(
        f"{where}: splits {', '.join(obj)} include no 'train'; expected train, validation, test"
    )


def pick_columns(
    features: Any, where: str, label_column: str | None, feature_columns: list[str] | None
) -> tuple[str | None, str | None, list[str] | None]:
    """(the image column or None, the label column or None, the ClassLabel names or None)."""
    datasets = need("datasets", _FEATURE)
    image_cols = [c for c, f in features.items() if isinstance(f, datasets.Image)]
    class_cols = [c for c, f in features.items() if isinstance(f, datasets.ClassLabel)]
    if label_column is None and len(class_cols) == 1:
        label_column = class_cols[0]
    if label_column is not None and label_column not in features:
        raise DataError(f"{where}: no column {label_column!r}; columns: {', '.join(features)}")
    names = features[label_column].names if label_column in class_cols else None
    chosen = [c for c in image_cols if feature_columns is None or c in feature_columns]
    if feature_columns is None and len(chosen) > 1:
        raise DataError(
            f"{where}: several Image columns ({', '.join(chosen)}); pick one with "
            "feature_columns=[NAME]"
        )
    return (chosen[0] if chosen else None), label_column, names


def from_dataset(
    obj: Any,
    where: str,
    *,
    label_column: str | None = None,
    feature_columns: list[str] | None = None,
    image_size: tuple[int, int] | None = None,
    image_mode: str | None = None,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    quiet: bool = False,
) -> RawData:
    """A ``datasets.Dataset`` or ``DatasetDict`` read whole.

    Raises:
        DataError: see :func:`aezoo.data.sources.load_source`; also a ``ClassLabel`` of
            -1 (no label) in a labelled split.
    """
    pa = need("pyarrow", _FEATURE)
    parts = dataset_parts(obj, where)
    first = next(iter(parts.values()))
    image_col, label_column, names = pick_columns(
        first.features, where, label_column, feature_columns
    )
    tables = {s: ds.with_format("arrow")[:] for s, ds in parts.items()}
    whole = pa.concat_tables(list(tables.values()))
    lengths = [t.num_rows for t in tables.values()]
    if image_col is None:
        raw = _table.from_arrow(
            whole,
            where,
            label_column=label_column,
            feature_columns=feature_columns,
            label_names=names,
        )
        X, y = raw.parts["all"]
        raw.parts = _cut(X, y, parts, lengths)
        _check_labels(raw.parts, where)
        return raw
    y = None
    if label_column is not None:
        values = whole.column(label_column).to_numpy(zero_copy_only=False)
        y, names = (np.asarray(values, np.int64), names) if names else encode_labels(values, where)
        _check_labels(_cut(np.empty((len(y), 0)), y, parts, lengths), where)
    items = list(iter_image_items(parts, image_col, where))
    if y is not None and names is not None:
        items = [replace(item, label=names[k]) for item, k in zip(items, y, strict=True)]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    by_part = {s: items[a:b] for s, a, b in zip(parts, offsets[:-1], offsets[1:], strict=True)}
    return _images.from_items(
        by_part,
        where,
        image_size=image_size,
        image_mode=image_mode,
        max_image_pixels=max_image_pixels,
        quiet=quiet,
        class_names=names if y is not None else None,
    )


def iter_image_items(parts: dict[str, Any], image_col: str, where: str) -> Iterator[Any]:
    """The images of an ``Image`` column, split after split, read 256 rows at a time
    from the memory-mapped Arrow files (never decoded here)."""
    for s, ds in parts.items():
        i = 0
        for batch in ds.select_columns([image_col]).with_format("arrow").iter(256):
            column = batch.column(image_col).combine_chunks()
            for data, path in zip(
                column.field("bytes").to_pylist(), column.field("path").to_pylist(), strict=True
            ):
                name = f"{where}: {s} row {i}" + (f" ({path})" if path else "")
                yield _images.ImageItem(
                    name, path=Path(path) if data is None and path else None, data=data
                )
                i += 1


def _cut(
    X: np.ndarray, y: np.ndarray | None, parts: dict[str, Any], lengths: list[int]
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    out, start = {}, 0
    for s, n in zip(parts, lengths, strict=True):
        out[s] = (X[start : start + n], None if y is None else y[start : start + n])
        start += n
    return out


def _check_labels(parts: dict[str, tuple[np.ndarray, np.ndarray | None]], where: str) -> None:
    for s, (_, y) in parts.items():
        if y is not None and (y < 0).any():
            row = int(np.flatnonzero(y < 0)[0])
            part = f"{s} " if s != "all" else ""
            raise DataError(f"{where}: {part}row {row} has no label (ClassLabel -1)")
