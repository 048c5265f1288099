"""The grayscale Gaussian-denoising image sets: Train400 and BSD68 (DnCNN's copies).

Layout (``/work/shared/data/denoising/README.md``): ``<root>/train400/*.png`` (400 images,
180 x 180) and ``<root>/bsd68/*.png`` (68 images, 481 x 321 or 321 x 481), 8-bit grayscale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from aezoo.errors import DataError

TRAIN = "train400"
TEST = "bsd68"


def image_paths(root: Path | str, split: str) -> list[Path]:
    """Sorted PNG paths of ``<root>/<split>``.

    Raises:
        DataError: the folder is missing or holds no PNG, naming the path and the layout.
    """
    folder = Path(root) / split
    paths = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not paths:
        raise DataError(
            f"no PNG images in {folder}: --data-dir must hold {TRAIN}/ and {TEST}/ "
            "(8-bit grayscale PNG; see /work/shared/data/denoising/README.md)"
        )
    return paths


def read_gray(path: Path | str) -> np.ndarray:
    """One image as uint8 ``(H, W)`` (colour images converted to luminance, ``L`` mode)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8)


def load_images(root: Path | str, split: str, limit: int | None = None) -> list[np.ndarray]:
    """The first ``limit`` images (all by default) of a split, uint8 ``(H, W)`` each."""
    return [read_gray(p) for p in image_paths(root, split)[:limit]]
