"""Sparse coding with variance regularisation and a LISTA encoder.

Evtimova & LeCun, "Sparse Coding with Multi-Layer Decoders using Variance
Regularization", arXiv:2112.09214 (TMLR 2022), §3 (energy, eq. 1-3 and the
variance hinge), §3.1 (FISTA inference), §3.2 (LISTA amortised encoder), §4
(linear and "NL" decoders). LISTA: Gregor & LeCun, "Learning Fast Approximations
of Sparse Coding", ICML 2010, §3. FISTA: Beck & Teboulle, SIAM J. Imaging
Sciences 2(1), 2009.

The energy of a batch ``Y`` (normalised pixels) and codes ``Z >= 0`` (eq. 1-3 with
the scaling of the official code, github.com/kevtimova/deep-sparse, so that its
lambda, beta and gamma mean the same here; ``n`` = n_features, ``m`` = n_components)::

    E(Y, Z) = sum_i [ ||y_i - D(z_i)||^2 / n + lam ||z_i||_1 + gamma ||z_i - E(y_i)||^2 / m ]
              + beta * sum_j max(0, T - std_j(Z))^2

(the paper writes the data term as ``||y - D(z)||^2 / 2``; per pixel it is the same
energy with lambda and gamma rescaled, and the official settings are for this form).

Training (``aezoo.training.lista``) finds ``z*`` by FISTA from the encoder's
prediction, then updates the decoder on the reconstruction of ``z*`` and the
encoder by regression onto ``z*``; at serving time the encoder alone gives the
code (amortised inference), so the exported graphs contain no FISTA.

Orientation: inputs ``X`` float32 ``(batch, n_features)`` are pixels in [0, 1];
``Y = (X - mean) / std`` is the normalised input the energy is written on; codes
``Z`` are ``(batch, n_components)`` and non-negative. The linear dictionary ``D``
is ``(n_features, n_components)``: its columns are the atoms, and on a batch of
rows ``D z`` is ``Z @ D.T``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from aezoo.models.base import AutoEncoder
from aezoo.spec import InputSpec

Decoder = Callable[[torch.Tensor], torch.Tensor]


# -- numeric kernels -----------------------------------------------------------------
def fista(
    y: torch.Tensor,
    decoder: torch.Tensor | Decoder,
    lam: float,
    step: float | None = None,
    z0: torch.Tensor | None = None,
    max_steps: int = 200,
    tol: float = 1e-3,
    penalty: Callable[[torch.Tensor], torch.Tensor] | None = None,
    data_weight: float = 1.0,
    penalty_grad: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, int]:
    """Non-negative sparse codes by FISTA (Beck & Teboulle 2009; arXiv:2112.09214 §3.1).

    Minimises, over ``Z >= 0``,
    ``sum_i [w ||y_i - D(z_i)||^2 / 2 + lam ||z_i||_1] [+ penalty(Z)]`` (``w`` =
    ``data_weight``) with the proximal step ``z = max(0, u - step * lam)`` and
    Nesterov momentum. Each sample stops on its own: once its relative change
    ``||z_k - z_{k-1}|| / ||z_{k-1}||`` falls below ``tol`` it is frozen (no further
    steps), and the loop ends when every sample is frozen or after ``max_steps``
    (a sample whose previous code is all zero has an undefined ratio and keeps going,
    as in the official code).

    Args:
        y: targets ``(B, n_features)``.
        decoder: either the dictionary ``D`` ``(n_features, n_components)`` (atoms as
            columns; the gradient is computed in closed form) or a callable mapping
            codes ``(B, n_components)`` to ``(B, n_features)`` (the gradient of the
            smooth part comes from autograd; an :class:`NLDecoder` gives it in closed
            form, :meth:`NLDecoder.data_term_grad`).
        lam: L1 weight ``lambda >= 0``.
        step: FISTA step size. ``None`` with a dictionary: ``1 / (w ||D||_2^2)`` (the
            inverse Lipschitz constant of the data term's gradient). Required with a
            callable decoder.
        z0: warm start ``(B, n_components)`` (the encoder's prediction); clamped to
            ``>= 0``. ``None``: zeros (needs a dictionary to know ``n_components``).
        max_steps: at most this many FISTA steps (>= 1).
        tol: per-sample relative change below which a sample is frozen.
        penalty: optional smooth scalar function of the whole code batch ``Z`` (e.g.
            ``beta * variance_hinge(Z) + gamma ||Z - E(y)||^2``); its autograd gradient
            is added. The step is not adapted to it: pass a step small enough.
        data_weight: ``w`` > 0, the weight of the data term (the official energy of
            arXiv:2112.09214 uses the per-pixel mean, ``w = 2 / n_features``).
        penalty_grad: the gradient of ``penalty`` in closed form, ``(B, n_components)`` ->
            same; used instead of autograd when given (faster on small batches).

    With a dictionary the data term's gradient is ``w (Z G - Y D)`` with the Gram matrix
    ``G = D^T D`` ``(n_components, n_components)`` and ``Y D`` computed once per call, so
    a step costs ``B m^2`` instead of ``2 B n m`` multiply-adds.

    Returns:
        ``(Z, n_steps)``: the codes ``(B, n_components)``, detached, and the number of
        steps taken.

    Raises:
        ValueError: shapes disagree, a callable decoder without ``step`` or ``z0``, or
            ``max_steps < 1``.
    """
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    y = y.detach()
    if isinstance(decoder, torch.Tensor):
        D = decoder.detach()  # (n_features, n_components)
        if D.ndim != 2 or D.shape[0] != y.shape[1]:
            raise ValueError(f"D must be (n_features={y.shape[1]}, n_components), got {D.shape}")
        if step is None:
            step = 1.0 / (data_weight * float(torch.linalg.matrix_norm(D, ord=2)) ** 2)
        if z0 is None:
            z0 = y.new_zeros(y.shape[0], D.shape[1])

        gram = D.T @ D  # (n_components, n_components)
        yd = y @ D  # (B, n_components)

        def smooth_grad(z: torch.Tensor) -> torch.Tensor:
            return data_weight * (z @ gram - yd)  # (B, n_components) = w (z D^T - y) D

    elif step is None or z0 is None:
        raise ValueError("fista with a callable decoder needs both step and z0")
    elif isinstance(decoder, NLDecoder):
        smooth_grad = decoder.data_term_grad(y, data_weight)
    else:
        fn = decoder

        def smooth_grad(z: torch.Tensor) -> torch.Tensor:
            with torch.enable_grad():
                zz = z.detach().requires_grad_(True)
                loss = 0.5 * data_weight * (fn(zz) - y).pow(2).sum()
                (g,) = torch.autograd.grad(loss, zz)
            return g  # (B, n_components)

    def grad(z: torch.Tensor) -> torch.Tensor:
        g = smooth_grad(z)
        if penalty_grad is not None:
            g = g + penalty_grad(z)
        elif penalty is not None:
            with torch.enable_grad():
                zz = z.detach().requires_grad_(True)
                (gp,) = torch.autograd.grad(penalty(zz), zz)
            g = g + gp
        return g

    with torch.no_grad():
        z_prev = z0.detach().clamp_min(0.0)  # (B, n_components)
        active = torch.ones(len(z_prev), 1, dtype=z_prev.dtype)  # (B, 1): 0 once converged
        v, t, thresh = z_prev, 1.0, step * lam
        k = 0
        for k in range(1, max_steps + 1):  # noqa: B007 (k is returned)
            # prox of lam |z|_1 + I(z >= 0); frozen samples take a zero step
            z = (v - active * (step * grad(v) + thresh)).clamp_min(0.0)
            t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
            v = z + active * ((t - 1.0) / t_next) * (z - z_prev)  # momentum
            diff = torch.linalg.vector_norm(z - z_prev, dim=1)  # (B,)
            ref = torch.linalg.vector_norm(z_prev, dim=1)
            converged = (diff / ref < tol)[:, None]  # 0/0 = NaN: not converged
            active = active * (~converged).to(active.dtype)
            z_prev, t = z, t_next
            if not active.any():
                break
    return z_prev, k


def sparse_coding_energy(
    y: torch.Tensor, y_hat: torch.Tensor, z: torch.Tensor, lam: float
) -> torch.Tensor:
    """Per-sample lasso energy ``||y - y_hat||^2 / 2 + lam ||z||_1``, shape ``(B,)``."""
    return 0.5 * (y - y_hat).pow(2).sum(dim=1) + lam * z.abs().sum(dim=1)


def variance_hinge(Z: torch.Tensor, threshold: float = 0.5, eps: float = 0.0) -> torch.Tensor:
    """Variance regulariser ``sum_j max(0, T - std_j(Z))^2`` (arXiv:2112.09214 §3, eq. 3).

    Args:
        Z: codes ``(B, n_components)`` with ``B >= 2``.
        threshold: the hinge threshold ``T`` (0.5 in the official code).
        eps: added to the variance under the square root. 0 (the official code): the
            std is ``||Z_j - mean_j|| / sqrt(B - 1)``, whose gradient torch defines as 0
            for a component that is constant over the batch.

    Returns:
        A scalar tensor ``>= 0``; 0 when every component's unbiased std is ``>= T``.

    Raises:
        ValueError: ``Z`` is not 2-D or has fewer than 2 rows (no unbiased std).
    """
    if Z.ndim != 2 or Z.shape[0] < 2:
        raise ValueError(f"Z must be (B >= 2, n_components), got {tuple(Z.shape)}")
    u = Z - Z.mean(dim=0, keepdim=True)  # (B, n_components)
    if eps > 0:
        std = torch.sqrt(u.pow(2).sum(dim=0) / (len(Z) - 1) + eps)
    else:
        std = torch.linalg.vector_norm(u, dim=0) / math.sqrt(len(Z) - 1)  # (n_components,)
    return F.relu(threshold - std).pow(2).sum()


def variance_hinge_grad(Z: torch.Tensor, threshold: float = 0.5, eps: float = 0.0) -> torch.Tensor:
    """Closed-form gradient of :func:`variance_hinge` with respect to ``Z``.

    With ``u_j`` the centred column and ``s_j`` its std,
    ``d/dZ_ij = -2 max(0, T - s_j) u_ij / ((B - 1) s_j)`` (the centring's Jacobian drops
    out because the ``u_j`` sum to zero); 0 for a constant column (``s_j = 0``), as
    torch's gradient of the norm.

    Returns:
        ``(B, n_components)``, same dtype as ``Z``.
    """
    B = len(Z)
    u = Z - Z.mean(dim=0, keepdim=True)  # (B, n_components)
    std = torch.sqrt(u.pow(2).sum(dim=0) / (B - 1) + eps)  # (n_components,)
    coef = -2.0 * F.relu(threshold - std) / ((B - 1) * std)
    return u * torch.where(std > 0, coef, torch.zeros_like(coef))


# -- building blocks -----------------------------------------------------------------
class LISTAEncoder(nn.Module):
    """``B = W y + b; z = relu(B); K times: z = relu(B + S z)`` (Gregor & LeCun 2010, §3).

    Args:
        n_features: input width.
        n_components: code width.
        n_iterations: ``K`` unrolled refinements (0: a single ReLU layer).
    """

    def __init__(self, n_features: int, n_components: int, n_iterations: int) -> None:
        super().__init__()
        self.W = nn.Linear(n_features, n_components)  # W: (n_components, n_features), b
        self.S = nn.Linear(n_components, n_components, bias=False)
        self.n_iterations = n_iterations
        nn.init.zeros_(self.W.bias)  # as the official code

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        b = self.W(y)  # (B, n_components)
        z = F.relu(b)  # (B, n_components)
        for _ in range(self.n_iterations):
            z = F.relu(b + self.S(z))  # (B, n_components)
        return z


class LinearDecoder(nn.Module):
    """``D z`` with no bias; ``weight`` is ``D`` ``(n_features, n_components)``.

    Initialised as ``nn.Linear(n_components, n_features)``: uniform in
    ``+-1 / sqrt(n_components)`` (the official code; SDL then renormalises the atoms).
    """

    def __init__(self, n_features: int, n_components: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(nn.Linear(n_components, n_features, bias=False).weight.data)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.weight.T  # (B, n_features)

    @torch.no_grad()
    def normalize_atoms(self) -> None:
        """Rescale every column of ``D`` to unit L2 norm (SDL's constraint)."""
        self.weight.div_(self.weight.norm(dim=0, keepdim=True).clamp_min(1e-12))

    def atoms(self) -> torch.Tensor:
        return self.weight.T  # (n_components, n_features)


class NLDecoder(nn.Module):
    """``W2 relu(W1 z + b1)``, no bias on the output (arXiv:2112.09214 §4, "NL").

    ``W1`` is ``(n_hidden, n_components)``, ``W2`` is ``(n_features, n_hidden)``.
    """

    def __init__(self, n_features: int, n_components: int, n_hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_components, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_features, bias=False)
        nn.init.zeros_(self.fc1.bias)  # as the official code

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc1(z))  # (B, n_hidden)
        return self.fc2(h)  # (B, n_features)

    @torch.no_grad()
    def normalize_atoms(self) -> None:
        """Rescale the columns of ``W1`` and of ``W2`` to unit L2 norm (SDL-NL)."""
        for w in (self.fc1.weight, self.fc2.weight):
            w.div_(w.norm(dim=0, keepdim=True).clamp_min(1e-12))

    def atoms(self) -> torch.Tensor:
        return self.fc2.weight.T  # (n_hidden, n_features): the output layer's atoms

    def data_term_grad(
        self, y: torch.Tensor, data_weight: float, gram_after: int = 8
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """The gradient in ``z`` of ``w/2 ||y - W2 relu(W1 z + b1)||^2`` in closed form,
        for FISTA (weights frozen): ``z -> w [1(W1 z + b1 > 0) * ((W2 h - y) W2)] W1``
        with ``h = relu(W1 z + b1)``, for ``y`` ``(B, n_features)`` and ``z``
        ``(B, n_components)`` -> ``(B, n_components)``.

        From the ``gram_after``-th call on, ``(W2 h - y) W2`` is computed as
        ``h G - y W2`` with ``G = W2^T W2`` ``(n_hidden, n_hidden)`` and ``y W2`` built once:
        ``n H^2`` multiply-adds up front (about 6 steps' worth at MNIST's sizes), about
        30% less per step after, so short FISTA runs never pay for it.
        """
        W1 = self.fc1.weight.detach()  # (n_hidden, n_components)
        b1 = self.fc1.bias.detach()  # (n_hidden,)
        W2 = self.fc2.weight.detach()  # (n_features, n_hidden)
        y = y.detach()
        cache: dict[str, Any] = {"calls": 0}

        def grad(z: torch.Tensor) -> torch.Tensor:
            pre = torch.addmm(b1, z, W1.T)  # (B, n_hidden)
            h = pre.clamp_min(0.0)
            cache["calls"] += 1
            if cache["calls"] > gram_after:
                if "gram" not in cache:
                    cache["gram"], cache["yw2"] = W2.T @ W2, y @ W2
                gh = h @ cache["gram"] - cache["yw2"]  # (B, n_hidden)
            else:
                gh = (h @ W2.T - y) @ W2
            return data_weight * ((gh * (pre > 0)) @ W1)  # (B, n_components)

        return grad

    def lipschitz_bound(self) -> float:
        """``||W2||_2^2 ||W1||_2^2``: bounds ``||J^T J||`` of the decoder on every ReLU region."""
        w1 = torch.linalg.matrix_norm(self.fc1.weight.detach(), ord=2)
        w2 = torch.linalg.matrix_norm(self.fc2.weight.detach(), ord=2)
        return float(w1 * w2) ** 2


# -- the model -------------------------------------------------------------------------
class LISTAConfig(BaseModel):
    """Hyperparameters of a LISTA sparse-coding autoencoder (constructor arguments only)."""

    model_config = ConfigDict(extra="forbid")

    n_features: int = Field(784, gt=0)  # input width (MNIST: 28*28 pixels in [0, 1])
    n_components: int = Field(128, gt=0)  # code width (128 for MNIST in the paper)
    n_iterations: int = Field(3, ge=0)  # K, LISTA's unrolled refinements (3 officially)
    decoder: Literal["linear", "nl"] = "linear"  # D z, or W2 relu(W1 z + b1)
    nl_hidden: int = Field(1024, gt=0)  # width of the NL decoder's hidden layer
    unit_norm_atoms: bool = False  # SDL: renormalise the decoder's columns after each step
    input_mean: float = 0.1307  # y = (x - mean) / std inside encode (MNIST train pixels)
    input_std: float = Field(0.3081, gt=0.0)
    image_shape: list[int] | None = [28, 28]  # for the input spec and figures
    value_range: tuple[float, float] = (0.0, 1.0)  # inputs' range; decode clamps to it
    preprocessing: str | None = None  # input spec text; None: MNIST pixels / 255
    lam: float = Field(0.02, ge=0.0)  # lambda, the L1 weight of the energy (VDL: 0.02)
    fista_step: float | None = Field(None, gt=0.0)  # official lrt_Z (VDL 0.5, SDL 1); None: 1/L
    fista_max_steps: int = Field(200, ge=1)  # FISTA steps at most
    fista_tol: float = Field(1e-3, gt=0.0)  # stop at relative change of Z below this

    @model_validator(mode="after")
    def _check(self) -> LISTAConfig:
        if self.image_shape is not None and math.prod(self.image_shape) != self.n_features:
            raise ValueError(
                f"image_shape {self.image_shape} has {math.prod(self.image_shape)} values, "
                f"n_features is {self.n_features}"
            )
        if not self.value_range[0] < self.value_range[1]:
            raise ValueError(f"value_range must satisfy low < high, got {self.value_range}")
        return self


class SparseCodingAutoencoder(AutoEncoder):
    """LISTA encoder + linear or NL decoder trained on the sparse-coding energy.

    ``encode`` normalises pixels ``(B, n_features)`` in [0, 1] and returns the LISTA
    code ``(B, n_components)`` (no FISTA at serving time). ``decode`` maps a code
    to pixels: ``clamp(D(z) * std + mean, *value_range)`` ([0, 1] for MNIST). The clamp
    is the projection onto the declared input range: the linear decoder's output is
    unbounded, the serving contract promises values in that range, and clamping can
    only bring each value closer to any target inside it, so it never lowers PSNR. The energy and its
    training use :meth:`reconstruct` (normalised space, no clamp).
    """

    architecture = "lista"
    family = "lista"
    config_class = LISTAConfig

    def __init__(self, config: LISTAConfig) -> None:
        super().__init__(config)
        c = config
        self.encoder = LISTAEncoder(c.n_features, c.n_components, c.n_iterations)
        self.decoder: LinearDecoder | NLDecoder = (
            LinearDecoder(c.n_features, c.n_components)
            if c.decoder == "linear"
            else NLDecoder(c.n_features, c.n_components, c.nl_hidden)
        )
        if c.unit_norm_atoms:
            self.decoder.normalize_atoms()

    @property
    def n_components(self) -> int:
        return self.config.n_components

    def input_spec(self) -> InputSpec:
        c = self.config
        text = c.preprocessing or "grayscale pixels scaled to [0, 1] (uint8 / 255)"
        return InputSpec(
            n_features=c.n_features,
            shape=c.image_shape,
            value_range=c.value_range,
            preprocessing=f"{text}; the model standardises them itself "
            f"((x - {c.input_mean:g}) / {c.input_std:g})",
        )

    def filters(self) -> torch.Tensor:
        """Decoder atoms in normalised pixel space: the columns of ``D``
        ``(n_components, n_features)``, or for the NL decoder the columns of ``W2``
        ``(nl_hidden, n_features)`` (the output layer's atoms)."""
        return self.decoder.atoms()

    # -- the energy's pieces (normalised space) -----------------------------------------
    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels ``(B, n_features)`` -> ``y = (x - mean) / std``."""
        return (x - self.config.input_mean) / self.config.input_std

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's output ``D(z)`` ``(B, n_features)`` in normalised space."""
        return self.decoder(z)

    @property
    def data_weight(self) -> float:
        """``w = 2 / n_features``: the energy's data term is ``||y - D(z)||^2 / n_features``
        (the per-pixel mean of the official code), i.e. ``w ||y - D(z)||^2 / 2``."""
        return 2.0 / self.config.n_features

    def fista_step(self, extra_lipschitz: float = 0.0) -> float:
        """The FISTA step: ``config.fista_step`` if set (the official code's fixed
        ``lrt_Z``), else ``1 / (w L + extra_lipschitz)`` with ``w`` = :attr:`data_weight`
        and ``L = ||D||_2^2`` (linear) or the bound ``||W2||_2^2 ||W1||_2^2`` (NL; exact
        on each ReLU region). ``extra_lipschitz`` is the curvature of any smooth penalty
        added to the energy."""
        if self.config.fista_step is not None:
            return self.config.fista_step
        if isinstance(self.decoder, LinearDecoder):
            lip = float(torch.linalg.matrix_norm(self.decoder.weight.detach(), ord=2)) ** 2
        else:
            lip = self.decoder.lipschitz_bound()
        return 1.0 / (self.data_weight * lip + extra_lipschitz)

    def sparse_code(
        self,
        y: torch.Tensor,
        z0: torch.Tensor | None = None,
        penalty: Callable[[torch.Tensor], torch.Tensor] | None = None,
        extra_lipschitz: float = 0.0,
        penalty_grad: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, int]:
        """FISTA codes of normalised inputs ``y`` ``(B, n_features)``, warm-started at
        ``z0`` (default: the encoder's prediction), on
        ``sum_i ||y_i - D(z_i)||^2 / n_features + lam ||z_i||_1`` plus ``penalty``
        (see :func:`fista` and :meth:`fista_step`). Returns ``(Z, n_steps)``."""
        if z0 is None:
            with torch.no_grad():
                z0 = self.encoder(y)
        dec = self.decoder.weight if isinstance(self.decoder, LinearDecoder) else self.decoder
        c = self.config
        return fista(
            y,
            dec,
            c.lam,
            self.fista_step(extra_lipschitz),
            z0,
            c.fista_max_steps,
            c.fista_tol,
            penalty,
            self.data_weight,
            penalty_grad,
        )

    # -- operations ---------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        y = self.normalize(x)  # (B, n_features)
        return self.encoder(y)  # (B, n_components)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        d = self.reconstruct(z)  # (B, n_features), normalised space
        lo, hi = self.config.value_range
        return (d * self.config.input_std + self.config.input_mean).clamp(lo, hi)


def lista_vdl_mnist(**kwargs) -> SparseCodingAutoencoder:
    """VDL: 128 codes, linear decoder, lambda 0.02 (official MNIST setting)."""
    return SparseCodingAutoencoder(LISTAConfig(**{"lam": 0.02, **kwargs}))


def lista_vdl_nl_mnist(**kwargs) -> SparseCodingAutoencoder:
    """VDL-NL: 128 codes, decoder W2 relu(W1 z + b1) with 1024 hidden units, lambda 0.01."""
    return SparseCodingAutoencoder(LISTAConfig(**{"decoder": "nl", "lam": 0.01, **kwargs}))


def lista_sdl_mnist(**kwargs) -> SparseCodingAutoencoder:
    """SDL: 128 codes, linear decoder with unit-norm atoms, lambda 0.005."""
    return SparseCodingAutoencoder(LISTAConfig(**{"unit_norm_atoms": True, "lam": 0.005, **kwargs}))


def lista_mnist_tiny(**kwargs) -> SparseCodingAutoencoder:
    """16 codes, K = 2, linear decoder: for unit tests."""
    return SparseCodingAutoencoder(LISTAConfig(**{"n_components": 16, "n_iterations": 2, **kwargs}))


VARIANTS = [lista_vdl_mnist, lista_vdl_nl_mnist, lista_sdl_mnist, lista_mnist_tiny]
