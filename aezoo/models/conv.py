"""The convolutional autoencoder of ACAI (Berthelot, Raffel, Roy & Goodfellow, arXiv:1807.07543).

The architecture of the paper's §4-5 experiments, with the facts taken from the
official code (github.com/brain-research/acai, ``lib/layers.py`` and the
``runs/*.sh`` flags); written here from those facts, not copied:

* encoder: a 1x1 convolution to ``depth`` channels (no activation); then for
  each scale ``s = 0 .. scales-1`` two 3x3 convolutions with ``depth << s``
  channels, each followed by a leaky ReLU of slope 0.2, and a 2x2 average
  pooling; then a 3x3 convolution to ``depth << scales`` channels + leaky ReLU
  and a 3x3 convolution to ``latent_channels`` channels (no activation);
* decoder: for ``s = scales-1 .. 0`` two 3x3 convolutions with ``depth << s``
  channels + leaky ReLU, then a nearest-neighbour 2x upsampling; then a 3x3
  convolution to ``depth`` channels + leaky ReLU and a 3x3 convolution to one
  channel (no activation);
* every convolution is zero-padded ("same"), has a bias initialised to zero
  and weights drawn from ``N(0, 1 / ((1 + 0.2^2) fan_in))`` with
  ``fan_in = k * k * in_channels`` (``HeModifiedNormalInitializer(0.2)``: half of He's
  variance for a leaky ReLU, so the signal's variance halves at every layer and an
  untrained net outputs almost a constant; ``init_gain = sqrt(2)`` gives He's init);
* lines (32x32): ``depth=16``, ``scales=4``, ``latent_channels=16``: a latent of
  2x2x16 = 64 values (official flags ``--latent_width=2 --depth=16 --latent=16``).

Orientation: the shared interface works on flat rows. ``X`` is float32
``(B, C*H*W)`` (``C x H x W`` images, channel-first, row-major; C = 1 for grayscale) in ``value_range`` ([-1, 1]
for lines); codes are float32 ``(B, latent_channels * (H >> scales) * (W >> scales))``,
the latent feature map ``(C, h, w)`` flattened in torch's channel-first order.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from torch import nn

from aezoo.models.base import AutoEncoder
from aezoo.spec import InputSpec

LEAKY_SLOPE = 0.2  # tf.nn.leaky_relu's default, used by every layer of the official code


class ConvAEConfig(BaseModel):
    """Hyperparameters of the ACAI convolutional autoencoder (constructor args only)."""

    model_config = ConfigDict(extra="forbid")

    image_shape: list[int] = [32, 32]  # (H, W); each divisible by 2**scales
    channels: int = Field(1, ge=1, le=4)  # image channels (1 grayscale, 3 RGB), channel-first
    depth: int = Field(16, ge=1)  # channels of the first scale; doubles at each scale (lines: 16)
    scales: int = Field(4, ge=0)  # 2x2 poolings; latent map is (H >> scales, W >> scales)
    latent_channels: int = Field(16, ge=1)  # channels of the latent map (lines: 16)
    value_range: tuple[float, float] = (-1.0, 1.0)  # inputs, and decode's clamp (lines: [-1, 1])
    # dropout baseline (ACAI §4): drop probability on the flattened latent, training loss only
    # (official: tf.nn.dropout with keep probability 0.5); never applied by encode/decode.
    latent_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    # multiplies every initial weight's std (official: 1.0, i.e. std 1/sqrt(1.04 fan_in), which
    # halves the signal's variance at each layer); sqrt(2) is He init for a leaky ReLU of 0.2
    init_gain: float = Field(1.0, gt=0.0)

    @field_validator("image_shape")
    @classmethod
    def _shape(cls, v: list[int]) -> list[int]:
        if len(v) != 2 or any(s <= 0 for s in v):
            raise ValueError(f"image_shape must be two positive ints [H, W], got {v}")
        return v

    @model_validator(mode="after")
    def _check(self) -> ConvAEConfig:
        lo, hi = self.value_range
        if not lo < hi:
            raise ValueError(f"value_range must satisfy low < high, got {self.value_range}")
        step = 1 << self.scales
        if any(s % step for s in self.image_shape):
            raise ValueError(
                f"image_shape {self.image_shape} must be divisible by 2**scales = {step}"
            )
        return self

    @property
    def n_features(self) -> int:
        """Values per image, ``channels * H * W``."""
        return self.channels * self.image_shape[0] * self.image_shape[1]

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """The latent feature map ``(latent_channels, H >> scales, W >> scales)``."""
        h, w = self.image_shape
        return (self.latent_channels, h >> self.scales, w >> self.scales)


def _conv(c_in: int, c_out: int, k: int, gain: float = 1.0) -> nn.Conv2d:
    """A "same"-padded convolution with the official init times ``gain`` (module docstring)."""
    conv = nn.Conv2d(c_in, c_out, k, padding=k // 2)
    std = gain / math.sqrt((1.0 + LEAKY_SLOPE**2) * c_in * k * k)
    nn.init.normal_(conv.weight, 0.0, std)
    nn.init.zeros_(conv.bias)
    return conv


class _LeakyConv(nn.Sequential):
    """3x3 convolution followed by a leaky ReLU of slope 0.2."""

    def __init__(self, c_in: int, c_out: int, gain: float = 1.0) -> None:
        super().__init__(_conv(c_in, c_out, 3, gain), nn.LeakyReLU(LEAKY_SLOPE))


class _Upsample(nn.Module):
    """Nearest-neighbour 2x upsampling of ``(B, C, h, w)`` to ``(B, C, 2h, 2w)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="nearest")


