"""SIGTERM while gRPC calls are in flight: they are answered, then the process exits."""

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


def test_sigterm_drains_in_flight_calls(tmp_path: Path) -> None:
    req = service_pb2.ModelInferRequest(model_name="sda-mnist")
    req.inputs.add(name="inputs", datatype="FP32", shape=[1024, 784])
    req.raw_input_contents.append(np.random.default_rng(0).random((1024, 784), "f4").tobytes())
    results: list[Any] = []
    args = ["sda-mnist", "--log-level", "warning", "--max-queue-delay-ms", "0"]
    with grpc_server(args, tmp_path, tmp_path / "server.log") as server:
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
