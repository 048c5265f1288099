"""The synthetic "lines" benchmark of ACAI (Berthelot et al., arXiv:1807.07543, §4).

Images are 32x32 (flattened row-major to 1024 values), each a single line from
the image centre, 15 px long and 2 px wide, at an angle drawn uniformly from
[0, 2 pi); values are in [-1, 1] with background -1 and the line at +1.

Rendering (exact; ours, not a copy of the official rasteriser):

* pixel ``(row r, col c)`` has its centre at ``(x, y) = (c + 0.5, r + 0.5)``;
  the image centre is ``(16, 16)``, a pixel corner;
* the line is the segment from the centre to
  ``(16 + 15 cos(theta), 16 - 15 sin(theta))``: angle 0 points right and angles
  grow counter-clockwise as seen on screen (rows grow downwards);
* ``d`` is the Euclidean distance from a pixel centre to that segment (so both
  ends are rounded), ``coverage = clip(1.5 - d, 0, 1)``: full within 0.5 px
  of the segment, a linear 1-px fall-off to 0 at 1.5 px. Integrated across the
  line this is exactly 2 px of ink (the width);
* ``value = 2 * coverage - 1``.

The interpolation metrics on these images live in :mod:`aezoo.evaluation.lines`.
"""

from __future__ import annotations

import numpy as np

SIZE = 32  # image side in pixels
LENGTH = 15.0  # line length in pixels, from the centre
WIDTH = 2.0  # line width in pixels


def render_lines(angles: np.ndarray) -> np.ndarray:
    """Render lines from the image centre at the given angles.

    Args:
        angles: float array of shape ``(n,)`` in radians (any real value; taken mod 2 pi).

    Returns:
        float32 array of shape ``(n, 1024)``: row-major 32x32 images in [-1, 1],
        background -1 (see the module docstring for the exact rendering).
    """
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    centre = SIZE / 2
    grid = np.arange(SIZE) + 0.5
    px, py = np.meshgrid(grid, grid)  # (32, 32) each: x = column, y = row
    px, py = px.reshape(1, -1) - centre, py.reshape(1, -1) - centre  # (1, 1024)
    ux, uy = np.cos(angles)[:, None], -np.sin(angles)[:, None]  # (n, 1) unit direction
    t = np.clip(px * ux + py * uy, 0.0, LENGTH)  # (n, 1024) projection onto the segment
    d = np.hypot(px - t * ux, py - t * uy)  # (n, 1024) distance to the segment
    coverage = np.clip(WIDTH / 2 + 0.5 - d, 0.0, 1.0)
    return (2.0 * coverage - 1.0).astype(np.float32)


def make_lines(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A lines data set: ``n`` images at angles uniform in [0, 2 pi).

    Returns:
        ``(X, angles)``: float32 ``(n, 1024)`` in [-1, 1] and float64 ``(n,)`` radians.

    Raises:
        ValueError: ``n < 0``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    angles = np.random.default_rng(seed).uniform(0.0, 2 * np.pi, size=n)
    return render_lines(angles), angles


def interpolation_pairs(
    n_pairs: int = 16, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and end images of the interpolations the metrics are averaged over (paper: 16).

    Returns:
        ``(x_start, x_end, angles)``: float32 ``(n_pairs, 1024)`` twice and float64
        ``(n_pairs, 2)`` with the start and end angles in [0, 2 pi).
    """
    X, angles = make_lines(2 * n_pairs, seed)
    return X[:n_pairs], X[n_pairs:], np.stack([angles[:n_pairs], angles[n_pairs:]], axis=1)
