"""Figures for model cards, drawn with Pillow: image grids of filters and samples."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def tile(
    images: np.ndarray, ncols: int, scale: int = 2, pad: int = 1, per_image_norm: bool = False
) -> bytes:
    """PNG bytes of a grid of grayscale images.

    Args:
        images: ``(n, h, w)`` floats; values in [0, 1] unless ``per_image_norm``.
        ncols: images per row.
        scale: nearest-neighbour upscaling factor.
        pad: pixels of mid-gray between tiles.
        per_image_norm: rescale each image to its own [min, max] (for filters).
    """
    imgs = np.asarray(images, dtype=np.float64)
    if per_image_norm:
        lo = imgs.min(axis=(1, 2), keepdims=True)
        hi = imgs.max(axis=(1, 2), keepdims=True)
        imgs = (imgs - lo) / np.maximum(hi - lo, 1e-12)
    imgs = np.clip(imgs, 0.0, 1.0)
    n, h, w = imgs.shape
    nrows = -(-n // ncols)
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), 0.5)
    for i in range(n):
        r, c = divmod(i, ncols)
        grid[
            pad + r * (h + pad) : pad + r * (h + pad) + h,
            pad + c * (w + pad) : pad + c * (w + pad) + w,
        ] = imgs[i]
    img = Image.fromarray((grid * 255).round().astype(np.uint8), mode="L")
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def filters_figure(weights: np.ndarray, shape: tuple[int, int], n: int = 100) -> bytes:
    """First-layer filters: rows of ``weights`` ``(n_hidden, n_features)`` as images."""
    w = weights[:n].reshape(-1, *shape)
    return tile(w, ncols=10, per_image_norm=True)


def rows_figure(
    rows: list[np.ndarray], shape: tuple[int, int], value_range: tuple[float, float] = (0.0, 1.0)
) -> bytes:
    """Stack equal-length batches ``(k, n_features)`` as rows of a grid (e.g. clean/noisy/denoised).

    ``value_range`` maps to black..white (values outside are clipped).
    """
    k = rows[0].shape[0]
    lo, hi = value_range
    images = (np.concatenate(rows).reshape(-1, *shape) - lo) / (hi - lo)
    return tile(images, ncols=k)
