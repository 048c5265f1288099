"""``training_device``: where a trainer runs, and a clear refusal of a GPU torch cannot see."""

from __future__ import annotations

import pytest
import torch

from aezoo.errors import ConfigError
from aezoo.training.loop import device_label, training_device


def test_cpu_and_auto_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_device("cpu") == torch.device("cpu")
    assert training_device("auto") == torch.device("cpu")
    assert "threads" in device_label(torch.device("cpu"))


def test_cuda_without_a_gpu_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"'cuda'.*sees no GPU.*--device cpu or auto"):
        training_device("cuda")


def test_auto_picks_a_visible_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training_device("auto") == torch.device("cuda")
    assert training_device("cuda") == torch.device("cuda")


def test_an_unknown_device_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"auto, cpu, cuda.*'gpu'"):
        training_device("gpu")
