"""Trainer for LISTA sparse coders with variance regularisation (SDL, VDL, and their NL forms).

Evtimova & LeCun, arXiv:2112.09214, §3, with the scaling, schedules and
initialisation of the official code (github.com/kevtimova/deep-sparse), so the
official settings mean the same here. For a batch ``Y`` of ``B`` normalised inputs
(``n`` = n_features, ``m`` = n_components):

1. Inference: ``Z* = argmin_{Z >= 0} E(Y, Z)`` by FISTA, started from the encoder's
   prediction ``E(Y)`` (per-sample stopping, at most ``fista_max_steps``), on::

       E = sum_i [ ||y_i - D(z_i)||^2 / n + lam ||z_i||_1 + gamma ||z_i - E(y_i)||^2 / m ]
           + beta * sum_j max(0, T - std_j(Z))^2

   The hinge and the encoder term enter FISTA as a smooth penalty (gradient in
   closed form, checked against autograd in the tests) with the recipe's fixed step (``model.fista_step``: the official
   ``lrt_Z``, 0.5 for VDL and 1 for SDL), or without one ``1 / L`` where ``L`` adds the
   penalty's curvature (``2 gamma / m`` and ``2 beta / (B - 1)``) to the data term's.
2. Learning with ``Z*`` fixed, one Adam step each: the decoder on the per-pixel
   mean squared error ``mean ||Y - D(Z*)||^2 / n``, the encoder on
   ``mean ||Z* - E(Y)||^2 / m`` (gamma does not enter the encoder's loss). The two
   parameter sets are disjoint, so one optimizer step on the sum is the two updates.
3. SDL (``model.unit_norm_atoms``): the decoder's columns (for NL: of both layers)
   are renormalised to unit norm after every step.
4. NL decoders: weight decay ``nl_bias_weight_decay`` on the hidden layer's bias; VDL-NL
   halves the decoder's learning rate every ``decoder_lr_halving_epochs`` epochs.

The progress bar and the history show the energy per sample (``energy``), the two
losses (``recon``, ``pred``), the FISTA codes' sparsity (``zero_pct``, % exact zeros),
the PSNR of their reconstruction (``psnr``, dB) and FISTA's steps, and after every
epoch ``val_energy``: the energy of the ENCODER's codes on the validation split (no
FISTA; the encoder term is then 0), which ``select_checkpoint: val_energy`` uses to
keep the best epoch's weights, as the official code does.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from aezoo.data import datasets
from aezoo.evaluation.metrics import psnr
from aezoo.models.lista import (
    LISTAConfig,
    NLDecoder,
    SparseCodingAutoencoder,
    variance_hinge,
    variance_hinge_grad,
)
from aezoo.training.acai import ACAIConfig
from aezoo.training.trainer import StagedTrainer


class LISTATrainConfig(BaseModel):
    """Recipe for a LISTA sparse coder (flat, commented defaults; unknown keys rejected).

    Defaults are the official MNIST VDL setting (lambda 0.02 in ``model.lam``, beta 10,
    gamma 5, FISTA step 0.5, Adam 3e-4 / 1e-4), batch 250, 200 epochs
    (arXiv:2112.09214 App. B; scripts/MNIST_VDL.sh of the official code).
    """

    model_config = ConfigDict(extra="forbid")

    family: Literal["lista"] = "lista"
    name: str = "lista-vdl-mnist"  # registry name of the resulting model
    model: LISTAConfig = LISTAConfig(fista_step=0.5)  # lambda and the FISTA settings live here
    dataset: Literal["mnist", "patches", "user"] = "mnist"  # patches: model.n_components 256
    seed: int = 0
    beta: float = Field(10.0, ge=0.0)  # weight of the variance hinge; 0 = SDL
    gamma: float = Field(5.0, ge=0.0)  # weight of the encoder's prediction term in the energy
    hinge_threshold: float = Field(0.5, gt=0.0)  # T
    hinge_eps: float = Field(0.0, ge=0.0)  # under the std's square root (official: none)
    epochs: int = Field(200, ge=1)
    batch_size: int = Field(250, ge=2)  # >= 2: the hinge needs an unbiased std
    decoder_lr: float = Field(3e-4, gt=0.0)
    encoder_lr: float = Field(1e-4, gt=0.0)
    nl_bias_weight_decay: float = Field(0.0, ge=0.0)  # NL hidden-layer bias (official: 1e-3)
    decoder_lr_halving_epochs: int | None = Field(None, ge=1)  # VDL-NL (official: 30)
    lr_schedule: Literal["constant", "cosine"] = "constant"
    patience: int = Field(0, ge=0)  # no validation stage: kept for the shared loop
    train_split: Literal["train", "train_full"] = "train"
    max_train_samples: int | None = Field(None, ge=2)  # truncate the training set (quick runs)
    # the weights kept: the last epoch's, or those of the epoch with the lowest validation
    # energy of the encoder's codes (the official code's choice)
    select_checkpoint: Literal["last", "val_energy"] = "last"
    acai: ACAIConfig = ACAIConfig()  # ACAI on the encoder/decoder updates; off by default


def code_energy(
    model: SparseCodingAutoencoder, y: torch.Tensor, Z: torch.Tensor, cfg: LISTATrainConfig
) -> torch.Tensor:
    """Per-sample energy of codes ``Z`` ``(B, n_components)`` for normalised inputs ``y``
    ``(B, n_features)`` without the encoder term: ``mean_i ||y_i - D(z_i)||^2 / n
    + lam mean_i ||z_i||_1 + beta hinge(Z) / B`` (a scalar tensor)."""
    e = (y - model.reconstruct(Z)).pow(2).mean() + model.config.lam * Z.sum(1).mean()
    return e + cfg.beta * variance_hinge(Z, cfg.hinge_threshold, cfg.hinge_eps) / len(y)


def energy(
    model: SparseCodingAutoencoder, x: torch.Tensor, cfg: LISTATrainConfig
) -> dict[str, torch.Tensor]:
    """FISTA codes of inputs ``x`` ``(B, n_features)`` and the losses at them.

    Returns:
        ``{"codes": Z* (B, n_components), "fista_steps", "recon", "pred", "energy",
        "loss"}``: ``recon`` (the decoder's loss, with its gradient) and ``pred`` (the
        encoder's) as in the module docstring, ``energy`` the per-sample energy at
        ``Z*`` (detached), ``loss = recon + pred``.
    """
    y = model.normalize(x)  # (B, n_features)
    m = model.n_components
    z_pred = model.encoder(y)  # (B, n_components), with grad for the encoder's update
    target = z_pred.detach()

    def penalty(Z: torch.Tensor) -> torch.Tensor:  # batch sums, like FISTA's data term
        out = cfg.gamma * (Z - target).pow(2).sum() / m
        if cfg.beta > 0:
            out = out + cfg.beta * variance_hinge(Z, cfg.hinge_threshold, cfg.hinge_eps)
        return out

    def penalty_grad(Z: torch.Tensor) -> torch.Tensor:  # the same, in closed form
        g = (2 * cfg.gamma / m) * (Z - target)
        if cfg.beta > 0:
            g = g + cfg.beta * variance_hinge_grad(Z, cfg.hinge_threshold, cfg.hinge_eps)
        return g

    # without a fixed step, 1/L with the penalty's curvature: 2 gamma / m for the encoder
    # term, 2 beta / (B - 1) for the hinge (its Hessian's largest eigenvalue)
    B = len(y)
    curvature = 2 * cfg.gamma / m + 2 * cfg.beta / (B - 1)
    z_star, n_steps = model.sparse_code(y, target, penalty, curvature, penalty_grad)
    recon = (y - model.reconstruct(z_star)).pow(2).mean()  # per pixel and sample
    pred = (z_star - z_pred).pow(2).mean()  # per component and sample
    with torch.no_grad():
        e = code_energy(model, y, z_star, cfg) + cfg.gamma * pred
    return {
        "codes": z_star,
        "fista_steps": torch.tensor(float(n_steps)),
        "recon": recon,
        "pred": pred,
        "energy": e,
        "loss": recon + pred,
    }


class LISTATrainer(StagedTrainer):
    """One stage of ``cfg.epochs``: FISTA inference, then decoder and encoder updates.

    See :class:`~aezoo.training.trainer.StagedTrainer` for the arguments.
    """

    model_class = SparseCodingAutoencoder
    model: SparseCodingAutoencoder

    def make_stages(self) -> list[dict[str, Any]]:
        return [{"kind": "sparse-coding", "layer": -1, "epochs": self.cfg.epochs, "acai": True}]

    def make_optimizer(self, stage: dict[str, Any]) -> torch.optim.Optimizer:
        cfg, dec = self.cfg, self.model.decoder
        groups: list[dict[str, Any]] = []
        if isinstance(dec, NLDecoder):
            bias = [dec.fc1.bias]
            rest = [p for p in dec.parameters() if p is not dec.fc1.bias]
            groups.append({"params": rest, "lr": cfg.decoder_lr})
            groups.append(
                {"params": bias, "lr": cfg.decoder_lr, "weight_decay": cfg.nl_bias_weight_decay}
            )
        else:
            groups.append({"params": list(dec.parameters()), "lr": cfg.decoder_lr})
        groups.append({"params": list(self.model.encoder.parameters()), "lr": cfg.encoder_lr})
        return torch.optim.Adam(groups)

    def lr_factors(self, stage: dict[str, Any], epoch: int, n_groups: int) -> list[float] | None:
        """VDL-NL: the decoder's groups (all but the last) halve every N epochs."""
        n = self.cfg.decoder_lr_halving_epochs
        if n is None:
            return super().lr_factors(stage, epoch, n_groups)
        return [0.5 ** (epoch // n)] * (n_groups - 1) + [1.0]

    def batch_loss(
        self, stage: dict[str, Any], x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> dict[str, torch.Tensor]:
        out = energy(self.model, x, self.cfg)
        with torch.no_grad():
            x_hat = self.model.decode(out["codes"])  # (B, n_features) input units
            peak = datasets.info(self.cfg.dataset).psnr_peak
            batch_psnr = psnr(x.cpu().numpy(), x_hat.cpu().numpy(), data_range=peak)
        keep = ("loss", "energy", "recon", "pred", "fista_steps")
        return {
            **{k: out[k] for k in keep},
            "zero_pct": 100 * (out["codes"] == 0).float().mean(),
            "psnr": torch.tensor(batch_psnr),
        }

    def epoch_metrics(self, stage: dict[str, Any]) -> dict[str, float]:
        """``val_energy`` (see the module docstring); with ``select_checkpoint:
        val_energy`` a new lowest keeps these weights (restored at the end of ``fit``)."""
        val = self.val_energy()
        if self.cfg.select_checkpoint == "val_energy":
            self.keep_if_best("best_val_energy", val, self.state["epoch"])
        return {"val_energy": val}

    def val_energy(self) -> float:
        """Mean over the validation split's full batches of :func:`code_energy` at the
        encoder's codes (batches of ``batch_size``, as in training; a remainder smaller
        than 2 is dropped, the hinge needs an unbiased std)."""
        self.model.eval()
        X = torch.from_numpy(self.X_val).to(self.device)
        bs, total, n = self.cfg.batch_size, 0.0, 0
        with torch.no_grad():
            for i in range(0, len(X), bs):
                y = self.model.normalize(X[i : i + bs])
                if len(y) < 2:
                    break
                total += float(code_energy(self.model, y, self.model.encoder(y), self.cfg)) * len(y)
                n += len(y)
        return total / max(n, 1)

    def after_step(self, stage: dict[str, Any]) -> None:
        if self.model.config.unit_norm_atoms:
            self.model.decoder.normalize_atoms()
