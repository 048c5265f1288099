"""The ACAI convolutional autoencoder: architecture facts, shapes, value range, ONNX export."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from aezoo.export import onnx as export
from aezoo.models import create_model, create_variant
from aezoo.models.conv import ConvAEConfig, ConvAutoEncoder

torch.set_num_threads(1)


def _convs(module: nn.Module) -> list[tuple[int, int, int]]:
    return [
        (m.in_channels, m.out_channels, m.kernel_size[0])
        for m in module.modules()
        if isinstance(m, nn.Conv2d)
    ]


def test_lines_variant_matches_the_official_architecture() -> None:
    model = create_variant("conv_ae_lines")
    assert (model.n_features, model.n_components) == (1024, 64)  # latent 2x2x16
    assert _convs(model.encoder) == [
        (1, 16, 1),
        (16, 16, 3), (16, 16, 3),
        (16, 32, 3), (32, 32, 3),
        (32, 64, 3), (64, 64, 3),
        (64, 128, 3), (128, 128, 3),
        (128, 256, 3), (256, 16, 3),
    ]  # fmt: skip
    assert _convs(model.decoder) == [
        (16, 128, 3), (128, 128, 3),
        (128, 64, 3), (64, 64, 3),
        (64, 32, 3), (32, 32, 3),
        (32, 16, 3), (16, 16, 3),
        (16, 16, 3), (16, 1, 3),
    ]  # fmt: skip
    slopes = {m.negative_slope for m in model.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}
    assert sum(isinstance(m, nn.LeakyReLU) for m in model.encoder.modules()) == 9
    assert sum(isinstance(m, nn.AvgPool2d) for m in model.encoder.modules()) == 4
    # He init for leaky ReLU 0.2: std 1 / sqrt(1.04 fan_in), zero biases
    big = model.encoder[-1]  # 256 -> 16, 3x3: 36,864 weights
    want = 1 / math.sqrt(1.04 * 256 * 9)
    assert abs(float(big.weight.detach().std()) / want - 1) < 0.03
    he = create_variant("conv_ae_lines", init_gain=math.sqrt(2)).encoder[-1]
    assert abs(float(he.weight.detach().std()) / (want * math.sqrt(2)) - 1) < 0.03
    assert all(
        float(m.bias.detach().abs().max()) == 0 for m in model.modules() if isinstance(m, nn.Conv2d)
    )


def test_shapes_and_value_range() -> None:
    torch.manual_seed(0)
    model = create_variant("conv_ae_tiny", init_gain=2.0)  # outputs far outside [-1, 1]
    assert (model.n_features, model.n_components) == (64, 16)
    x = torch.rand(5, 64) * 2 - 1
    z = model.encode(x)
    assert z.shape == (5, 16) and z.dtype == torch.float32
    raw = model.reconstruct(z)
    assert raw.shape == (5, 64) and float(raw.detach().abs().max()) > 1.5
    model.eval()
    out = model.decode(z)
    assert float(out.detach().min()) == -1.0 and float(out.detach().max()) == 1.0
    # the same kernels on the same tensors in one process: the same bits (no dropout, no
    # batch statistics on these paths), so any difference is a wrong clamp or mode
    torch.testing.assert_close(out, raw.clamp(-1, 1), rtol=0, atol=0)
    torch.testing.assert_close(model(x), out, rtol=0, atol=0)
    model.train()  # training mode: the raw decoder output (what the ACAI critic sees)
    torch.testing.assert_close(model.decode(z), raw, rtol=0, atol=0)


def test_n_components_and_spec_of_a_non_square_config() -> None:
    cfg = ConvAEConfig(image_shape=[16, 8], depth=2, scales=2, latent_channels=3)
    model = ConvAutoEncoder(cfg)
    assert (model.n_features, model.n_components) == (128, 3 * 4 * 2)
    assert model.encode(torch.zeros(2, 128)).shape == (2, 24)
    assert model.decode(torch.zeros(2, 24)).shape == (2, 128)
    spec = model.input_spec()
    assert (
        spec.shape == [16, 8]
        and spec.value_range == (-1.0, 1.0)
        and "[-1, 1]" in spec.preprocessing
    )
    assert model.filters() is None and model.operations == ["encode", "denoise", "interpolate"]
    rebuilt = create_model("conv_ae", model.model_args())
    assert rebuilt.model_args() == model.model_args() and rebuilt.family == "conv-ae"


def test_nearest_upsampling_and_average_pooling() -> None:
    model = create_variant("conv_ae_tiny")
    up = model.decoder[2]
    x = torch.arange(4.0).view(1, 1, 2, 2)
    want = torch.tensor(
        [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]], dtype=torch.float32
    )
    torch.testing.assert_close(up(x)[0, 0], want, rtol=0, atol=0)  # copies: exact
    pool = model.encoder[3]
    # the mean of four equal small integers is exact in float32
    got = pool(want.view(1, 1, 4, 4))[0, 0]
    torch.testing.assert_close(got, torch.arange(4.0).view(2, 2), rtol=0, atol=0)


def test_errors_name_the_bad_value() -> None:
    model = create_variant("conv_ae_tiny")
    with pytest.raises(ValueError, match=r"inputs must have shape \(batch, 64\), got \(2, 63\)"):
        model.encode(torch.zeros(2, 63))
    with pytest.raises(ValueError, match=r"codes must have shape \(batch, 16\)"):
        model.decode(torch.zeros(2, 64))
    with pytest.raises(ValueError, match="divisible by 2\\*\\*scales = 16"):
        ConvAEConfig(image_shape=[32, 40])
    with pytest.raises(ValueError, match="low < high"):
        ConvAEConfig(value_range=(1.0, -1.0))
    with pytest.raises(ValueError, match="extra"):
        ConvAEConfig(latent=16)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="latent_dropout"):
        ConvAEConfig(latent_dropout=1.0)


def test_onnx_export_parity_and_clamp(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_variant("conv_ae_tiny", init_gain=2.0)  # outputs beyond +-1: clamp in the graph
    record = export.export_onnx(model, tmp_path)
    parity = record["parity_max_abs_error"]
    assert set(parity) == {"onnx/encoder.onnx", "onnx/decoder.onnx", "onnx/scorer.onnx"}
    # the export's own gate (aezoo.export.onnx.PARITY_ATOL)
    assert all(
        set(g) == {"1", "7", "256"} and max(g.values()) <= export.PARITY_ATOL
        for g in parity.values()
    )
    json.dumps(record)
    dec = ort.InferenceSession(str(tmp_path / "onnx/decoder.onnx"))
    enc = ort.InferenceSession(str(tmp_path / "onnx/encoder.onnx"))
    x = np.random.default_rng(0).uniform(-1, 1, (9, 64)).astype(np.float32)
    z = enc.run(None, {"inputs": x})[0]
    out = dec.run(None, {"codes": z})[0]
    with torch.no_grad():
        want = model.eval().decode(torch.from_numpy(z)).numpy()
        raw = model.reconstruct(torch.from_numpy(z)).numpy()
    assert raw.max() > 1.5 and raw.min() < -1.5
    assert out.max() == 1.0 and out.min() == -1.0
    # Left hard-coded: the a-priori bound (componentwise Higham through |W| of six 3x3
    # convolutions of gain 2, each amplifying by ~10-15) is about 2 here, on outputs in
    # [-1, 1], so it could not fail; observed onnxruntime-torch differences are ~3e-6.
    np.testing.assert_allclose(out, want, atol=1e-5)
