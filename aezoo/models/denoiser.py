"""Convolutional LISTA image denoiser (CSCNet: Simon & Elad, "Rethinking the CSC model for
natural images", NeurIPS 2019, §3 and Fig. 2).

Convolutional sparse coding models an image as ``x = sum_k d_k * z_k`` (``K`` filters
``d_k`` of ``k x k`` pixels, sparse feature maps ``z_k``). The denoiser unrolls ``T``
iterations of ISTA for the lasso on that model with three learned convolutions, the
encoder ``A`` (1 -> K), the decoder ``B`` (K -> 1) and the dictionary ``C`` (K -> 1)::

    z_0     = soft(A (eta x), theta_0)
    z_{t+1} = soft(z_t + A (eta (x - B z_t)), theta_{t+1})        t = 0 .. T-1
    x_hat   = C z_T

``eta`` is a fixed step (a buffer, ``1 / L`` of the initial dictionary, see
:meth:`CSCDenoiser.init_from_dictionary`); factoring it out of ``A`` and the thresholds
keeps every learned parameter near unit scale, which Adam's one learning rate needs.

with the soft threshold ``soft(u, th) = sign(u) max(|u| - th, 0)``, applied per channel.
The thresholds are proportional to the noise level, ``theta_t[k] = eta c_t[k] sigma / 255``
with learned ``c_t[k] >= 0`` (the lasso's lambda grows with sigma), so one model covers a
range of noise levels. No layer has a bias: scaling ``x`` and ``sigma`` by ``a > 0``
scales the output by ``a`` exactly (scale equivariance).

Borders: every convolution pads its input by reflection (``padding_mode="reflect"``), so
an output pixel depends only on input pixels at most ``halo = (k - 1) (T + 1)`` rows and
columns away (``A``, ``B`` and ``C`` each reach ``(k - 1) / 2``; the first code one
``A``, each iteration one ``B`` and one ``A``, the output one ``C``), and images of any
size ``>= (k + 1) / 2`` are taken whole.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn


class CSCDenoiserConfig(BaseModel):
    """Shape of a :class:`CSCDenoiser` (``model_args`` in the artifact's config.json).

    Attributes:
        n_filters: ``K``, filters of each convolution (the code maps' channels).
        kernel_size: ``k``, odd filter width in pixels.
        n_iterations: ``T``, unrolled ISTA iterations after the first code.
    """

    model_config = ConfigDict(extra="forbid")

    n_filters: int = Field(64, ge=1, le=1024)
    kernel_size: int = Field(7, ge=1, le=31)
    n_iterations: int = Field(8, ge=0, le=64)

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, k: int) -> int:
        if k % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {k}")
        return k

    @property
    def halo(self) -> int:
        """Receptive-field radius in pixels: ``(k - 1) (T + 1)``."""
        return (self.kernel_size - 1) * (self.n_iterations + 1)

    @property
    def min_size(self) -> int:
        """Smallest height and width: a reflection pad of ``(k - 1) / 2`` needs more rows."""
        return (self.kernel_size - 1) // 2 + 1


def soft_threshold(u: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """``sign(u) max(|u| - theta, 0)``, the proximal map of ``theta |u|`` (``theta >= 0``)."""
    return torch.sign(u) * F.relu(u.abs() - theta)


class CSCDenoiser(nn.Module):
    """Unrolled convolutional ISTA denoiser; see the module docstring for the equations.

    ``forward(noisy, sigma)``: ``noisy`` float32 ``(N, 1, H, W)`` on the ``uint8 / 255``
    scale (not clipped), ``H, W >= config.min_size``; ``sigma`` float32 ``(N,)``, the noise
    standard deviation on the 0-255 scale. Returns ``denoised`` ``(N, 1, H, W)``, same
    scale, not clipped. This is the signature of ``onnx/denoiser.onnx``
    (:class:`aezoo.spec.DenoiserSpec`).
    """

    architecture = "csc_denoiser"

    def __init__(self, config: CSCDenoiserConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or CSCDenoiserConfig()
        K, k = config.n_filters, config.kernel_size

        def conv(cin: int, cout: int) -> nn.Conv2d:
            return nn.Conv2d(cin, cout, k, padding=k // 2, padding_mode="reflect", bias=False)

        self.A, self.B, self.C = conv(1, K), conv(K, 1), conv(K, 1)
        # c_t per iteration and channel; kept >= 0 by a ReLU in forward
        self.threshold = nn.Parameter(torch.full((config.n_iterations + 1, K), 1.0))
        self.register_buffer("eta", torch.tensor(1.0))  # the ISTA step, fixed

    @torch.no_grad()
    def init_from_dictionary(self, atoms: torch.Tensor, lam: float = 1.0) -> None:
        """Start as ISTA on a patch dictionary (CSCNet §3: ``A = B^T``, ``C = B``, ``eta = 1 / L``).

        Args:
            atoms: ``(K, k * k)`` or ``(K, k, k)`` float patch atoms (a dictionary learned
                on ``k x k`` image patches, one atom a row).
            lam: the lasso's weight per unit of noise standard deviation (0-1 scale);
                every ``c_t`` starts at ``lam`` (ISTA's threshold ``eta lam``).

        ``L`` is the squared spectral norm of the convolution ``B``, estimated by power
        iteration on a 64 x 64 image, so that the ISTA step ``1 / L`` is stable.

        Raises:
            ValueError: the atoms' count or size disagree with the config.
        """
        K, k = self.config.n_filters, self.config.kernel_size
        if atoms.numel() != K * k * k:
            raise ValueError(f"atoms must be ({K}, {k}*{k}), got {tuple(atoms.shape)}")
        d = atoms.reshape(K, 1, k, k).to(self.B.weight.dtype)
        self.B.weight.copy_(d.transpose(0, 1))  # (1, K, k, k): sum_k d_k * z_k
        self.C.weight.copy_(d.transpose(0, 1))
        L = conv_operator_norm(self.B) ** 2
        self.A.weight.copy_(d.flip(-1, -2))  # B^T is the flipped (correlation) filter
        self.eta.fill_(1.0 / L)
        self.threshold.fill_(lam)

    def forward(self, noisy: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        if noisy.ndim != 4 or noisy.shape[1] != 1:
            raise ValueError(f"noisy must be (N, 1, H, W), got {tuple(noisy.shape)}")
        m = self.config.min_size
        if noisy.shape[-1] < m or noisy.shape[-2] < m:
            raise ValueError(
                f"noisy must be at least {m}x{m} pixels, got {tuple(noisy.shape[-2:])}"
            )
        level = (sigma.reshape(-1, 1, 1, 1) / 255.0).to(noisy.dtype)  # (N, 1, 1, 1)
        eta = self.eta
        c = F.relu(self.threshold) * eta  # (T + 1, K)
        z = soft_threshold(self.A(eta * noisy), c[0].reshape(1, -1, 1, 1) * level)
        for t in range(1, self.config.n_iterations + 1):
            theta = c[t].reshape(1, -1, 1, 1) * level
            z = soft_threshold(z + self.A(eta * (noisy - self.B(z))), theta)
        return self.C(z)


@torch.no_grad()
def conv_operator_norm(conv: nn.Conv2d, size: int = 64, n_iter: int = 30) -> float:
    """Largest singular value of a bias-free convolution as a linear map (power iteration).

    The adjoint is computed by autograd on a ``size x size`` input (zero-padded, a close
    estimate of the reflect-padded operator's norm for ``size`` much larger than the filter).
    """
    w = conv.weight.detach()
    x = torch.randn(1, w.shape[1], size, size, generator=torch.Generator().manual_seed(0))
    s = 1.0
    for _ in range(n_iter):
        x = x / x.norm()
        with torch.enable_grad():
            xx = x.clone().requires_grad_(True)
            y = F.conv2d(xx, w, padding=w.shape[-1] // 2)
            (g,) = torch.autograd.grad(0.5 * y.pow(2).sum(), xx)  # B^T B x
        s = float(g.norm()) ** 0.5
        x = g
    return s
