"""DrSAE model: the recurrence of arXiv:1301.3775 eq. 1, its heads, and ONNX parity at T = 11."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from aezoo.export import onnx as export
from aezoo.models import create_model, create_variant
from aezoo.models.drsae import DrSAE, DrSAEConfig
from tests.tolerance import sum_atol


def _model(**kwargs) -> DrSAE:
    torch.manual_seed(0)
    return DrSAE(DrSAEConfig(**{"n_components": 24, **kwargs})).eval()


def _model64(**kwargs) -> DrSAE:
    """The model in float64, for the checks of algebra against a by-hand formula: their sums
    run in another order, and float64's gamma_784 ~ 1e-13 keeps assert_close's float64
    defaults (rtol 1e-7, atol 1e-7) a million times above any rounding difference."""
    return _model(**kwargs).double()


def _digits(n: int, seed: int = 0) -> torch.Tensor:
    """Sparse non-negative images in [0, 1] (a stand-in for MNIST digits)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 784, generator=g) < 0.2) * torch.rand(n, 784, generator=g)


def _digits64(n: int, seed: int = 0) -> torch.Tensor:
    return _digits(n, seed).double()


def test_one_step_without_recurrence_is_a_relu_layer() -> None:
    model = _model64(n_steps=1)
    with torch.no_grad():
        model.S.normal_()  # never used at T = 1 (z_0 = 0) ...
        model.b.uniform_(0.0, 0.05)
    x = _digits64(5)
    x_unit = x / x.norm(dim=1, keepdim=True)
    want = F.relu(F.linear(x_unit, model.E, -model.b))
    torch.testing.assert_close(model.encode(x), want)
    with torch.no_grad():
        model.S.zero_()  # ... and with S = 0 the statement holds literally
    torch.testing.assert_close(model.encode(x), want)
    # with S = 0 the recurrence is a fixed point after one step, whatever T
    deep = _model64(n_steps=5)
    deep.load_state_dict({**model.state_dict(), "S": torch.zeros(24, 24, dtype=torch.float64)})
    torch.testing.assert_close(deep.encode(x), want)


def test_recurrence_follows_equation_1() -> None:
    model = _model64(n_steps=4)
    with torch.no_grad():
        model.b.uniform_(0.0, 0.02)
    x = _digits64(6)
    x_unit = x / x.norm(dim=1, keepdim=True)
    z = torch.zeros(6, 24, dtype=torch.float64)
    states = []
    for _ in range(4):  # z_{t+1} = relu(E x + S z_t - b), column-vector form per sample
        z = torch.stack(
            [
                F.relu(model.E @ xi + model.S @ zi - model.b)
                for xi, zi in zip(x_unit, z, strict=True)
            ]
        )
        states.append(z)
    got = model.trajectory(x)
    assert len(got) == 4
    for a, b in zip(got, states, strict=True):
        torch.testing.assert_close(a, b)  # float64: batched and per-sample sums agree
    assert not torch.allclose(got[0], got[-1])  # S does act after the first step
    torch.testing.assert_close(model.encode(x), states[-1])


def test_inputs_are_scaled_to_unit_norm_inside_the_model() -> None:
    model = _model64()
    x = _digits64(4)
    torch.testing.assert_close(model.encode(x), model.encode(3.0 * x))
    torch.testing.assert_close(model.classify(x), model.classify(0.5 * x))
    zero = torch.zeros(2, 784, dtype=torch.float64)
    assert torch.equal(model.encode(zero), torch.zeros(2, 24, dtype=torch.float64))
    assert torch.isfinite(model.classify(zero)).all()


def test_heads_decode_pixels_and_classify_the_normalised_code() -> None:
    model = _model64(pixel_scale=9.0)
    x = _digits64(5)
    z = model.encode(x)
    assert (z >= 0).all()
    torch.testing.assert_close(model.decode(z), (9.0 * z @ model.D.t()).clamp(0, 1))
    torch.testing.assert_close(model.classify(x), (z / z.norm(dim=1, keepdim=True)) @ model.C.t())
    headless = create_variant("drsae_mnist_tiny", n_classes=None)
    assert headless.operations == ["encode", "denoise", "interpolate"]


