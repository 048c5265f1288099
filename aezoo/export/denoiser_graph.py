"""The inference form of :class:`aezoo.models.denoiser.CSCDenoiser` that is exported to ONNX.

It computes the same function as the model's ``forward`` (CSCNet, Simon & Elad 2019, §3:
``z_0 = soft(A (eta x), theta_0)``, ``z_{t+1} = soft(z_t + A (eta (x - B z_t)),
theta_{t+1})``, ``x_hat = C z_T``), rewritten so that onnxruntime's CPU kernels run it fast:

* the decoders ``B`` and ``C`` (``K`` channels to 1) become a depthwise ``k x k``
  convolution (``groups = K``) followed by a sum over the channels (a ``1 x 1``
  convolution with weights 1, which stays in onnxruntime's blocked layout: 13 % faster
  than ``ReduceSum``). onnxruntime's blocked
  (NCHWc) convolutions pad a 1-channel output to a block of 16 channels, so a plain
  ``K -> 1`` convolution did 16 times its work: on a 481 x 321 BSD68 image it took 45 % of
  the graph's time (``benchmarks/RESULTS.md``, "BSD68 denoiser speed");
* the soft threshold is ``u - min(max(u, -theta), theta)`` (3 elementwise operations)
  instead of ``sign(u) relu(|u| - theta)`` (5); both are the proximal map of
  ``theta |u|``;
* the fixed step ``eta`` is folded into the encoder's filters and the thresholds.

Inputs and output as :class:`aezoo.spec.DenoiserSpec`: ``noisy`` float32 ``(N, 1, H, W)``
on the ``uint8 / 255`` scale, ``sigma`` float32 ``(N,)`` on the 0-255 scale, ``denoised``
``(N, 1, H, W)``. Borders are padded by reflection before every convolution, as in the
model. :func:`aezoo.export.denoiser.export_denoiser_onnx` checks that onnxruntime running
this graph agrees with the torch model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aezoo.models.denoiser import CSCDenoiser


class DenoiserGraph(nn.Module):
    """Frozen copy of a trained :class:`CSCDenoiser`'s weights in the ONNX-friendly form
    described in the module docstring (no parameters; the weights are buffers)."""

    def __init__(self, model: CSCDenoiser) -> None:
        super().__init__()
        self.pad = model.config.kernel_size // 2
        self.n_iterations = model.config.n_iterations
        with torch.no_grad():
            eta = model.eta.detach()
            self.register_buffer("enc", (model.A.weight * eta).clone())  # (K, 1, k, k)
            # (1, K, k, k) -> (K, 1, k, k): one filter per code channel, summed afterwards
            self.register_buffer("dec_b", model.B.weight.transpose(0, 1).clone())
            self.register_buffer("dec_c", model.C.weight.transpose(0, 1).clone())
            # theta_t[k] = eta relu(c_t[k]) sigma / 255, per unit of sigma: (T + 1, K)
            self.register_buffer("theta", F.relu(model.threshold) * eta / 255.0)
            self.register_buffer("ones", torch.ones(1, model.config.n_filters, 1, 1))

    def _reflect(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (self.pad,) * 4, mode="reflect")

    def _decode(self, z: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
        per_channel = F.conv2d(self._reflect(z), filters, groups=filters.shape[0])
        return F.conv2d(per_channel, self.ones)  # the channel sum, kept in blocked layout

    @staticmethod
    def _soft(u: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        return u - torch.minimum(torch.maximum(u, -theta), theta)

    def forward(self, noisy: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        # (N, T + 1, K, 1, 1): every iteration's thresholds for every image's sigma
        theta = self.theta[None, :, :, None, None] * sigma.reshape(-1, 1, 1, 1, 1)
        z = self._soft(F.conv2d(self._reflect(noisy), self.enc), theta[:, 0])
        for t in range(1, self.n_iterations + 1):
            residual = noisy - self._decode(z, self.dec_b)
            z = self._soft(z + F.conv2d(self._reflect(residual), self.enc), theta[:, t])
        return self._decode(z, self.dec_c)


__all__ = ["DenoiserGraph"]
