"""The HTTP app in-process (FastAPI TestClient over httpx): routes, validation, metrics."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from aezoo.errors import ConfigError
from aezoo.registry import store as store_module
from aezoo.registry.store import BUNDLED_DIR
from aezoo.runtime.loading import load_models
from aezoo.runtime.model import OnnxModel
from aezoo.serving import schemas
from aezoo.serving.http.app import ServeSettings, create_app
from aezoo.serving.server import ready_message
from tests.serving.conftest import MAX_BATCH, REPO_ROOT, N, check_error, send
from tests.tolerance import sda_atol, sum_atol


def post(client: TestClient, path: str, body: dict) -> dict:
    response = client.post(f"/v1/models/{path}", json=body)
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_serving_never_imports_torch() -> None:
    code = (
        "import sys, aezoo, aezoo.serving.http.app, aezoo.serving.server, aezoo.extract.features, "
        "aezoo.extract.cli, aezoo.extract.ray_data, aezoo.runtime.loading, aezoo.evaluation.scores, "
        "aezoo.evaluation.artifact, aezoo.data.datasets, aezoo.registry.hub, aezoo.cli; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_health(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "live"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "models": ["sda-tiny", "sda-tiny-nohead"],
        "versions": {"sda-tiny": "1", "sda-tiny-nohead": "1"},
    }


def test_list_models_and_card(client: TestClient) -> None:
    listed = client.get("/v1/models").json()["models"]
    assert [m["name"] for m in listed] == ["sda-tiny", "sda-tiny-nohead"]
    tiny = listed[0]
    assert set(tiny) == {
        "name",
        "version",
        "family",
        "operations",
        "input",
        "n_components",
        "class_names",
    }
    assert tiny["input"]["n_features"] == N and tiny["input"]["shape"] == [28, 28]
    assert tiny["input"]["value_range"] == [0.0, 1.0] and tiny["input"]["dtype"] == "float32"
    assert tiny["n_components"] == 16 and tiny["class_names"] == [str(i) for i in range(10)]
    assert listed[1]["operations"] == ["encode", "denoise", "interpolate", "score"]
    card = client.get("/v1/models/sda-tiny").json()
    assert {k: card[k] for k in tiny} == tiny
    assert card["metrics"] == {"test_error": 0.9}
    assert "sda-tiny" in card["card"] and card["card"].startswith("---")
    assert client.get("/v1/models/sda-tiny-nohead").json()["metrics"] is None


def test_encode_matches_runtime_and_is_deterministic(
    client: TestClient, models: dict[str, OnnxModel], samples: np.ndarray
) -> None:
    flat = post(client, "sda-tiny/encode", {"inputs": samples.tolist()})["codes"]
    image = post(client, "sda-tiny/encode", {"inputs": samples.reshape(4, 28, 28).tolist()})
    again = post(client, "sda-tiny/encode", {"inputs": samples.tolist()})["codes"]
    assert np.asarray(flat).shape == (4, 16)
    assert flat == again == image["codes"]  # bit-identical across calls and input layouts
    # the app runs this very session at the same batch of 4: the same bits (JSON keeps float32's)
    np.testing.assert_array_equal(np.float32(flat), models["sda-tiny"].encode(samples))


def test_integers_are_numbers(client: TestClient) -> None:
    codes = post(client, "sda-tiny/encode", {"inputs": [[0] * N, [1] * N]})["codes"]
    assert np.asarray(codes).shape == (2, 16)


def test_denoise(client: TestClient, models: dict[str, OnnxModel], samples: np.ndarray) -> None:
    out = post(client, "sda-tiny-nohead/denoise", {"inputs": samples.tolist()})["outputs"]
    out = np.asarray(out)
    assert out.shape == (4, N) and out.min() >= 0.0 and out.max() <= 1.0
    # the same session, the same batch of 4: the same bits
    np.testing.assert_array_equal(np.float32(out), models["sda-tiny-nohead"].denoise(samples))


def test_classify(client: TestClient, models: dict[str, OnnxModel], samples: np.ndarray) -> None:
    body = post(client, "sda-tiny/classify", {"inputs": samples.tolist()})
    proba = np.asarray(body["probabilities"])
    assert proba.shape == (4, 10)
    # softmax divides by a float32 10-term sum: gamma_10 plus u per quotient, sum p_i = 1
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=sum_atol(np.float32, 10))
    assert body["labels"] == [str(i) for i in proba.argmax(axis=1)]
    assert body["labels"] == [str(i) for i in models["sda-tiny"].classify(samples)]


def test_interpolate_ends_are_reconstructions(client: TestClient, samples: np.ndarray) -> None:
    a, b = samples[0].tolist(), samples[1].reshape(28, 28).tolist()
    rows = np.asarray(post(client, "sda-tiny/interpolate", {"a": a, "b": b, "steps": 5})["outputs"])
    ends = post(client, "sda-tiny/denoise", {"inputs": [a, samples[1].tolist()]})["outputs"]
    ends = np.asarray(ends)
    assert rows.shape == (5, N)
    # codes of [a, b] at batch 2 either way, mixed exactly at 0 and 1; decoded at batch 5
    # against batch 2: the tiny SdA's two decoder layers may sum in another order
    np.testing.assert_allclose(rows[[0, -1]], ends, rtol=0, atol=sda_atol("tiny", "decode"))
    default = post(client, "sda-tiny/interpolate", {"a": a, "b": a})["outputs"]
    assert len(default) == 8


def test_bad_input(client: TestClient, bad_case: tuple) -> None:
    check_error(send(client, bad_case), bad_case)
    assert client.get("/health/ready").status_code == 200


def test_validation_details_are_listed(client: TestClient) -> None:
    body = {"inputs": [[0.0] * N], "x": 1, "y": 2}
    response = client.post("/v1/models/sda-tiny/encode", json=body)
    details = response.json()["error"]["details"]
    assert [d["loc"] for d in details] == [["x"], ["y"]]
    assert all({"loc", "type", "msg"} <= set(d) for d in details)


def test_unexpected_failure_is_a_uniform_500(
    client: TestClient, models: dict[str, OnnxModel], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(op: str, x: object) -> None:
        raise RuntimeError("onnxruntime exploded")

    monkeypatch.setattr(models["sda-tiny"], "compute", boom)
    response = client.post("/v1/models/sda-tiny/encode", json={"inputs": [[0.0] * N]})
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "internal_error"
    assert "encode on model 'sda-tiny'" in response.json()["error"]["message"]


def test_metrics(client: TestClient, samples: np.ndarray) -> None:
    post(client, "sda-tiny/encode", {"inputs": samples.tolist()})
    client.post("/v1/models/sda-tiny/encode", json={"inputs": []})
    client.post("/v1/models/who/encode", json={"inputs": []})
    text = client.get("/metrics").text
    assert (
        'aezoo_requests_total{model="sda-tiny",operation="encode",protocol="http",status="200"} 1.0'
        in text
    )
    assert (
        'aezoo_requests_total{model="sda-tiny",operation="encode",protocol="http",status="422"} 1.0'
        in text
    )
    assert (
        'aezoo_requests_total{model="_unknown",operation="encode",protocol="http",status="404"} 1.0'
        in text
    )
    assert 'aezoo_batch_size_bucket{le="4.0",model="sda-tiny",operation="encode"} 1.0' in text
    assert (
        'aezoo_request_duration_seconds_count{model="sda-tiny",operation="encode",protocol="http"} 2.0'
        in text
    )


def test_apps_have_separate_metrics(models: dict[str, OnnxModel]) -> None:
    with TestClient(create_app(models)) as one, TestClient(create_app(models)) as two:
        post(one, "sda-tiny/encode", {"inputs": [[0.0] * N]})
        assert 'protocol="http",status="200"} 1.0' in one.get("/metrics").text
        assert "aezoo_requests_total{" not in two.get("/metrics").text


def test_openapi_documents_bodies(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/v1/models/{name}/encode" not in spec["paths"]  # one path per served model:
    op = spec["paths"]["/v1/models/sda-tiny/encode"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    flat, image = body["properties"]["inputs"]["anyOf"]  # (batch, 784) or (batch, 28, 28)
    assert flat["items"]["minItems"] == flat["items"]["maxItems"] == N
    assert flat["items"]["items"] == {"type": "number", "minimum": 0.0, "maximum": 1.0}
    assert [image["items"]["minItems"], image["items"]["items"]["maxItems"]] == [28, 28]
    assert body["additionalProperties"] is False and body["required"] == ["inputs"]
    assert {"200", "404", "413", "422"} <= set(op["responses"])
    assert "EncodeResponse" in spec["components"]["schemas"]
    steps = spec["paths"]["/v1/models/sda-tiny/interpolate"]["post"]["requestBody"]
    assert steps["content"]["application/json"]["schema"]["properties"]["steps"]["maximum"] == 1024
    # every status each v2 route answers, with the protocol's error body
    infer = spec["paths"]["/v2/models/sda-tiny/infer"]["post"]["responses"]
    assert {"200", "400", "404", "413", "415", "429", "503"} <= set(infer)
    error = infer["404"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/OipError"}
    for path in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}/ready"):
        assert {"200", "404", "503"} <= set(spec["paths"][path]["get"]["responses"])
    assert "/v2/models/sda-tiny/versions/1/infer" in spec["paths"]


def test_refs_load_in_background(artifacts: dict[str, Path]) -> None:
    with TestClient(create_app([str(p) for p in artifacts.values()])) as client:
        deadline = time.monotonic() + 30
        while client.get("/health/ready").status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get("/health/ready").json()["models"] == ["sda-tiny", "sda-tiny-nohead"]


def test_failed_load_is_not_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEZOO_HOME", str(tmp_path))
    with TestClient(create_app(["missing-model"])) as client:
        deadline = time.monotonic() + 30
        while client.get("/health/ready").json()["status"] == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ready = client.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "failed"
        assert "missing-model" in ready.json()["error"]
        response = client.post("/v1/models/missing-model/encode", json={"inputs": [[0.0] * N]})
        assert response.status_code == 503 and response.json()["error"]["type"] == "not_ready"


def test_settings_are_validated() -> None:
    assert ServeSettings().max_batch_size == 1024 and ServeSettings().max_body_bytes == 64 * 2**20
    for bad in (
        {"max_batch_size": 0},
        {"max_body_bytes": 0},
        {"port": 70000},
        {"threads": -1},
        {"max_batch": 8},
    ):
        with pytest.raises(ValidationError):
            ServeSettings(**bad)
    with pytest.raises(ValidationError):
        ServeSettings().max_batch_size = 0


def test_load_models_default_is_whole_registry(
    aezoo_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AEZOO_HOME", str(aezoo_home))
    bundled = sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / "manifest.json").is_file())
    assert list(load_models(threads=1)) == sorted([*bundled, "sda-tiny", "sda-tiny-nohead"])
    with pytest.raises(
        ConfigError, match=r"sda-tiny and sda-tiny@1 are both model 'sda-tiny' \(versions 1 and 1\)"
    ):
        load_models(["sda-tiny", "sda-tiny@1"])
    monkeypatch.setenv("AEZOO_HOME", str(tmp_path))
    monkeypatch.setattr(store_module, "BUNDLED_DIR", tmp_path / "no-bundled-models")
    with pytest.raises(ConfigError, match=r"registry .* is empty"):
        load_models()


def test_ready_message(models: dict[str, OnnxModel], monkeypatch: pytest.MonkeyPatch) -> None:
    text = ready_message("http://127.0.0.1:8000", models)
    assert "http://127.0.0.1:8000/v1/models/sda-tiny/encode" in text
    assert "[0.0] * 784" in text and "curl" in text and "Authorization" not in text
    monkeypatch.delenv("AEZOO_API_KEY", raising=False)
    given = ready_message("http://127.0.0.1:8000", models, "k3y")
    assert "-H 'Authorization: Bearer k3y'" in given
    monkeypatch.setenv("AEZOO_API_KEY", "k3y")  # from the environment: never printed
    from_env = ready_message("http://127.0.0.1:8000", models, "k3y")
    assert '-H "Authorization: Bearer $AEZOO_API_KEY"' in from_env and "k3y" not in from_env


def test_full_size_batch_is_accepted_exactly(models: dict[str, OnnxModel]) -> None:
    """A 1024 x 784 batch (16 MB of JSON) parses to the exact array and is served.

    Its speed is measured by benchmarks/serving_validation.py, not asserted here.
    """
    x = np.random.default_rng(1).random((1024, N), dtype=np.float32)
    body = json.dumps({"inputs": x.tolist()}).encode()
    arr = schemas.to_array(schemas.parse_request(body, schemas.BatchRequest).inputs, "inputs")
    assert arr.shape == (1024, N) and np.array_equal(arr, x)
    with TestClient(create_app(models)) as client:  # default limits: 1024 rows, 64 MiB
        response = client.post("/v1/models/sda-tiny/encode", content=body)
        assert response.status_code == 200 and len(response.json()["codes"]) == 1024


def test_max_batch_is_accepted(client: TestClient) -> None:
    assert len(post(client, "sda-tiny/encode", {"inputs": [[0.0] * N] * MAX_BATCH})["codes"]) == 64


def test_chunked_body_above_limit(client: TestClient) -> None:
    chunks = iter([b"[" * 1_000_000] * 3)  # no Content-Length: counted while streaming
    response = client.post("/v1/models/sda-tiny/encode", content=chunks)
    assert response.status_code == 413
    assert f"max_batch_size={MAX_BATCH}" in response.json()["error"]["message"]


def test_docs_page_needs_no_internet(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text and "cdn." not in page.text
    js = client.get("/docs-assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
