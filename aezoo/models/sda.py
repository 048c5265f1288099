"""Stacked denoising autoencoders (SdA).

Vincent, Larochelle, Bengio & Manzagol, ICML 2008; Vincent et al., "Stacked
Denoising Autoencoders", JMLR 11 (2010) 3371-3408 (§2.3, §3). Joint training of
the whole stack: Zhou, Arpit, Nwogu & Govindaraju, arXiv:1405.1380.

Orientation: inputs ``X`` float32 ``(batch, n_features)``; layer ``l`` maps
``h_{l-1}`` of width ``sizes[l-1]`` to ``h_l`` of width ``sizes[l]`` with
``h_l = s(h_{l-1} W_l^T + b_l)`` where ``W_l`` has shape ``(sizes[l], sizes[l-1])``
(the ``nn.Linear`` convention) and ``s`` is the logistic sigmoid.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from torch import nn

from aezoo.models.base import AutoEncoder, head_class_names
from aezoo.spec import InputSpec


class SdAConfig(BaseModel):
    """Hyperparameters of a stacked denoising autoencoder (constructor args only)."""

    model_config = ConfigDict(extra="forbid")

    n_features: int = Field(784, gt=0)  # input width (MNIST: 28*28 pixels in [0, 1])
    hidden_sizes: list[int] = [400, 300, 200]  # widths of the stacked dA layers, bottom up
    tied_weights: bool = True  # decoder W' = W^T (the papers' default)
    output_activation: Literal["sigmoid", "linear"] = "sigmoid"  # sigmoid for [0,1] inputs
    n_classes: int | None = 10  # softmax head on the top code; None = no classifier
    class_names: list[str] | None = None  # label names in logit order; None: "0", "1", ...
    dropout: float = Field(0.0, ge=0.0, lt=1.0)  # on hidden codes during fine-tuning only
    image_shape: list[int] | None = [28, 28]  # for the input spec and figures

    @field_validator("hidden_sizes")
    @classmethod
    def _sizes(cls, v: list[int]) -> list[int]:
        if not v or any(s <= 0 for s in v):
            raise ValueError(f"hidden_sizes must be a non-empty list of positive ints, got {v}")
        return v

    @model_validator(mode="after")
    def _names(self) -> SdAConfig:
        head_class_names(self.n_classes, self.class_names)
        return self


class DenoisingAutoencoder(nn.Module):
    """One dA layer: ``h = s(W x + b)``, ``x_hat = act(W' h + b')``.

    Args:
        n_visible: input width.
        n_hidden: code width.
        tied_weights: use ``W' = W^T`` (no separate decoder matrix).
        output_activation: ``"sigmoid"`` for inputs in [0, 1] (cross-entropy loss),
            ``"linear"`` for real-valued inputs (squared-error loss).
    """

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        tied_weights: bool = True,
        output_activation: Literal["sigmoid", "linear"] = "sigmoid",
    ) -> None:
        super().__init__()
        self.encoder = nn.Linear(n_visible, n_hidden)
        # Glorot-uniform init scaled x4 for sigmoid units (Bengio & Glorot 2010).
        bound = 4.0 * (6.0 / (n_visible + n_hidden)) ** 0.5
        nn.init.uniform_(self.encoder.weight, -bound, bound)
        nn.init.zeros_(self.encoder.bias)
        self.decoder_bias = nn.Parameter(torch.zeros(n_visible))
        self.decoder_weight = (
            None if tied_weights else nn.Parameter(self.encoder.weight.detach().t().clone())
        )
        self.output_activation = output_activation

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.encoder(x))  # (B, n_hidden)

    def decode_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Pre-activation of the reconstruction, ``(B, n_visible)``."""
        # W' has shape (n_visible, n_hidden); tied: W' = W^T
        w = self.encoder.weight.t() if self.decoder_weight is None else self.decoder_weight
        return F.linear(h, w, self.decoder_bias)  # (B, n_visible)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        a = self.decode_logits(h)
        return torch.sigmoid(a) if self.output_activation == "sigmoid" else a


class StackedDenoisingAutoencoder(AutoEncoder):
    """A stack of dA layers with an optional softmax head on the top code.

    ``encode`` runs the input up through every encoder (``(B, n_features)`` ->
    ``(B, hidden_sizes[-1])``); ``decode`` runs a code down through every
    decoder; ``classify`` returns logits ``(B, n_classes)`` of the softmax layer
    on the top code (Vincent et al. 2010, §3.3, supervised fine-tuning).
    """

    architecture = "sda"
    family = "sda"
    config_class = SdAConfig

    def __init__(self, config: SdAConfig) -> None:
        super().__init__(config)
        sizes = [config.n_features, *config.hidden_sizes]
        self.layers = nn.ModuleList(
            DenoisingAutoencoder(
                sizes[i],
                sizes[i + 1],
                tied_weights=config.tied_weights,
                # hidden codes are sigmoid units in (0, 1): reconstruct them with a sigmoid
                output_activation=config.output_activation if i == 0 else "sigmoid",
            )
            for i in range(len(sizes) - 1)
        )
        self.head = (
            nn.Linear(config.hidden_sizes[-1], config.n_classes) if config.n_classes else None
        )
        self.dropout = nn.Dropout(config.dropout)

    @property
    def n_components(self) -> int:
        return self.config.hidden_sizes[-1]

    @property
    def has_classifier(self) -> bool:
        return self.head is not None

    @property
    def class_names(self) -> list[str] | None:
        return head_class_names(self.config.n_classes, self.config.class_names)

    def input_spec(self) -> InputSpec:
        lo_hi = (0.0, 1.0) if self.config.output_activation == "sigmoid" else (-1e6, 1e6)
        return InputSpec(
            n_features=self.config.n_features,
            shape=self.config.image_shape,
            value_range=lo_hi,
            preprocessing="grayscale pixels scaled to [0, 1] (uint8 / 255)"
            if self.config.output_activation == "sigmoid"
            else "real-valued features",
        )

    def filters(self) -> torch.Tensor:
        return self.layers[0].encoder.weight  # (hidden_sizes[0], n_features)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        h = x  # (B, n_features)
        for layer in self.layers:
            h = layer.encode(h)  # (B, hidden_sizes[l])
        return h

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = z  # (B, hidden_sizes[-1])
        for layer in reversed(self.layers):
            h = layer.decode(h)
        return h  # (B, n_features)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        if self.head is None:
            return super().classify(x)
        h = x
        for layer in self.layers:
            h = self.dropout(layer.encode(h))
        return self.head(h)  # (B, n_classes)


def sda_mnist(**kwargs) -> StackedDenoisingAutoencoder:
    """784-400-300-200-10 sigmoid SdA with tied weights (the bundled ``sda-mnist``)."""
    return StackedDenoisingAutoencoder(SdAConfig(**kwargs))


def sda_mnist_tiny(**kwargs) -> StackedDenoisingAutoencoder:
    """784-32-16 SdA for unit tests."""
    return StackedDenoisingAutoencoder(SdAConfig(hidden_sizes=[32, 16], **kwargs))


VARIANTS = [sda_mnist, sda_mnist_tiny]
