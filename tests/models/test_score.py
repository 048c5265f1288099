"""Anomaly scores (aezoo.models.score): definition, per-feature sums, ONNX scorer parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from aezoo.export import onnx as export
from aezoo.models import create_variant
from aezoo.models.scaled import ScaledAutoEncoder
from aezoo.models.score import score, score_kind
from aezoo.registry.artifact import SCORER

TINY = {
    "sda_mnist_tiny": "reconstruction",
    "lista_mnist_tiny": "lasso_energy",
    "drsae_mnist_tiny": "drsae_energy",
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_scores_are_the_sum_of_contributions(name: str) -> None:
    torch.manual_seed(0)
    model = create_variant(name).eval()
    assert score_kind(model) == TINY[name]
    x = torch.rand(9, model.n_features)
    with torch.no_grad():
        s, c = score(model, x)
    assert s.shape == (9,) and c.shape == (9, model.n_features)
    assert (c >= 0).all()
    # a 784-term float32 sum in another order
    torch.testing.assert_close(s, c.sum(dim=1), rtol=0, atol=784 * 6e-8 * float(s.max()))


def test_plain_score_is_the_mean_squared_reconstruction_error() -> None:
    torch.manual_seed(0)
    model = create_variant("sda_mnist_tiny").eval()
    x = torch.rand(4, 784)
    with torch.no_grad():
        s, _ = score(model, x)
        want = (x - model(x)).pow(2).mean(dim=1)
    torch.testing.assert_close(s, want, rtol=1e-5, atol=1e-7)


def test_scaled_model_scores_in_the_scaled_space() -> None:
    torch.manual_seed(0)
    base = create_variant("sda_mnist_tiny").eval()
    offset, scale = torch.full((784,), 100.0), torch.full((784,), 1000.0)
    model = ScaledAutoEncoder.wrap(base, offset, scale).eval()
    x01 = torch.rand(3, 784)
    with torch.no_grad():
        raw, _ = score(model, x01 * 1000.0 + 100.0)  # the same rows in raw units
        base_s, _ = score(base, x01)
    torch.testing.assert_close(raw, base_s, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(TINY))
def test_onnx_scorer_matches_torch(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_variant(name).eval()
    record = export.export_onnx(model, tmp_path)
    assert SCORER in record["parity_max_abs_error"]
    sess = ort.InferenceSession(str(tmp_path / SCORER), providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["scores", "contributions"]
    x = np.random.default_rng(1).random((5, model.n_features), dtype=np.float32)
    got_s, got_c = sess.run(None, {sess.get_inputs()[0].name: x})
    with torch.no_grad():
        want_s, want_c = (t.numpy() for t in score(model, torch.from_numpy(x)))
    atol = export.PARITY_ATOL * max(1.0, float(np.abs(want_c).max()))
    np.testing.assert_allclose(got_c, want_c, rtol=0, atol=atol)
    np.testing.assert_allclose(
        got_s, want_s, rtol=0, atol=export.PARITY_ATOL * max(1.0, float(want_s.max()))
    )
