"""Adversarially constrained autoencoder interpolation (ACAI) as a regulariser of any family.

Berthelot, Raffel, Roy, Goodfellow, arXiv:1807.07543, §3. With codes
``z = encode(x)`` of a batch and the same batch reversed, a mixing coefficient
``alpha ~ U(0, 0.5)`` per sample (U(0, 1) folded at 0.5) and
``x_hat_alpha = decode(alpha z + (1 - alpha) z[::-1])`` (eq. 1), the critic ``d``
minimises (eq. 2)

    ||d(x_hat_alpha) - alpha||^2 + ||d(gamma x + (1 - gamma) x_hat)||^2

and the autoencoder adds to its reconstruction loss (eq. 3)

    lambda ||d(x_hat_alpha)||^2

(squares averaged over the batch, as in the official code). The critic has
its own Adam optimizer and is updated once after every autoencoder step, on
that step's batch, with ``x_hat`` detached.

The trainer enables it with ``acai.enabled`` in a family's config; see
:class:`aezoo.training.trainer.StagedTrainer`.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from aezoo.models.acai import Critic
from aezoo.models.base import AutoEncoder


class ACAIConfig(BaseModel):
    """ACAI hyperparameters (defaults: the paper's official values)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False  # off: the trainer behaves exactly as without ACAI
    lam: float = Field(0.5, ge=0.0)  # lambda: weight of the autoencoder's adversarial term
    gamma: float = Field(0.2, ge=0.0, le=1.0)  # weight of x in the critic's real-data term
    critic_lr: float = Field(1e-4, gt=0.0)  # Adam learning rate of the critic


class ACAIRegularizer:
    """The critic, its optimizer and the two ACAI losses for one autoencoder.

    Args:
        model: any :class:`~aezoo.models.base.AutoEncoder` (only ``encode``/``decode``
            are used); the critic is a fresh net of the same architecture, on the
            same device.
        cfg: the hyperparameters.
    """

    def __init__(self, model: AutoEncoder, cfg: ACAIConfig) -> None:
        self.model, self.cfg = model, cfg
        device = next(model.parameters()).device
        self.critic = Critic(model).to(device).train()
        self.opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr)

    def mix(self, z: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Mix each code with the batch reversed (eq. 1).

        Args:
            z: codes ``(B, n_components)``.
            gen: CPU generator for ``alpha``.

        Returns:
            ``(z_mix, alpha)``: ``(B, n_components)`` and ``(B,)`` with alpha in [0, 0.5].
        """
        u = torch.rand(len(z), generator=gen).to(z.device)  # (B,) U(0, 1)
        alpha = 0.5 - (u - 0.5).abs()  # (B,) folded: U(0, 0.5)
        z_mix = alpha[:, None] * z + (1 - alpha[:, None]) * z.flip(0)  # (B, n_components)
        return z_mix, alpha

    def _interpolate(
        self, x: torch.Tensor, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z_mix, alpha = self.mix(self.model.encode(x), gen)  # (B, n_components), (B,)
        return self.model.decode(z_mix), alpha  # x_hat_alpha (B, n_features)

    def autoencoder_term(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """``lambda * mean_b d(x_hat_alpha)_b^2`` (eq. 3): the autoencoder fools the critic.

        Gradients reach the autoencoder's parameters only (the critic's are frozen
        for this call).

        Args:
            x: clean inputs ``(B, n_features)``.

        Returns:
            a scalar tensor.
        """
        x_hat_alpha, _ = self._interpolate(x, gen)
        self.critic.requires_grad_(False)
        try:
            score = self.critic(x_hat_alpha)  # (B,)
        finally:
            self.critic.requires_grad_(True)
        return self.cfg.lam * score.pow(2).mean()

    def critic_loss(
        self, x: torch.Tensor, x_hat: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        """The critic's loss (eq. 2) with the autoencoder's outputs detached.

        Args:
            x: clean inputs ``(B, n_features)``; x_hat: their reconstructions, same shape.
        """
        with torch.no_grad():
            x_hat_alpha, alpha = self._interpolate(x, gen)  # (B, n_features), (B,)
            real = self.cfg.gamma * x + (1 - self.cfg.gamma) * x_hat.detach()  # (B, n_features)
        fake_term = (self.critic(x_hat_alpha) - alpha).pow(2).mean()
        real_term = self.critic(real).pow(2).mean()
        return fake_term + real_term

    def critic_step(self, x: torch.Tensor, x_hat: torch.Tensor, gen: torch.Generator) -> float:
        """One Adam step of the critic on :meth:`critic_loss`; returns the loss before it."""
        loss = self.critic_loss(x, x_hat, gen)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def state_dict(self) -> dict[str, Any]:
        """Critic weights and optimizer state, for the run's checkpoint."""
        return {"critic": self.critic.state_dict(), "optimizer": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.critic.load_state_dict(state["critic"])
        self.opt.load_state_dict(state["optimizer"])
