"""Whole images through a whole-image denoiser graph (:class:`aezoo.spec.DenoiserSpec`), in
overlapping tiles.

The graph ``onnx/denoiser.onnx`` takes ``noisy`` float32 ``(1, 1, h, w)`` on the
``uint8 / 255`` scale and ``sigma`` float32 ``(1,)`` on the 0-255 scale. An image is cut into
output blocks of ``tile x tile`` pixels; each block is run with ``halo`` extra pixels of
context on every side (the graph's receptive-field radius, from the spec), taken from the
image itself inside it and from its reflection (numpy's ``"reflect"`` mode: the border row
is not repeated) outside it; the halo is then dropped. Because an output pixel depends only
on inputs at most ``halo`` pixels away, every block equals the same pixels of one pass over
the whole reflect-padded image (``tile >= max(H, W)``), up to float rounding: there are no
seams.

Memory: besides the caller's image and the returned array (same dtype and shape as the
input: 1 byte per pixel and channel for uint8, 4 or 8 for float), one block of
``(tile + 2 * halo)^2`` float32 values in, one out, and the graph's activations for one
block, whatever the image size. The default ``tile`` of 256 keeps that at a few MiB for
small graphs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from aezoo.errors import InputError
from aezoo.spec import DenoiserSpec

DEFAULT_TILE = 256  # output pixels per block side
# bytes a tiled denoise holds beyond the image: one float32 block in and out with its halo,
# and the graph's activations (a margin of 16x). onnxruntime keeps these buffers per model
# and reuses them (one task runs at a time per model), so a server that reserves this per
# request overcounts concurrent ones; benchmarks/denoise_image_memory.py measured ~28 MiB
# for the whole tiled run of the tests' tiny graph
TILE_BYTES = 16 * 4 * (DEFAULT_TILE + 64) ** 2

# one block: (noisy (1, 1, h, w) float32, sigma (1,) float32) -> denoised (1, 1, h, w)
RunBlock = Callable[[np.ndarray, np.ndarray], np.ndarray]


def reflect_index(idx: np.ndarray, n: int) -> np.ndarray:
    """Indices ``idx`` (any integers) folded into ``[0, n)`` by mirror reflection without
    repeating the edge (numpy.pad's ``"reflect"``, applied as often as needed)."""
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    m = np.mod(idx, period)
    return np.where(m < n, m, period - m)


def check_sigma(spec: DenoiserSpec, sigma: float) -> float:
    """``sigma`` as a float inside ``spec.sigma_range``.

    Raises:
        InputError: not a finite number, or outside the range (the range is named).
    """
    lo, hi = spec.sigma_range
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise InputError(
            f"sigma must be a number in [{lo:g}, {hi:g}] (0-255 scale), got {sigma!r}"
        ) from None
    if not np.isfinite(value) or not lo <= value <= hi:
        raise InputError(
            f"sigma {sigma!r} is outside the model's supported range [{lo:g}, {hi:g}] "
            "(noise standard deviation on the 0-255 scale)"
        )
    return value


def _as_unit(image: np.ndarray, scale: float) -> Callable[[np.ndarray], np.ndarray]:
    """How a block of ``image`` becomes float32 on the 0-1 scale."""
    if image.dtype == np.uint8:
        return lambda b: b.astype(np.float32) / np.float32(255.0)
    return lambda b: b.astype(np.float32) / np.float32(scale)


def _from_unit(dtype: np.dtype, scale: float) -> Callable[[np.ndarray], np.ndarray]:
    """How a denoised float32 block on the 0-1 scale goes back to the input's dtype/scale."""
    if dtype == np.uint8:
        return lambda b: np.clip(np.rint(b * np.float32(255.0)), 0, 255).astype(np.uint8)
    return lambda b: (b * np.float32(scale)).astype(dtype)


def denoise_image(
    run: RunBlock,
    spec: DenoiserSpec,
    image: np.ndarray,
    sigma: float,
    *,
    tile: int = DEFAULT_TILE,
    scale: float = 1.0,
) -> np.ndarray:
    """Denoise one whole image, block by block.

    Args:
        run: runs the graph on one block (see :data:`RunBlock`).
        spec: the artifact's denoiser spec (sigma range, halo, min size).
        image: ``(H, W)`` grayscale or ``(H, W, 3)`` colour, each channel denoised on its
            own (``spec.color == "per_channel"``). ``uint8`` (0-255), or float16/32/64 with
            values on the 0-``scale`` scale (noisy values may leave it; they are not clipped).
        sigma: noise standard deviation on the 0-255 scale, inside ``spec.sigma_range``.
        tile: output block side in pixels (>= 1); ``tile >= max(H, W)`` is one pass.
        scale: what a float image's white is: 1.0 (default) for [0, 1] images, 255.0 for
            [0, 255] ones. Ignored for uint8.

    Returns:
        The denoised image, same shape and dtype: uint8 rounded to nearest and clipped to
        0-255; floats on the input's scale, not clipped.

    Raises:
        InputError: not a 2-D or HxWx3 numeric array, a side below ``spec.min_size``,
            NaN/Inf values, ``tile < 1`` or ``scale <= 0``, sigma outside ``spec.sigma_range``.
    """
    sig = check_sigma(spec, sigma)
    arr = np.asarray(image)
    if arr.dtype != np.uint8 and arr.dtype.kind != "f":
        raise InputError(f"image must be uint8 or float, got dtype {arr.dtype}")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise InputError(f"image has shape {arr.shape}; expected (H, W) or (H, W, 3)")
    h, w = arr.shape[:2]
    if min(h, w) < spec.min_size:
        raise InputError(
            f"image is {h}x{w}; this model needs at least {spec.min_size} pixels a side"
        )
    if tile < 1 or not scale > 0:
        raise InputError(f"tile must be >= 1 and scale > 0, got tile={tile}, scale={scale}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError("image contains NaN or Inf")
    to_unit, back = _as_unit(arr, scale), _from_unit(arr.dtype, scale)
    out = np.empty_like(arr)
    sig_arr = np.array([sig], dtype=np.float32)
    halo = spec.halo
    planes = [(arr, out)] if arr.ndim == 2 else [(arr[:, :, c], out[:, :, c]) for c in range(3)]
    for src, dst in planes:
        for y0 in range(0, h, tile):
            y1 = min(y0 + tile, h)
            rows = reflect_index(np.arange(y0 - halo, y1 + halo), h)
            for x0 in range(0, w, tile):
                x1 = min(x0 + tile, w)
                cols = reflect_index(np.arange(x0 - halo, x1 + halo), w)
                block = to_unit(src[np.ix_(rows, cols)])[None, None]
                den = run(np.ascontiguousarray(block), sig_arr)[0, 0]
                dst[y0:y1, x0:x1] = back(den[halo : halo + y1 - y0, halo : halo + x1 - x0])
    return out


__all__ = [
    "DEFAULT_TILE",
    "TILE_BYTES",
    "RunBlock",
    "check_sigma",
    "denoise_image",
    "reflect_index",
]
