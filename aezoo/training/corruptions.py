"""Input corruptions of denoising autoencoders, q(x_tilde | x).

Source: Vincent, Larochelle, Lajoie, Bengio, Manzagol, "Stacked Denoising
Autoencoders", JMLR 11 (2010), Section 4.2 (masking noise, additive isotropic
Gaussian noise, salt-and-pepper noise).

Orientation: a batch ``x`` is a float tensor of shape ``(batch, n_features)``, one
sample per row (MNIST: 784 pixels in [0, 1]). Every function returns a new tensor of
the same shape, dtype and device and never modifies its input. Randomness comes only
from the explicit ``torch.Generator`` (on ``x``'s device), so a seed reproduces a run.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, model_validator
from torch import Tensor

CorruptionKind = Literal["none", "masking", "gaussian", "salt_and_pepper"]


def _check_batch(x: Tensor) -> None:
    if x.dim() != 2:
        raise ValueError(f"x must have shape (batch, n_features), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got dtype {x.dtype}")


def _check_fraction(name: str, level: float) -> None:
    if not 0.0 <= level <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} level must be in [0, 1], got {level}")


def _random_positions(x: Tensor, level: float, generator: torch.Generator) -> Tensor:
    """Column indices, shape (batch, k) with k = round(level * n_features), drawn
    uniformly without replacement, independently for each row.

    The k positions of a row are those of its k smallest uniform keys. On CPU the
    selection is numpy's argpartition (about 3x faster than ``torch.topk`` here);
    elsewhere ``torch.topk``. Either way the keys come from ``generator``.
    """
    batch, n_features = x.shape
    k = round(level * n_features)
    keys = torch.rand(x.shape, generator=generator, device=x.device)  # (B, n_features)
    if k == 0 or k == n_features:
        return torch.arange(k, device=x.device).expand(batch, k)
    if keys.device.type == "cpu":
        positions = np.argpartition(keys.numpy(), k - 1, axis=1)[:, :k]  # (B, k)
        return torch.from_numpy(positions.astype(np.int64, copy=False))
    return keys.topk(k, dim=1, largest=False, sorted=False).indices  # (B, k)


def masking_noise(x: Tensor, level: float, generator: torch.Generator) -> Tensor:
    """Masking noise: set a random fraction of each sample's inputs to 0.

    For every row, exactly ``round(level * n_features)`` positions (Python ``round``)
    are chosen uniformly at random without replacement, independently per row, and
    zeroed. JMLR 11 (2010), Section 4.2 ("masking noise"); levels searched there:
    0, 10, 25, 40 %.

    Args:
        x: float tensor of shape (batch, n_features).
        level: fraction nu of inputs to zero per sample, in [0, 1].
        generator: source of randomness, on ``x``'s device.

    Returns:
        Corrupted copy of ``x``, same shape, dtype and device.

    Raises:
        ValueError: ``level`` outside [0, 1], or ``x`` not a 2-D float tensor.
    """
    _check_batch(x)
    _check_fraction("masking", level)
    positions = _random_positions(x, level, generator)  # (B, k)
    return x.scatter(1, positions, 0.0)


def salt_and_pepper(x: Tensor, level: float, generator: torch.Generator) -> Tensor:
    """Salt-and-pepper noise: set a random fraction of each sample's inputs to 0 or 1.

    For every row, exactly ``round(level * n_features)`` positions are chosen
    uniformly at random without replacement, independently per row; each is set to
    0 or 1 with probability 1/2. JMLR 11 (2010), Section 4.2 ("salt-and-pepper
    noise"; 0 and 1 are the minimum and maximum of MNIST inputs in [0, 1]).

    Args:
        x: float tensor of shape (batch, n_features), values meant to lie in [0, 1].
        level: fraction nu of inputs to corrupt per sample, in [0, 1].
        generator: source of randomness, on ``x``'s device.

    Returns:
        Corrupted copy of ``x``, same shape, dtype and device.

    Raises:
        ValueError: ``level`` outside [0, 1], or ``x`` not a 2-D float tensor.
    """
    _check_batch(x)
    _check_fraction("salt_and_pepper", level)
    positions = _random_positions(x, level, generator)  # (B, k)
    coins = torch.randint(0, 2, positions.shape, generator=generator, device=x.device)
    values = coins.to(x.dtype)  # (B, k), each 0.0 or 1.0
    return x.scatter(1, positions, values)


def gaussian_noise(x: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """Additive isotropic Gaussian noise: ``x + std * N(0, I)``.

    JMLR 11 (2010), Section 4.2 ("additive isotropic Gaussian noise"). The result is
    not clipped, as in the paper; it may leave [0, 1].

    Args:
        x: float tensor of shape (batch, n_features).
        std: noise standard deviation sigma, >= 0, in the units of ``x``.
        generator: source of randomness, on ``x``'s device.

    Returns:
        Corrupted copy of ``x``, same shape, dtype and device.

    Raises:
        ValueError: ``std`` negative or not finite, or ``x`` not a 2-D float tensor.
    """
    _check_batch(x)
    if not (math.isfinite(std) and std >= 0.0):
        raise ValueError(f"gaussian std must be finite and >= 0, got {std}")
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + std * noise


class CorruptionConfig(BaseModel):
    """Which corruption a denoising autoencoder trains with.

    Attributes:
        kind: ``"none"`` (plain autoencoder), ``"masking"``, ``"gaussian"`` or
            ``"salt_and_pepper"``.
        level: the fraction nu of inputs corrupted per sample, in [0, 1], for masking
            and salt-and-pepper; the std sigma (>= 0) for gaussian; ignored for none.
    """

    model_config = ConfigDict(extra="forbid")

    kind: CorruptionKind = "masking"
    level: float = 0.25  # nu for masking / salt_and_pepper, sigma for gaussian

    @model_validator(mode="after")
    def _check_level(self) -> CorruptionConfig:
        if self.kind in ("masking", "salt_and_pepper"):
            _check_fraction(self.kind, self.level)
        elif self.kind == "gaussian" and not (math.isfinite(self.level) and self.level >= 0):
            raise ValueError(f"gaussian std must be finite and >= 0, got {self.level}")
        return self


def corrupt(x: Tensor, config: CorruptionConfig, generator: torch.Generator) -> Tensor:
    """Apply the corruption ``config`` describes.

    Args:
        x: float tensor of shape (batch, n_features).
        config: kind and level.
        generator: source of randomness, on ``x``'s device.

    Returns:
        Corrupted copy of ``x``; for kind ``"none"``, ``x`` itself (unchanged).
    """
    if config.kind == "none":
        return x
    if config.kind == "masking":
        return masking_noise(x, config.level, generator)
    if config.kind == "salt_and_pepper":
        return salt_and_pepper(x, config.level, generator)
    return gaussian_noise(x, config.level, generator)
