"""The served /openapi.json documents score: each model's ``/score`` answer (scores,
is_outlier, p_values, threshold; null threshold without calibration) and the OIP outputs
``scores``/``is_outlier``; the answers the server gives conform to those schemas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from fastapi.testclient import TestClient

from aezoo.registry.store import BUNDLED_DIR
from aezoo.runtime.model import OnnxModel
from aezoo.serving.http.app import ServeSettings, create_app


@pytest.fixture(scope="module")
def served(artifacts: dict[str, Path]) -> Iterator[tuple[TestClient, dict]]:
    models = {  # calibrated (bundled) and uncalibrated (built in the test session)
        "sda-mnist": OnnxModel(BUNDLED_DIR / "sda-mnist"),
        "sda-tiny": OnnxModel(artifacts["sda-tiny"]),
    }
    with TestClient(create_app(models, ServeSettings(max_batch_size=64))) as client:
        yield client, client.get("/openapi.json").json()


def _answer_schema(doc: dict, name: str) -> dict:
    ok = doc["paths"][f"/v1/models/{name}/score"]["post"]["responses"]["200"]
    assert "application/x-npy" in ok["content"]
    return ok["content"]["application/json"]["schema"]


def test_calibrated_score_route_documents_every_output(served: tuple[TestClient, dict]) -> None:
    client, doc = served
    schema = _answer_schema(doc, "sda-mnist")
    threshold = OnnxModel(BUNDLED_DIR / "sda-mnist").calibration.threshold
    assert set(schema["required"]) == {"scores", "threshold", "p_values", "is_outlier"}
    assert schema["properties"]["threshold"]["const"] == threshold
    assert schema["properties"]["is_outlier"]["items"] == {"type": "boolean"}
    assert "fpr 0.01" in schema["description"] and "validation split" in schema["description"]
    ok = doc["paths"]["/v1/models/sda-mnist/score"]["post"]["responses"]["200"]
    assert "X-Threshold" in ok["headers"]
    x = np.vstack([np.zeros((1, 784)), np.random.default_rng(0).random((3, 784))])
    answer = client.post("/v1/models/sda-mnist/score", json={"inputs": x.tolist()}).json()
    jsonschema.validate(answer, schema)
    want = OnnxModel(BUNDLED_DIR / "sda-mnist").score(x.astype(np.float32))
    assert answer["is_outlier"] == want["is_outlier"].tolist() and answer["threshold"] == threshold


def test_uncalibrated_score_route_says_no_threshold(served: tuple[TestClient, dict]) -> None:
    client, doc = served
    schema = _answer_schema(doc, "sda-tiny")
    assert schema["properties"]["threshold"] == {
        "type": "null",
        "description": "No calibration: no threshold.",
    }
    assert "is_outlier" not in schema["properties"] and schema["additionalProperties"] is False
    answer = client.post("/v1/models/sda-tiny/score", json={"inputs": [[0.5] * 784]}).json()
    jsonschema.validate(answer, schema)
    with pytest.raises(jsonschema.ValidationError):  # a flag where none can be would be refused
        jsonschema.validate({**answer, "is_outlier": [True]}, schema)


def test_oip_infer_schema_and_metadata_list_the_score_outputs(
    served: tuple[TestClient, dict],
) -> None:
    client, doc = served
    for name, want in (("sda-mnist", {"scores", "is_outlier"}), ("sda-tiny", {"scores"})):
        body = doc["paths"][f"/v2/models/{name}/infer"]["post"]["requestBody"]
        outputs = body["content"]["application/json"]["schema"]["properties"]["outputs"]
        names = set(outputs["items"]["properties"]["name"]["enum"])
        assert names & {"scores", "is_outlier"} == want, name
        meta = client.get(f"/v2/models/{name}").json()
        listed = {o["name"]: o["datatype"] for o in meta["outputs"]}
        assert {k: v for k, v in listed.items() if k in ("scores", "is_outlier")} == {
            k: {"scores": "FP32", "is_outlier": "BOOL"}[k] for k in want
        }, name
