"""DenoiserTrainConfig.init_from: a run starts from an earlier artifact's weights (warm
restart), and weights of another shape are refused with a message naming the artifact."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from aezoo.models.denoiser import CSCDenoiser, CSCDenoiserConfig
from aezoo.training.denoiser import DenoiserTrainConfig, initial_model, model_from_artifact

SMALL = CSCDenoiserConfig(n_filters=4, kernel_size=3, n_iterations=2)


def _artifact(tmp_path: Path, config: CSCDenoiserConfig) -> Path:
    torch.manual_seed(0)
    model = CSCDenoiser(config)
    with torch.no_grad():
        model.threshold.uniform_(0.5, 1.5)
        model.eta.fill_(0.3)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(tmp_path / "model.safetensors"))  # fmt: skip
    return tmp_path


def test_initial_model_takes_the_artifact_weights(tmp_path: Path) -> None:
    art = _artifact(tmp_path, SMALL)
    cfg = DenoiserTrainConfig(model=SMALL, init_from=str(art))
    model = initial_model(cfg, train=[])  # no dictionary is learned: no images needed
    want = model_from_artifact(SMALL, art).state_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(v, want[k]), k
    assert float(model.eta) == pytest.approx(0.3)


def test_weights_of_another_shape_are_refused(tmp_path: Path) -> None:
    art = _artifact(tmp_path, SMALL)
    other = CSCDenoiserConfig(n_filters=8, kernel_size=3, n_iterations=2)
    with pytest.raises(ValueError, match="do not fit"):
        model_from_artifact(other, art)
    with pytest.raises(ValueError, match=r"no model\.safetensors"):
        model_from_artifact(SMALL, tmp_path / "missing")
