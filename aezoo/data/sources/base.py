"""The one interface of user data: :func:`load_source` -> :class:`LoadedData`.

Orientation (as everywhere in aezoo): ``X`` is float32 of shape ``(n_samples, n_features)``,
C-contiguous; images are flattened channel-first ``(C, H, W)`` row-major with pixels scaled
to [0, 1] as ``uint8 / 255``. Labels ``y`` are int64 of shape ``(n_samples,)``, indices into
``class_names``, or None for unlabelled data.

Each kind of source has its module (:mod:`.npy`, :mod:`.table`, :mod:`.images`, :mod:`.hub`)
that turns the source into a :class:`~aezoo.data.sources.raw.RawData`; this module checks it
(labels, NaN, rows), splits it (:mod:`.splits`) and describes it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from aezoo.data.fingerprint import data_fingerprint
from aezoo.data.sources import hub, images, npy, table
from aezoo.data.sources import splits as _splits
from aezoo.data.sources.raw import (
    ACCEPTED,
    ARRAY_SUFFIXES,
    DEFAULT_MAX_IMAGE_PIXELS,
    SPLITS,
    TABLE_SUFFIXES,
    RawData,
    check_finite,
    slug,
)
from aezoo.errors import ConfigError, DataError


@dataclass(frozen=True)
class DataDescription:
    """What a model's card and ``training.json`` record about its data (never the data).

    Attributes:
        source: what the user passed (a path, ``"hf:NAME[:CONFIG]"`` or ``"<array>"``).
        kind: ``"table"`` or ``"images"``.
        n_features: values in one flattened sample (``C * H * W`` for images).
        image_shape: ``(channels, height, width)`` for images, else None.
        columns: feature column names of a table (None for images).
        class_names: label names in index order, None when unlabelled.
        rows: rows per split, ``{"train": .., "val": .., "test": ..}``.
        content_hash: sha256 hex over the splits' X and y (:func:`data_fingerprint`).
        split_protocol: one sentence: how the splits were made.
        name: a registry-safe slug suggested from the source (``[a-z0-9-]``), never the
            name of a bundled model.
        n_missing: NaN/infinite values let through by ``allow_missing`` (0 otherwise).
    """

    source: str
    kind: Literal["table", "images"]
    n_features: int
    image_shape: tuple[int, int, int] | None
    columns: list[str] | None
    class_names: list[str] | None
    rows: dict[str, int]
    content_hash: str
    split_protocol: str
    name: str
    n_missing: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (``image_shape`` as a list)."""
        out = asdict(self)
        out["image_shape"] = list(self.image_shape) if self.image_shape else None
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DataDescription:
        """The inverse of :meth:`to_json` (a card's or ``training.json``'s record)."""
        shape = data.get("image_shape")
        return cls(**{**data, "image_shape": tuple(shape) if shape else None})


