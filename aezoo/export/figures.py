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


CURVE_KEYS = (
    "loss",
    "val_error",
    "val_mse",
    "val_recon",
    "val_energy",
    "val_psnr",
)  # what a card plots


def curves_figure(history: list[dict], width: int = 560, height: int = 320) -> bytes | None:
    """Training curves: each of :data:`CURVE_KEYS` found in ``history`` against the epoch.

    Args:
        history: the trainer's per-epoch records (``{"stage", "epoch", "loss", ...}``), in
            order; epochs of successive stages follow each other on the x axis, and a
            vertical line marks each stage change.

    Returns:
        PNG bytes; each curve is divided by its largest value (so all share one 0-1 axis,
        the legend gives that value), or None when ``history`` has under two epochs.
    """
    from PIL import ImageDraw

    series = {
        k: np.array([r.get(k, np.nan) for r in history], dtype=np.float64)
        for k in CURVE_KEYS
        if sum(k in r for r in history) >= 2
    }
    n = len(history)
    if n < 2 or not series:
        return None
    colors = [(0, 0, 0), (200, 40, 40), (40, 90, 200), (30, 140, 60), (150, 60, 170)]
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    left, right, top, bottom = 40, width - 15, 15, height - 35

    def xy(t: int, v: float) -> tuple[float, float]:
        return left + (right - left) * t / (n - 1), bottom - (bottom - top) * v

    draw.line([(left, top), (left, bottom), (right, bottom)], fill=(0, 0, 0))
    for t in range(1, n):
        if history[t].get("stage") != history[t - 1].get("stage"):
            draw.line([xy(t, 0.0), xy(t, 1.0)], fill=(180, 180, 180))
    for v in (0.0, 0.5, 1.0):
        draw.text((5, xy(0, v)[1] - 6), f"{v:.1f}", fill=(0, 0, 0))
    draw.text(
        ((left + right) // 2 - 60, bottom + 12), f"epoch (1..{n}, all stages)", fill=(0, 0, 0)
    )
    for i, (name, v) in enumerate(series.items()):
        peak = float(np.nanmax(np.abs(v))) or 1.0
        points = [xy(t, float(v[t]) / peak) for t in range(n) if np.isfinite(v[t])]
        color = colors[i % len(colors)]
        if len(points) >= 2:
            draw.line(points, fill=color, width=2)
        draw.text((right - 200, top + 14 * i), f"{name} / {peak:.4g}", fill=color)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
