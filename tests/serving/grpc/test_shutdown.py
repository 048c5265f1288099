"""SIGTERM while gRPC calls are in flight: the standard health service says NOT_SERVING at
once, before they have drained; calls that arrive during the drain are refused UNAVAILABLE;
the in-flight ones are answered, then the process exits."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest

from tests.serving.grpc.conftest import grpc_server

pytestmark = pytest.mark.integration
service_pb2 = pytest.importorskip("tritonclient.grpc.service_pb2")
service_pb2_grpc = pytest.importorskip("tritonclient.grpc.service_pb2_grpc")
health_pb2 = pytest.importorskip("grpc_health.v1.health_pb2")
health_pb2_grpc = pytest.importorskip("grpc_health.v1.health_pb2_grpc")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# 1,024-sample calls, one run each; the queue holds them all (the default 8,192 samples
# would refuse some with RESOURCE_EXHAUSTED)
ARGS = ["sda-mnist", "--log-level", "warning", "--max-queue-delay-ms", "0",
        "--max-queue", "65536", "--threads", "1"]  # fmt: skip


def _received_samples(url: str) -> float:
    """Samples the server holds or has answered: queued in the batcher plus answered
    (one request in compute at a time is in neither)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    queued = answered = 0.0
    for line in text.splitlines():
        if line.startswith('aezoo_queue_depth_samples{model="sda-mnist"}'):
            queued = float(line.split()[-1])
        elif line.startswith("aezoo_request_samples_sum") and 'model="sda-mnist"' in line:
            answered += float(line.split()[-1])
    return queued + answered


def _request() -> Any:
    req = service_pb2.ModelInferRequest(model_name="sda-mnist")
    req.inputs.add(name="inputs", datatype="FP32", shape=[1024, 784])
    req.raw_input_contents.append(np.random.default_rng(0).random((1024, 784), "f4").tobytes())
    return req


def _health(channel: grpc.Channel, service: str = "") -> Any:
    check = health_pb2_grpc.HealthStub(channel).Check
    return check(health_pb2.HealthCheckRequest(service=service), timeout=5).status


def test_sigterm_drains_in_flight_calls(tmp_path: Path) -> None:
    req = _request()
    results: list[Any] = []
    with grpc_server(ARGS, tmp_path, tmp_path / "server.log") as server:
        channel = grpc.insecure_channel(server.address)
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        stub.ServerLive(service_pb2.ServerLiveRequest())  # connected

        def call() -> None:
            try:
                results.append(stub.ModelInfer(req, timeout=60))
            except grpc.RpcError as e:
                results.append(e)

        threads = [threading.Thread(target=call) for _ in range(16)]
        for t in threads:
            t.start()
        # SIGTERM only once every call has reached the server (a call that arrives after it is
        # refused, as it should be): all but the one in compute are queued or answered
        deadline = time.monotonic() + 30
        while _received_samples(server.http.url) < 15 * 1024 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.http.process.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(60)
        # uvicorn re-raises the signal once shut down: -15 is its clean exit
        assert server.http.process.wait(30) in (0, -signal.SIGTERM)
        channel.close()
    assert len(results) == 16
    assert all(not isinstance(r, grpc.RpcError) for r in results), results
    assert all(len(r.raw_output_contents[0]) == 1024 * 4 * r.outputs[0].shape[1] for r in results)


def test_health_is_not_serving_as_soon_as_shutdown_begins(tmp_path: Path) -> None:
    """SIGTERM with calls queued: NOT_SERVING is seen while some of those calls are still
    to be answered (so before the drain ends); a call sent during the drain is refused
    UNAVAILABLE and names the shutdown; every other call is answered."""
    req, n = _request(), 48
    done: list[tuple[float, Any]] = []  # (monotonic time answered, answer or error)
    with grpc_server(ARGS, tmp_path, tmp_path / "server.log") as server:
        channel = grpc.insecure_channel(server.address)
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        assert _health(channel) == SERVING
        assert _health(channel, "inference.GRPCInferenceService") == SERVING

        def call() -> None:
            try:
                answer: Any = stub.ModelInfer(req, timeout=120)
            except grpc.RpcError as e:
                answer = e
            done.append((time.monotonic(), answer))

        threads = [threading.Thread(target=call) for _ in range(n)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while _received_samples(server.http.url) < 8 * 1024 and time.monotonic() < deadline:
            time.sleep(0.01)  # the server is busy with them
        server.http.process.send_signal(signal.SIGTERM)
        status = SERVING
        while status == SERVING and time.monotonic() < deadline:
            status = _health(channel)
        flipped_at = time.monotonic()
        assert status == NOT_SERVING
        assert _health(channel, "inference.GRPCInferenceService") == NOT_SERVING
        if len(done) < n - 4:  # still draining: a new (small) call is refused by the service
            small = service_pb2.ModelInferRequest(model_name="sda-mnist")
            small.inputs.add(name="inputs", datatype="FP32", shape=[1, 784])
            small.raw_input_contents.append(np.zeros(784, "<f4").tobytes())
            with pytest.raises(grpc.RpcError) as refused:
                stub.ModelInfer(small, timeout=30)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "shutting down" in refused.value.details()
        for t in threads:
            t.join(120)
        assert server.http.process.wait(30) in (0, -signal.SIGTERM)
        channel.close()
    answered = [at for at, r in done if not isinstance(r, grpc.RpcError)]
    refused_calls = [r for _, r in done if isinstance(r, grpc.RpcError)]
    assert len(done) == n
    # calls that reached the server only after SIGTERM are refused as the shutdown's
    assert all(
        r.code() == grpc.StatusCode.UNAVAILABLE and "shutting down" in r.details()
        for r in refused_calls
    ), refused_calls
    assert len(answered) >= 8
    assert sum(at > flipped_at for at in answered) >= 1, "health flipped after the drain"
