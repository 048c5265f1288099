"""The HTTP contract in gRPC status codes, against a real server with a key and small
budgets: UNAUTHENTICATED, RESOURCE_EXHAUSTED (body budget, with ``retry-after`` trailing
metadata; message above the body cap), and a request whose deadline passed is not run (in process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest

from tests.serving.grpc.conftest import GrpcServer, grpc_server

pytestmark = pytest.mark.integration
service_pb2 = pytest.importorskip("tritonclient.grpc.service_pb2")
service_pb2_grpc = pytest.importorskip("tritonclient.grpc.service_pb2_grpc")
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


@pytest.fixture(scope="module")
def stub(server: GrpcServer) -> Iterator[Any]:
    with grpc.insecure_channel(server.address) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


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


class _Context:
    """A servicer context whose deadline passed while the request waited."""

    def __init__(self) -> None:
        self.aborted: tuple[Any, str] | None = None

    def invocation_metadata(self) -> tuple[()]:
        return ()

    def time_remaining(self) -> float:
        return -0.001

    def set_trailing_metadata(self, md: Any) -> None: ...

    async def abort(self, code: Any, details: str) -> None:
        self.aborted = (code, details)
        raise grpc.RpcError(details)


def test_expired_deadline_is_not_run(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """In process: the loopback client's deadline cannot be made to pass on the server
    reliably (the server measures it from receipt), so the service gets a context whose
    deadline has passed; the model must not be called."""
    import asyncio

    from aezoo.serving.engine import Engine
    from aezoo.serving.grpc import messages as pb
    from aezoo.serving.grpc.service import InferenceService
    from aezoo.serving.settings import ServeSettings

    monkeypatch.setenv("AEZOO_HOME", str(tmp_path))
    engine = Engine(ServeSettings())
    pool = engine.new_pool()
    pool.load(["sda-mnist"])
    engine.set_pool(pool)
    called: list[str] = []

    async def infer(*args: Any, **kw: Any) -> Any:
        called.append("infer")
        raise AssertionError("an expired request was run")

    monkeypatch.setattr(engine, "infer", infer)
    handler = InferenceService(engine, None).handler()
    method = handler.service(type("D", (), {"method": f"/{pb.SERVICE}/ModelInfer"})())
    ctx = _Context()
    data = _request(1).SerializeToString()
    try:
        with pytest.raises(grpc.RpcError):
            asyncio.run(method.unary_unary(data, ctx))
    finally:
        pool.close()
    assert ctx.aborted is not None and ctx.aborted[0] == grpc.StatusCode.DEADLINE_EXCEEDED
    assert not called
