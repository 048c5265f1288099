"""The tolerance helpers: the bound holds for real summation orders and scales as stated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.tolerance import SDA_ABS_SUM, SDA_FAN_IN, sda_atol, sum_atol

N = 1024


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(N)
    return (v / np.linalg.norm(v)).astype(np.float32)


def _sequential(terms: np.ndarray) -> np.float32:
    return np.cumsum(terms, dtype=np.float32)[-1]  # left to right, one float32 rounding a step


@pytest.mark.parametrize("seed", range(5))
def test_float32_dot_products_in_two_orders_agree_within_the_bound(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = _unit(rng), _unit(rng)
    terms = x * y  # sum |x_i y_i| <= |x| |y| = 1 (Cauchy-Schwarz): abs_sum 1
    exact = float(np.dot(x.astype(np.float64), y.astype(np.float64)))
    orders = {
        "blas": np.float32(np.dot(x, y)),
        "forward": _sequential(terms),
        "backward": _sequential(terms[::-1]),
        "shuffled": _sequential(terms[rng.permutation(N)]),
        "pairwise": np.float32(terms.sum(dtype=np.float32)),
    }
    atol = sum_atol(np.float32, N)
    for name, got in orders.items():
        assert abs(float(got) - exact) <= atol / 2, name  # one side: gamma_n * abs_sum
        for other, also in orders.items():
            assert abs(float(got) - float(also)) <= atol, (name, other)


def test_the_bound_is_not_vacuous() -> None:
    # 1 then 1,023 terms of u = eps / 2: each 1 + u rounds back to 1 (ties to even), so the
    # sequential float32 sum loses all 1,023 u, almost the whole one-sided bound gamma_n
    u = np.finfo(np.float32).eps / 2
    terms = np.concatenate([[1.0], np.full(N - 1, u)]).astype(np.float32)
    abs_sum = float(terms.astype(np.float64).sum())
    err = abs(float(_sequential(terms)) - abs_sum)
    assert err == pytest.approx((N - 1) * u)
    assert 0.9 * sum_atol(np.float32, N, abs_sum) / 2 < err <= sum_atol(np.float32, N, abs_sum) / 2


def test_the_bound_scales_with_length_magnitude_depth_and_dtype() -> None:
    base = sum_atol(np.float32, N)
    u = np.finfo(np.float32).eps / 2
    assert base == pytest.approx(2 * N * u, rel=1e-3)  # gamma_n ~ n u while n u << 1
    assert sum_atol(np.float32, 2 * N) == pytest.approx(2 * base, rel=1e-3)
    assert sum_atol(np.float32, N, abs_sum=784.0) == pytest.approx(784 * base, rel=1e-12)
    assert sum_atol(np.float32, N, depth=3) == pytest.approx(3 * base, rel=1e-12)
    ratio = np.finfo(np.float32).eps / np.finfo(np.float64).eps
    assert base / sum_atol(np.float64, N) == pytest.approx(ratio, rel=1e-3)
    assert sda_atol(4) == pytest.approx(2 * sda_atol(2), rel=1e-12)


def test_sda_abs_sum_covers_both_sdas() -> None:
    import aezoo
    from aezoo.models import create_variant

    def abs_sums(model: torch.nn.Module) -> list[float]:
        sums = []
        for layer in model.layers:
            w, b = layer.encoder.weight.detach().abs(), layer.encoder.bias.detach().abs()
            sums.append(float(w.sum(1).max() + b.max()))  # encoder: rows of W, inputs in [0, 1]
            sums.append(float(w.sum(0).max() + layer.decoder_bias.detach().abs().max()))  # W^T
        head = model.head
        sums.append(float(head.weight.detach().abs().sum(1).max() + head.bias.detach().abs().max()))
        return sums

    for seed in range(3):
        torch.manual_seed(seed)
        tiny = create_variant("sda_mnist_tiny")
        assert max(abs_sums(tiny)) <= SDA_ABS_SUM
        assert max(layer.encoder.in_features for layer in tiny.layers) <= SDA_FAN_IN
    bundled = aezoo.from_pretrained("sda-mnist")
    assert max(abs_sums(bundled)) <= SDA_ABS_SUM
    assert max(layer.encoder.in_features for layer in bundled.layers) <= SDA_FAN_IN
