"""Random translation augmentation for fine-tuning."""

from __future__ import annotations

import pytest
import torch

from aezoo.training.augment import random_shift


def test_shift_moves_each_image_within_bounds_and_keeps_its_mass() -> None:
    x = torch.zeros(64, 784)
    x[:, 14 * 28 + 14] = 1.0  # one lit pixel at the centre of every image
    y = random_shift(x, (28, 28), 2, torch.Generator().manual_seed(0))
    assert torch.equal(y.sum(1), x.sum(1))
    rows, cols = torch.div(y.argmax(1), 28, rounding_mode="floor"), y.argmax(1) % 28
    assert (rows - 14).abs().max() <= 2 and (cols - 14).abs().max() <= 2
    offsets = set(zip(rows.tolist(), cols.tolist(), strict=True))
    assert len(offsets) > 10  # per-sample offsets, not one shift for the batch
    assert torch.equal(x[:, 14 * 28 + 14], torch.ones(64))  # input untouched


def test_shift_is_seeded_and_zero_is_identity() -> None:
    x = torch.rand(8, 784)
    a = random_shift(x, (28, 28), 3, torch.Generator().manual_seed(5))
    b = random_shift(x, (28, 28), 3, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert random_shift(x, (28, 28), 0, torch.Generator()) is x
    with pytest.raises(ValueError, match="expected"):
        random_shift(torch.rand(2, 100), (28, 28), 1, torch.Generator())
