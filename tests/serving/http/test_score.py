"""POST /v1/models/{name}/score in-process: answers, .npy, calibration, errors, metrics."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from aezoo.registry.store import LocalStore
from aezoo.runtime.calibrate import calibrate_version
from aezoo.runtime.model import OnnxModel
from aezoo.serving.http.app import ServeSettings, create_app
from tests.serving.conftest import BAD_CASES, check_error, npy_bytes, send

ENCODE_CASES = [c for c in BAD_CASES if c[2] == "sda-tiny/encode"]


@pytest.fixture(scope="module")
def calibrated(artifacts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> OnnxModel:
    store = LocalStore(root=tmp_path_factory.mktemp("reg"), bundled=None)
    store.add(artifacts["sda-tiny"], "sda-tiny")
    rows = np.random.default_rng(5).random((300, 784), dtype=np.float32)
    version, _ = calibrate_version("sda-tiny", rows, fpr=0.05, store=store)
    return OnnxModel(version.path)


def test_uncalibrated_score_has_null_threshold(
    client: TestClient, models: dict[str, OnnxModel], samples: np.ndarray
) -> None:
    r = client.post("/v1/models/sda-tiny/score", json={"inputs": samples.tolist()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["threshold"] is None and body["p_values"] is None and "is_outlier" not in body
    want = models["sda-tiny"].score(samples)["scores"]
    np.testing.assert_array_equal(np.asarray(body["scores"], np.float32), want)


def test_score_npy(client: TestClient, models: dict[str, OnnxModel], samples: np.ndarray) -> None:
    r = client.post(
        "/v1/models/sda-tiny/score",
        content=npy_bytes(samples),
        headers={"content-type": "application/x-npy", "accept": "application/x-npy"},
    )
    assert r.status_code == 200, r.text
    got = np.load(io.BytesIO(r.content))
    assert got.shape == (4,) and "x-threshold" not in r.headers
    np.testing.assert_array_equal(got, models["sda-tiny"].score(samples)["scores"])


@pytest.mark.parametrize("case", ENCODE_CASES, ids=[c[0] for c in ENCODE_CASES])
def test_bad_input_gets_the_same_error_as_encode(client: TestClient, case: tuple) -> None:
    encode = send(client, case)
    check_error(encode, case)
    score_case = (case[0], case[1], case[2].replace("/encode", "/score"), *case[3:])
    score = send(client, score_case)
    check_error(score, case)
    assert score.json()["error"]["message"] == encode.json()["error"]["message"]


def test_calibrated_score_answers_outliers_and_counts_them(calibrated: OnnxModel) -> None:
    settings = ServeSettings(max_batch_size=64, max_body_bytes=2_000_000)
    x = np.random.default_rng(9).random((8, 784), dtype=np.float32)
    x[:4] = 0.5  # flat grey rows: far from random-uniform calibration rows
    want = calibrated.score(x)
    with TestClient(create_app({"sda-tiny": calibrated}, settings)) as c:
        body = c.post("/v1/models/sda-tiny/score", json={"inputs": x.tolist()}).json()
        npy = c.post(
            "/v1/models/sda-tiny/score",
            content=npy_bytes(x),
            headers={"content-type": "application/x-npy", "accept": "application/x-npy"},
        )
        metrics = c.get("/metrics").text
    assert body.get("threshold") == want["threshold"] == calibrated.calibration.threshold, body
    assert body["is_outlier"] == want["is_outlier"].tolist()
    np.testing.assert_allclose(body["p_values"], want["p_values"], rtol=0, atol=1e-12)
    assert float(npy.headers["x-threshold"]) == want["threshold"]
    flagged = int(want["is_outlier"].sum()) * 2  # two requests
    assert 'aezoo_scored_samples_total{model="sda-tiny"} 16.0' in metrics
    assert f'aezoo_outliers_total{{model="sda-tiny"}} {float(flagged)}' in metrics
    assert 'aezoo_anomaly_score_count{model="sda-tiny"} 16.0' in metrics


def test_oip_scores_and_is_outlier_match_v1(calibrated: OnnxModel) -> None:
    settings = ServeSettings(max_batch_size=64, max_body_bytes=2_000_000)
    x = np.random.default_rng(3).random((5, 784), dtype=np.float32)
    x[:2] = 0.5
    with TestClient(create_app({"sda-tiny": calibrated}, settings)) as c:
        v1 = c.post("/v1/models/sda-tiny/score", json={"inputs": x.tolist()}).json()
        meta = c.get("/v2/models/sda-tiny").json()
        body = {
            "inputs": [
                {
                    "name": "inputs",
                    "datatype": "FP32",
                    "shape": [5, 784],
                    "data": x.ravel().tolist(),
                }
            ],
            "outputs": [{"name": "scores"}, {"name": "is_outlier"}],
        }
        r = c.post("/v2/models/sda-tiny/infer", json=body)
    assert r.status_code == 200, r.text
    out = {o["name"]: o for o in r.json()["outputs"]}
    assert {"name": "is_outlier", "datatype": "BOOL", "shape": [-1]} in meta["outputs"]
    assert out["scores"]["shape"] == [5] and out["is_outlier"]["datatype"] == "BOOL"
    np.testing.assert_array_equal(
        np.asarray(out["scores"]["data"], np.float32), np.asarray(v1["scores"], np.float32)
    )
    assert out["is_outlier"]["data"] == v1["is_outlier"]


def test_oip_uncalibrated_model_offers_no_is_outlier(client: TestClient) -> None:
    meta = client.get("/v2/models/sda-tiny").json()
    names = [o["name"] for o in meta["outputs"]]
    assert "scores" in names and "is_outlier" not in names
