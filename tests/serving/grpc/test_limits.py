"""The HTTP contract in gRPC status codes, against a real server with a key and small
budgets: UNAUTHENTICATED, RESOURCE_EXHAUSTED (body budget, with ``retry-after`` trailing
metadata; message above the body cap). Deadlines: test_deadline.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest

from tests.serving.grpc.conftest import GrpcServer, grpc_server

pytestmark = pytest.mark.integration
service_pb2 = pytest.importorskip("tritonclient.grpc.service_pb2")
KEY = "s3cret"
AUTH = (("authorization", f"Bearer {KEY}"),)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    home = tmp_path_factory.mktemp("grpc-limits-home")
    log = tmp_path_factory.mktemp("grpc-limits") / "server.log"
    args = ["sda-mnist", "--api-key", KEY, "--log-level", "warning", "--threads", "1",
            "--max-body-bytes", "100000", "--max-inflight-body-bytes", "100000"]  # fmt: skip
    with grpc_server(args, home, log) as s:
        yield s


def _request(n: int) -> Any:
    req = service_pb2.ModelInferRequest(model_name="sda-mnist")
    req.inputs.add(name="inputs", datatype="FP32", shape=[n, 784])
    req.raw_input_contents.append(np.zeros((n, 784), "<f4").tobytes())
    return req


def test_api_key(stub: Any) -> None:
    assert stub.ServerLive(service_pb2.ServerLiveRequest()).live  # health: no key needed
    for metadata in ((), (("authorization", "Bearer wrong"),)):
        with pytest.raises(grpc.RpcError) as e:
            stub.ModelInfer(_request(1), metadata=metadata)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED and "API key" in e.value.details()
    assert stub.ModelInfer(_request(1), metadata=AUTH).outputs[0].name == "codes"


def test_body_budget_is_resource_exhausted_with_retry_hint(stub: Any) -> None:
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(_request(40), metadata=AUTH)  # 125 KB: above the 100 KB budget
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.value.details()
    assert "max_inflight_body_bytes" in e.value.details()
    trailing = dict(e.value.trailing_metadata() or ())
    assert int(trailing["retry-after"]) >= 1


def test_message_above_the_body_cap_is_refused(stub: Any) -> None:
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(_request(64), metadata=AUTH)  # 200 KB: above max_body_bytes + framing
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
