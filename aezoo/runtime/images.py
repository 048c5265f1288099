"""Encoded images (PNG, JPEG, BMP, ...) to an image model's input rows, and rows to PNG.

An image model's config carries an :class:`~aezoo.spec.ImageInput`: how a decoded image
becomes one row (mode, size, bilinear resize, ``uint8 / 255``, channel-first). The server
calls :func:`image_row`, which converts with the same function the training data and
extraction use (:func:`aezoo.data.pixels.image_pixels`), so they all compute the
same numbers. Pillow is imported here only;
the core install without it answers with an error naming the extra.

Decoding is bounded: an image declaring more than ``max_pixels`` pixels is refused from
its header, before its pixels are decoded (a "decompression bomb": a few KB of PNG that
inflate to gigabytes), and so is an image Pillow cannot read.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from aezoo.data.pixels import image_pixels, to_unit
from aezoo.errors import InputError
from aezoo.spec import ImageInput

MAX_IMAGE_PIXELS = 16 * 2**20  # default bound on width x height of one decoded image
IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg")


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise InputError(
            "decoding images needs Pillow: pip install 'aezoo[serve]' (or pillow)"
        ) from None
    return Image


def open_image(data: bytes, max_pixels: int) -> Any:
    """A lazily decoded ``PIL.Image`` of ``data``, refused from its header alone when it has
    more than ``max_pixels`` pixels (a decompression bomb is never decoded).

    Raises:
        InputError: not an image Pillow can read, or more than ``max_pixels`` pixels.
    """
    Image = _pil()
    try:
        img = Image.open(io.BytesIO(data))
    except Exception as e:  # UnidentifiedImageError, DecompressionBombError, OSError
        raise InputError(f"body is not a readable image ({type(e).__name__}: {e})") from None
    w, h = img.size
    if w * h > max_pixels:
        raise InputError(
            f"image is {w}x{h} = {w * h:,} pixels, above the limit of {max_pixels:,} "
            "(max_image_pixels; refused before decoding)"
        )
    return img


def image_row(data: bytes, spec: ImageInput, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """One encoded image as a model input row.

    Args:
        data: the file's bytes (any format Pillow reads: PNG, JPEG, BMP, ...).
        spec: the model's image input.
        max_pixels: largest ``width * height`` accepted.

    Returns:
        float32 ``(1, spec.n_features)`` in [0, 1], channel-first.

    Raises:
        InputError: not an image Pillow can read, more than ``max_pixels`` pixels, or a
            truncated file.
    """
    img = open_image(data, max_pixels)
    try:
        pixels = image_pixels(img, spec.mode, (spec.height, spec.width))  # as training saw
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError, DecompressionBomb*
        raise InputError(f"body is not a readable image ({type(e).__name__}: {e})") from None
    return to_unit(pixels).reshape(1, spec.n_features)


def image_rows(
    files: list[bytes], spec: ImageInput, max_pixels: int = MAX_IMAGE_PIXELS, what: str = "image"
) -> np.ndarray:
    """Several encoded images as rows, float32 ``(len(files), spec.n_features)``.

    Raises:
        InputError: an image :func:`image_row` refuses, named ``f"{what} {index}"``.
    """
    rows = []
    for i, data in enumerate(files):
        try:
            rows.append(image_row(data, spec, max_pixels))
        except InputError as e:
            raise InputError(f"{what} {i}: {e}") from None
    return np.concatenate(rows)


def png_bytes(row: np.ndarray, spec: ImageInput) -> bytes:
    """One row ``(n_features,)`` with values in [0, 1] as a PNG of the model's image size."""
    Image = _pil()
    arr = np.clip(
        np.asarray(row, dtype=np.float32).reshape(spec.channels, spec.height, spec.width), 0.0, 1.0
    )
    pixels = np.round(arr * 255).astype(np.uint8)
    img = Image.fromarray(pixels[0] if spec.channels == 1 else pixels.transpose(1, 2, 0), spec.mode)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
