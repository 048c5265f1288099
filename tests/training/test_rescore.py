"""add_score: an artifact without a scorer gains one from its weights, calibrated; the
bundled models carry theirs (aezoo.training.rescore, scripts/add_scores.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import aezoo
from aezoo.registry.artifact import read_config
from aezoo.registry.format import CALIBRATION, SCORER, read_manifest, sha256_file, write_manifest
from aezoo.registry.store import BUNDLED_DIR
from aezoo.registry.verify import check_graphs, verify_artifact
from aezoo.training.rescore import add_score


def _old_artifact(tiny_artifact: Path, out: Path) -> Path:
    """The tiny artifact as an export from before the scorer: no scorer, no calibration."""
    shutil.copytree(tiny_artifact, out)
    (out / SCORER).unlink()
    (out / CALIBRATION).unlink(missing_ok=True)
    record = json.loads((out / "onnx/export.json").read_text())
    record["parity_max_abs_error"].pop(SCORER)
    (out / "onnx/export.json").write_text(json.dumps(record))
    (out / "manifest.json").unlink()
    write_manifest(out, "sda-tiny", "1")
    return out


def test_add_score_gives_an_old_artifact_a_calibrated_scorer(
    tiny_artifact: Path, tmp_path: Path
) -> None:
    root = _old_artifact(tiny_artifact, tmp_path / "old")
    assert "score" not in aezoo.load(str(root)).operations
    kept = {f: sha256_file(root / f) for f in ("model.safetensors", "onnx/encoder.onnx")}
    rng = np.random.default_rng(0)
    rows, fresh = rng.random((400, 784), dtype=np.float32), rng.random((300, 784), np.float32)
    cal, flagged = add_score(root, rows, "uniform noise rows", ("fresh noise", fresh))
    verify_artifact(root)
    check_graphs(root, read_config(root))
    assert {f: sha256_file(root / f) for f in kept} == kept  # same weights, same graphs
    model = aezoo.load(str(root))
    out = model.score(rows)
    # the conformal rank ceil(0.99 * 401) = 397 of 400: exactly 3 calibration rows above
    assert int(out["is_outlier"].sum()) == 3 and out["threshold"] == cal.threshold
    assert flagged == int(model.score(fresh)["is_outlier"].sum())
    assert json.loads((root / CALIBRATION).read_text())["source"] == "uniform noise rows"
    assert SCORER in json.loads((root / "onnx/export.json").read_text())["parity_max_abs_error"]
    card = (root / "README.md").read_text()
    assert f"Threshold {cal.threshold:.6g}" in card and "uniform noise rows" in card
    assert f"{flagged} of 300 rows above the threshold" in card
    assert read_manifest(root).files.keys() >= {SCORER, CALIBRATION}


ROW_MODELS = ("acai-lines", "ae-lines", "drsae-mnist", "lista-vdl-mnist", "sda-mnist")


@pytest.mark.parametrize("name", ROW_MODELS)
def test_bundled_row_models_score_with_a_threshold(name: str) -> None:
    model = aezoo.load(name)
    assert "score" in model.operations and model.calibration is not None
    cal = model.calibration
    assert cal.fpr == 0.01 and cal.source and "validation split" in cal.source
    assert cal.rows == (1000 if name.endswith("lines") else 2000)
    card = (BUNDLED_DIR / name / "README.md").read_text()
    assert f"Threshold {cal.threshold:.6g}" in card
