"""Encoded images to an image model's rows, and rows to PNG (aezoo.runtime.images)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from aezoo.errors import InputError
from aezoo.runtime.images import image_row, png_bytes
from aezoo.spec import ImageInput


def _encode(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def test_grayscale_png_becomes_pixels_over_255_row_major() -> None:
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    row = image_row(_encode(pixels), ImageInput(height=3, width=4))
    assert row.shape == (1, 12) and row.dtype == np.float32
    np.testing.assert_array_equal(row[0], pixels.ravel().astype(np.float32) / 255)


def test_rgb_is_channel_first_and_grey_input_is_converted() -> None:
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30
    row = image_row(_encode(rgb), ImageInput(height=2, width=2, mode="RGB"))
    np.testing.assert_array_equal(row[0], np.repeat([10, 20, 30], 4).astype(np.float32) / 255)
    # an RGB image sent to a grayscale model: Pillow's L = (299 R + 587 G + 114 B) / 1000
    grey = image_row(_encode(rgb), ImageInput(height=2, width=2))
    assert np.all(grey == round((299 * 10 + 587 * 20 + 114 * 30) / 1000) / np.float32(255))


def test_other_sizes_are_resized_bilinearly() -> None:
    flat = np.full((40, 30), 128, dtype=np.uint8)
    row = image_row(_encode(flat, "JPEG"), ImageInput(height=8, width=8))
    assert row.shape == (1, 64)
    np.testing.assert_allclose(row, 128 / 255, atol=2 / 255)  # JPEG of a flat grey


def test_png_round_trips_uint8_values_exactly() -> None:
    spec = ImageInput(height=5, width=7, mode="RGB")
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    row = image_row(_encode(pixels), spec)
    again = image_row(png_bytes(row[0], spec), spec)
    np.testing.assert_array_equal(again, row)


def test_bombs_and_garbage_are_refused_naming_the_problem() -> None:
    big = _encode(np.zeros((2000, 1000), dtype=np.uint8))  # a few KB, 2 M pixels
    with pytest.raises(InputError, match=r"1000x2000 = 2,000,000 pixels.*1,000,000"):
        image_row(big, ImageInput(height=8, width=8), max_pixels=1_000_000)
    with pytest.raises(InputError, match="not a readable image"):
        image_row(b"\x89PNG\r\n\x1a\nnot really", ImageInput(height=8, width=8))
    truncated = _encode(np.zeros((64, 64), dtype=np.uint8))[:60]
    with pytest.raises(InputError, match="not a readable image"):
        image_row(truncated, ImageInput(height=8, width=8))
