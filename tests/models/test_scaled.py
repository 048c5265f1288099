"""A family's model behind a table's per-feature scaling (aezoo.models.scaled)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aezoo.export.torch_io import build_artifact, load_torch_model
from aezoo.models import create_variant
from aezoo.models.scaled import ScaledAutoEncoder
from aezoo.runtime.model import OnnxModel
from aezoo.spec import UNBOUNDED
from tests.tolerance import sum_atol

N = 784  # the tiny SdA's n_features


def _wrapped() -> tuple[ScaledAutoEncoder, np.ndarray, np.ndarray]:
    torch.manual_seed(0)
    base = create_variant("sda_mnist_tiny", image_shape=None).eval()
    rng = np.random.default_rng(0)
    offset = rng.uniform(-500, 500, N).astype(np.float32)
    scale = rng.uniform(1, 1000, N).astype(np.float32)
    return ScaledAutoEncoder.wrap(base, offset, scale, "minmax").eval(), offset, scale


def test_scaling_is_applied_before_encode_and_undone_after_decode() -> None:
    model, offset, scale = _wrapped()
    raw = torch.from_numpy(offset + scale * np.random.default_rng(1).random((5, N), np.float32))
    scaled = (raw - torch.from_numpy(offset)) / torch.from_numpy(scale)
    # the wrapper runs these very operations on the same tensors: the same bits, so a missing
    # or swapped scaling cannot hide under a tolerance
    with torch.no_grad():
        torch.testing.assert_close(model.encode(raw), model.base.encode(scaled), rtol=0, atol=0)
        got, want = model.classify(raw), model.base.classify(scaled)
        torch.testing.assert_close(got, want, rtol=0, atol=0)
        z = model.encode(raw)
        want = model.base.decode(z) * torch.from_numpy(scale) + torch.from_numpy(offset)
        torch.testing.assert_close(model.decode(z), want, rtol=0, atol=0)
    assert model.family == "sda" and model.operations == model.base.operations
    spec = model.input_spec([f"f{i}" for i in range(N)])
    assert spec.value_range == UNBOUNDED and not spec.bounded and spec.columns[3] == "f3"


def test_artifact_applies_the_scaling_in_onnx_and_rebuilds(tmp_path: Path) -> None:
    model, offset, scale = _wrapped()
    columns = [f"f{i}" for i in range(N)]
    art = build_artifact(
        model, tmp_path / "scaled", name="scaled-tiny", input_spec=model.input_spec(columns)
    )
    onnx_model = OnnxModel(art)
    raw = (offset + scale * np.random.default_rng(2).random((7, N))).astype(np.float32)
    with torch.no_grad():
        want_codes = model.encode(torch.from_numpy(raw)).numpy()
        want_out = model(torch.from_numpy(raw)).numpy()
    # codes: the base net's reduction over 784 inputs scaled to about [0, 1]
    np.testing.assert_allclose(
        onnx_model.encode(raw), want_codes, atol=sum_atol(np.float32, N, abs_sum=N, depth=3)
    )
    # outputs are back in raw units: up to |offset| + scale ~ 1,500
    np.testing.assert_allclose(
        onnx_model.denoise(raw), want_out, rtol=1e-4, atol=1500 * sum_atol(np.float32, N, N, 6)
    )
    assert onnx_model.config.input.columns == columns
    rebuilt = load_torch_model(art)
    assert isinstance(rebuilt, ScaledAutoEncoder)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(rebuilt.state_dict()[k], v, rtol=0, atol=0)
