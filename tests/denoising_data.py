"""A small stand-in for ../shared/data/denoising: smooth synthetic grayscale PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """uint8 (h, w): a few random gradients and discs, piecewise smooth like a photograph."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    im = 0.5 + 0.3 * (rng.uniform(-1, 1) * yy + rng.uniform(-1, 1) * xx)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.3)
        im = im + rng.uniform(-0.3, 0.3) * (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r)
    return (np.clip(im, 0, 1) * 255).round().astype(np.uint8)


def make_denoising_dir(root: Path, n_train: int = 12, n_test: int = 3) -> Path:
    """``root/train400`` (100 x 100 images) and ``root/bsd68`` (70 x 90), seeded."""
    rng = np.random.default_rng(0)
    for split, n, (h, w) in (("train400", n_train, (100, 100)), ("bsd68", n_test, (70, 90))):
        (root / split).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(smooth_image(rng, h, w)).save(root / split / f"img{i:03d}.png")
    return root
