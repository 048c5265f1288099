"""ONNX export: checker, dynamic batch axis, parity record, loud failure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

import aezoo
from aezoo.errors import ExportError
from aezoo.export import onnx as export
from aezoo.models import create_variant
from tests.tolerance import sda_atol


def test_artifact_records_parity_for_every_graph(tiny_artifact: Path) -> None:
    record = json.loads((tiny_artifact / "onnx" / "export.json").read_text())
    parity = record["parity_max_abs_error"]
    assert set(parity) == {
        "onnx/encoder.onnx", "onnx/decoder.onnx", "onnx/classifier.onnx", "onnx/scorer.onnx"
    }
    for graph in parity.values():
        assert set(graph) == {"1", "7", "256"}
        assert max(graph.values()) <= export.PARITY_ATOL  # the export's own gate


@pytest.mark.parametrize(
    "rel,dims",
    [("onnx/encoder.onnx", 784), ("onnx/decoder.onnx", 16), ("onnx/classifier.onnx", 784)],
)
def test_graphs_have_a_dynamic_batch_axis(tiny_artifact: Path, rel: str, dims: int) -> None:
    sess = ort.InferenceSession(str(tiny_artifact / rel))
    shape = sess.get_inputs()[0].shape
    assert isinstance(shape[0], str) and shape[1] == dims
    for batch in (1, 3, 300):
        out = sess.run(
            None, {sess.get_inputs()[0].name: np.random.rand(batch, dims).astype(np.float32)}
        )[0]
        assert out.shape[0] == batch


def test_onnx_matches_torch_through_the_public_api(tiny_artifact: Path) -> None:
    x = np.random.default_rng(1).random((5, 784), dtype=np.float32)
    onnx_model = aezoo.load(str(tiny_artifact))
    torch_model = aezoo.from_pretrained(str(tiny_artifact))
    # onnxruntime against torch: the tiny SdA's layers (2 up, 2 down, the head) summed in
    # another order
    with torch.no_grad():
        t = torch.from_numpy(x)
        codes, out = torch_model.encode(t).numpy(), torch_model(t).numpy()
        probs = torch.softmax(torch_model.classify(t), dim=1).numpy()
    np.testing.assert_allclose(onnx_model.encode(x), codes, rtol=0, atol=sda_atol("tiny", "encode"))
    np.testing.assert_allclose(onnx_model.denoise(x), out, rtol=0, atol=sda_atol("tiny", "denoise"))
    atol = sda_atol("tiny", "predict_proba")
    np.testing.assert_allclose(onnx_model.predict_proba(x), probs, rtol=0, atol=atol)


def test_parity_failure_is_loud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "PARITY_ATOL", 0.0)  # float32 graphs never match to 0 exactly
    model = create_variant("sda_mnist_tiny")
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # larger activations: rounding differences certain
    with pytest.raises(ExportError, match="parity check failed at batch"):
        export.export_onnx(model, tmp_path)
