"""numpy sources: ``.npy`` (X only), ``.npz`` (``X``, optional ``y``) and in-memory arrays.

ADBench's files (Han et al., NeurIPS 2022) are ``.npz`` with ``X`` float64 and ``y`` int
(1 = anomaly, 0 = normal) and load as any other: class names ``["0", "1"]``.
Nothing is unpickled (``allow_pickle=False``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from aezoo.data.sources.raw import RawData, encode_labels, one_line
from aezoo.errors import DataError


def as_features(X: np.ndarray, where: str) -> np.ndarray:
    """X as float32 ``(n, n_features)``.

    Raises:
        DataError: X is not 2-D or not numeric.
    """
    if X.ndim != 2:
        raise DataError(
            f"{where}: X has shape {X.shape}; expected 2 dimensions (n_samples, n_features) "
            "(reshape images to (n, C*H*W) or give a folder of images)"
        )
    if X.dtype.kind not in "biuf":
        raise DataError(f"{where}: X has dtype {X.dtype}; expected numbers")
    return np.ascontiguousarray(X, dtype=np.float32)


def from_arrays(X: np.ndarray, y: Any, where: str) -> RawData:
    """An ``(n, n_features)`` array and optional labels ``(n,)`` of any sortable values.

    Raises:
        DataError: bad shapes or dtypes, or X and y disagree in rows.
    """
    X = as_features(np.asarray(X), where)
    if y is None:
        return RawData("table", {"all": (X, None)}, where)
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DataError(f"{where}: y has shape {y.shape}; expected ({X.shape[0]},) to match X")
    y_idx, names = encode_labels(y, where)
    return RawData("table", {"all": (X, y_idx)}, where, class_names=names)


def load_file(path: Path) -> RawData:
    """Read a ``.npy`` or ``.npz`` file whole (:mod:`.stream` memory-maps ``.npy`` instead).

    Raises:
        DataError: unreadable file, an object array, an ``.npz`` without ``X``.
    """
    where = str(path)
    try:
        if path.suffix.lower() == ".npy":
            return from_arrays(np.load(path, allow_pickle=False), None, where)
        with np.load(path, allow_pickle=False) as loaded:
            if "X" not in loaded.files:
                raise DataError(f"{where}: no array 'X' (holds {', '.join(loaded.files)})")
            X, y = loaded["X"], loaded["y"] if "y" in loaded.files else None
    except DataError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{where}: not a readable {path.suffix} file ({one_line(exc)})") from None
    return from_arrays(X, y, where)
