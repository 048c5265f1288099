"""Corruptions of Vincent et al. (JMLR 2010, Section 4.2): counts, seeding, purity."""

from __future__ import annotations

import math
import re

import numpy as np
import pydantic
import pytest
import torch

from aezoo.training.corruptions import (
    CorruptionConfig,
    corrupt,
    gaussian_noise,
    masking_noise,
    salt_and_pepper,
)
from tests.tolerance import sum_atol


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def x() -> torch.Tensor:
    """Inputs strictly inside (0, 1), so 0 and 1 only appear where corrupted."""
    return torch.rand(64, 784, generator=gen(123)) * 0.98 + 0.01


@pytest.mark.parametrize("level", [0.0, 0.1, 0.25, 0.4, 0.999, 1.0])
def test_masking_zeroes_exact_count_per_row(x: torch.Tensor, level: float) -> None:
    y = masking_noise(x, level, gen())
    assert y.shape == x.shape and y.dtype == x.dtype
    zeroed = y == 0
    assert (zeroed.sum(dim=1) == round(level * 784)).all()
    torch.testing.assert_close(y[~zeroed], x[~zeroed], rtol=0, atol=0)


def test_masking_positions_differ_between_rows_and_cover_all_columns() -> None:
    ones = torch.ones(2_000, 784)
    zeroed = masking_noise(ones, 0.25, gen()) == 0
    assert len({tuple(row.nonzero().flatten().tolist()) for row in zeroed[:50]}) == 50
    # Uniform over columns: each column is masked in about 25% of rows.
    frequency = zeroed.float().mean(dim=0)
    assert frequency.min() > 0.17 and frequency.max() < 0.33
    # every row masks exactly 196 of 784: the mean is 0.25 exactly, but for float32 rounding
    # of the column means (exact counts over 2,000, one division) and of their 784-term mean
    assert abs(frequency.mean().item() - 0.25) <= sum_atol(np.float32, 784, abs_sum=0.25)


@pytest.mark.parametrize("fn", [masking_noise, salt_and_pepper, gaussian_noise])
def test_seeded_reproducibility(x: torch.Tensor, fn) -> None:
    a = fn(x, 0.3, gen(7))
    b = fn(x, 0.3, gen(7))
    c = fn(x, 0.3, gen(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("fn", [masking_noise, salt_and_pepper, gaussian_noise])
def test_input_not_modified(x: torch.Tensor, fn) -> None:
    before = x.clone()
    y = fn(x, 0.5, gen())
    assert torch.equal(x, before)
    assert y.data_ptr() != x.data_ptr()


def test_salt_and_pepper_values_and_count(x: torch.Tensor) -> None:
    y = salt_and_pepper(x, 0.4, gen())
    changed = y != x
    assert (changed.sum(dim=1) == round(0.4 * 784)).all()
    assert set(torch.unique(y[changed]).tolist()) == {0.0, 1.0}
    salt = (y[changed] == 1).float().mean().item()
    assert abs(salt - 0.5) < 0.02  # 64 * 314 draws, std about 0.004


def test_gaussian_noise_std(x: torch.Tensor) -> None:
    big = torch.zeros(1_000, 784)
    noise = gaussian_noise(big, 0.3, gen())
    assert abs(noise.std().item() - 0.3) < 0.003
    assert abs(noise.mean().item()) < 0.003
    assert torch.equal(gaussian_noise(x, 0.0, gen()), x)


@pytest.mark.parametrize(
    ("fn", "level"),
    [
        (masking_noise, -0.1),
        (masking_noise, 1.5),
        (masking_noise, math.nan),
        (salt_and_pepper, 1.01),
        (gaussian_noise, -0.5),
        (gaussian_noise, math.inf),
    ],
)
def test_invalid_levels_raise(x: torch.Tensor, fn, level: float) -> None:
    with pytest.raises(ValueError, match=re.escape(str(level))):
        fn(x, level, gen())


def test_bad_input_shape_or_dtype() -> None:
    with pytest.raises(ValueError, match=r"\(batch, n_features\)"):
        masking_noise(torch.zeros(2, 28, 28), 0.25, gen())
    with pytest.raises(ValueError, match="floating-point"):
        masking_noise(torch.zeros(2, 784, dtype=torch.uint8), 0.25, gen())


def test_config_validation() -> None:
    assert CorruptionConfig() == CorruptionConfig(kind="masking", level=0.25)
    assert CorruptionConfig(kind="gaussian", level=3.0).level == 3.0
    with pytest.raises(pydantic.ValidationError, match="extra"):
        CorruptionConfig(kind="masking", levle=0.3)
    with pytest.raises(pydantic.ValidationError, match=r"1\.5"):
        CorruptionConfig(kind="masking", level=1.5)
    with pytest.raises(pydantic.ValidationError, match=r"-0\.1"):
        CorruptionConfig(kind="gaussian", level=-0.1)
    with pytest.raises(pydantic.ValidationError):
        CorruptionConfig(kind="dropout")


@pytest.mark.parametrize(
    ("kind", "fn"),
    [
        ("masking", masking_noise),
        ("salt_and_pepper", salt_and_pepper),
        ("gaussian", gaussian_noise),
    ],
)
def test_corrupt_dispatches(x: torch.Tensor, kind: str, fn) -> None:
    config = CorruptionConfig(kind=kind, level=0.2)
    assert torch.equal(corrupt(x, config, gen(3)), fn(x, 0.2, gen(3)))


def test_corrupt_none_returns_input(x: torch.Tensor) -> None:
    assert corrupt(x, CorruptionConfig(kind="none"), gen()) is x
