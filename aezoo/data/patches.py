"""28x28 natural-image patches for sparse coding (arXiv:2112.09214 §5, "natural image patches").

Source: the two photographs bundled with scikit-learn
(``sklearn.datasets.load_sample_images``: ``china.jpg`` and ``flower.jpg``, 427x640
RGB), so nothing is downloaded. Processing, in order:

1. grayscale ``0.299 R + 0.587 G + 0.114 B``, scaled to [0, 1];
2. local contrast normalisation (Jarrett et al., ICCV 2009, §2.1): subtract the
   Gaussian-weighted local mean, ``v = x - G * x``; divide by
   ``max(c, sigma)`` where ``sigma = sqrt(G * v^2)`` is the local standard
   deviation and ``c`` its mean over the image (so flat regions are not blown
   up). ``G`` is a normalised Gaussian window, ``LCN_SIGMA`` = 2 px (9x9 support);
3. every ``PATCH`` x ``PATCH`` window on a grid of stride ``STRIDE`` px, flattened
   row-major to ``PATCH**2`` values;
4. patches whose standard deviation is below ``MIN_STD`` = 0.5 are dropped
   (flat, uninformative: sky, blur).

Splits never share pixels: each image's rows are cut into bands, the top 70%
for training, the next 10% for validation, the last 20% for testing; a patch
belongs to a split only if it lies entirely in that split's band.

Values: LCN output is unbounded in principle; over both photographs it stays
within ``VALUE_RANGE`` (checked), which the model's input spec declares.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

PATCH = 28  # patch side, pixels
STRIDE = 2  # grid stride of the patch windows, pixels
LCN_SIGMA = 2.0  # Gaussian window of the local contrast normalisation, pixels
MIN_STD = 0.5  # patches with a smaller standard deviation are dropped
VALUE_RANGE = (-8.0, 8.0)  # every LCN value of the two photographs lies inside
BANDS = {"train": (0.0, 0.7), "val": (0.7, 0.8), "test": (0.8, 1.0)}  # fractions of rows
PROTOCOL = (
    "28x28 patches of the two scikit-learn sample photographs (china.jpg, flower.jpg): "
    f"grayscale, local contrast normalisation (Gaussian sigma {LCN_SIGMA:g} px), stride "
    f"{STRIDE} px, patches with std < {MIN_STD:g} dropped; rows split 70/10/20% into "
    "train/val/test bands per photograph (no pixel shared between splits)"
)
PREPROCESSING = (
    "grayscale in [0, 1], then local contrast normalisation: x - G*x divided by "
    f"max(mean local std, local std) with a Gaussian window G of sigma {LCN_SIGMA:g} px "
    "(aezoo.data.patches.local_contrast_normalize)"
)


def local_contrast_normalize(image: np.ndarray, sigma: float = LCN_SIGMA) -> np.ndarray:
    """Subtractive then divisive local contrast normalisation of one grayscale image.

    Args:
        image: float ``(H, W)``, any range (the photographs: [0, 1]).
        sigma: standard deviation of the Gaussian window, pixels (> 0).

    Returns:
        float32 ``(H, W)``: ``(x - G*x) / max(c, sqrt(G*(x - G*x)^2))``, ``c`` the mean
        local standard deviation. A constant image maps to zeros.

    Raises:
        ValueError: ``image`` is not 2-D or ``sigma <= 0``.
    """
    from scipy.ndimage import gaussian_filter

    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    v = image - gaussian_filter(image, sigma, mode="reflect")
    local_std = np.sqrt(gaussian_filter(v * v, sigma, mode="reflect"))
    c = local_std.mean()
    if c <= 0:
        return np.zeros_like(image, dtype=np.float32)
    return (v / np.maximum(local_std, c)).astype(np.float32)


def extract_patches(image: np.ndarray, size: int = PATCH, stride: int = STRIDE) -> np.ndarray:
    """Every ``size`` x ``size`` window of ``image`` ``(H, W)`` on a ``stride`` grid.

    Returns:
        float32 ``(n, size * size)``, rows in raster order of the windows' top-left corners
        (``n = 0`` when the image is smaller than a patch).
    """
    H, W = image.shape
    if min(H, W) < size:
        return np.zeros((0, size * size), np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(image, (size, size))[::stride, ::stride]
    return np.ascontiguousarray(windows.reshape(-1, size * size), dtype=np.float32)


@lru_cache(maxsize=1)
def _normalized_photographs() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_sample_images

    out = []
    for rgb in load_sample_images().images:  # (427, 640, 3) uint8 each
        gray = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0
        out.append(local_contrast_normalize(gray))
    return tuple(out)


def load_patches(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The patches of one split (see the module docstring), deterministic.

    Args:
        split: ``"train"``, ``"val"``, ``"test"`` or ``"train_full"`` (train + val).

    Returns:
        ``(X, y)``: float32 ``(n, 784)`` within ``VALUE_RANGE`` and int64 zeros ``(n,)``
        (no labels; the zeros keep the trainers' ``(X, y)`` contract).

    Raises:
        ValueError: unknown split.
    """
    if split == "train_full":
        parts = [load_patches("train")[0], load_patches("val")[0]]
        X = np.concatenate(parts)
        return X, np.zeros(len(X), np.int64)
    if split not in BANDS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join([*BANDS, 'train_full'])}")
    lo, hi = BANDS[split]
    chunks = []
    for img in _normalized_photographs():
        H = img.shape[0]
        band = img[round(lo * H) : round(hi * H)]
        P = extract_patches(band)
        chunks.append(P[P.std(axis=1) >= MIN_STD])
    X = np.concatenate(chunks)
    X = np.clip(X, *VALUE_RANGE)  # a no-op for the two photographs (checked in the tests)
    return X, np.zeros(len(X), np.int64)
