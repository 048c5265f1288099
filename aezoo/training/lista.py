"""Trainer for LISTA sparse coders with variance regularisation (SDL, VDL, and their NL forms).

Evtimova & LeCun, arXiv:2112.09214, §3. For a batch ``Y`` of normalised inputs:

1. Inference: ``Z* = argmin_{Z >= 0} E(Y, Z)`` by FISTA, started from the
   encoder's prediction ``E(Y)``, on the whole energy (per-sample means, the
   hinge once per batch)::

       E = mean_i [ ||y_i - D(z_i)||^2 / 2 + lam ||z_i||_1 + gamma ||z_i - E(y_i)||^2 ]
           + beta * sum_j max(0, T - std_j(Z))^2

   The hinge and the encoder term enter FISTA as a smooth ``penalty`` (autograd
   gradient). FISTA works on the batch sum (``B`` times ``E``), whose smooth part
   has curvature at most ``L + 2 gamma + 2 beta B / (B - 1)``: ``L`` the decoder's
   Lipschitz bound (``||D||_2^2``, or ``||W2||_2^2 ||W1||_2^2`` for NL), ``2 gamma``
   from the encoder term, and for the hinge ``B beta (T - s_j)^2`` with ``s_j = ||u_j||
   / sqrt(B - 1)`` (``u_j`` the centred column) the largest eigenvalue of its
   Hessian, ``2 beta B / (B - 1)`` along ``u_j`` (across ``u_j`` the curvature is
   negative, which the descent lemma allows). The step is the inverse of that sum.
2. Learning with ``Z*`` fixed: the decoder minimises the reconstruction term,
   the encoder ``gamma ||Z* - E(Y)||^2`` (the two parameter sets are disjoint, so
   one Adam step on the sum is the two updates). The hinge and the L1 term do not
   depend on the parameters once ``Z*`` is fixed; they are added, detached, so the
   logged loss is the energy.
3. SDL (``model.unit_norm_atoms``): after every step the decoder's columns are
   renormalised to unit norm (``after_step``).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from aezoo.models.lista import LISTAConfig, SparseCodingAutoencoder, variance_hinge
from aezoo.training.trainer import StagedTrainer


class LISTATrainConfig(BaseModel):
    """Recipe for a LISTA sparse coder (flat, commented defaults; unknown keys rejected).

    Defaults are the official MNIST VDL setting (lambda 0.02 in ``model.lam``,
    beta 10, gamma 5), Adam, batch 250, 200 epochs (arXiv:2112.09214, App. B).
    """

    model_config = ConfigDict(extra="forbid")

    family: Literal["lista"] = "lista"
    name: str = "lista-vdl-mnist"  # registry name of the resulting model
    model: LISTAConfig = LISTAConfig()  # lambda and the FISTA settings live here
    dataset: Literal["mnist", "patches"] = "mnist"  # patches: model.n_components 256
    seed: int = 0
    beta: float = Field(10.0, ge=0.0)  # weight of the variance hinge; 0 = SDL
    gamma: float = Field(5.0, ge=0.0)  # weight of the encoder's prediction term
    hinge_threshold: float = Field(0.5, gt=0.0)  # T
    hinge_eps: float = Field(1e-8, ge=0.0)  # under the std's square root (finite gradients)
    epochs: int = Field(200, ge=1)
    batch_size: int = Field(250, ge=2)  # >= 2: the hinge needs an unbiased std
    decoder_lr: float = Field(1e-3, gt=0.0)
    encoder_lr: float = Field(1e-3, gt=0.0)
    lr_schedule: Literal["constant", "cosine"] = "constant"
    patience: int = Field(0, ge=0)  # no validation stage: kept for the shared loop
    train_split: Literal["train", "train_full"] = "train"
    max_train_samples: int | None = Field(None, ge=2)  # truncate the training set (quick runs)


def energy(
    model: SparseCodingAutoencoder, x: torch.Tensor, cfg: LISTATrainConfig
) -> dict[str, torch.Tensor]:
    """FISTA codes of pixels ``x`` ``(B, n_features)`` and the energy's terms at them.

    Returns:
        ``{"codes": Z* (B, n_components), "fista_steps", "recon", "l1", "hinge", "pred",
        "loss"}``; ``recon`` carries the decoder's gradient and ``pred`` the encoder's;
        ``loss`` is their sum plus the detached ``l1`` and ``hinge`` (its value is the
        energy of the module docstring).
    """
    y = model.normalize(x)  # (B, n_features)
    z_pred = model.encoder(y)  # (B, n_components), with grad for the encoder's update
    target = z_pred.detach()
    B = y.shape[0]

    def penalty(Z: torch.Tensor) -> torch.Tensor:
        out = cfg.gamma * (Z - target).pow(2).sum() / B
        if cfg.beta > 0:
            out = out + cfg.beta * variance_hinge(Z, cfg.hinge_threshold, cfg.hinge_eps)
        return out

    # the lasso part of fista is summed over the batch, so scale the penalty by B
    z_star, n_steps = model.sparse_code(
        y,
        target,
        lambda Z: B * penalty(Z),
        extra_lipschitz=2.0 * cfg.gamma + 2.0 * cfg.beta * B / (B - 1),
    )
    recon = 0.5 * (y - model.reconstruct(z_star)).pow(2).sum(1).mean()
    l1 = model.config.lam * z_star.sum(1).mean()  # z* >= 0
    hinge = cfg.beta * variance_hinge(z_star, cfg.hinge_threshold, cfg.hinge_eps)
    pred = cfg.gamma * (z_star - z_pred).pow(2).sum(1).mean()
    return {
        "codes": z_star,
        "fista_steps": torch.tensor(n_steps),
        "recon": recon,
        "l1": l1,
        "hinge": hinge,
        "pred": pred,
        "loss": recon + pred + (l1 + hinge).detach(),
    }


class LISTATrainer(StagedTrainer):
    """One stage of ``cfg.epochs``: FISTA inference, then decoder and encoder updates.

    See :class:`~aezoo.training.trainer.StagedTrainer` for the arguments.
    """

    model_class = SparseCodingAutoencoder
    model: SparseCodingAutoencoder

    def make_stages(self) -> list[dict[str, Any]]:
        return [{"kind": "sparse-coding", "layer": -1, "epochs": self.cfg.epochs}]

    def make_optimizer(self, stage: dict[str, Any]) -> torch.optim.Optimizer:
        return torch.optim.Adam(
            [
                {"params": self.model.decoder.parameters(), "lr": self.cfg.decoder_lr},
                {"params": self.model.encoder.parameters(), "lr": self.cfg.encoder_lr},
            ]
        )

    def batch_loss(
        self, stage: dict[str, Any], x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """The energy and, for the progress bar and history, its terms, the FISTA codes'
        sparsity (``zero_pct``, % exact zeros) and the PSNR of their reconstruction in
        input units (``psnr``, dB, R = width of ``model.value_range``)."""
        out = energy(self.model, x, self.cfg)
        with torch.no_grad():
            c = self.model.config
            mse = (x - self.model.decode(out["codes"])).pow(2).mean(1)  # (B,) input units
            peak = (c.value_range[1] - c.value_range[0]) ** 2
            psnr = (10 * torch.log10(peak / mse.clamp_min(1e-12))).mean()
        return {
            "loss": out["loss"],
            "recon": out["recon"],
            "l1": out["l1"],
            "hinge": out["hinge"],
            "pred": out["pred"],
            "zero_pct": 100 * (out["codes"] == 0).float().mean(),
            "psnr": psnr,
            "fista_steps": out["fista_steps"].float(),
        }

    def after_step(self, stage: dict[str, Any]) -> None:
        if self.model.config.unit_norm_atoms:
            self.model.decoder.normalize_atoms()
