"""Data augmentation for supervised fine-tuning (not part of the SdA papers' protocol).

Random translations are the classic MNIST augmentation (Simard, Steinkraus &
Platt, ICDAR 2003, §2): each image is shifted by an integer number of pixels in
each direction, uniformly in ``[-max_shift, max_shift]``, with zeros shifted in.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(
    x: torch.Tensor, image_shape: tuple[int, int], max_shift: int, generator: torch.Generator
) -> torch.Tensor:
    """Shift every image of a batch by its own random integer offset.

    Args:
        x: ``(batch, h * w)`` flattened single-channel images.
        image_shape: ``(h, w)``.
        max_shift: largest shift in pixels along each axis (0 returns ``x``).
        generator: source of the offsets (seeded by the trainer).

    Returns:
        ``(batch, h * w)``, same dtype and device; ``x`` is not modified.

    Raises:
        ValueError: ``x`` does not have ``h * w`` features or ``max_shift < 0``.
    """
    h, w = image_shape
    if x.ndim != 2 or x.shape[1] != h * w:
        raise ValueError(
            f"expected (batch, {h * w}) images of shape {image_shape}, got {tuple(x.shape)}"
        )
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    if max_shift == 0:
        return x
    b, s = x.shape[0], max_shift
    padded = F.pad(x.view(b, h, w), (s, s, s, s))  # (B, h + 2s, w + 2s)
    off = torch.randint(0, 2 * s + 1, (2, b), generator=generator).to(x.device)
    rows = off[0][:, None] + torch.arange(h, device=x.device)  # (B, h)
    cols = off[1][:, None] + torch.arange(w, device=x.device)  # (B, w)
    out = padded[
        torch.arange(b, device=x.device)[:, None, None], rows[:, :, None], cols[:, None, :]
    ]
    return out.reshape(b, h * w)
