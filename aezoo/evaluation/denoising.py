"""The Gaussian-denoising protocol of the field's BSD68 table, for any denoiser (no torch).

Protocol (DnCNN's README; ``/work/shared/data/denoising/README.md``): clean 8-bit
grayscale images on the 0-255 scale, additive white Gaussian noise of standard deviation
``sigma`` (0-255 scale) added and NOT clipped, PSNR = ``10 log10(255^2 / MSE)`` per image,
averaged over the images; SSIM (scikit-image's ``structural_similarity``,
``data_range=255``) beside it. The denoised image is scored as returned (not clipped or
rounded), as the published tables do.

Noise is seeded per (seed, sigma, image index), so every method of a run sees the same
noisy images and a subset (``--images N``) sees the same noise as the full set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from aezoo.evaluation.metrics import psnr

Denoise = Callable[[np.ndarray, float], np.ndarray]  # (noisy (H, W) 0-255, sigma) -> (H, W)


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
    sigmas: Sequence[float] = (15, 25, 50),
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
