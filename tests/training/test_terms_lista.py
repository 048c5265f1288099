"""The terms that make a LISTA sparse coder VDL (Evtimova & LeCun, arXiv:2112.09214, §3),
each pinned by a test that fails without it: the variance hinge
``beta * sum_j max(0, T - std_j(Z))^2`` in the energy and in FISTA's codes, the L1 term,
and the encoder trained towards the FISTA codes."""

from __future__ import annotations

import math

import pytest
import torch

from aezoo.models.lista import LISTAConfig, SparseCodingAutoencoder, variance_hinge
from aezoo.training.lista import LISTATrainConfig, code_energy, energy

torch.set_num_threads(1)
TINY = LISTAConfig(n_components=16, n_iterations=1, fista_step=0.5, fista_max_steps=30)


def test_variance_hinge_by_hand() -> None:
    Z = torch.tensor([[0.0, 1.0, 0.2], [0.0, 3.0, 0.4]])  # unbiased stds 0, sqrt 2, 0.1 sqrt 2
    s = 0.1 * math.sqrt(2)
    assert float(variance_hinge(Z)) == pytest.approx(0.5**2 + (0.5 - s) ** 2, rel=1e-6)
    assert float(variance_hinge(Z, threshold=2.0)) == pytest.approx(
        4.0 + (2.0 - math.sqrt(2)) ** 2 + (2.0 - s) ** 2, rel=1e-6
    )


def setup(beta: float) -> tuple[SparseCodingAutoencoder, torch.Tensor, LISTATrainConfig]:
    torch.manual_seed(0)
    model = SparseCodingAutoencoder(TINY)
    x = (torch.rand(32, 784) < 0.2).float()
    return model, x, LISTATrainConfig(model=TINY, beta=beta, gamma=5.0)


def test_code_energy_adds_the_hinge_and_the_l1_term_by_hand() -> None:
    model, x, cfg = setup(beta=10.0)
    y = model.normalize(x)
    Z = torch.rand(32, 16) * 0.3
    with torch.no_grad():
        got = float(code_energy(model, y, Z, cfg))
        recon = (y - model.reconstruct(Z)).pow(2).mean()
        l1 = TINY.lam * Z.abs().sum(1).mean()
        hinge = cfg.beta * variance_hinge(Z, cfg.hinge_threshold) / len(y)
    assert float(hinge) > 0  # the codes' stds sit below T = 0.5
    assert got == pytest.approx(float(recon + l1 + hinge), rel=1e-6)


def test_fista_codes_follow_the_variance_hinge() -> None:
    """Same model, inputs and start: with beta > 0 the codes spread (their hinge drops) and
    their energy under the VDL objective is lower than that of the beta = 0 codes."""
    model, x, vdl = setup(beta=10.0)
    sdl = vdl.model_copy(update={"beta": 0.0})
    with torch.no_grad():
        z_vdl = energy(model, x, vdl)["codes"]
        z_sdl = energy(model, x, sdl)["codes"]
        y = model.normalize(x)
        e_vdl, e_sdl = code_energy(model, y, z_vdl, vdl), code_energy(model, y, z_sdl, vdl)
    assert float(variance_hinge(z_vdl)) < 0.9 * float(variance_hinge(z_sdl))
    assert float(e_vdl) < float(e_sdl)


def test_the_decoder_and_encoder_losses_by_hand() -> None:
    """``recon`` = per-pixel MSE of D(Z*) (trains the decoder), ``pred`` = per-component MSE
    of the encoder's prediction against Z* (trains the encoder, amortised inference)."""
    model, x, cfg = setup(beta=10.0)
    out = energy(model, x, cfg)
    y = model.normalize(x)
    z_star = out["codes"]
    assert not z_star.requires_grad and float(z_star.min()) >= 0.0
    torch.testing.assert_close(out["recon"], (y - model.reconstruct(z_star)).pow(2).mean())
    torch.testing.assert_close(out["pred"], (z_star - model.encoder(y)).pow(2).mean())
    torch.testing.assert_close(out["loss"], out["recon"] + out["pred"])
    with torch.no_grad():
        by_hand = code_energy(model, y, z_star, cfg) + cfg.gamma * out["pred"]
    torch.testing.assert_close(out["energy"], by_hand)
    out["loss"].backward()
    assert all(p.grad is not None for p in model.encoder.parameters())  # encoder learns
    assert all(p.grad is not None for p in model.decoder.parameters())  # decoder learns
