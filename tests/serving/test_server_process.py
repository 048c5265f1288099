"""A real server process on 127.0.0.1 (``python -m aezoo.serving.server``), over HTTP."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.serving.conftest import (
    BAD_CASES,
    REPO_ROOT,
    LiveServer,
    N,
    check_error,
    npy_bytes,
    running_server,
    send,
)
from tests.tolerance import sda_atol, sum_atol

pytestmark = pytest.mark.integration


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


def post(http: httpx.Client, path: str, body: dict) -> dict:
    response = http.post(f"/v1/models/{path}", json=body)
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_every_bad_input_then_still_serving(http: httpx.Client, samples: np.ndarray) -> None:
    for case in BAD_CASES:  # one request each, on a single keep-alive connection
        check_error(send(http, case), case)
    assert http.get("/health/ready").json()["models"] == ["sda-tiny", "sda-tiny-nohead"]
    codes = post(http, "sda-tiny/encode", {"inputs": samples.tolist()})["codes"]
    assert np.asarray(codes).shape == (4, 16)


def test_malformed_http_does_not_kill_the_server(live_server: LiveServer) -> None:
    import socket

    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /v1/models/sda-tiny/encode HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 400")
    assert httpx.get(f"{live_server.url}/health/live").json() == {"status": "live"}


def test_encode_is_deterministic(http: httpx.Client, samples: np.ndarray) -> None:
    first = post(http, "sda-tiny/encode", {"inputs": samples.tolist()})
    second = post(http, "sda-tiny/encode", {"inputs": samples.tolist()})
    assert first == second


def test_interpolate_ends_match_denoise(http: httpx.Client, samples: np.ndarray) -> None:
    a, b = samples[2].tolist(), samples[3].tolist()
    body = {"a": a, "b": b, "steps": 7}
    rows = np.asarray(post(http, "sda-tiny-nohead/interpolate", body)["outputs"])
    ends = np.asarray(post(http, "sda-tiny-nohead/denoise", {"inputs": [a, b]})["outputs"])
    assert rows.shape == (7, N)
    # codes of [a, b] at batch 2 either way, mixed exactly at 0 and 1; decoded at batch 7
    # against batch 2: the tiny SdA's two decoder layers may sum in another order
    np.testing.assert_allclose(rows[0], ends[0], rtol=0, atol=sda_atol("tiny", "decode"))
    np.testing.assert_allclose(rows[-1], ends[1], rtol=0, atol=sda_atol("tiny", "decode"))


def test_classify(http: httpx.Client, samples: np.ndarray) -> None:
    body = post(http, "sda-tiny/classify", {"inputs": samples.reshape(4, 28, 28).tolist()})
    proba = np.asarray(body["probabilities"])
    assert proba.shape == (4, 10)
    # softmax divides by a float32 10-term sum: gamma_10 plus u per quotient, sum p_i = 1
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=sum_atol(np.float32, 10))
    assert body["labels"] == [str(i) for i in proba.argmax(axis=1)]


def test_models_listed(http: httpx.Client) -> None:
    models = http.get("/v1/models").json()["models"]
    assert [m["name"] for m in models] == ["sda-tiny", "sda-tiny-nohead"]
    assert "classify" not in models[1]["operations"]
    assert http.get("/v1/models/sda-tiny").json()["metrics"] == {"test_error": 0.9}


def test_metrics_count_requests(http: httpx.Client) -> None:
    post(http, "sda-tiny/denoise", {"inputs": [[0.5] * N]})
    text = http.get("/metrics").text
    assert (
        'aezoo_requests_total{model="sda-tiny",operation="denoise",protocol="http",status="200"}'
        in text
    )
    assert "aezoo_request_duration_seconds_bucket" in text and "aezoo_batch_size_bucket" in text


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_printed_curl_example_works(live_server: LiveServer) -> None:
    command = live_server.ready_line.split("try: ", 1)[1]
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert np.asarray(httpx.Response(200, content=out.stdout).json()["codes"]).shape == (1, 16)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
@pytest.mark.parametrize("given", ["flag", "env"])
def test_printed_curl_example_carries_the_api_key(
    given: str, aezoo_home: Path, tmp_path: Path
) -> None:
    """With a key the printed example sends it: as given with --api-key; from
    $AEZOO_API_KEY by naming the variable, never printing the key itself."""
    key = "s3cret key's"  # a space and a quote: the example must quote it for the shell
    args = ["sda-tiny", "--threads", "1", "--log-level", "warning"]
    env = {"AEZOO_HOME": str(aezoo_home)}
    if given == "flag":
        args += ["--api-key", key]
    else:
        env["AEZOO_API_KEY"] = key
    with running_server(args, env, tmp_path / "stdout.txt") as server:
        command = server.ready_line.split("try: ", 1)[1]
        assert ("$AEZOO_API_KEY" in command) == (given == "env")
        assert ("s3cret" in command) == (given == "flag")
        shell_env = {**os.environ, **env}
        out = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=30, env=shell_env
        )
        assert out.returncode == 0, out.stderr
        assert np.asarray(json.loads(out.stdout)["codes"]).shape == (1, 16)
        without = command.replace("Authorization", "X-Not-Authorization")
        refused = subprocess.run(["bash", "-c", without], capture_output=True, text=True,
                                 timeout=30, env=shell_env)  # fmt: skip
        assert json.loads(refused.stdout)["error"]["type"] == "unauthorized"


def test_bad_ref_exits_with_a_message(tmp_path: Path) -> None:
    env = {**os.environ, "AEZOO_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "aezoo.serving.server", "no-such-model", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert out.returncode == 1
    assert "no model named 'no-such-model'" in out.stderr


def test_bad_flag_exits_with_usage(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "aezoo.serving.server", "--max-batch-size", "0"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert out.returncode == 2 and "--max-batch-size" in out.stderr


def test_npy_round_trips_exactly_against_json(http: httpx.Client, samples: np.ndarray) -> None:
    for op, key in (("encode", "codes"), ("denoise", "outputs"), ("classify", "probabilities")):
        as_json = post(http, f"sda-tiny/{op}", {"inputs": samples.tolist()})[key]
        r = http.post(
            f"/v1/models/sda-tiny/{op}",
            content=npy_bytes(samples),
            headers={"content-type": "application/x-npy", "accept": "application/x-npy"},
        )
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-npy"
        got = np.load(io.BytesIO(r.content), allow_pickle=False)
        assert np.array_equal(np.asarray(as_json, dtype=np.float32), got), op
