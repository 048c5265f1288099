"""The whole-image denoiser's artifact contract (spec.DenoiserSpec, onnx/denoiser.onnx):
the config fields, the files a manifest needs, and the graph signature check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from safetensors.numpy import save_file

from aezoo.errors import ArtifactError, ConfigMismatchError
from aezoo.registry.artifact import CONFIG, DENOISER, WEIGHTS, write_manifest
from aezoo.registry.format import read_config
from aezoo.registry.verify import check_graphs, verify_artifact
from aezoo.spec import ModelConfig
from tests.denoiser_fixture import config


def _graph(path: Path, *, sigma_name: str = "sigma", channels: int | str = 1) -> None:
    """denoised = noisy - 0 * sigma (broadcast): the smallest graph with the contract."""
    noisy = helper.make_tensor_value_info("noisy", TensorProto.FLOAT, ["N", channels, "H", "W"])
    sigma = helper.make_tensor_value_info(sigma_name, TensorProto.FLOAT, ["N"])
    out = helper.make_tensor_value_info("denoised", TensorProto.FLOAT, ["N", channels, "H", "W"])
    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [-1, 1, 1, 1])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    nodes = [
        helper.make_node("Reshape", [sigma_name, "shape"], ["s4"]),
        helper.make_node("Mul", ["s4", "zero"], ["z"]),
        helper.make_node("Sub", ["noisy", "z"], ["denoised"]),
    ]
    graph = helper.make_graph(nodes, "d", [noisy, sigma], [out], initializer=[shape, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)


def _config() -> dict:
    """The tests' tiny denoiser's config (tests/denoiser_fixture.py) with its own spec."""
    return {**config(), "denoiser": {"sigma_range": [0.0, 55.0], "halo": 0, "min_size": 1}}


def _artifact(root: Path, **graph_kw) -> Path:
    root.mkdir(parents=True)
    (root / CONFIG).write_text(json.dumps(_config()))
    save_file({"w": np.zeros(1, np.float32)}, str(root / WEIGHTS))
    _graph(root / DENOISER, **graph_kw)
    write_manifest(root, "tiny-denoiser", "1")
    return root


def test_a_denoiser_artifact_needs_only_the_denoiser_graph(tmp_path: Path) -> None:
    root = _artifact(tmp_path / "a")
    verify_artifact(root)
    check_graphs(root, read_config(root))


def test_a_denoiser_without_its_graph_is_incomplete(tmp_path: Path) -> None:
    root = tmp_path / "b"
    root.mkdir()
    (root / CONFIG).write_text(json.dumps(_config()))
    save_file({"w": np.zeros(1, np.float32)}, str(root / WEIGHTS))
    with pytest.raises(ArtifactError, match="encoder"):
        write_manifest(root, "tiny-denoiser", "1")


@pytest.mark.parametrize(
    ("kw", "words"), [({"sigma_name": "noise_level"}, "takes inputs"), ({"channels": 3}, "'noisy'")]
)
def test_a_graph_off_the_contract_is_named(tmp_path: Path, kw: dict, words: str) -> None:
    root = _artifact(tmp_path / "c", **kw)
    with pytest.raises(ConfigMismatchError, match=words):
        check_graphs(root, read_config(root))


def test_the_config_refuses_other_operations_and_bad_sigma_ranges() -> None:
    bad_ops = {**_config(), "operations": ["encode", "denoise"]}
    with pytest.raises(ValueError, match="whole-image denoiser"):
        ModelConfig.model_validate(bad_ops)
    bad_range = {**_config(), "denoiser": {"sigma_range": [30, 10], "halo": 0, "min_size": 1}}
    with pytest.raises(ValueError, match="sigma_range"):
        ModelConfig.model_validate(bad_range)
