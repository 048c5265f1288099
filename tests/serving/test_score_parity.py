"""One real ``aezoo serve`` process on loopback (HTTP and gRPC), the bundled calibrated
``sda-mnist``: v1 ``/score``, OIP REST, OIP gRPC and ``aezoo.load(...).score`` give the same
scores and flags, and OIP score requests count in the same Prometheus families as v1.

Tolerance: every path runs the same scorer graph on the same 16 rows as one batch (the
requests go one at a time, so the batcher merges nothing), so only the order of the final
reduction over 784 features may differ: relative error ``sum_atol(float32, 784)`` of a sum of
non-negative terms (tests/tolerance.py). Flags must be equal except for a row whose score
lies within that tolerance of the threshold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

import aezoo
from aezoo.registry.store import BUNDLED_DIR
from tests.serving.grpc.conftest import GrpcServer, grpc_server
from tests.tolerance import sum_atol

pytestmark = pytest.mark.integration
grpcclient = pytest.importorskip(
    "tritonclient.grpc", reason="tritonclient[grpc] (aezoo[dev]) not installed"
)
MODEL = "sda-mnist"
RTOL = sum_atol(np.float32, 784)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    home = tmp_path_factory.mktemp("parity-home")  # empty registry: the bundled model serves
    log = tmp_path_factory.mktemp("parity") / "server.log"
    args = [MODEL, "--log-level", "warning", "--threads", "1"]
    with grpc_server(args, home, log) as s:
        yield s


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    """The card's ten real test digits, then six rows of uniform noise: (16, 784) float32."""
    digits = json.loads((BUNDLED_DIR / MODEL / "samples.json").read_text())["inputs"]
    noise = np.random.default_rng(0).random((6, 784), dtype=np.float32)
    return np.vstack([np.asarray(digits, np.float32).reshape(10, 784), noise])


def _oip_rest(url: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    body = {
        "inputs": [
            {"name": "inputs", "shape": list(x.shape), "datatype": "FP32",
             "data": x.ravel().tolist()}
        ],
        "outputs": [{"name": "scores"}, {"name": "is_outlier"}],
    }  # fmt: skip
    r = httpx.post(f"{url}/v2/models/{MODEL}/infer", json=body, timeout=60)
    assert r.status_code == 200, r.text[:500]
    out = {o["name"]: o for o in r.json()["outputs"]}
    assert (out["scores"]["datatype"], out["scores"]["shape"]) == ("FP32", [len(x)])
    assert (out["is_outlier"]["datatype"], out["is_outlier"]["shape"]) == ("BOOL", [len(x)])
    return np.asarray(out["scores"]["data"], np.float32), np.asarray(out["is_outlier"]["data"])


def _oip_grpc(address: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    client = grpcclient.InferenceServerClient(address)
    try:
        tensor = grpcclient.InferInput("inputs", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x)
        wanted = [grpcclient.InferRequestedOutput(n) for n in ("scores", "is_outlier")]
        answer = client.infer(MODEL, [tensor], outputs=wanted)
    finally:
        client.close()
    return answer.as_numpy("scores"), answer.as_numpy("is_outlier")


def _score_counters(url: str) -> dict[str, float]:
    """This model's score histogram count, scored samples and outliers from /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    out = {}
    for family in ("aezoo_anomaly_score_count", "aezoo_scored_samples_total",
                   "aezoo_outliers_total"):  # fmt: skip
        match = re.search(rf'^{family}\{{model="{MODEL}"\}} (\S+)$', text, re.M)
        out[family] = float(match.group(1)) if match else 0.0
    return out


def test_scores_agree_across_v1_oip_rest_grpc_and_load(
    server: GrpcServer, rows: np.ndarray
) -> None:
    want = aezoo.load(MODEL).score(rows)
    threshold = want["threshold"]
    assert threshold is not None  # the bundled model is calibrated
    r = httpx.post(
        f"{server.http.url}/v1/models/{MODEL}/score", json={"inputs": rows.tolist()}, timeout=60
    )
    assert r.status_code == 200, r.text[:500]
    v1 = r.json()
    assert v1["threshold"] == threshold
    answers = {
        "v1": (np.asarray(v1["scores"], np.float32), np.asarray(v1["is_outlier"])),
        "oip-rest": _oip_rest(server.http.url, rows),
        "oip-grpc": _oip_grpc(server.address, rows),
    }
    near = np.abs(want["scores"] - threshold) <= RTOL * threshold
    for path, (scores, flags) in answers.items():
        np.testing.assert_allclose(scores, want["scores"], rtol=RTOL, atol=0, err_msg=path)
        assert flags.dtype == bool, path
        np.testing.assert_array_equal(flags[~near], want["is_outlier"][~near], err_msg=path)
    np.testing.assert_allclose(v1["p_values"], want["p_values"], rtol=0, atol=1e-12)
    # the digits are normal, the noise rows far above the threshold: both flags occur
    assert not want["is_outlier"][:10].any() and want["is_outlier"][10:].all()


@pytest.mark.parametrize("transport", ["oip-rest", "oip-grpc"])
def test_oip_score_requests_feed_the_score_metrics(
    server: GrpcServer, rows: np.ndarray, transport: str
) -> None:
    before = _score_counters(server.http.url)
    if transport == "oip-rest":
        _oip_rest(server.http.url, rows)
    else:
        _oip_grpc(server.address, rows)
    after = _score_counters(server.http.url)
    n, outliers = len(rows), int(aezoo.load(MODEL).score(rows)["is_outlier"].sum())
    assert after["aezoo_anomaly_score_count"] - before["aezoo_anomaly_score_count"] == n
    assert after["aezoo_scored_samples_total"] - before["aezoo_scored_samples_total"] == n
    assert after["aezoo_outliers_total"] - before["aezoo_outliers_total"] == outliers == 6
