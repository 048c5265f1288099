"""Per-sample anomaly scores of every family: the energy the model was trained to lower.

A sample the model reconstructs badly is unlike its training data; the score is higher for
more anomalous samples. Each family's score is a sum over features of per-feature
contributions, so ``scores = contributions.sum(1)`` exactly (up to float rounding):

* SdA, conv and other plain autoencoders (Vincent et al. 2010, JMLR 11, eq. 1: the squared
  reconstruction error they minimise)::

      contributions[i, j] = (x_ij - decode(encode(x_i))_j)^2 / n_features

  i.e. the score is the mean squared error over features, in the space the model sees.
* LISTA sparse coders (Gregor & LeCun 2010, eq. 1; the energy of ``sparse_code``)::

      contributions[i, j] = (y_ij - D(z_i)_j)^2 / n_features + lam ||z_i||_1 / n_features

  with ``y`` the normalised input and ``z`` the encoder's code: the lasso energy the
  encoder approximates the minimiser of, its sparsity penalty spread evenly over features.
* DrSAE (Rolfe & LeCun 2013, arXiv:1301.3775 §2, the loss ``||x - D z||^2 / 2 + lambda
  ||z||_1`` on the unit-norm input)::

      contributions[i, j] = (u_ij - (D z_i)_j)^2 / 2 + lambda ||z_i||_1 / n_features

  with ``u = x / ||x||`` and ``lambda`` = :data:`DRSAE_LAMBDA` (the trainer's default).
* A :class:`~aezoo.models.scaled.ScaledAutoEncoder` (models trained on users' tables)
  scores its base model on the scaled input ``(x - offset) / scale``: the space the model
  sees, so one column in large units does not dominate the score.

Inputs ``(B, n_features)`` float32 in the model's input space; outputs ``scores`` ``(B,)``
and ``contributions`` ``(B, n_features)``, float32, >= 0.
"""

from __future__ import annotations

import torch
from torch import nn

from aezoo.models.base import AutoEncoder

DRSAE_LAMBDA = 0.01  # aezoo.training.drsae's default sparsity (lambda of the L1 term)

SCORE_TEXT = {
    "reconstruction": "mean squared reconstruction error over features (Vincent et al. 2010)",
    "lasso_energy": "reconstruction error + lam ||z||_1, the lasso energy (Gregor & LeCun 2010)",
    "drsae_energy": "||u - Dz||^2/2 + lambda ||z||_1 on unit-norm input (arXiv:1301.3775 §2)",
}


def score_kind(model: AutoEncoder) -> str:
    """The key in :data:`SCORE_TEXT` of ``model``'s score (a scaled model: its base's)."""
    from aezoo.models.drsae import DrSAE
    from aezoo.models.lista import SparseCodingAutoencoder
    from aezoo.models.scaled import ScaledAutoEncoder

    if isinstance(model, ScaledAutoEncoder):
        return score_kind(model.base)
    if isinstance(model, SparseCodingAutoencoder):
        return "lasso_energy"
    if isinstance(model, DrSAE):
        return "drsae_energy"
    return "reconstruction"


def contributions(model: AutoEncoder, x: torch.Tensor) -> torch.Tensor:
    """Per-feature contributions ``(B, n_features)`` (module docstring) for inputs ``x``."""
    from aezoo.models.drsae import DrSAE, unit_norm
    from aezoo.models.lista import SparseCodingAutoencoder
    from aezoo.models.scaled import ScaledAutoEncoder

    if isinstance(model, ScaledAutoEncoder):
        return contributions(model.base, model._scale_in(x))
    m = x.shape[1]
    if isinstance(model, SparseCodingAutoencoder):
        y = model.normalize(x)  # (B, m)
        z = model.encoder(y)  # (B, n_components)
        l1 = model.config.lam * z.abs().sum(dim=1, keepdim=True) / m  # (B, 1)
        return (y - model.reconstruct(z)).pow(2) / m + l1
    if isinstance(model, DrSAE):
        u = unit_norm(x, model.config.eps)  # (B, m)
        z = model.encode(x)  # (B, n_components)
        l1 = DRSAE_LAMBDA * z.abs().sum(dim=1, keepdim=True) / m
        return 0.5 * (u - model.reconstruct(z)).pow(2) + l1
    return (x - model.decode(model.encode(x))).pow(2) / m


def score(model: AutoEncoder, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scores (B,), contributions (B, n_features))`` of inputs ``x`` ``(B, n_features)``."""
    c = contributions(model, x)
    return c.sum(dim=1), c


class Scorer(nn.Module):
    """``score`` as the forward of an exportable module (two outputs)."""

    def __init__(self, model: AutoEncoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return score(self.model, x)
