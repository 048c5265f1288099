"""gRPC calls of each kind (answered, and refused with each status) show on ``/metrics`` in
the same families as HTTP's, told apart by ``protocol``: a real server process with a key,
a small batch limit and a small body budget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.serving.grpc.conftest import GrpcServer, grpc_server

pytestmark = pytest.mark.integration
service_pb2 = pytest.importorskip("tritonclient.grpc.service_pb2")
service_pb2_grpc = pytest.importorskip("tritonclient.grpc.service_pb2_grpc")
KEY = "k3y"
AUTH = (("authorization", f"Bearer {KEY}"),)
MODEL = "sda-mnist"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    home = tmp_path_factory.mktemp("grpc-metrics-home")
    log = tmp_path_factory.mktemp("grpc-metrics") / "server.log"
    args = [MODEL, "--api-key", KEY, "--log-level", "warning", "--threads", "1",
            "--max-batch-size", "8", "--max-body-bytes", "100000",
            "--max-inflight-body-bytes", "100000"]  # fmt: skip
    with grpc_server(args, home, log) as s:
        yield s


def _request(n: int, model: str = MODEL, name: str = "inputs") -> Any:
    req = service_pb2.ModelInferRequest(model_name=model)
    req.inputs.add(name=name, datatype="FP32", shape=[n, 784])
    req.raw_input_contents.append(np.full((n, 784), 0.5, "<f4").tobytes())
    return req


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {KEY}"}, timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _get(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_grpc_calls_of_each_kind_are_counted(server: GrpcServer) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        raw_infer = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        stub.ModelInfer(_request(3), metadata=AUTH)  # answered: 3 samples
        stub.ModelInfer(_request(5), metadata=AUTH)  # answered: 5 samples
        refusals = [
            (lambda: stub.ModelInfer(_request(1)), "UNAUTHENTICATED"),
            (lambda: stub.ModelInfer(_request(1, name="x"), metadata=AUTH), "INVALID_ARGUMENT"),
            (lambda: stub.ModelInfer(_request(9), metadata=AUTH), "INVALID_ARGUMENT"),  # > 8
            (lambda: stub.ModelInfer(_request(40), metadata=AUTH), "RESOURCE_EXHAUSTED"),
            (lambda: stub.ModelInfer(_request(1, model="nope"), metadata=AUTH), "NOT_FOUND"),
            (lambda: raw_infer(b"\xff\xff\xff", metadata=AUTH), "INVALID_ARGUMENT"),
        ]
        for call, code in refusals:
            with pytest.raises(grpc.RpcError) as e:
                call()
            assert e.value.code().name == code, e.value.details()
    # one HTTP (OIP REST) request beside them, to tell the protocols apart
    body = {"inputs": [{"name": "inputs", "datatype": "FP32", "shape": [2, 784],
                        "data": [0.5] * 1568}]}  # fmt: skip
    r = httpx.post(f"{server.http.url}/v2/models/{MODEL}/infer", json=body,
                   headers={"authorization": f"Bearer {KEY}"}, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text

    m = _samples(server.http.url)
    total = "aezoo_requests_total"
    grpc_ = {"operation": "infer", "protocol": "grpc"}
    assert _get(m, total, model=MODEL, status="200", **grpc_) == 2
    assert _get(m, total, model=MODEL, status="401", **grpc_) == 1
    assert _get(m, total, model=MODEL, status="400", **grpc_) == 1  # wrong input name
    assert _get(m, total, model=MODEL, status="413", **grpc_) == 1  # batch above 8
    assert _get(m, total, model=MODEL, status="429", **grpc_) == 1  # body budget
    assert _get(m, total, model="_unknown", status="404", **grpc_) == 1
    assert _get(m, total, model="_unknown", status="400", **grpc_) == 1  # not a message
    assert _get(m, total, model=MODEL, status="200", operation="infer", protocol="http") == 1
    # answered samples per protocol
    samples = "aezoo_request_samples"
    assert _get(m, f"{samples}_count", model=MODEL, **grpc_) == 2
    assert _get(m, f"{samples}_sum", model=MODEL, **grpc_) == 8
    assert _get(m, f"{samples}_sum", model=MODEL, operation="infer", protocol="http") == 2
    # latency of every gRPC call to the model, refused ones included
    assert _get(m, "aezoo_request_duration_seconds_count", model=MODEL, **grpc_) == 6
    # the limits that refused them
    rejections = "aezoo_rejections_total"
    assert _get(m, rejections, reason="unauthorized") == 1
    assert _get(m, rejections, reason="too_large") == 1
    assert _get(m, rejections, reason="body_budget") == 1
