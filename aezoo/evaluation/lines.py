"""Mean Distance and Smoothness of interpolated lines (Berthelot et al., arXiv:1807.07543, §4).

The images are those of :mod:`aezoo.data.lines` (32x32, values in [-1, 1]).

Metrics (§4 of the paper; details as in the official evaluation code):

* the 10,000 "true" lines have angles ``2 pi k / 10000``, ``k = 0..9999``;
* each decoded frame is matched to its nearest true line by cosine distance
  ``1 - <a, b> / (|a| |b|)`` on the raw values (no centring);
* **Mean Distance** is the mean of those minimum distances over every frame;
* **Smoothness** of one interpolation of N frames: the nearest-line angles are
  unwrapped along the frames (``numpy.unwrap``: a step larger than pi in
  magnitude is taken the other way round the circle, starting from the first
  frame), then ``max_i |theta_{i+1} - theta_i| / |theta_{N-1} - theta_0| - 1/(N-1)``.
  0 means perfectly even steps; a single jump from start to end scores
  ``1 - 1/(N-1)``. When ``|theta_end - theta_start| < 1e-4`` (the decoded ends
  match the same line) the score is undefined; as in the official code such a
  pair is left out of the sum but still counted in the denominator of the
  average (it contributes 0), and the average is NaN when every pair is
  undefined. The number of undefined pairs is reported alongside.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from aezoo.data.lines import SIZE, render_lines

N_REFERENCE = 10_000  # evenly spaced true lines for the metrics
UNDEFINED_TOL = 1e-4  # |theta_end - theta_start| below this: smoothness undefined


@lru_cache(maxsize=1)
def _reference() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 true lines, unit-normalised ``(1024, 10000)`` float32, and their angles."""
    angles = 2 * np.pi * np.arange(N_REFERENCE) / N_REFERENCE
    ref = render_lines(angles)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    return np.ascontiguousarray(ref.T), angles


def nearest_lines(images: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distance to, and angle of, the nearest of the 10,000 true lines.

    Args:
        images: float ``(n, 1024)``.

    Returns:
        ``(distance, angle)``: float64 ``(n,)`` each; distance in [0, 2], angle in [0, 2 pi).

    Raises:
        ValueError: images not of shape ``(n, 1024)``.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 2 or images.shape[1] != SIZE * SIZE:
        raise ValueError(f"images must have shape (n, {SIZE * SIZE}), got {images.shape}")
    ref, ref_angles = _reference()
    norms = np.linalg.norm(images, axis=1, keepdims=True)
    unit = images / np.maximum(norms, 1e-12)  # an all-zero frame has distance 1 to every line
    dist, idx = np.empty(len(images)), np.empty(len(images), dtype=np.int64)
    for i in range(0, len(images), chunk):
        sim = unit[i : i + chunk] @ ref  # (chunk, 10000) cosine similarity
        j = sim.argmax(axis=1)
        idx[i : i + chunk] = j
        best = sim[np.arange(len(j)), j].astype(np.float64)
        dist[i : i + chunk] = np.clip(1.0 - best, 0.0, 2.0)  # float32 rounding can dip below 0
    return dist, ref_angles[idx]


def smoothness(angles: np.ndarray) -> np.ndarray:
    """Smoothness of each interpolation from its frames' nearest-line angles.

    Args:
        angles: ``(n_pairs, N)`` radians, ``N >= 2``.

    Returns:
        float64 ``(n_pairs,)``: ``max |delta theta| / |theta_end - theta_start| - 1/(N - 1)``
        on the unwrapped angles; NaN where ``|theta_end - theta_start| < 1e-4``.
    """
    angles = np.unwrap(np.atleast_2d(np.asarray(angles, dtype=np.float64)), axis=-1)
    if angles.shape[1] < 2:
        raise ValueError(f"need >= 2 frames per interpolation, got {angles.shape[1]}")
    steps = np.abs(np.diff(angles, axis=-1))  # (n_pairs, N - 1)
    total = np.abs(angles[:, -1] - angles[:, 0])  # (n_pairs,)
    out = np.full(len(angles), np.nan)
    ok = total >= UNDEFINED_TOL
    out[ok] = steps[ok].max(axis=-1) / total[ok] - 1.0 / (angles.shape[1] - 1)
    return out


def lines_metrics(frames: np.ndarray) -> dict[str, float]:
    """Mean Distance and Smoothness of decoded interpolations (ACAI §4), averaged over pairs.

    Args:
        frames: float ``(n_pairs, N, 1024)``, frame 0 the start and frame N-1 the end.

    Returns:
        ``{"mean_distance", "smoothness", "n_undefined"}``: mean nearest-line cosine
        distance over all frames; mean smoothness over pairs (undefined pairs count 0,
        NaN if all are undefined; see the module docstring); how many were undefined.

    Raises:
        ValueError: frames not of shape ``(n_pairs, N, 1024)`` with ``N >= 2``.
    """
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 3 or frames.shape[2] != SIZE * SIZE or frames.shape[1] < 2:
        raise ValueError(f"frames must have shape (n_pairs, N >= 2, 1024), got {frames.shape}")
    n_pairs, n_steps = frames.shape[:2]
    dist, angles = nearest_lines(frames.reshape(-1, SIZE * SIZE))
    scores = smoothness(angles.reshape(n_pairs, n_steps))
    undefined = np.isnan(scores)
    smooth = float("nan") if undefined.all() else float(scores[~undefined].sum() / n_pairs)
    return {
        "mean_distance": float(dist.mean()),
        "smoothness": smooth,
        "n_undefined": int(undefined.sum()),
    }
