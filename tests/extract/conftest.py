"""Fixtures of the extraction tests: real MNIST test images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aezoo.data.mnist import read_idx


@pytest.fixture(scope="session")
def mnist_u8(mnist_dir: Path) -> np.ndarray:
    """The first 1,000 MNIST test images, (1000, 28, 28) uint8."""
    return read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:1000]


@pytest.fixture(scope="session")
def mnist_1000(mnist_u8: np.ndarray) -> np.ndarray:
    """The same images as the models see them: (1000, 784) float32, uint8 / 255."""
    return mnist_u8.reshape(len(mnist_u8), 784).astype(np.float32) / np.float32(255)
