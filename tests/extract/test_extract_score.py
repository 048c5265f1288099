"""``aezoo extract --operation score``: anomaly scores as one column, as model.score."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aezoo.extract.features import extract_features
from aezoo.runtime.model import OnnxModel
from tests.conftest import run_cli


def test_score_extraction_equals_model_score(tiny_artifact: Path, tmp_path: Path) -> None:
    model = OnnxModel(tiny_artifact)
    X = np.random.default_rng(0).random((700, 784), dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    report = extract_features(
        model, tmp_path / "x.npy", tmp_path / "s.npy", operation="score", batch_size=300
    )
    S = np.load(tmp_path / "s.npy")
    assert report.n_features_out == 1 and S.shape == (700, 1)
    # batches of 300 vs one run of 700: the same graph, per-row sums of the same order
    want = model.score(X)["scores"]
    np.testing.assert_allclose(S[:, 0], want, rtol=0, atol=1e-6 * max(1.0, float(want.max())))


def test_cli_score_operation(tiny_artifact: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.random.default_rng(1).random((20, 784), dtype=np.float32))
    r = run_cli(
        "extract", str(tiny_artifact), str(tmp_path / "x.npy"), str(tmp_path / "s.npy"),
        "--operation", "score", env=None,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "(20, 1) float32 [score]" in r.stdout
