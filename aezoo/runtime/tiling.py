"""Whole images through a whole-image denoiser graph (:class:`aezoo.spec.DenoiserSpec`), in
one pass or in overlapping tiles.

The graph ``onnx/denoiser.onnx`` takes ``noisy`` float32 ``(1, 1, h, w)`` on the
``uint8 / 255`` scale and ``sigma`` float32 ``(1,)`` on the 0-255 scale, and handles the
borders of what it is given itself (the bundled denoiser pads every convolution by
reflection). An image of at most ``max_pixels`` pixels goes through in one pass. A larger
one is cut into output blocks of ``tile x tile`` pixels; each block is run with up to
``halo`` extra pixels of context on every side (the graph's receptive-field radius, from
the spec), taken from the image; where a block meets the image's border it gets no extra
context, and the graph's own border handling sees the same pixels there as in one pass.
The halo is then dropped. Because an output pixel depends only on inputs at most ``halo``
pixels away, and the error that the graph's padding at a block's inner cut makes spreads by
at most the same ``halo``, every block equals the same pixels of one pass over the whole
image (``tile >= max(H, W)``), up to float rounding: there are no seams. This holds for any
graph whose padding at a border depends only on the pixels near it (reflection,
replication, zeros).

Memory: besides the caller's image and the returned array (same dtype and shape as the
input: 1 byte per pixel and channel for uint8, 4 or 8 for float), one block of at most
``max(max_pixels, (tile + 2 * halo)^2)`` float32 values in, one out, and the graph's
activations for one block, whatever the image size. The defaults (one pass up to
:data:`DEFAULT_MAX_PIXELS` = 512 x 512 pixels, so a 481 x 321 BSD68 photograph; else
256-pixel tiles) keep that at a few MiB for small graphs (``benchmarks/denoise_image_memory.py``
measured the tiny test graph); for the bundled 64-filter denoiser it is an estimate, not a
measurement: 64 float32 planes of a 512 x 512 block are 64 MiB per live activation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from aezoo.errors import InputError
from aezoo.spec import DenoiserSpec

DEFAULT_TILE = 256  # output pixels per block side, for images over the one-pass budget
DEFAULT_MAX_PIXELS = 512 * 512  # images up to this many pixels go through in one pass
# bytes a tiled denoise holds beyond the image: one float32 block in and out with its halo,
# and the graph's activations (a margin of 16x). onnxruntime keeps these buffers per model
# and reuses them (one task runs at a time per model), so a server that reserves this per
# request overcounts concurrent ones; benchmarks/denoise_image_memory.py measured ~28 MiB
# for the whole tiled run of the tests' tiny graph
TILE_BYTES = 16 * 4 * (DEFAULT_TILE + 64) ** 2


def block_bytes(pixels: int) -> int:
    """Bytes reserved for the block buffers of an image of at most ``pixels`` pixels (16
    float32 planes of the largest block: the whole image up to the one-pass budget
    ``DEFAULT_MAX_PIXELS``), never less than one tile (:data:`TILE_BYTES`)."""
    return max(TILE_BYTES, 16 * 4 * min(pixels, DEFAULT_MAX_PIXELS))


# one block: (noisy (1, 1, h, w) float32, sigma (1,) float32) -> denoised (1, 1, h, w)
RunBlock = Callable[[np.ndarray, np.ndarray], np.ndarray]


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
        only = f"; a one-level model: it denoises sigma {lo:g} only" if lo == hi else ""
        raise InputError(
            f"sigma {sigma!r} is outside the model's supported range [{lo:g}, {hi:g}] "
            f"(noise standard deviation on the 0-255 scale{only})"
        )
    return value


def _as_unit(image: np.ndarray, scale: float) -> Callable[[np.ndarray], np.ndarray]:
    """How a block of ``image`` becomes float32 on the 0-1 scale."""
    if image.dtype == np.uint8:
        return lambda b: b.astype(np.float32) / np.float32(255.0)
    return lambda b: b.astype(np.float32) / np.float32(scale)


def _from_unit(dtype: np.dtype, scale: float) -> Callable[[np.ndarray], np.ndarray]:
    """How a denoised float32 block on the 0-1 scale goes back to the input's dtype/scale,
    clipped to the image's range: a clean photograph lies in [0, white], so a value outside
    it is never the better estimate (on BSD68 the clip adds 0.03-0.05 dB: benchmarks/RESULTS.md,
    "SDL vs VDL dictionaries", the full-training run)."""
    if dtype == np.uint8:
        return lambda b: np.clip(np.rint(b * np.float32(255.0)), 0, 255).astype(np.uint8)
    return lambda b: (np.clip(b, 0.0, 1.0) * np.float32(scale)).astype(dtype)


def denoise_image(
    run: RunBlock,
    spec: DenoiserSpec,
    image: np.ndarray,
    sigma: float,
    *,
    tile: int | None = None,
    scale: float = 1.0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Denoise one whole image, in one pass or block by block.

    Args:
        run: runs the graph on one block (see :data:`RunBlock`).
        spec: the artifact's denoiser spec (sigma range, halo, min size).
        image: ``(H, W)`` grayscale or ``(H, W, 3)`` colour, each channel denoised on its
            own (``spec.color == "per_channel"``). ``uint8`` (0-255), or float16/32/64 with
            values on the 0-``scale`` scale (noisy values may leave it; they are not clipped).
        sigma: noise standard deviation on the 0-255 scale, inside ``spec.sigma_range``.
        tile: output block side in pixels (>= 1); ``tile >= max(H, W)`` is one pass.
            None (default): one pass when ``H * W <= max_pixels``, else :data:`DEFAULT_TILE`.
        scale: what a float image's white is: 1.0 (default) for [0, 1] images, 255.0 for
            [0, 255] ones. Ignored for uint8.

    Returns:
        The denoised image, same shape and dtype: uint8 rounded to nearest and clipped to
        0-255; floats on the input's scale, clipped to [0, ``scale``] (the graph's own
        output is not clipped).

    Raises:
        InputError: not a 2-D or HxWx3 numeric array, a side below ``spec.min_size``,
            NaN/Inf values, ``tile < 1``, ``scale <= 0`` or ``max_pixels < 1``, sigma outside
            ``spec.sigma_range``.
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
    if max_pixels < 1:
        raise InputError(f"max_pixels must be >= 1, got {max_pixels}")
    if tile is None:
        tile = max(h, w) if h * w <= max_pixels else DEFAULT_TILE
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
            r0, r1 = max(0, y0 - halo), min(h, y1 + halo)  # context inside the image only
            for x0 in range(0, w, tile):
                x1 = min(x0 + tile, w)
                c0, c1 = max(0, x0 - halo), min(w, x1 + halo)
                block = to_unit(src[r0:r1, c0:c1])[None, None]
                den = run(np.ascontiguousarray(block), sig_arr)[0, 0]
                dst[y0:y1, x0:x1] = back(den[y0 - r0 : y1 - r0, x0 - c0 : x1 - c0])
    return out


__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_TILE",
    "TILE_BYTES",
    "RunBlock",
    "block_bytes",
    "check_sigma",
    "denoise_image",
]
