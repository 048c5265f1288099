"""aezoo.anomaly.Detector on a small table: PyOD's names, threshold, ranking of outliers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aezoo.anomaly import Detector, NotFittedError
from aezoo.errors import ConfigError


def test_detector_fit_predict_ranks_planted_outliers() -> None:
    rng = np.random.default_rng(0)
    # normal rows on a 2-d plane inside 8-d space; outliers off it
    basis = rng.standard_normal((2, 8))
    normal = rng.standard_normal((400, 2)) @ basis
    outliers = rng.standard_normal((10, 8)) * 3.0
    det = Detector(
        family="sda",
        contamination=0.05,
        random_state=0,
        overrides=("pretrain_epochs=10", "finetune_epochs=10"),
    )
    with pytest.raises(NotFittedError):
        det.predict(normal)
    det.fit(normal)
    # the tabular default (TABULAR_DEFAULTS): floored z-scores, linear output, 10% masking,
    # the user's overrides applied on top
    record = json.loads((det.artifact_ / "training.json").read_text())
    assert record["preprocessing"]["scaling"] == "standard-floor"
    assert "standard-floor scaling" in (det.artifact_ / "README.md").read_text()
    assert record["recipe"]["model"]["output_activation"] == "linear"
    assert record["recipe"]["corruption"] == {"kind": "masking", "level": 0.1}
    assert record["recipe"]["pretrain_epochs"] == 10
    assert det.decision_scores_.shape == (400,)
    assert abs(float(det.labels_.mean()) - 0.05) <= 0.01
    assert det.threshold_ == pytest.approx(float(np.quantile(det.decision_scores_, 0.95)))
    s_out = det.decision_function(outliers)
    s_in = det.decision_function(normal[:50])
    assert np.median(s_out) > np.quantile(s_in, 0.9)
    assert det.predict(outliers).dtype == np.int64 and det.predict(outliers).mean() >= 0.5


def test_detector_refuses_unknown_family_and_contamination() -> None:
    X = np.zeros((20, 3), dtype=np.float32)
    with pytest.raises(ConfigError, match="unknown family 'conv-ae'"):
        Detector(family="conv-ae").fit(X)
    with pytest.raises(ConfigError, match="contamination"):
        Detector(contamination=0.7).fit(X)
