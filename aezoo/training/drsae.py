"""Trainer for discriminative recurrent sparse auto-encoders: two phases, BPTT, norm bounds.

Rolfe & LeCun, arXiv:1301.3775, the training section (summarised in the project's
PAPERS.md §4). Phase 1 (unsupervised) minimises, per sample,
``||x - D z_T||^2 / 2 + lambda ||z_T||_1`` on the unit-norm input ``x``; phase 2
(discriminative) adds ``class_weight`` times the multinomial logistic loss of
``C (z_T / ||z_T||)``. Gradients flow back through all ``T`` unrolled steps
(back-propagation through time, done by autograd on the unrolled graph).

After every update the parameters are projected onto the paper's norm bounds:
columns of ``D`` have L2 norm <= ``max_decoder_norm`` (1), rows of ``E`` <=
``encoder_norm_scale / (T - 1)`` (1.25 / (T - 1); no bound when T = 1), rows of
``C`` <= ``max_classifier_norm`` (5). As in the paper, each matrix's learning
rate is divided by the number of times it appears in the unrolled graph: ``E``
and ``b`` enter every one of the ``T`` steps, ``S`` the ``T - 1`` steps after the
first (``z_0 = 0``), ``D`` and ``C`` once. The paper used plain SGD; we use Adam,
whose step size is set by the learning rate, so the division has the same effect
on it (``optimizer="sgd"`` exists but is untuned: rate 0.05 with momentum 0.9
diverged in phase 2). Phase 2 is early-stopped on the validation error and the
best weights are kept.

Not in the paper: ``input_corruption`` (off by default) corrupts the encoder's
input during phase 2 while the reconstruction target stays the clean image, the
denoising criterion of Vincent et al. (JMLR 2010); on our 17,690 training images
(a third of the paper's 50,000) it is the regulariser that the recipe uses
against over-fitting.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from aezoo.export import figures
from aezoo.models.drsae import DrSAE, DrSAEConfig, unit_norm
from aezoo.training.acai import ACAIConfig
from aezoo.training.corruptions import CorruptionConfig, corrupt
from aezoo.training.trainer import StagedTrainer


class DrSAETrainConfig(BaseModel):
    """Recipe for a DrSAE (flat, commented defaults; unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid")

    family: Literal["drsae"] = "drsae"
    name: str = "drsae-mnist"  # registry name of the resulting model
    model: DrSAEConfig = DrSAEConfig()
    dataset: Literal["mnist", "user"] = "mnist"  # user: aezoo train FAMILY --data SOURCE
    seed: int = 0
    sparsity: float = Field(0.01, ge=0.0)  # lambda of the L1 term on z_T (both phases)
    class_weight: float = Field(1.0, gt=0.0)  # weight of the logistic loss in phase 2
    unsupervised_epochs: int = Field(10, ge=0)  # phase 1: reconstruction + L1
    discriminative_epochs: int = Field(100, ge=0)  # phase 2: + logistic loss; 0 skips it
    unsupervised_lr: float = Field(1e-3, gt=0.0)  # base rate, before the per-matrix division
    discriminative_lr: float = Field(1e-3, gt=0.0)
    optimizer: Literal["adam", "sgd"] = "adam"  # the paper used SGD
    momentum: float = Field(0.9, ge=0.0, lt=1.0)  # SGD only
    lr_division: bool = True  # divide each matrix's rate by its uses in the unrolled graph
    lr_schedule: Literal["constant", "cosine"] = "constant"  # per phase, over its max epochs
    max_decoder_norm: float = Field(1.0, gt=0.0)  # columns of D
    encoder_norm_scale: float = Field(1.25, gt=0.0)  # rows of E <= this / (T - 1)
    max_classifier_norm: float = Field(5.0, gt=0.0)  # rows of C
    batch_size: int = Field(64, ge=1)
    input_corruption: CorruptionConfig = CorruptionConfig(kind="none", level=0.0)  # phase 2 input
    patience: int = Field(15, ge=0)  # early stopping (phase 2) in epochs; 0 disables
    recon_patience: int = Field(
        0, ge=0
    )  # reconstruction stage: epochs without a lower val MSE; 0 = off
    acai: ACAIConfig = ACAIConfig()  # ACAI on both phases' reconstruction; off by default
    max_train_samples: int | None = Field(None, ge=1)  # truncate the training set (quick runs)


def appearances(n_steps: int) -> dict[str, int]:
    """How many times each parameter appears in the graph unrolled ``n_steps`` times."""
    return {"E": n_steps, "b": n_steps, "S": max(n_steps - 1, 1), "D": 1, "C": 1}


def losses(
    model: DrSAE,
    x: torch.Tensor,
    y: torch.Tensor | None,
    sparsity: float,
    x_in: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Per-batch means of the paper's loss terms: ``recon``, ``l1`` (times lambda) and ``cls``.

    Args:
        model: the DrSAE.
        x: pixels ``(B, n_features)`` in [0, 1], the reconstruction target (unit-normed).
        y: labels ``(B,)`` int64, or None for phase 1 (no ``cls`` term).
        sparsity: lambda.
        x_in: what the encoder sees, if not ``x`` (a corrupted copy: denoising).
    """
    z = model.encode(x if x_in is None else x_in)  # (B, n_components): z_T, BPTT through T steps
    target = unit_norm(x, model.config.eps)  # (B, n_features)
    out = {
        "recon": 0.5 * (target - model.reconstruct(z)).pow(2).sum(1).mean(),
        "l1": sparsity * z.sum(1).mean(),  # z >= 0, so ||z||_1 = sum z
    }
    if y is not None:
        out["cls"] = F.cross_entropy(model.logits(z), y)
    return out


@torch.no_grad()
def project_norm_bounds(model: DrSAE, cfg: DrSAETrainConfig) -> None:
    """Rescale columns of D, rows of E and rows of C that exceed their bounds."""

    def clip_(w: torch.Tensor, dim: int, bound: float) -> None:
        norms = torch.linalg.vector_norm(w, dim=dim, keepdim=True)
        w.mul_((bound / norms.clamp_min(1e-12)).clamp(max=1.0))

    clip_(model.D, 0, cfg.max_decoder_norm)
    if model.config.n_steps > 1:
        clip_(model.E, 1, cfg.encoder_norm_scale / (model.config.n_steps - 1))
    if model.C is not None:
        clip_(model.C, 1, cfg.max_classifier_norm)


def stages(cfg: DrSAETrainConfig) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"kind": "unsupervised", "layer": -1, "epochs": cfg.unsupervised_epochs, "acai": True}
    ]
    if cfg.model.n_classes:
        out.append(
            {
                "kind": "discriminative",
                "layer": -1,
                "epochs": cfg.discriminative_epochs,
                "validate": True,
                "acai": True,
            }
        )
    return [s for s in out if s["epochs"] > 0]


class DrSAETrainer(StagedTrainer):
    """Runs the two phases of a :class:`DrSAETrainConfig` on the shared loop
    (:class:`~aezoo.training.trainer.StagedTrainer`: checkpoints, resume, early stopping
    of phase 2 on the validation error); the norm bounds are projected after every step.
    """

    model_class = DrSAE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        project_norm_bounds(self.model, self.cfg)  # start inside the bounds (no-op on resume)

    @staticmethod
    def extra_figures(
        model: DrSAE, X: np.ndarray, y: np.ndarray, shape: tuple[int, int]
    ) -> dict[str, bytes]:
        """Model-card analysis figures (the ``pipeline.make_figures`` hook)."""
        return extra_figures(model, X, y, shape)

    def make_stages(self) -> list[dict[str, Any]]:
        return stages(self.cfg)

    def make_optimizer(self, stage: dict[str, Any]) -> torch.optim.Optimizer:
        """Adam (or SGD) with one group per matrix, its rate divided by its uses in the graph."""
        cfg = self.cfg
        lr = cfg.unsupervised_lr if stage["kind"] == "unsupervised" else cfg.discriminative_lr
        uses = appearances(cfg.model.n_steps)
        groups = [
            {"params": [p], "lr": lr / (uses[name] if cfg.lr_division else 1), "name": name}
            for name, p in self.model.named_parameters()
        ]
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum)
        return torch.optim.Adam(groups, lr=lr)

    def batch_loss(
        self, stage: dict[str, Any], x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        supervised = stage["kind"] == "discriminative"
        x_in = corrupt(x, cfg.input_corruption, gen) if supervised else x
        terms = losses(self.model, x, y if supervised else None, cfg.sparsity, x_in)
        loss = terms["recon"] + terms["l1"]
        if supervised:
            loss = loss + cfg.class_weight * terms["cls"]
        return {"loss": loss, **terms}

    def after_step(self, stage: dict[str, Any]) -> None:
        project_norm_bounds(self.model, self.cfg)

    def epoch_metrics(self, stage: dict[str, Any]) -> dict[str, float]:
        return {"val_recon": self.val_losses()["recon"]}

    def val_losses(self) -> dict[str, float]:
        """Phase-1 loss terms on the validation split (means per sample)."""
        self.model.eval()
        with torch.no_grad():
            x = torch.from_numpy(self.X_val).to(self.device)
            return {k: float(v) for k, v in losses(self.model, x, None, self.cfg.sparsity).items()}


@torch.no_grad()
def unit_selectivity(model: DrSAE, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Class selectivity of every hidden unit from its mean ``z_T`` per class.

    Returns:
        ``preferred`` ``(n_components,)`` int, the class of largest mean activity;
        ``selectivity`` ``(n_components,)`` in [1/n_classes, 1], that class's share of
        the unit's summed per-class means (1: fires for one class only); ``activity``
        ``(n_components,)``, the mean ``z_T`` over all of ``X`` (0: a dead unit).
    """
    z = model.eval().encode(torch.from_numpy(X)).numpy()  # (N, n_components)
    classes = np.unique(y)
    means = np.stack([z[y == c].mean(0) for c in classes])  # (n_classes, n_components)
    total = means.sum(0)
    selectivity = means.max(0) / np.maximum(total, 1e-12)
    return classes[means.argmax(0)], selectivity, z.mean(0)


def _selectivity_figure(model: DrSAE, X: np.ndarray, y: np.ndarray, shape: tuple) -> bytes:
    """Rows = classes: the 5 most selective units preferring the class, a gap, then 5
    of the 50 least selective active units; each tile a decoder atom (column of D)."""
    preferred, selectivity, activity = unit_selectivity(model, X, y)
    atoms = model.D.detach().t().numpy()  # (n_components, n_features)
    lo = atoms.min(1, keepdims=True)
    atoms = (atoms - lo) / np.maximum(atoms.max(1, keepdims=True) - lo, 1e-12)
    alive = np.flatnonzero(activity > 1e-3 * activity.max())
    least = alive[np.argsort(selectivity[alive])][: 5 * len(np.unique(y))]
    blank = np.full(atoms.shape[1], 0.5)
    tiles = []
    for row, c in enumerate(np.unique(y)):
        mine = alive[preferred[alive] == c]
        top = mine[np.argsort(-selectivity[mine])][:5]
        row_tiles = [atoms[j] for j in top] + [blank] * (6 - len(top))
        row_tiles += [atoms[j] for j in least[5 * row : 5 * row + 5]]
        tiles += row_tiles + [blank] * (11 - len(row_tiles))
    return figures.tile(np.stack(tiles).reshape(-1, *shape), ncols=11)


@torch.no_grad()
def step_activity(model: DrSAE, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Per-step mean activity ``(T,)``: ``||z_t||_2``, and the summed activity of the
    quarter most class-selective ("categorical") and least selective ("part") live units."""
    _, selectivity, activity = unit_selectivity(model, X, y)
    alive = np.flatnonzero(activity > 1e-3 * activity.max())
    order = alive[np.argsort(selectivity[alive])]
    k = max(len(order) // 4, 1)
    states = torch.stack(model.trajectory(torch.from_numpy(X))).numpy()  # (T, N, n_components)
    return {
        "code norm": np.linalg.norm(states, axis=2).mean(1),
        "categorical units": states[:, :, order[-k:]].sum(2).mean(1),
        "part units": states[:, :, order[:k]].sum(2).mean(1),
    }


def _lines_figure(series: dict[str, np.ndarray], width: int = 480, height: int = 300) -> bytes:
    """A line chart (Pillow) of each series divided by its last value, against the step."""
    import io

    from PIL import Image, ImageDraw

    colors = [(0, 0, 0), (200, 40, 40), (40, 90, 200)]
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    left, right, top, bottom = 50, width - 15, 15, height - 40
    curves = {k: v / max(float(v[-1]), 1e-12) for k, v in series.items()}
    n = len(next(iter(curves.values())))
    y_max = max(1.2, *(float(v.max()) for v in curves.values()))

    def xy(t: int, v: float) -> tuple[float, float]:
        x = left + (right - left) * (t / max(n - 1, 1))
        return x, bottom - (bottom - top) * v / y_max

    draw.line([(left, top), (left, bottom), (right, bottom)], fill=(0, 0, 0))
    for v in (0.0, 0.5, 1.0):
        draw.text((5, xy(0, v)[1] - 6), f"{v:.1f}", fill=(0, 0, 0))
    for t in range(n):
        draw.text((xy(t, 0)[0] - 3, bottom + 5), str(t + 1), fill=(0, 0, 0))
    draw.text(((left + right) // 2 - 40, bottom + 22), "step t (z_t)", fill=(0, 0, 0))
    draw.text((left + 10, top), "activity at step t / activity at step T", fill=(0, 0, 0))
    for i, (name, v) in enumerate(curves.items()):
        draw.line([xy(t, float(v[t])) for t in range(n)], fill=colors[i % 3], width=2)
        draw.text((right - 150, bottom - 60 + 14 * i), name, fill=colors[i % 3])
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def extra_figures(
    model: DrSAE, X: np.ndarray, y: np.ndarray, shape: tuple[int, int]
) -> dict[str, bytes]:
    """The family's analysis figures (hook called by ``pipeline.make_figures``)."""
    return {
        "unit_selectivity.png": _selectivity_figure(model, X, y, shape),
        "step_activity.png": _lines_figure(step_activity(model, X, y)),
    }
