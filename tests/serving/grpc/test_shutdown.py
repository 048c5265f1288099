"""SIGTERM while gRPC calls are in flight: they are answered, then the process exits."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from tests.serving.grpc.conftest import grpc_server

pytestmark = pytest.mark.integration
service_pb2 = pytest.importorskip("tritonclient.grpc.service_pb2")
service_pb2_grpc = pytest.importorskip("tritonclient.grpc.service_pb2_grpc")


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
        time.sleep(0.1)  # all sent; the model works through them a batch at a time
        server.http.process.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(60)
        # uvicorn re-raises the signal once shut down: -15 is its clean exit
        assert server.http.process.wait(30) in (0, -signal.SIGTERM)
        channel.close()
    assert len(results) == 16
    assert all(not isinstance(r, grpc.RpcError) for r in results), results
    assert all(len(r.raw_output_contents[0]) == 1024 * 4 * r.outputs[0].shape[1] for r in results)
