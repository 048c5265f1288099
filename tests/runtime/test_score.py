"""model.score, calibration.json and `calibrate` making a new version (aezoo.runtime)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import aezoo
from aezoo.errors import ConfigError, InputError
from aezoo.export import onnx as export
from aezoo.models.score import score as torch_score
from aezoo.registry.format import CALIBRATION, MANIFEST
from aezoo.registry.store import LocalStore
from aezoo.runtime.calibrate import calibrate_version
from aezoo.runtime.calibration import calibrate


def test_uncalibrated_model_answers_scores_without_threshold(tiny_artifact: Path) -> None:
    model = aezoo.load(str(tiny_artifact))
    x = np.random.default_rng(0).random((6, 784), dtype=np.float32)
    out = model.score(x)
    assert out["threshold"] is None and out["p_values"] is None and "is_outlier" not in out
    with torch.no_grad():
        want, _ = torch_score(aezoo.from_pretrained(str(tiny_artifact)), torch.from_numpy(x))
    atol = export.PARITY_ATOL * max(1.0, float(want.max()))
    np.testing.assert_allclose(out["scores"], want.numpy(), rtol=0, atol=atol)


def test_score_refuses_bad_input_like_encode(tiny_artifact: Path) -> None:
    model = aezoo.load(str(tiny_artifact))
    for bad in (np.zeros((2, 783), np.float32), np.full((1, 784), np.nan, np.float32)):
        with pytest.raises(InputError) as enc:
            model.encode(bad)
        with pytest.raises(InputError) as sc:
            model.score(bad)
        assert str(sc.value) == str(enc.value)


def test_conformal_threshold_holds_its_false_positive_rate() -> None:
    rng = np.random.default_rng(0)
    cal = calibrate(rng.standard_normal(5000) ** 2, "h", fpr=0.01)
    fresh = rng.standard_normal(200_000) ** 2
    rate = float((fresh > cal.threshold).mean())
    assert 0.005 <= rate <= 0.02, rate
    p = cal.p_values(fresh[:1000])
    assert ((p > 0) & (p <= 1)).all()
    # p-values of normal rows are ~uniform: about 1% fall at or below 0.01
    assert 0.0 <= float((cal.p_values(fresh) <= 0.01).mean()) <= 0.02


def test_calibration_refuses_too_few_rows_and_two_targets() -> None:
    with pytest.raises(ConfigError, match="too few"):
        calibrate(np.arange(50.0), "h", fpr=0.01)
    with pytest.raises(ConfigError, match="not both"):
        calibrate(np.arange(500.0), "h", fpr=0.01, contamination=0.1)


def test_calibrate_registers_a_new_version_and_keeps_the_old(
    tiny_artifact: Path, tmp_path: Path
) -> None:
    store = LocalStore(root=tmp_path / "registry", bundled=None)
    v1 = store.add(tiny_artifact, "sda-tiny")
    before = (v1.path / MANIFEST).read_bytes()
    rows = np.random.default_rng(1).random((400, 784), dtype=np.float32)
    v2, cal = calibrate_version("sda-tiny", rows, fpr=0.01, store=store)
    assert v2.version != v1.version
    assert (v1.path / MANIFEST).read_bytes() == before and not (v1.path / CALIBRATION).exists()
    saved = json.loads((v2.path / CALIBRATION).read_text())
    assert saved["rows"] == 400 and saved["fpr"] == 0.01 and saved["threshold"] == cal.threshold
    old, new = aezoo.load(str(v1.path)), aezoo.load(str(v2.path))
    out = new.score(rows)
    np.testing.assert_array_equal(out["scores"], old.score(rows)["scores"])  # same weights
    assert out["threshold"] == cal.threshold
    assert float(out["is_outlier"].mean()) <= 0.02  # calibration rows themselves
    assert old.score(rows)["threshold"] is None
