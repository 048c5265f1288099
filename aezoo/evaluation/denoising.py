"""The Gaussian-denoising protocol of the field's BSD68 table, for any denoiser (no torch).

Protocol (DnCNN's README; ``/work/shared/data/denoising/README.md``): clean 8-bit
grayscale images on the 0-255 scale, additive white Gaussian noise of standard deviation
``sigma`` (0-255 scale) added and NOT clipped, PSNR = ``10 log10(255^2 / MSE)`` per image,
averaged over the images; SSIM (scikit-image's ``structural_similarity``,
``data_range=255``) beside it. The denoised image is scored as returned (not clipped or
rounded), as the published tables do.

Noise is seeded per (seed, sigma, image index), so every method of a run sees the same
noisy images and a subset (``--images N``) sees the same noise as the full set.

A model is scored only at noise levels it accepts (:func:`table_sigmas`): the field's
sigma 15 / 25 / 50 inside its ``sigma_range``, or its own sigma for a one-level model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from aezoo.evaluation.metrics import psnr

Denoise = Callable[[np.ndarray, float], np.ndarray]  # (noisy (H, W) 0-255, sigma) -> (H, W)
STANDARD_SIGMAS = (15.0, 25.0, 50.0)  # the field's BSD68 table, 0-255 scale
SigmaRange = float | tuple[float, float] | Sequence[float]


def as_sigma_range(sigma_range: SigmaRange) -> tuple[float, float]:
    """``(low, high)`` of a model's noise range; one number is a one-level model ``(s, s)``.

    Raises:
        ValueError: not ``0 <= low <= high`` with ``high > 0``, or not one or two numbers.
    """
    if isinstance(sigma_range, (int, float)):
        lo = hi = float(sigma_range)
    else:
        values = [float(v) for v in sigma_range]
        if len(values) != 2:
            raise ValueError(f"sigma_range must be one or two numbers, got {sigma_range!r}")
        lo, hi = values
    if not (0 <= lo <= hi and hi > 0):
        raise ValueError(
            f"sigma_range must satisfy 0 <= low <= high, high > 0, got {sigma_range!r}"
        )
    return lo, hi


def is_one_level(sigma_range: SigmaRange) -> bool:
    """Whether a model with this range was trained at (and accepts) one noise level only."""
    lo, hi = as_sigma_range(sigma_range)
    return lo == hi


def in_range(sigma: float, sigma_range: SigmaRange) -> bool:
    """Whether a model with ``sigma_range`` accepts noise level ``sigma`` (closed interval)."""
    lo, hi = as_sigma_range(sigma_range)
    return lo <= float(sigma) <= hi


def table_sigmas(sigma_range: SigmaRange) -> tuple[float, ...]:
    """The noise levels a model's BSD68 table (card, benchmark) scores it at.

    The standard sigma 15 / 25 / 50 that lie inside ``sigma_range``; a one-level model
    (``low == high``, or one number) is scored at its own sigma only, since it refuses every
    other. A range that holds none of the standard levels is scored at its two ends.

    Args:
        sigma_range: ``(low, high)`` on the 0-255 scale, or one sigma.

    Returns:
        Ascending sigmas, each inside the range.

    Raises:
        ValueError: a malformed range (:func:`as_sigma_range`).
    """
    lo, hi = as_sigma_range(sigma_range)
    if lo == hi:
        return (lo,)
    inside = tuple(s for s in STANDARD_SIGMAS if lo <= s <= hi)
    return inside or (lo, hi)


def reference_sigma(sigma_range: SigmaRange, preferred: float = 25.0) -> float:
    """The one noise level of a figure or a validation curve: ``preferred`` moved into
    ``sigma_range`` (a one-level model's own sigma)."""
    lo, hi = as_sigma_range(sigma_range)
    return min(max(float(preferred), lo), hi)


def noisy_image(clean: np.ndarray, sigma: float, index: int, seed: int = 0) -> np.ndarray:
    """``clean + N(0, sigma^2)``, float64 ``(H, W)`` on the 0-255 scale, not clipped."""
    rng = np.random.default_rng([seed, round(sigma * 1000), index])
    return clean.astype(np.float64) + rng.standard_normal(clean.shape) * sigma


def psnr255(clean: np.ndarray, estimate: np.ndarray) -> float:
    """PSNR in dB on the 0-255 scale: ``10 log10(255^2 / mean((clean - estimate)^2))``."""
    return psnr(np.ravel(clean)[None], np.ravel(estimate)[None], data_range=255.0)


def ssim255(clean: np.ndarray, estimate: np.ndarray) -> float:
    """scikit-image's SSIM with ``data_range=255`` (default 7x7 uniform window)."""
    from skimage.metrics import structural_similarity

    return float(
        structural_similarity(clean.astype(np.float64), estimate.astype(np.float64), data_range=255)
    )


def evaluate(
    denoise: Denoise,
    images: Sequence[np.ndarray],
    sigmas: Sequence[float] = STANDARD_SIGMAS,
    seed: int = 0,
    with_ssim: bool = True,
) -> dict[str, dict[str, float]]:
    """Score ``denoise`` on ``images`` at each sigma.

    Args:
        denoise: maps a noisy float64 ``(H, W)`` image (0-255, not clipped) and sigma to
            its estimate ``(H, W)`` on the 0-255 scale.
        images: clean uint8 ``(H, W)`` images.
        sigmas: noise levels on the 0-255 scale.
        seed: noise seed (:func:`noisy_image`).
        with_ssim: also compute the mean SSIM.

    Returns:
        ``{str(sigma): {"psnr": mean dB, "ssim": mean, "noisy_psnr": mean dB,
        "seconds_per_image": mean wall seconds of ``denoise``}}``.
    """
    out: dict[str, dict[str, float]] = {}
    for sigma in sigmas:
        psnrs, ssims, noisy_psnrs, secs = [], [], [], []
        for i, clean in enumerate(images):
            noisy = noisy_image(clean, sigma, i, seed)
            t = time.perf_counter()
            est = np.asarray(denoise(noisy, float(sigma)), dtype=np.float64).reshape(clean.shape)
            secs.append(time.perf_counter() - t)
            psnrs.append(psnr255(clean, est))
            noisy_psnrs.append(psnr255(clean, noisy))
            if with_ssim:
                ssims.append(ssim255(clean, est))
        row = {
            "psnr": float(np.mean(psnrs)),
            "noisy_psnr": float(np.mean(noisy_psnrs)),
            "seconds_per_image": float(np.mean(secs)),
        }
        if with_ssim:
            row["ssim"] = float(np.mean(ssims))
        out[f"{sigma:g}"] = row
    return out
