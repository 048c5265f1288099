"""Trainer for the ACAI convolutional autoencoder and its baselines on the "lines" data.

Berthelot, Raffel, Roy & Goodfellow, arXiv:1807.07543, §4 (lines benchmark and
baselines); the details below are those of the official code
(github.com/brain-research/acai: ``baseline.py``, ``denoising.py``,
``dropout.py``, ``acai.py``, ``lib/train.py``):

* one reconstruction stage minimising the mean (over batch and pixels) squared
  error between ``reconstruct(encode(x_in))`` and the clean ``x`` with Adam
  (lr 1e-4, batch 64);
* baseline: ``x_in = x``;
* denoising baseline: ``x_in = x + N(0, input_noise_std^2)`` per pixel (official
  std 1.0 on [-1, 1] inputs), target the clean ``x``;
* dropout baseline: dropout with drop probability ``model.latent_dropout`` on the
  flattened latent code before decoding (official keep probability 0.5), with
  the kept values scaled by ``1 / (1 - p)``;
* ACAI: ``acai.enabled`` (lambda 0.5, gamma 0.2), run by the shared
  :class:`~aezoo.training.trainer.StagedTrainer` on this stage.

Noise and dropout are drawn from the epoch's seeded generator, so a resumed
run is identical to an uninterrupted one. They only ever enter this training
loss: ``encode``/``decode`` (and so serving, export, metrics and the ACAI
terms) are deterministic.

Budget (the packaged ``*-lines`` recipes): the official runs see 2^24 (16.8M)
freshly drawn lines at lr 1e-4. One thread of our CPU trains the plain
autoencoder at about 300-500 images/s and ACAI at about 90-130 images/s (three
to four times the work per batch: the critic, its step, the mixed decodes), so
a recipe that must finish in about 6 minutes sees ``n_train * epochs`` = 8192 x 3
= 24,576 images (0.15% of the paper's), the same for all four recipes. Two
departures from the official settings make that budget train at all, and both
are recipe values, not defaults:

* ``model.init_gain = sqrt(2)`` (He init): with the official init the signal's
  variance halves at every layer and the plain autoencoder sat on the
  mean-image plateau (MSE ~0.092) for the first 32k images at lr 1e-4, and for
  ~40k at lr 1e-3;
* ``lr = acai.critic_lr = 1e-3`` (official 1e-4 for both).

The defaults of this config are the official values (lr 1e-4, batch 64).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from aezoo.models.conv import ConvAEConfig, ConvAutoEncoder
from aezoo.training.acai import ACAIConfig
from aezoo.training.trainer import StagedTrainer


class ConvAETrainConfig(BaseModel):
    """Recipe for the ACAI convolutional autoencoder (flat, commented defaults;
    unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid")

    family: Literal["conv-ae"] = "conv-ae"
    name: str = "ae-lines"  # registry name of the resulting model
    model: ConvAEConfig = ConvAEConfig()  # lines: 32x32, depth 16, 4 scales, latent 2x2x16
    dataset: Literal["lines", "user"] = "lines"  # user: aezoo train conv-ae --data SOURCE
    seed: int = 0
    n_train: int = Field(8_192, ge=1)  # training lines (official: fresh lines every batch)
    n_val: int = Field(1_024, ge=1)  # validation lines: val_mse after every epoch
    val_samples: int = Field(256, ge=0)  # how many of them val_mse uses; 0 = no val_mse
    epochs: int = Field(3, ge=1)  # passes over the n_train lines
    lr: float = Field(1e-4, gt=0.0)  # Adam (official 1e-4, default betas)
    lr_schedule: Literal["constant", "cosine"] = "constant"  # official: constant
    batch_size: int = Field(64, ge=1)  # official 64
    patience: int = Field(0, ge=0)  # unused: no stage is early-stopped (no classifier)
    recon_patience: int = Field(
        0, ge=0
    )  # reconstruction stage: epochs without a lower val MSE; 0 = off
    input_noise_std: float = Field(0.0, ge=0.0)  # denoising baseline (official 1.0); 0 = off
    acai: ACAIConfig = ACAIConfig()  # the ACAI regulariser; off by default


def drop_latent(z: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Inverted dropout of the codes ``(B, n_components)``: zero each value with
    probability ``p``, scale the rest by ``1 / (1 - p)``; ``p = 0`` returns ``z``."""
    if p <= 0.0:
        return z
    keep = torch.rand(z.shape, generator=gen).to(z.device) >= p  # (B, n_components)
    return z * keep / (1.0 - p)


def reconstruction_loss(
    model: ConvAutoEncoder, x: torch.Tensor, cfg: ConvAETrainConfig, gen: torch.Generator
) -> torch.Tensor:
    """Mean squared error of ``reconstruct(drop(encode(x + noise)))`` against the clean ``x``.

    Args:
        model: the autoencoder (any mode; only the loss path is noisy).
        x: clean inputs ``(B, H*W)`` float32 in [-1, 1].
        cfg: the recipe (``input_noise_std``, ``model.latent_dropout``).
        gen: CPU generator for the noise and the dropout mask.

    Returns:
        a scalar: the mean over batch and pixels (``tf.losses.mean_squared_error``).
    """
    x_in = x
    if cfg.input_noise_std > 0:
        noise = torch.randn(x.shape, generator=gen).to(x.device)  # (B, H*W)
        x_in = x + cfg.input_noise_std * noise
    z = drop_latent(model.encode(x_in), model.config.latent_dropout, gen)  # (B, n_components)
    return F.mse_loss(model.reconstruct(z), x)


class ConvAETrainer(StagedTrainer):
    """Runs a :class:`ConvAETrainConfig`: one reconstruction stage (ACAI-enabled).

    ``data`` is ``{"train": (X, angles), "val": (X, angles)}`` with ``X`` float32
    ``(n, H*W)`` in [-1, 1] and angles float64 ``(n,)`` (unused by the loss).
    See :class:`StagedTrainer` for the loop, checkpoints and resume.
    """

    model_class = ConvAutoEncoder

    def make_stages(self) -> list[dict[str, Any]]:
        return [{"kind": "reconstruct", "layer": -1, "epochs": self.cfg.epochs, "acai": True}]

    def make_optimizer(self, stage: dict[str, Any]) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)

    def batch_loss(
        self, stage: dict[str, Any], x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        return reconstruction_loss(self.model, x, self.cfg, gen)

    def epoch_metrics(self, stage: dict[str, Any]) -> dict[str, float]:
        """``val_mse``: clean reconstruction MSE (eval mode, clamped) on the first
        ``val_samples`` validation lines."""
        if not self.cfg.val_samples:
            return {}
        self.model.eval()
        with torch.no_grad():
            x = torch.as_tensor(self.X_val[: self.cfg.val_samples]).to(self.device)
            mse = F.mse_loss(self.model(x), x)
        self.model.train()
        return {"val_mse": float(mse)}
