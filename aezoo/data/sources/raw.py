"""What every source module returns (:class:`RawData`) and the checks they share.

The bottom of :mod:`aezoo.data.sources`: the per-kind modules (:mod:`.npy`, :mod:`.table`,
:mod:`.images`, :mod:`.hub`) and :mod:`.base` import it, never the other way round.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from aezoo.errors import DataError, MissingExtraError

SPLITS = ("train", "val", "test")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
ARRAY_SUFFIXES = (".npy", ".npz")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
ACCEPTED = (
    ".npy, .npz, .csv, .parquet, a folder of PNG/JPEG/BMP images, a directory written by "
    "datasets' save_to_disk, hf:NAME[:CONFIG], or a numpy array, (X, y) tuple, pandas "
    "DataFrame or pyarrow Table"
)
DEFAULT_MAX_IMAGE_PIXELS = 64_000_000  # per image; more is refused as a decompression bomb
_BUNDLED_DIR = Path(__file__).resolve().parents[2] / "pretrained"  # read, never imported


@dataclass
class RawData:
    """A source read whole, before checks and splits (what each source module returns).

    Attributes:
        kind: ``"table"`` or ``"images"``.
        parts: ``{"all": (X, y)}`` when the source has no splits of its own, else some of
            ``"train"``, ``"val"``, ``"test"``; X float32 ``(n, n_features)``; y int64 or None.
        where: the file or name that error messages cite.
        columns, class_names, image_shape: as in :class:`DataDescription`.
        header_lines: lines before the first data row (a CSV's header), so that errors can
            cite a line; None where lines mean nothing.
    """

    kind: Literal["table", "images"]
    parts: dict[str, tuple[np.ndarray, np.ndarray | None]]
    where: str
    columns: list[str] | None = None
    class_names: list[str] | None = None
    image_shape: tuple[int, int, int] | None = None
    header_lines: int | None = None


def one_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of a library's error message, at most ``limit`` characters, so that
    a DataError stays one line."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def need(module: str, feature: str) -> Any:
    """Import ``module`` lazily.

    Raises:
        MissingExtraError: the module is not installed; the message names ``[data]``.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = (exc.name or module).split(".")[0]
        raise MissingExtraError(feature, top, "data") from None


def encode_labels(values: np.ndarray, where: str) -> tuple[np.ndarray, list[str]]:
    """Labels -> (int64 indices into the sorted distinct values, their names as strings).

    Numbers sort numerically and integral floats print as integers (``1.0`` -> ``"1"``).

    Raises:
        DataError: a label is missing (NaN or None), naming its row.
    """
    values = np.asarray(values)
    if values.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DataError(f"{where}: label missing or not finite at row {bad[0]}")
        if np.all(values == np.round(values)):
            values = values.astype(np.int64)
    elif values.dtype.kind == "O":
        bad = [i for i, v in enumerate(values) if v is None]
        if bad:
            raise DataError(f"{where}: label missing at row {bad[0]}")
        values = values.astype(str)
    distinct, y = np.unique(values, return_inverse=True)
    return y.astype(np.int64).reshape(-1), [str(v) for v in distinct]


def check_finite(
    X: np.ndarray,
    where: str,
    columns: list[str] | None,
    header_lines: int | None,
    split: str,
    offset: int = 0,
    count: int | None = None,
) -> None:
    """Refuse NaN/infinite values of X, naming the first one's row and column and the count.

    Args:
        X: ``(n, n_features)``.
        where: the file or name to cite; ``split``: the part of the source X is
            (``"all"`` for a source without splits of its own).
        columns: feature names (else the column's index is cited).
        header_lines: lines before the first data row (cites a line when given).
        offset: the source's row index of X's first row (a streamed batch).
        count: the source's count of NaN/infinite values, where X is part of it.

    Raises:
        DataError: X holds NaN or infinity.
    """
    finite = np.isfinite(X)
    if finite.all():
        return
    count = int(X.size - np.count_nonzero(finite)) if count is None else count
    row, col = (int(i) for i in np.argwhere(~finite)[0])
    value, row = X[row, col], row + offset
    name = repr(columns[col]) if columns else str(col)
    line = f" (line {row + 1 + header_lines})" if header_lines is not None else ""
    in_split = f"split {split!r} " if split != "all" else ""
    raise DataError(
        f"{where}: {count} NaN/infinite value(s); the first at {in_split}row {row}{line}, "
        f"column {name} (value {value}); pass allow_missing=True to keep them for an "
        "imputer fitted on the training split"
    )


def slug(source: object) -> str:
    """A registry-safe name from a source: ``"digits.csv"`` -> ``"digits"``,
    ``"hf:ylecun/mnist"`` -> ``"mnist"``; never a bundled model's name (``-data`` appended)."""
    if isinstance(source, str) and source.startswith("hf:"):
        _, _, rest = source.partition(":")
        base = rest.split("/")[-1].replace(":", "-")
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        base = path.stem if path.suffix.lower() in ARRAY_SUFFIXES + TABLE_SUFFIXES else path.name
    else:
        base = "data"
    name = re.sub(r"[^a-z0-9]+", "-", str(base).lower()).strip("-")[:58] or "data"
    bundled = {p.name for p in _BUNDLED_DIR.iterdir()} if _BUNDLED_DIR.is_dir() else set()
    return f"{name}-data" if name in bundled else name
