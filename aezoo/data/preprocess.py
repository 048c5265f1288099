"""Per-feature scaling of a table, fitted on the training split only (numpy).

Three methods (:data:`SCALING_METHODS`): ``"minmax"`` maps the training data to [0, 1];
``"standard"`` z-scores each feature; ``"standard-floor"`` z-scores with a floor on the
scale, ``scale = max(std, STD_FLOOR * median of the per-feature stds)`` (the median over
every feature, constant ones included). The floor is for tables with near-constant
columns (optdigits: pixels that are almost always 0): plain z-scoring divides by a tiny
std, so one rare value in such a column becomes a z of hundreds and dominates a squared
reconstruction error; with the floor that column is measured in the table's typical unit
instead. Columns whose std is above the floor are z-scored exactly as by ``"standard"``.

The fitted ``offset`` and ``scale`` become buffers of the model
(:class:`aezoo.models.scaled.ScaledAutoEncoder`), so that every runtime applies
``(x - offset) / scale`` inside the ONNX graphs; here they are only computed, and applied
to the splits the trainer sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np

ScalingMethod = Literal["minmax", "standard", "standard-floor"]
SCALING_METHODS: tuple[ScalingMethod, ...] = ("minmax", "standard", "standard-floor")
STD_FLOOR = 0.1  # standard-floor: scale >= STD_FLOOR * the median per-feature std
_CHUNK_BYTES = 8 * 2**20  # float64 bytes of the rows read at once (a memmap never whole)


def fit_scaling(X: np.ndarray, method: ScalingMethod = "minmax") -> tuple[np.ndarray, np.ndarray]:
    """``offset`` and ``scale`` of each column of the training data ``X``.

    Args:
        X: float ``(n_samples, n_features)``, finite, ``n_samples >= 1``; read in chunks of
            rows (a ``numpy.memmap`` never whole in memory). Standard scaling takes a second
            pass (squares about the mean: no cancellation).
        method: ``"minmax"`` (offset = min, scale = max - min: the training data maps to
            [0, 1]), ``"standard"`` (offset = mean, scale = population std) or
            ``"standard-floor"`` (offset = mean, scale = ``max(std, STD_FLOOR * median(std))``
            with the median over all ``n_features`` stds, zeros included; module docstring).

    Returns:
        ``(offset, scale)``: float32 ``(n_features,)`` each; a column still constant after
        the floor (scale 0 to float32 precision) gets ``scale = 1`` (it maps to 0 instead of
        dividing by zero). Computed in float64.

    Raises:
        ValueError: ``X`` not 2-D, empty or not finite; unknown ``method``.
    """
    if not isinstance(X, np.memmap):
        X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be (n_samples >= 1, n_features), got shape {X.shape}")
    if method not in SCALING_METHODS:
        raise ValueError(f"unknown scaling {method!r}; known: {', '.join(SCALING_METHODS)}")
    lo = hi = total = sq = None
    n = len(X)
    for C in _chunks(X, np.float64):
        if not np.isfinite(C).all():
            raise ValueError("X holds NaN or infinity; scaling is fitted on finite data only")
        c_lo, c_hi = C.min(axis=0), C.max(axis=0)
        lo = c_lo if lo is None else np.minimum(lo, c_lo)
        hi = c_hi if hi is None else np.maximum(hi, c_hi)
        total = C.sum(axis=0) if total is None else total + C.sum(axis=0)
    if method == "minmax":
        offset, scale = lo, hi - lo
    else:
        offset = total / n
        for C in _chunks(X, np.float64):  # second pass: squares about the mean
            D2 = (C - offset) ** 2
            sq = D2.sum(axis=0) if sq is None else sq + D2.sum(axis=0)
        scale = np.sqrt(sq / n)
        if method == "standard-floor":
            scale = np.maximum(scale, STD_FLOOR * np.median(scale))
    # constant (to float32 precision) columns: leave unscaled
    tiny = scale <= np.finfo(np.float32).eps * np.maximum(np.abs(offset), 1.0)
    scale = np.where(tiny, 1.0, scale)
    return offset.astype(np.float32), scale.astype(np.float32)


def _chunks(X: np.ndarray, dtype: type) -> Iterator[np.ndarray]:
    """Row chunks of ``X`` as ``dtype``; a memmap's are read with plain file reads, so its
    pages never stay mapped (they would count in the process's resident memory)."""
    width = X.shape[1]
    step = max(1, _CHUNK_BYTES // (8 * width))
    if not isinstance(X, np.memmap) or X.filename is None:
        for start in range(0, len(X), step):
            yield np.asarray(X[start : start + step], dtype=dtype)
        return
    with open(X.filename, "rb") as f:
        f.seek(int(X.offset))
        for start in range(0, len(X), step):
            rows = min(step, len(X) - start)
            data = np.fromfile(f, X.dtype, rows * width).reshape(rows, width)
            yield data.astype(dtype, copy=False)


def fit_fill(X: np.ndarray) -> np.ndarray:
    """Each column's mean over its finite values: what a missing (NaN or infinite) value of
    that column becomes (``--allow-missing``), fitted on the training split only.

    Args:
        X: float ``(n_samples, n_features)``, read in chunks (a memmap never whole).

    Returns:
        float32 ``(n_features,)``; 0 for a column with no finite value.
    """
    total = count = None
    for C in _chunks(X, np.float64):
        ok = np.isfinite(C)
        s, c = np.where(ok, C, 0.0).sum(axis=0), ok.sum(axis=0)
        total, count = (s, c) if total is None else (total + s, count + c)
    if total is None:
        raise ValueError("X has no rows")
    return np.where(count > 0, total / np.maximum(count, 1), 0.0).astype(np.float32)


def fill_missing(X: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """X with every NaN or infinite value replaced by its column's ``fill``, float32; a
    memmap is written chunk by chunk to ``<file>.filled`` and returned as a memmap of it."""
    return _map_rows(X, lambda C: np.where(np.isfinite(C), C, fill), "filled")


def apply_scaling(X: np.ndarray, offset: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(X - offset) / scale`` as float32 ``(n_samples, n_features)``.

    A ``numpy.memmap`` X (a training split on disk) is scaled into a new file beside it,
    ``<file>.scaled``, a chunk at a time, and returned as a read-only memmap of that file:
    memory stays one chunk.
    """
    return _map_rows(X, lambda C: (C - offset) / scale, "scaled")


def _map_rows(X: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], suffix: str) -> np.ndarray:
    """``fn`` of the float32 rows of X, as float32; a memmap chunk by chunk into a new file
    ``<file>.<suffix>``, returned as a read-only memmap of it."""
    if not isinstance(X, np.memmap) or X.filename is None:
        return fn(np.asarray(X, dtype=np.float32)).astype(np.float32)
    path = f"{X.filename}.{suffix}"
    with open(path, "wb") as f:
        for C in _chunks(X, np.float32):
            f.write(fn(C).astype(np.float32).tobytes())
    return np.memmap(path, np.float32, "r", shape=X.shape)
