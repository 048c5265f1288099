"""gRPC deadlines: a request whose deadline passes before the model runs it is not run and
is answered DEADLINE_EXCEEDED, whether it passed while the message was parsed, while the
request waited in the model's queue, or with grpc cancelling the call at the deadline.

In process (a real engine, pool and batcher; the model's worker held busy by a task that
waits on an event), because a loopback client cannot make a deadline pass on the server
at a chosen point otherwise."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest

from aezoo.serving.engine import Engine
from aezoo.serving.settings import ServeSettings

pb = pytest.importorskip("aezoo.serving.grpc.messages", reason="needs the [grpc] extra")
from aezoo.serving.grpc.endpoint import start  # noqa: E402
from aezoo.serving.grpc.service import InferenceService  # noqa: E402

MODEL = "sda-mnist"


@pytest.fixture
def engine(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("AEZOO_HOME", str(tmp_path))  # bundled models only
    engine = Engine(ServeSettings(threads=1, max_queue_delay_ms=0, max_queue_time_ms=0))
    pool = engine.new_pool()
    pool.load([MODEL])
    engine.set_pool(pool)
    yield engine
    pool.close()


@pytest.fixture
def runs(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batch sizes the model computed (every run of the batcher goes through compute)."""
    model = engine.served(MODEL).model
    real, sizes = model.compute, []

    def compute(op: Any, x: np.ndarray) -> Any:
        sizes.append(x.shape[0])
        return real(op, x)

    monkeypatch.setattr(model, "compute", compute)
    return sizes


def _request(n: int) -> Any:
    req = pb.ModelInferRequest(model_name=MODEL)
    req.inputs.add(name="inputs", datatype="FP32", shape=[n, 784])
    req.raw_input_contents.append(np.zeros((n, 784), "<f4").tobytes())
    return req


def _metric(engine: Engine, name: str, labels: dict[str, str]) -> float:
    return engine.metrics.registry.get_sample_value(name, labels) or 0.0


def _busy(engine: Engine) -> tuple[threading.Event, Any]:
    """Keep the model's worker busy until the event is set (a task runs alone)."""
    gate = threading.Event()
    blocker = engine.served(MODEL).batcher.submit_task(
        lambda: (gate.wait(30), np.zeros((1, 1), np.float32))[1]
    )
    return gate, blocker


class _Context:
    """A servicer context whose deadline is ``remaining`` seconds away at the call."""

    def __init__(self, remaining: float) -> None:
        self.remaining = remaining
        self.aborted: tuple[Any, str] | None = None

    def invocation_metadata(self) -> tuple[()]:
        return ()

    def time_remaining(self) -> float:
        return self.remaining

    def set_trailing_metadata(self, md: Any) -> None: ...

    async def abort(self, code: Any, details: str) -> None:
        self.aborted = (code, details)
        raise grpc.RpcError(details)


def _call(engine: Engine, ctx: _Context, request: Any) -> Any:
    handler = InferenceService(engine, None).handler()
    method = handler.service(type("D", (), {"method": f"/{pb.SERVICE}/ModelInfer"})())
    return method.unary_unary(request.SerializeToString(), ctx)


def test_deadline_passed_before_submit_is_not_run(engine: Engine, runs: list[int]) -> None:
    ctx = _Context(-0.001)
    with pytest.raises(grpc.RpcError):
        asyncio.run(_call(engine, ctx, _request(1)))
    assert ctx.aborted is not None and ctx.aborted[0] == grpc.StatusCode.DEADLINE_EXCEEDED
    assert runs == []
    labels = {"model": MODEL, "operation": "infer", "status": "504", "protocol": "grpc"}
    assert _metric(engine, "aezoo_requests_total", labels) == 1


def test_deadline_passed_in_the_queue_is_not_run(engine: Engine, runs: list[int]) -> None:
    """The request is queued in time; its deadline passes while the worker is busy; the
    batcher leaves it out when its turn comes."""
    gate, blocker = _busy(engine)
    ctx = _Context(0.2)

    async def scenario() -> None:
        call = asyncio.ensure_future(_call(engine, ctx, _request(3)))
        await asyncio.sleep(0.5)  # queued behind the busy worker, past its deadline
        assert not call.done()
        gate.set()
        with pytest.raises(grpc.RpcError):
            await call

    try:
        asyncio.run(scenario())
    finally:
        gate.set()
    blocker.result(10)
    assert ctx.aborted is not None and ctx.aborted[0] == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "not run" in ctx.aborted[1]
    assert runs == []  # the 3-sample request never reached the model
    assert _metric(engine, "aezoo_rejections_total", {"reason": "deadline"}) == 1
    labels = {"model": MODEL, "operation": "infer", "status": "504", "protocol": "grpc"}
    assert _metric(engine, "aezoo_requests_total", labels) == 1


def test_real_client_deadline_in_the_queue_is_not_run(engine: Engine, runs: list[int]) -> None:
    """Over a real channel: grpc itself ends the call at its deadline; the request, still
    queued, is not run, and the next request is answered."""

    async def scenario() -> None:
        endpoint = await start(engine, "127.0.0.1", 0, None)
        gate, blocker = _busy(engine)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{endpoint.port}") as channel:
                infer = channel.unary_unary(
                    f"/{pb.SERVICE}/ModelInfer",
                    request_serializer=lambda m: m.SerializeToString(),
                    response_deserializer=pb.ModelInferResponse.FromString,
                )
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await infer(_request(3), timeout=0.3)
                assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                await asyncio.sleep(0.2)  # the server's side of the call has ended too
                gate.set()
                await asyncio.wrap_future(blocker)
                answer = await infer(_request(1), timeout=30)
                assert answer.outputs[0].shape[0] == 1
        finally:
            gate.set()
            await endpoint.server.stop(None)

    asyncio.run(scenario())
    assert runs == [1]  # only the request on time ran
    labels = {"model": MODEL, "operation": "infer", "status": "504", "protocol": "grpc"}
    deadline = time.monotonic() + 5
    while _metric(engine, "aezoo_requests_total", labels) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _metric(engine, "aezoo_requests_total", labels) == 1
