"""Execution providers: CUDA is selectable and checked, never silently CPU."""

from __future__ import annotations

import onnxruntime as ort
import pytest

from aezoo.errors import ConfigError
from aezoo.runtime.model import CPU, CUDA, providers_for


def test_cpu_and_auto() -> None:
    assert providers_for("cpu") == [CPU]
    assert providers_for("auto")[-1] == CPU


@pytest.mark.skipif(CUDA in ort.get_available_providers(), reason="onnxruntime-gpu is installed")
def test_cuda_without_onnxruntime_gpu_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"aezoo\[gpu\]"):
        providers_for("cuda")
    with pytest.raises(ConfigError, match="device must be one of"):
        providers_for("tpu")
