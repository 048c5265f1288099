"""Whole photographs (any size, grayscale or colour) to uint8 arrays and back, for
whole-image denoisers (:class:`aezoo.spec.DenoiserSpec`); image *models* with a fixed input
size use :mod:`aezoo.runtime.images` instead.

Decoding is bounded against decompression bombs (a few KB of PNG or JPEG that inflate to
gigabytes): :func:`probe_photo` reads only the header and refuses more than ``max_pixels``
pixels before any pixel is decoded; Pillow's own ``Image.MAX_IMAGE_PIXELS`` guard (it
raises ``DecompressionBombError`` beyond twice that) stays on as a second line. Grey modes
(``L``, ``1``, ``LA``; 16-bit ``I;16``/``I`` scaled by 255/65535) map to ``(H, W)``;
everything else (``RGB``, ``RGBA``, ``P``, ``CMYK``, ...) is converted to RGB ``(H, W, 3)``;
alpha is dropped.
"""

from __future__ import annotations

import io

import numpy as np

from aezoo.errors import InputError
from aezoo.runtime.images import _pil, open_image

GRAY_MODES = ("L", "1", "LA", "I;16", "I", "F")


def probe_photo(data: bytes, max_pixels: int) -> tuple[int, int, int]:
    """``(height, width, channels)`` of an encoded photo from its header only.

    Raises:
        InputError: not an image Pillow can read, or more than ``max_pixels`` pixels.
    """
    img = open_image(data, max_pixels)
    w, h = img.size
    return h, w, 1 if img.mode in GRAY_MODES else 3


def decode_photo(data: bytes, max_pixels: int) -> np.ndarray:
    """An encoded photo (PNG, JPEG, or any format Pillow reads) as uint8 pixels.

    Returns:
        uint8 ``(H, W)`` for grayscale modes, ``(H, W, 3)`` RGB otherwise.

    Raises:
        InputError: unreadable, truncated or corrupt data, or more than ``max_pixels`` pixels.
    """
    img = open_image(data, max_pixels)
    try:
        if img.mode in ("I;16", "I", "F"):  # 16-bit or float greys: to 8 bits by scaling
            arr = np.asarray(img, dtype=np.float64)
            top = 65535.0 if img.mode != "F" else max(float(arr.max()), 1.0)
            return np.clip(np.rint(arr / top * 255), 0, 255).astype(np.uint8)
        target = "L" if img.mode in GRAY_MODES else "RGB"
        return np.asarray(img.convert(target) if img.mode != target else img, dtype=np.uint8)
    except Exception as e:  # truncated file, bad CRC, DecompressionBombError at load
        raise InputError(f"body is not a readable image ({type(e).__name__}: {e})") from None


def photo_png(image: np.ndarray) -> bytes:
    """PNG bytes of ``(H, W)`` or ``(H, W, 3)`` pixels: uint8 as is, floats on the 0-1
    scale rounded to nearest and clipped to 0-255."""
    Image = _pil()
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float32) * 255), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, "L" if arr.ndim == 2 else "RGB").save(buf, format="PNG")
    return buf.getvalue()


__all__ = ["decode_photo", "photo_png", "probe_photo"]
