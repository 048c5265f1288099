"""Patch dictionaries for the convolutional denoiser's initialisation: SDL and VDL.

Sparse dictionary learning on ``k x k`` image patches with this project's FISTA
(:func:`aezoo.models.lista.fista`, non-negative codes) and, for VDL, the variance hinge of
Evtimova & LeCun (arXiv:2112.09214, §3 eq. 3) on the codes. Alternating, per batch ``Y``
of ``B`` normalised patches (``n = k * k`` pixels, ``m = K - 1`` atoms)::

    Z* = argmin_{Z >= 0} sum_i ||y_i - D z_i||^2 / n + lam ||z_i||_1 [+ beta hinge(Z)]
    D  <- Adam step on mean_i ||y_i - D z*_i||^2 / n

SDL renormalises the atoms (columns of ``D``) to unit norm after every step (beta 0); VDL
leaves their norms free and keeps the codes from collapsing with the hinge (beta > 0).
Patches have their mean removed and are divided by the set's pixel standard deviation;
the constant (DC) atom is added afterwards, as K-SVD denoising does (Elad & Aharon 2006).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from aezoo.models.lista import fista, variance_hinge_grad

Kind = Literal["sdl", "vdl", "random"]


def sample_patches(images: list[np.ndarray], k: int, n: int, seed: int = 0) -> np.ndarray:
    """``n`` random ``k x k`` patches, float32 ``(n, k * k)`` on the 0-1 scale (seeded)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, k * k), np.float32)
    which = rng.integers(0, len(images), n)
    for i, j in enumerate(which):
        im = images[j]
        r = rng.integers(0, im.shape[0] - k + 1)
        c = rng.integers(0, im.shape[1] - k + 1)
        out[i] = im[r : r + k, c : c + k].reshape(-1) / 255.0
    return out


def learn_patch_dictionary(
    patches: np.ndarray,
    n_atoms: int,
    kind: Kind,
    *,
    lam: float = 0.05,
    beta: float = 10.0,
    hinge_threshold: float = 0.5,
    steps: int = 300,
    batch_size: int = 256,
    lr: float = 1e-3,
    fista_steps: int = 50,
    seed: int = 0,
) -> torch.Tensor:
    """Learn ``n_atoms`` unit-norm patch atoms, the first one constant (DC).

    Args:
        patches: float ``(P, k * k)`` patches (:func:`sample_patches`).
        n_atoms: ``K >= 2`` atoms in all (``K - 1`` learned plus the DC atom).
        kind: ``"sdl"`` (unit-norm atoms, no hinge), ``"vdl"`` (hinge weight ``beta``,
            free norms) or ``"random"`` (Gaussian atoms, no learning: the baseline).
        lam: L1 weight of the energy (per-pixel-mean data term, as the official code).
        beta, hinge_threshold: VDL's hinge weight and threshold ``T``.
        steps, batch_size, lr, fista_steps: the alternating loop's length, batch, Adam
            learning rate for ``D``, and FISTA's step cap per batch.
        seed: seeds the initial atoms and the batch order.

    Returns:
        float32 ``(K, k * k)``, one atom a row, each of unit Euclidean norm.

    Raises:
        ValueError: ``n_atoms < 2`` or an unknown ``kind``.
    """
    if n_atoms < 2:
        raise ValueError(f"n_atoms must be >= 2 (DC atom + learned), got {n_atoms}")
    if kind not in ("sdl", "vdl", "random"):
        raise ValueError(f"kind must be 'sdl', 'vdl' or 'random', got {kind!r}")
    gen = torch.Generator().manual_seed(seed)
    Y_all = torch.as_tensor(patches, dtype=torch.float32)
    Y_all = Y_all - Y_all.mean(dim=1, keepdim=True)
    Y_all = Y_all / Y_all.std().clamp_min(1e-8)  # unit pixel variance over the set
    n, m = Y_all.shape[1], n_atoms - 1
    D = torch.randn(n, m, generator=gen)
    D = D / D.norm(dim=0, keepdim=True)
    if kind != "random":
        D.requires_grad_(True)
        opt = torch.optim.Adam([D], lr=lr)
        w = 2.0 / n  # data term ||y - Dz||^2 / n in fista's  w/2 ||.||^2 form
        for _ in range(steps):
            idx = torch.randint(0, len(Y_all), (batch_size,), generator=gen)
            Y = Y_all[idx]
            Dd = D.detach()
            curv = w * float(torch.linalg.matrix_norm(Dd, ord=2)) ** 2
            if kind == "vdl":
                curv += 2.0 * beta / (batch_size - 1)
                Z, _ = fista(
                    Y,
                    Dd,
                    lam,
                    step=1.0 / curv,
                    max_steps=fista_steps,
                    data_weight=w,
                    penalty_grad=lambda z: beta * variance_hinge_grad(z, hinge_threshold),
                )
            else:
                Z, _ = fista(Y, Dd, lam, step=1.0 / curv, max_steps=fista_steps, data_weight=w)
            loss = (Y - Z @ D.T).pow(2).sum(dim=1).mean() / n
            opt.zero_grad()
            loss.backward()
            opt.step()
            if kind == "sdl":
                with torch.no_grad():
                    D /= D.norm(dim=0, keepdim=True).clamp_min(1e-8)
        D = D.detach()
    atoms = D.T / D.T.norm(dim=1, keepdim=True).clamp_min(1e-8)  # (m, n)
    dc = torch.full((1, n), 1.0 / n**0.5)
    return torch.cat([dc, atoms]).contiguous()