def test_variants_and_rebuild_from_model_args() -> None:
    m400, m200 = create_variant("drsae_mnist_400"), create_variant("drsae_mnist_200")
    assert (m400.n_components, m400.config.n_steps) == (400, 11)
    assert (m200.n_components, m200.config.n_steps) == (200, 11)
    assert create_variant("drsae_mnist_200", n_steps=2).config.n_steps == 2
    n_params = sum(p.numel() for p in m400.parameters())
    mlp = (784 * 1000 + 1000) + 2 * (1000 * 1000 + 1000) + (1000 * 10 + 10)
    assert n_params == 784 * 400 * 2 + 400 * 400 + 400 + 10 * 400 < mlp / 3
    rebuilt = create_model("drsae", m200.model_args())
    assert rebuilt.model_args() == m200.model_args()
    with pytest.raises(ValueError, match="n_steps"):
        DrSAEConfig(n_steps=0)


def test_onnx_parity_at_eleven_steps(tmp_path: Path) -> None:
    model = _model(n_components=48, n_steps=11)
    with torch.no_grad():
        model.b.uniform_(0.0, 0.01)
    record = export.export_onnx(model, tmp_path)
    parity = record["parity_max_abs_error"]
    assert set(parity) == {
        "onnx/encoder.onnx",
        "onnx/decoder.onnx",
        "onnx/classifier.onnx",
        "onnx/scorer.onnx",
    }
    for graph in parity.values():  # the export's own gate (aezoo.export.onnx.PARITY_ATOL)
        assert set(graph) == {"1", "7", "256"} and max(graph.values()) <= export.PARITY_ATOL
    json.dumps(record)
    # and on digit-like inputs, where codes are sparse, at several batch sizes: onnxruntime
    # against torch, the same 11 steps summed in another order. One step sums E x (784 terms,
    # rows of E of norm alpha, x of unit norm: <= max |E_i| by Cauchy-Schwarz) and S z (rows
    # of |S| times the largest code); an earlier step's error passes through S, a gain of at
    # most max_i sum_j |S_ij| (relu is 1-Lipschitz), ten times.
    with torch.no_grad():
        e_abs = float(model.E.norm(dim=1).max())
        s_gain = float(model.S.abs().sum(dim=1).max())
        c_norm = float(model.C.norm(dim=1).max())
    for batch in (1, 3, 64):
        x = _digits(batch, seed=batch)
        with torch.no_grad():
            z, logits = model.encode(x), model.classify(x)
        abs_sum = e_abs + s_gain * float(z.max())
        codes_atol = max(s_gain, 1.0) ** 10 * sum_atol(np.float32, 784, abs_sum, depth=11)
        # logits C z / |z|: z's error, at most sqrt(48) codes_atol in 2-norm, moves z / |z| by
        # at most twice that over |z|, and C's rows (norm <= c_norm) pass it on; plus C's sums
        dz = np.sqrt(model.n_components) * codes_atol
        unit_err = 2 * dz / z.norm(dim=1, keepdim=True).numpy()
        logits_atol = c_norm * unit_err + sum_atol(np.float32, model.n_components, c_norm)
        for rel, want, atol in [
            ("onnx/encoder.onnx", z.numpy(), codes_atol),
            ("onnx/classifier.onnx", logits.numpy(), logits_atol),
        ]:
            sess = ort.InferenceSession(str(tmp_path / rel), providers=["CPUExecutionProvider"])
            got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
            bound = np.broadcast_to(atol, got.shape)
            np.testing.assert_array_less(np.abs(got - want), bound, err_msg=f"{rel} {batch}")
