"""Discriminative recurrent sparse auto-encoders (DrSAE).

Rolfe & LeCun, "Discriminative Recurrent Sparse Auto-Encoders", arXiv:1301.3775
(ICLR 2013). The encoder is a recurrent layer of rectified linear units unrolled
``T`` times from ``z_0 = 0`` (the model section, eq. 1)::

    z_{t+1} = relu(E x + S z_t - b)

with ``E``, ``S`` and ``b`` shared across the steps. Two linear decoders read the
final state ``z_T``: ``D z_T`` reconstructs the input and
``C (z_T / ||z_T||)`` gives the class logits.

Orientation: inputs ``X`` float32 ``(batch, n_features)`` are MNIST pixels in
[0, 1]; codes ``Z`` are ``(batch, n_components)`` and non-negative. Matrices
act on column vectors as in the paper: ``E`` is ``(n_components, n_features)``,
``S`` is ``(n_components, n_components)``, ``D`` is ``(n_features,
n_components)`` (its columns are the dictionary atoms), ``C`` is ``(n_classes,
n_components)``; on a batch of rows, ``E x`` is ``X @ E.T``.

Inputs are scaled to unit L2 norm inside the model (the paper's protocol: "inputs scaled to unit
L2 norm"), so the exported graphs take raw pixels. ``D z`` reconstructs that
*normalised* input; to return pixels (the served ``denoise``/``interpolate``
contract), :meth:`DrSAE.decode` maps ``D z`` back to pixel space by a fixed
scale ``s = pixel_scale``, the mean L2 norm of the training images, and clips
to [0, 1]: ``decode(z) = clip(s * D z, 0, 1)``. The true norm of an input is not
part of its code (the code of ``x`` and of ``2 x`` are the same), so a fixed
scale is the only mapping that a decoder of ``z`` alone can apply; it is exact
for an image of average norm and off by that image's norm ratio otherwise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from aezoo.models.base import AutoEncoder, head_class_names
from aezoo.spec import InputSpec


class DrSAEConfig(BaseModel):
    """Hyperparameters of a DrSAE (constructor arguments only)."""

    model_config = ConfigDict(extra="forbid")

    n_features: int = Field(784, gt=0)  # input width (MNIST: 28*28 pixels in [0, 1])
    n_components: int = Field(400, gt=0)  # hidden units, the width of the code z_T
    n_steps: int = Field(11, ge=1)  # T, the unrolled steps of the recurrent encoder
    n_classes: int | None = 10  # classifier C on z_T / ||z_T||; None = no classifier
    class_names: list[str] | None = None  # label names in logit order; None: "0", "1", ...
    pixel_scale: float = Field(9.25, gt=0.0)  # s: decode = clip(s * D z, 0, 1); mean train norm
    eps: float = Field(1e-6, gt=0.0)  # floor of the norms divided by (zero inputs, zero codes)
    image_shape: list[int] | None = [28, 28]  # for the input spec and figures

    @model_validator(mode="after")
    def _names(self) -> DrSAEConfig:
        head_class_names(self.n_classes, self.class_names)
        return self


def unit_norm(v: torch.Tensor, eps: float) -> torch.Tensor:
    """Rows of ``v`` ``(B, n)`` divided by their L2 norm (floored at ``eps``)."""
    return v / torch.linalg.vector_norm(v, dim=1, keepdim=True).clamp_min(eps)


class DrSAE(AutoEncoder):
    """Recurrent ReLU encoder unrolled ``n_steps`` times, linear decoder, linear classifier.

    ``encode`` maps pixels ``(B, n_features)`` to ``z_T`` ``(B, n_components)``
    (non-negative); ``decode`` maps codes back to pixels in [0, 1] (see the
    module docstring for the fixed scale); ``classify`` returns logits
    ``C (z_T / ||z_T||)`` of shape ``(B, n_classes)`` (arXiv:1301.3775, the model section).

    Initialisation (our choice; the paper does not fix one): the encoder starts as
    non-negative ISTA on a random dictionary ``D`` with unit-norm atoms, step
    ``alpha = 1 / max(T - 1, 1)``: ``E = alpha D^T``, ``S = I - alpha D^T D``,
    ``b = 0`` (the paper's reading of the recurrence as learned ISTA). Its rows of
    ``E`` have norm ``alpha``, inside the paper's bound ``1.25 / (T - 1)``.
    """

    architecture = "drsae"
    family = "drsae"
    config_class = DrSAEConfig

    def __init__(self, config: DrSAEConfig) -> None:
        super().__init__(config)
        n, m = config.n_components, config.n_features
        alpha = 1.0 / max(config.n_steps - 1, 1)
        D = F.normalize(torch.randn(m, n), dim=0)  # (n_features, n_components), unit columns
        self.D = nn.Parameter(D)
        self.E = nn.Parameter(alpha * D.t().clone())  # (n_components, n_features)
        self.S = nn.Parameter(torch.eye(n) - alpha * D.t() @ D)  # (n_components, n_components)
        self.b = nn.Parameter(torch.zeros(n))  # (n_components,)
        self.C = (
            nn.Parameter(torch.randn(config.n_classes, n) / n**0.5) if config.n_classes else None
        )  # (n_classes, n_components)

    # -- shape facts -------------------------------------------------------
    @property
    def n_components(self) -> int:
        return self.config.n_components

    @property
    def has_classifier(self) -> bool:
        return self.C is not None

    @property
    def class_names(self) -> list[str] | None:
        return head_class_names(self.config.n_classes, self.config.class_names)

    def input_spec(self) -> InputSpec:
        return InputSpec(
            n_features=self.config.n_features,
            shape=self.config.image_shape,
            value_range=(0.0, 1.0),
            preprocessing="grayscale pixels scaled to [0, 1] (uint8 / 255); the model scales "
            "each input to unit L2 norm itself",
        )

    def filters(self) -> torch.Tensor:
        """Encoder filters, the rows of ``E``, ``(n_components, n_features)``.

        The decoder atoms (columns of ``D``) are ``D.t()``; the model card shows them
        in its unit-selectivity figure.
        """
        return self.E

    # -- the recurrence ----------------------------------------------------
    def trajectory(self, x: torch.Tensor) -> list[torch.Tensor]:
        """States ``[z_1, ..., z_T]``, each ``(B, n_components)``, for pixels ``x`` ``(B, n_features)``.

        ``z_0 = 0``, so ``z_1 = relu(E x - b)`` (arXiv:1301.3775, eq. 1).
        """
        u = unit_norm(x, self.config.eps) @ self.E.t() - self.b  # (B, n_components): E x - b
        z = F.relu(u)  # (B, n_components): z_1
        states = [z]
        for _ in range(self.config.n_steps - 1):
            z = F.relu(u + z @ self.S.t())  # (B, n_components): z_{t+1} = relu(E x + S z_t - b)
            states.append(z)
        return states

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.trajectory(x)[-1]  # (B, n_components): z_T >= 0

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """``D z`` ``(B, n_features)``: the reconstruction of the unit-norm input."""
        return z @ self.D.t()  # (B, n_features)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixels ``clip(s * D z, 0, 1)`` ``(B, n_features)`` with ``s = pixel_scale``."""
        return (self.config.pixel_scale * self.reconstruct(z)).clamp(0.0, 1.0)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """``C (z / ||z||)`` ``(B, n_classes)`` for codes ``z`` ``(B, n_components)``."""
        if self.C is None:
            return super().classify(z)
        return unit_norm(z, self.config.eps) @ self.C.t()  # (B, n_classes)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        if self.C is None:
            return super().classify(x)
        return self.logits(self.encode(x))


def drsae_mnist_400(**kwargs) -> DrSAE:
    """784-400(x11)-10 DrSAE, the paper's MNIST model (the bundled ``drsae-mnist``)."""
    return DrSAE(DrSAEConfig(**{"n_components": 400, "n_steps": 11, **kwargs}))


def drsae_mnist_200(**kwargs) -> DrSAE:
    """784-200(x11)-10 DrSAE (the paper's smaller model; ``n_steps=2`` for its T = 2 ablation)."""
    return DrSAE(DrSAEConfig(**{"n_components": 200, "n_steps": 11, **kwargs}))


def drsae_mnist_tiny(**kwargs) -> DrSAE:
    """784-16(x3)-10 DrSAE for unit tests."""
    return DrSAE(DrSAEConfig(**{"n_components": 16, "n_steps": 3, **kwargs}))


VARIANTS = [drsae_mnist_400, drsae_mnist_200, drsae_mnist_tiny]