def conv_encoder(config: ConvAEConfig) -> nn.Sequential:
    """``(B, C, H, W)`` -> latent map ``(B, latent_channels, H >> scales, W >> scales)``."""
    d, g = config.depth, config.init_gain
    layers: list[nn.Module] = [_conv(config.channels, d, 1, g)]
    c = d
    for s in range(config.scales):
        layers += [_LeakyConv(c, d << s, g), _LeakyConv(d << s, d << s, g), nn.AvgPool2d(2)]
        c = d << s
    top = d << config.scales
    layers += [_LeakyConv(c, top, g), _conv(top, config.latent_channels, 3, g)]
    return nn.Sequential(*layers)


def conv_decoder(config: ConvAEConfig) -> nn.Sequential:
    """Latent map ``(B, latent_channels, h, w)`` -> unclamped images ``(B, C, H, W)``."""
    d, g = config.depth, config.init_gain
    layers: list[nn.Module] = []
    c = config.latent_channels
    for s in range(config.scales - 1, -1, -1):
        layers += [_LeakyConv(c, d << s, g), _LeakyConv(d << s, d << s, g), _Upsample()]
        c = d << s
    layers += [_LeakyConv(c, d, g), _conv(d, config.channels, 3, g)]
    return nn.Sequential(*layers)


class ConvAutoEncoder(AutoEncoder):
    """The ACAI paper's convolutional autoencoder on flat grayscale rows.

    ``encode`` maps ``(B, C*H*W)`` float32 inputs in ``value_range`` to codes
    ``(B, n_components)``; ``decode`` maps codes back to ``(B, C*H*W)`` float32.
    In eval mode (serving, ONNX export, metrics) ``decode`` clamps to
    ``value_range``, the serving contract. In training mode it returns the raw
    decoder output like :meth:`reconstruct`: the official ACAI critic sees, and
    its adversarial gradient reaches, the unclamped decoder output. Losses use
    :meth:`reconstruct`. No classifier head.

    Raises:
        ValueError: (``encode``/``decode``/``reconstruct``) an input that is not 2-D with
            ``n_features`` / ``n_components`` columns.
    """

    architecture = "conv_ae"
    family = "conv-ae"
    config_class = ConvAEConfig

    def __init__(self, config: ConvAEConfig) -> None:
        super().__init__(config)
        self.encoder = conv_encoder(config)
        self.decoder = conv_decoder(config)

    @property
    def n_components(self) -> int:
        c, h, w = self.config.latent_shape
        return c * h * w

    def input_spec(self) -> InputSpec:
        lo, hi = self.config.value_range
        c = self.config.channels
        return InputSpec(
            n_features=self.n_features,
            shape=list(self.config.image_shape) if c == 1 else [c, *self.config.image_shape],
            value_range=(lo, hi),
            preprocessing=f"grayscale pixels scaled linearly to [{lo:g}, {hi:g}] "
            f"(lines: background {lo:g}, line {hi:g}), row-major {self.config.image_shape}",
        )

    def filters(self) -> torch.Tensor | None:
        """None: the first layer is a 1x1 convolution (a per-pixel gain, no image-sized filter)."""
        return None

    def _check(self, t: torch.Tensor, width: int, what: str) -> None:
        if t.ndim != 2 or t.shape[1] != width:
            raise ValueError(f"{what} must have shape (batch, {width}), got {tuple(t.shape)}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs ``(B, C*H*W)`` float32 in ``value_range`` -> codes ``(B, n_components)``."""
        self._check(x, self.n_features, "inputs")
        h, w = self.config.image_shape
        z = self.encoder(x.reshape(-1, self.config.channels, h, w))  # (B, latent_channels, h', w')
        return z.flatten(1)  # (B, n_components)

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, n_components)`` -> raw (unclamped) decoder output ``(B, C*H*W)``."""
        self._check(z, self.n_components, "codes")
        y = self.decoder(z.reshape(-1, *self.config.latent_shape))  # (B, C, H, W)
        return y.flatten(1)  # (B, C*H*W)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, n_components)`` -> images ``(B, C*H*W)``, clamped to ``value_range``
        in eval mode (unclamped in training mode, see the class docstring)."""
        y = self.reconstruct(z)
        if self.training:
            return y
        lo, hi = self.config.value_range
        return y.clamp(lo, hi)


def conv_ae_lines(**kwargs) -> ConvAutoEncoder:
    """The paper's lines model: 32x32 input, depth 16, 4 scales, latent 2x2x16 (64 values)."""
    return ConvAutoEncoder(ConvAEConfig(**kwargs))


def conv_ae_tiny(**kwargs) -> ConvAutoEncoder:
    """8x8 input, depth 4, 2 scales, latent 2x2x4 (16 values), for unit tests."""
    args = {"image_shape": [8, 8], "depth": 4, "scales": 2, "latent_channels": 4, **kwargs}
    return ConvAutoEncoder(ConvAEConfig(**args))


VARIANTS = [conv_ae_lines, conv_ae_tiny]
