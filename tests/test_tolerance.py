"""The tolerance helpers: the bound holds for real summation orders and scales as stated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.tolerance import SDA_LAYERS, layers_atol, sda_atol, sum_atol

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
    layers = [(784, 10.0), (32, 3.0)]
    assert layers_atol(np.float32, layers) == pytest.approx(
        sum_atol(np.float32, 784, 10.0) + sum_atol(np.float32, 32, 3.0), rel=1e-12
    )
    assert layers_atol(np.float32, [(784, 10.0)] * 3) == pytest.approx(
        sum_atol(np.float32, 784, 10.0, depth=3), rel=1e-12
    )
    assert sda_atol("tiny", "denoise") > sda_atol("tiny", "encode") > sda_atol("tiny", "decode")


def test_sda_layers_cover_both_sdas() -> None:
    import aezoo
    from aezoo.models import create_variant

    def layers(model: torch.nn.Module) -> dict[str, list[tuple[int, float]]]:
        """(fan-in, largest row sum of |W| plus largest |b|) of each layer, inputs in [0, 1]."""
        enc, dec = [], []
        for layer in model.layers:
            w = layer.encoder.weight.detach().abs()  # (n_hidden, n_visible)
            b_enc, b_dec = layer.encoder.bias.detach().abs(), layer.decoder_bias.detach().abs()
            enc.append((w.shape[1], float(w.sum(1).max() + b_enc.max())))
            dec.append((w.shape[0], float(w.sum(0).max() + b_dec.max())))
        w, b = model.head.weight.detach().abs(), model.head.bias.detach().abs()
        return {"encode": enc, "head": [(w.shape[1], float(w.sum(1).max() + b.max()))],
                "decode": dec[::-1]}  # fmt: skip

    def covered(got: dict, bound: dict) -> None:
        for part, measured in got.items():
            assert len(measured) == len(bound[part]), part
            for (n, s), (n_max, s_max) in zip(measured, bound[part], strict=True):
                assert n <= n_max and s <= s_max, (part, n, s, n_max, s_max)

    for seed in range(3):
        torch.manual_seed(seed)
        covered(layers(create_variant("sda_mnist_tiny")), SDA_LAYERS["tiny"])
    with torch.no_grad():
        covered(layers(aezoo.from_pretrained("sda-mnist")), SDA_LAYERS["sda-mnist"])
