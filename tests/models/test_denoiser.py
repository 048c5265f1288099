"""The convolutional LISTA denoiser: shapes, receptive field (halo), sigma input, scale
equivariance, and its start from a dictionary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aezoo.models.denoiser import (
    CSCDenoiser,
    CSCDenoiserConfig,
    conv_operator_norm,
    soft_threshold,
)
from tests.tolerance import sum_atol


def _model(seed: int = 0, **kw) -> CSCDenoiser:
    torch.manual_seed(seed)
    cfg = CSCDenoiserConfig(**{"n_filters": 6, "kernel_size": 3, "n_iterations": 2, **kw})
    m = CSCDenoiser(cfg).eval()
    with torch.no_grad():  # thresholds of different sizes per channel, all active
        m.threshold.copy_(torch.rand(m.threshold.shape) * 0.5 + 0.1)
        m.eta.fill_(0.5)
    return m


def test_output_has_the_input_shape_for_non_square_batches() -> None:
    m = _model()
    x = torch.rand(3, 1, 17, 29)
    y = m(x, torch.tensor([10.0, 25.0, 50.0]))
    assert y.shape == x.shape and y.dtype == torch.float32


def test_too_small_or_wrongly_shaped_inputs_are_named() -> None:
    m = _model()
    with pytest.raises(ValueError, match="at least 2x2"):
        m(torch.rand(1, 1, 1, 9), torch.tensor([25.0]))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        m(torch.rand(1, 3, 9, 9), torch.tensor([25.0]))
    with pytest.raises(ValueError, match="odd"):
        CSCDenoiserConfig(kernel_size=4)


def test_halo_is_the_exact_receptive_field_radius() -> None:
    m = _model()
    halo = m.config.halo
    assert halo == (3 - 1) * (2 + 1)
    size, c = 41, 20
    x = torch.rand(1, 1, size, size)
    sigma = torch.tensor([25.0])
    with torch.no_grad():
        base = m(x, sigma)[0, 0, c, c]
        for dr, dc in ((0, halo + 1), (halo + 1, 0), (-(halo + 1), halo + 1)):
            x2 = x.clone()
            x2[0, 0, c + dr, c + dc] += 5.0
            assert m(x2, sigma)[0, 0, c, c] == base  # farther than halo: no influence at all
        x2 = x.clone()
        x2[0, 0, c, c + halo] += 5.0
        assert m(x2, sigma)[0, 0, c, c] != base  # at halo: it does reach (the bound is tight)


def test_the_output_scales_with_input_and_sigma() -> None:
    m = _model()
    x = torch.rand(2, 1, 24, 20)
    sigma = torch.tensor([15.0, 40.0])
    with torch.no_grad():
        y = m(x, sigma)
        y3 = m(3.0 * x, 3.0 * sigma)
    # 2T + 2 convolutions of k*k*K terms; values of order 1 -> float32 sum bound times 3
    atol = 3.0 * sum_atol(np.float32, 3 * 3 * 6, abs_sum=50.0, depth=2 * 2 + 2)
    torch.testing.assert_close(y3, 3.0 * y, atol=max(atol, 1e-5), rtol=1e-5)


def test_sigma_is_an_input_a_larger_sigma_shrinks_more() -> None:
    m = _model()
    x = torch.rand(1, 1, 20, 20)
    with torch.no_grad():
        low, high = m(x, torch.tensor([5.0])), m(x, torch.tensor([50.0]))
        codes_low = soft_threshold(m.A(m.eta * x), m.eta * m.threshold[0, :, None, None] * 5 / 255)
        codes_high = soft_threshold(
            m.A(m.eta * x), m.eta * m.threshold[0, :, None, None] * 50 / 255
        )
    assert not torch.allclose(low, high)
    assert (codes_high == 0).sum() > (codes_low == 0).sum()


def test_soft_threshold_is_the_l1_prox() -> None:
    u = torch.tensor([-2.0, -0.5, 0.0, 0.3, 1.5])
    assert soft_threshold(u, torch.tensor(1.0)).tolist() == [-1.0, 0.0, 0.0, 0.0, 0.5]


def test_init_from_a_dictionary_is_ista_with_a_stable_step() -> None:
    cfg = CSCDenoiserConfig(n_filters=4, kernel_size=3, n_iterations=1)
    m = CSCDenoiser(cfg)
    atoms = torch.randn(4, 9)
    atoms = atoms / atoms.norm(dim=1, keepdim=True)
    m.init_from_dictionary(atoms, lam=0.7)
    torch.testing.assert_close(m.B.weight[0], atoms.reshape(4, 3, 3))
    torch.testing.assert_close(m.C.weight, m.B.weight)
    torch.testing.assert_close(m.A.weight[:, 0], atoms.reshape(4, 3, 3).flip(-1, -2))
    assert torch.all(m.threshold == 0.7)
    # 1/L is the largest stable ISTA step: ||B^T B|| eta ~= 1
    assert conv_operator_norm(m.B) ** 2 * float(m.eta) == pytest.approx(1.0, rel=1e-4)
    with pytest.raises(ValueError, match="atoms"):
        m.init_from_dictionary(torch.randn(5, 9))


def test_conv_operator_norm_of_a_single_tap_is_its_weight() -> None:
    conv = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 1] = 2.5
    assert conv_operator_norm(conv) == pytest.approx(2.5, rel=1e-4)
