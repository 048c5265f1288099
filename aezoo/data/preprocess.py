"""Per-feature scaling of a table, fitted on the training split only (numpy).

The fitted ``offset`` and ``scale`` become buffers of the model
(:class:`aezoo.models.scaled.ScaledAutoEncoder`), so that every runtime applies
``(x - offset) / scale`` inside the ONNX graphs; here they are only computed, and applied
to the splits the trainer sees.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

ScalingMethod = Literal["minmax", "standard"]
SCALING_METHODS: tuple[ScalingMethod, ...] = ("minmax", "standard")


def fit_scaling(X: np.ndarray, method: ScalingMethod = "minmax") -> tuple[np.ndarray, np.ndarray]:
    """``offset`` and ``scale`` of each column of the training data ``X``.

    Args:
        X: float ``(n_samples, n_features)``, finite, ``n_samples >= 1``.
        method: ``"minmax"`` (offset = min, scale = max - min: the training data maps to
            [0, 1]) or ``"standard"`` (offset = mean, scale = population std).

    Returns:
        ``(offset, scale)``: float32 ``(n_features,)`` each; a constant column gets
        ``scale = 1`` (it maps to 0 instead of dividing by zero). Computed in float64.

    Raises:
        ValueError: ``X`` not 2-D, empty or not finite; unknown ``method``.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be (n_samples >= 1, n_features), got shape {X.shape}")
    if method not in SCALING_METHODS:
        raise ValueError(f"unknown scaling {method!r}; known: {', '.join(SCALING_METHODS)}")
    X64 = X.astype(np.float64)
    if not np.isfinite(X64).all():
        raise ValueError("X holds NaN or infinity; scaling is fitted on finite data only")
    if method == "minmax":
        offset = X64.min(axis=0)
        scale = X64.max(axis=0) - offset
    else:
        offset = X64.mean(axis=0)
        scale = X64.std(axis=0)
    # constant (to float32 precision) columns: leave unscaled
    tiny = scale <= np.finfo(np.float32).eps * np.maximum(np.abs(offset), 1.0)
    scale = np.where(tiny, 1.0, scale)
    return offset.astype(np.float32), scale.astype(np.float32)


def apply_scaling(X: np.ndarray, offset: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(X - offset) / scale`` as float32 ``(n_samples, n_features)``."""
    return ((np.asarray(X, dtype=np.float32) - offset) / scale).astype(np.float32)
