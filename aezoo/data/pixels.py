"""A decoded image as a model's input row: the one conversion training data, extraction and
the server's image bodies all use (numpy and Pillow only, nothing else of ``aezoo.data``,
so a server imports it without the data-source readers).

A row is the image with 16-bit grayscale brought to its top byte, converted to ``mode``
(``"L"`` or ``"RGB"``), resized to ``(H, W)`` bilinearly when it differs, flattened
channel-first ``(C, H, W)`` row-major; :func:`to_unit` scales it to [0, 1] as ``uint8 / 255``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def image_pixels(image: Any, mode: str, size: tuple[int, int]) -> np.ndarray:
    """An opened Pillow image as uint8 ``(C * H * W,)`` (module docstring).

    Raises:
        OSError, SyntaxError: the file is truncated or corrupt (Pillow's errors).
    """
    from PIL import Image  # an opened image means Pillow is there

    if image.mode.startswith("I;16"):  # Pillow's convert("L") would clip these to white
        image = Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8), "L")
    image = image.convert(mode)
    if image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels.transpose(2, 0, 1).ravel() if pixels.ndim == 3 else pixels.ravel()


def to_unit(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1] (``uint8 / 255``)."""
    X = pixels.astype(np.float32)
    X /= np.float32(255.0)
    return X
