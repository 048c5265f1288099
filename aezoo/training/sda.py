"""Trainer for stacked denoising autoencoders: greedy layer-wise or joint pre-training,
then supervised fine-tuning.

Layer-wise (Vincent et al., JMLR 2010, §3.3 and Fig. 3): layer ``l`` is trained
as a dA on the clean codes of the frozen layers below, corrupted at its input.
Joint (Zhou et al., arXiv:1405.1380, §3): every layer is trained at once on
``L_global(x, x_hat_deep) + local_weight * sum_l L_local(h_{l-1}, g_l(f_l(h~_{l-1})))``
where each layer's input is corrupted on the way up and ``x_hat_deep`` decodes
the top code back down through every decoder. Local targets are the layer's
clean input (detached); gradients of each term reach every layer below it
through the encoder path. Fine-tuning minimises the softmax cross-entropy on
labels with all layers trainable (plus ``finetune_recon_weight`` times the
global reconstruction term, 0 by default as in the papers), early-stopped on
the validation error.

Budget: ``pretrain_epochs`` passes over the training set in total; layer-wise
splits them evenly across layers, joint spends them all on the whole stack.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from aezoo.evaluation.metrics import linear_probe
from aezoo.models.sda import DenoisingAutoencoder, SdAConfig, StackedDenoisingAutoencoder
from aezoo.training.acai import ACAIConfig
from aezoo.training.augment import random_shift
from aezoo.training.corruptions import CorruptionConfig, corrupt
from aezoo.training.trainer import StagedTrainer


class SdATrainConfig(BaseModel):
    """Recipe for an SdA (flat, commented defaults; unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid")

    family: Literal["sda"] = "sda"
    name: str = "sda-mnist"  # registry name of the resulting model
    model: SdAConfig = SdAConfig()
    dataset: Literal["mnist", "user"] = "mnist"  # user: aezoo train FAMILY --data SOURCE
    seed: int = 0
    scheme: Literal["joint", "layerwise"] = "joint"  # pre-training scheme
    corruption: CorruptionConfig = CorruptionConfig(
        kind="masking", level=0.25
    )  # at each layer's input
    local_weight: float = Field(1.0, ge=0.0)  # alpha_l of the local terms (joint only)
    pretrain_epochs: int = Field(30, ge=0)  # passes over the data, all layers together
    pretrain_lr: float = Field(1e-3, gt=0.0)
    finetune_epochs: int = Field(60, ge=0)  # 0 skips fine-tuning
    finetune_lr: float = Field(1e-3, gt=0.0)
    finetune_recon_weight: float = Field(0.0, ge=0.0)  # keep the decoder useful for denoise
    finetune_corruption: CorruptionConfig = CorruptionConfig(kind="none", level=0.0)  # input noise
    finetune_max_shift: int = Field(
        0, ge=0
    )  # random +-pixels translation while fine-tuning; 0 = off
    weight_decay: float = Field(0.0, ge=0.0)
    lr_schedule: Literal["constant", "cosine"] = "constant"  # per stage, over its max epochs
    batch_size: int = Field(128, ge=1)
    patience: int = Field(10, ge=0)  # early-stopping patience in epochs; 0 disables
    recon_patience: int = Field(
        0, ge=0
    )  # reconstruction stage: epochs without a lower val MSE; 0 = off
    max_train_samples: int | None = Field(None, ge=1)  # truncate the training set (quick runs)
    # "train_full": refit on train + val (all training images) for the fixed epoch budget chosen
    # on the validation split; keeps the final weights (validation is then not held out).
    train_split: Literal["train", "train_full"] = "train"
    acai: ACAIConfig = ACAIConfig()  # ACAI regulariser on the joint stage; off by default


def recon_loss(layer: DenoisingAutoencoder, h: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample reconstruction loss of ``layer.decode(h)`` vs ``target``, mean over the batch.

    Cross-entropy for sigmoid outputs (inputs in [0, 1]), half squared error otherwise
    (Vincent et al. 2010, §2.4).
    """
    logits = layer.decode_logits(h)  # (B, n_visible)
    if layer.output_activation == "sigmoid":
        return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(target)
    return 0.5 * (logits - target).pow(2).sum() / len(target)


def joint_loss(
    model: StackedDenoisingAutoencoder, x: torch.Tensor, cfg: SdATrainConfig, gen: torch.Generator
) -> torch.Tensor:
    """Global deep reconstruction plus weighted local denoising terms (Zhou et al., eq. 3)."""
    h, local = x, x.new_zeros(())
    for layer in model.layers:
        code = layer.encode(corrupt(h, cfg.corruption, gen))  # (B, n_hidden)
        if cfg.local_weight > 0:
            local = local + recon_loss(layer, code, h.detach())
        h = code
    for layer in reversed(model.layers[1:]):
        h = layer.decode(h)
    return recon_loss(model.layers[0], h, x) + cfg.local_weight * local


def layer_loss(
    model: StackedDenoisingAutoencoder,
    layer_idx: int,
    x: torch.Tensor,
    cfg: SdATrainConfig,
    gen: torch.Generator,
) -> torch.Tensor:
    """dA loss of one layer on the clean codes of the frozen layers below it."""
    with torch.no_grad():
        h = x
        for layer in model.layers[:layer_idx]:
            h = layer.encode(h)
    layer = model.layers[layer_idx]
    return recon_loss(layer, layer.encode(corrupt(h, cfg.corruption, gen)), h)


def finetune_loss(
    model: StackedDenoisingAutoencoder,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: SdATrainConfig,
    gen: torch.Generator,
) -> torch.Tensor:
    if cfg.finetune_max_shift and cfg.model.image_shape:
        x = random_shift(x, tuple(cfg.model.image_shape), cfg.finetune_max_shift, gen)  # type: ignore[arg-type]
    loss = F.cross_entropy(model.classify(corrupt(x, cfg.finetune_corruption, gen)), y)
    if cfg.finetune_recon_weight > 0:
        z = model.encode(corrupt(x, cfg.corruption, gen))
        for layer in reversed(model.layers[1:]):
            z = layer.decode(z)
        loss = loss + cfg.finetune_recon_weight * recon_loss(model.layers[0], z, x)
    return loss


def stages(cfg: SdATrainConfig) -> list[dict[str, Any]]:
    """The run as a list of stages: (kind, layer, epochs)."""
    n_layers = len(cfg.model.hidden_sizes)
    out: list[dict[str, Any]] = []
    if cfg.scheme == "joint":
        out.append({"kind": "joint", "layer": -1, "epochs": cfg.pretrain_epochs, "acai": True})
    else:
        per_layer = [
            cfg.pretrain_epochs // n_layers + (i < cfg.pretrain_epochs % n_layers)
            for i in range(n_layers)
        ]
        out += [{"kind": "layerwise", "layer": i, "epochs": e} for i, e in enumerate(per_layer)]
    if cfg.model.n_classes and cfg.finetune_epochs > 0:
        out.append(
            {"kind": "finetune", "layer": -1, "epochs": cfg.finetune_epochs, "validate": True}
        )
    return [s for s in out if s["epochs"] > 0]


class SdATrainer(StagedTrainer):
    """Runs the stages of an :class:`SdATrainConfig` (see :class:`StagedTrainer` for the
    loop, checkpoints, resume and early stopping)."""

    model_class = StackedDenoisingAutoencoder

    def make_stages(self) -> list[dict[str, Any]]:
        return stages(self.cfg)

    def make_optimizer(self, stage: dict[str, Any]) -> torch.optim.Optimizer:
        if stage["kind"] == "layerwise":
            params = list(self.model.layers[stage["layer"]].parameters())
        else:
            params = list(self.model.parameters())
        lr = self.cfg.finetune_lr if stage["kind"] == "finetune" else self.cfg.pretrain_lr
        return torch.optim.Adam(params, lr=lr, weight_decay=self.cfg.weight_decay)

    def batch_loss(
        self, stage: dict[str, Any], x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        if stage["kind"] == "joint":
            return joint_loss(self.model, x, self.cfg, gen)
        if stage["kind"] == "layerwise":
            return layer_loss(self.model, stage["layer"], x, self.cfg, gen)
        return finetune_loss(self.model, x, y, self.cfg, gen)


def top_code_probe(
    model: StackedDenoisingAutoencoder,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    seed: int = 0,
) -> float:
    """Linear-probe accuracy of the top codes (logistic regression; claim (b) of Zhou et al.)."""
    model.eval()
    with torch.no_grad():
        z_tr = model.encode(torch.from_numpy(train[0])).numpy()
        z_te = model.encode(torch.from_numpy(test[0])).numpy()
    return linear_probe(z_tr, train[1], z_te, test[1], seed)
