"""``aezoo serve --engine ray``: a real command process deploying on a real Ray cluster:
v1 (JSON and .npy bodies), OIP v2, health, metrics and errors, as the uvicorn server answers.

Slow: each test deploys replicas on the session's local Ray cluster (``--address``).
"""

from __future__ import annotations

import argparse
import io
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from pydantic import ValidationError

import aezoo
from aezoo.integrations.ray.settings import add_engine_arguments, ray_settings_from_args
from aezoo.serving.settings import add_serve_arguments
from tests.serving.conftest import REPO_ROOT, running_server
from tests.tolerance import sum_atol

RAY_SERVE = ("-m", "aezoo", "serve", "--engine", "ray")


def _parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_serve_arguments(p)
    add_engine_arguments(p)
    return p.parse_args(list(argv))


def test_ray_flags_are_validated_where_they_are_set() -> None:
    s = ray_settings_from_args(_parse("--engine", "ray", "--autoscale", "0:4"))
    assert (s.min_replicas, s.max_replicas, s.replicas) == (0, 4, 1)
    assert ray_settings_from_args(_parse("--replicas", "3")).replicas == 3
    with pytest.raises(ValidationError, match="replicas"):
        ray_settings_from_args(_parse("--replicas", "0"))
    with pytest.raises(SystemExit):  # argparse: MIN:MAX with MIN <= MAX
        _parse("--autoscale", "3:2")


@pytest.mark.slow
def test_ray_serve_answers_like_the_uvicorn_server(
    ray_cluster: str, mnist_dir: Path, tmp_path: Path
) -> None:
    from aezoo.data.mnist import read_idx

    pixels = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:64]
    X = pixels.reshape(64, 784).astype(np.float32) / np.float32(255)
    args = ["sda-mnist", "--address", ray_cluster, "--replicas", "2", "--log-level", "warning"]
    env = {"AEZOO_HOME": str(tmp_path / "home")}
    with running_server(args, env, tmp_path / "log.txt", command=RAY_SERVE, wait=240) as server:
        assert "engine: Ray Serve, 2 replicas" in (tmp_path / "log.txt").read_text()
        with httpx.Client(base_url=server.url, timeout=60) as client:
            assert client.get("/health/live").json() == {"status": "live"}
            ready = client.get("/health/ready").json()
            assert (ready["status"], ready["models"]) == ("ready", ["sda-mnist"])
            r = client.post("/v1/models/sda-mnist/encode", json={"inputs": X.tolist()})
            assert r.status_code == 200, r.text[:300]
            codes = np.asarray(r.json()["codes"], dtype=np.float32)
            np.testing.assert_array_equal(codes, aezoo.load("sda-mnist").encode(X))
            scored = client.post("/v1/models/sda-mnist/score", json={"inputs": X.tolist()})
            assert scored.status_code == 200, scored.text[:300]
            body, want = scored.json(), aezoo.load("sda-mnist").score(X)
            # the replica runs the same scorer graph on the same 64 rows: at most the final
            # sum over 784 non-negative terms is ordered otherwise
            np.testing.assert_allclose(
                body["scores"], want["scores"], rtol=sum_atol(np.float32, 784), atol=0
            )
            assert body["threshold"] == want["threshold"] is not None
            assert body["is_outlier"] == want["is_outlier"].tolist()
            image = client.post(
                "/v1/models/sda-mnist/classify", json={"inputs": X[:2].reshape(2, 28, 28).tolist()}
            )
            assert image.json()["labels"] == [
                str(i) for i in aezoo.load("sda-mnist").classify(X[:2])
            ]
            v2 = client.post(
                "/v2/models/sda-mnist/infer",
                json={
                    "inputs": [
                        {"name": "inputs", "shape": [64, 784], "datatype": "FP32",
                         "data": X.ravel().tolist()}
                    ],
                    "outputs": [{"name": "codes"}],
                },
            )  # fmt: skip
            assert v2.status_code == 200, v2.text[:300]
            (out,) = v2.json()["outputs"]
            assert (out["name"], out["shape"]) == ("codes", [64, 200])
            np.testing.assert_array_equal(
                np.asarray(out["data"], np.float32).reshape(64, 200), codes
            )
            assert client.get("/v2/health/ready").status_code == 200
            npy = io.BytesIO()
            np.save(npy, X)
            r = client.post(
                "/v1/models/sda-mnist/encode",
                content=npy.getvalue(),
                headers={"content-type": "application/x-npy", "accept": "application/x-npy"},
            )
            assert r.status_code == 200, r.text[:300]
            np.testing.assert_array_equal(np.load(io.BytesIO(r.content)), codes)
            bad = client.post("/v1/models/sda-mnist/encode", json={"inputs": [[0.5] * 783]})
            assert bad.status_code == 422
            assert bad.json()["error"]["type"] == "invalid_input"
            assert (
                client.post("/v1/models/nope/encode", json={"inputs": [[0.0]]}).status_code == 404
            )
            metrics = client.get("/metrics").text  # the answering replica's own counters
            assert "aezoo_request_duration_seconds" in metrics
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=120) == 0

    from ray import serve

    assert "aezoo" not in serve.status().applications  # deleted from the shared cluster


def test_ray_entry_points_never_import_torch() -> None:
    pytest.importorskip("ray")
    code = (
        "import sys, aezoo.integrations.ray.serve, aezoo.extract.ray_job, ray.data, ray.serve; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
