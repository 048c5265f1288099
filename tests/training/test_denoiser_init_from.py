"""DenoiserTrainConfig.init_from: a run starts from an earlier artifact's weights (warm
restart), and weights of another shape are refused with a message naming the artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from aezoo.models.denoiser import CSCDenoiser, CSCDenoiserConfig
from aezoo.training.denoiser import (
    DenoiserTrainConfig,
    base_run_of,
    chain_totals,
    initial_model,
    model_from_artifact,
)

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


def test_a_warm_restart_carries_the_chain_of_records(tmp_path: Path) -> None:
    first = {"steps_done": 3000, "train_seconds": 1800.0}
    second = {"steps_done": 900, "train_seconds": 2700.0, "base_run": first}
    art = _artifact(tmp_path, SMALL)
    (art / "training.json").write_text(json.dumps(second))
    assert base_run_of(str(art)) == second  # nested: the first run is inside
    assert base_run_of(None) is None
    assert base_run_of(str(tmp_path / "missing")) is None
    this = {"steps_done": 100, "train_seconds": 60.0, "base_run": second}
    assert chain_totals(this) == (4000, 4560.0)