@dataclass
class LoadedData:
    """The splits of one source and their description.

    Attributes:
        splits: ``"train"``, ``"val"``, ``"test"`` -> ``(X, y)``: X float32 C-contiguous of
            shape ``(n, n_features)``; y int64 of shape ``(n,)`` (indices into
            ``description.class_names``) or None when unlabelled.
        description: the :class:`DataDescription`.
    """

    splits: dict[str, tuple[np.ndarray, np.ndarray | None]]
    description: DataDescription

    def train_full(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``train`` and ``val`` together (in that order), for a final fit after model
        selection: X float32 ``(n_train + n_val, n_features)``, y int64 or None."""
        (Xt, yt), (Xv, yv) = self.splits["train"], self.splits["val"]
        y = None if yt is None or yv is None else np.concatenate([yt, yv])
        return np.concatenate([Xt, Xv]), y


_TABLE_OPTIONS = ("label_column", "feature_columns")
_IMAGE_OPTIONS = ("image_size", "image_mode")


def _refuse(options: dict[str, Any], names: tuple[str, ...], what: str) -> None:
    """ConfigError for an option the source cannot use (rather than ignoring it)."""
    given = [n for n in names if options[n] is not None]
    if given:
        raise ConfigError(f"{', '.join(given)} cannot apply to {what}")


def _read(source: Any, options: dict[str, Any]) -> RawData:
    """Dispatch ``source`` to the module of its kind."""
    module = type(source).__module__.split(".")[0]
    flat = {**options["table"], **options["images"]}
    if isinstance(source, (np.ndarray, tuple)):
        _refuse(flat, _TABLE_OPTIONS + _IMAGE_OPTIONS, "an in-memory array")
        if isinstance(source, np.ndarray):
            return npy.from_arrays(source, None, "<array>")
        if len(source) == 2:
            return npy.from_arrays(np.asarray(source[0]), source[1], "<array>")
    if module in ("pandas", "pyarrow"):
        _refuse(flat, _IMAGE_OPTIONS, "a table")
        arrow = table.arrow_of_pandas(source) if module == "pandas" else source
        return table.from_arrow(arrow, f"<{module} table>", **options["table"])
    if module == "datasets":
        return hub.from_dataset(source, "<datasets object>", **options["hub"])
    if isinstance(source, str) and source.startswith("hf:"):
        return hub.load_hub(source, **options["hub"])
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(f"unsupported source of type {type(source).__name__}; expected {ACCEPTED}")
    path = Path(source).expanduser()
    if path.is_dir():
        if hub.is_saved_dataset(path):
            return hub.load_disk(path, **options["hub"])
        _refuse(flat, _TABLE_OPTIONS, f"an image folder ({path})")
        return images.load_folder(path, **options["images"])
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in ARRAY_SUFFIXES:
        _refuse(flat, _TABLE_OPTIONS + _IMAGE_OPTIONS, f"a {suffix} file ({path})")
        return npy.load_file(path)
    if suffix in TABLE_SUFFIXES:
        _refuse(flat, _IMAGE_OPTIONS, f"a table ({path})")
        return table.load_file(path, **options["table"])
    raise DataError(f"{path}: unknown file type {suffix or '(none)'!r}; accepted: {ACCEPTED}")


def load_source(
    source: Any,
    *,
    label_column: str | None = None,
    feature_columns: list[str] | None = None,
    image_size: tuple[int, int] | None = None,
    image_mode: Literal["L", "RGB"] | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    allow_missing: bool = False,
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    quiet: bool = False,
) -> LoadedData:
    """Read a user's data source whole, check it and split it.

    Args:
        source: a path (``.npy`` X only; ``.npz`` with ``X`` and optional ``y``, ADBench's
            files included; ``.csv``; ``.parquet``; a folder of PNG/JPEG/BMP images; a
            directory written by ``datasets``' ``save_to_disk``), ``"hf:NAME[:CONFIG]"``
            (``datasets.load_dataset``, its cache and offline mode), or in memory: a numpy
            array ``(n, n_features)``, an ``(X, y)`` tuple, a pandas DataFrame, a pyarrow Table.
        label_column: the label column of a table (its sorted distinct values become
            ``class_names``); a Hub dataset's single ``ClassLabel`` column is used unasked.
        feature_columns: the feature columns of a table; default every numeric column
            except the label.
        image_size: ``(height, width)`` to resize every image to (Pillow, bilinear).
        image_mode: ``"L"`` (grayscale) or ``"RGB"``; default ``"L"`` when every image is
            grayscale, else ``"RGB"``.
        seed: seeds the split permutation (same seed, same splits).
        val_fraction, test_fraction: shares of the rows for validation and test, in [0, 1),
            where the source has no splits of its own (stratified by label when labelled).
        allow_missing: keep NaN/infinite values (``description.n_missing`` counts them) for
            an imputer fitted on the training split; by default they are refused.
        max_image_pixels: the most pixels one image may have (decompression bombs).
        quiet: no progress bar while decoding images.

    Returns:
        :class:`LoadedData`: ``splits`` ``"train"``, ``"val"``, ``"test"``, each ``(X, y)``
        with X float32 C-contiguous ``(n, n_features)`` and y int64 ``(n,)`` or None.

    Raises:
        DataError: one line naming the file, line or column: an unknown file type, a ragged
            or non-numeric CSV, NaN/infinity without ``allow_missing``, an empty image
            folder, images of mixed sizes without ``image_size``, a corrupt or oversized
            image, labels of one class only, fewer rows than 3 or than the splits need, a
            Hub name not cached while offline.
        ConfigError: a fraction outside [0, 1) or fractions summing to 1 or more; an
            ``image_mode`` other than ``"L"``/``"RGB"``; a bad ``image_size``; an option
            the source cannot use (``label_column`` for an image folder or an ``.npz``,
            ``image_size`` for a table).
        MissingExtraError: pyarrow, Pillow, pandas or datasets is not installed (``[data]``).
    """
    _splits.check_fractions(val_fraction, test_fraction)
    options = {
        "table": {"label_column": label_column, "feature_columns": feature_columns},
        "images": {
            "image_size": image_size,
            "image_mode": image_mode,
            "max_image_pixels": max_image_pixels,
            "quiet": quiet,
        },
    }
    options["hub"] = {**options["table"], **options["images"]}
    raw = _read(source, options)
    return finish(raw, source, seed, val_fraction, test_fraction, allow_missing)


def finish(
    raw: RawData,
    source: Any,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    allow_missing: bool,
) -> LoadedData:
    """Check ``raw`` (labels, NaN, rows), split it and describe it."""
    labelled = all(y is not None for _, y in raw.parts.values())
    if labelled and raw.class_names is not None:
        seen = np.unique(np.concatenate([y for _, y in raw.parts.values()]))  # type: ignore[misc]
        if seen.size < 2:
            only = raw.class_names[int(seen[0])] if seen.size else "none"
            raise DataError(
                f"{raw.where}: the labels hold one class only ({only!r}); a label needs at "
                "least two classes (or drop label_column for unlabelled data)"
            )
    n_missing = 0
    for part, (X, _) in raw.parts.items():
        if not allow_missing:
            check_finite(X, raw.where, raw.columns, raw.header_lines, part)
        else:
            n_missing += int(X.size - np.count_nonzero(np.isfinite(X)))
    out, protocol = _splits.make_splits(
        raw.parts, raw.where, seed, val_fraction, test_fraction, stratify=labelled
    )
    out = {
        s: (
            np.ascontiguousarray(X, dtype=np.float32),
            None if y is None or not labelled else np.ascontiguousarray(y, dtype=np.int64),
        )
        for s, (X, y) in ((s, out[s]) for s in SPLITS)
    }
    arrays = [a for s in SPLITS for a in out[s] if a is not None]
    X0 = out["train"][0]
    description = DataDescription(
        source=str(source) if isinstance(source, (str, os.PathLike)) else "<array>",
        kind=raw.kind,
        n_features=int(X0.shape[1]),
        image_shape=raw.image_shape,
        columns=raw.columns,
        class_names=raw.class_names if labelled else None,
        rows={s: int(out[s][0].shape[0]) for s in SPLITS},
        content_hash=data_fingerprint(*arrays),
        split_protocol=protocol,
        name=slug(source),
        n_missing=n_missing,
    )
    return LoadedData(splits=out, description=description)
