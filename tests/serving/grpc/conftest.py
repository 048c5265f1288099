"""A real server process with ``--grpc-port 0``; the gRPC address is read from its log."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.serving.conftest import LiveServer, running_server

pytest.importorskip("grpc", reason="the [grpc] extra (in aezoo[dev]) is not installed")


@dataclass
class GrpcServer:
    http: LiveServer
    address: str  # host:port of the gRPC endpoint


@contextlib.contextmanager
def grpc_server(args: list[str], home: Path, log: Path) -> Iterator[GrpcServer]:
    """``running_server(ARGS --grpc-port 0)`` and the gRPC address it printed."""
    with running_server([*args, "--grpc-port", "0"], {"AEZOO_HOME": str(home)}, log) as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = re.search(r"gRPC \(Open Inference Protocol\) at (\S+)", log.read_text())
            if match:
                yield GrpcServer(http, match.group(1))
                return
            time.sleep(0.05)
        pytest.fail(f"no gRPC line in the server log:\n{log.read_text()}")


@pytest.fixture(scope="module")
def triton(server: GrpcServer) -> Iterator[Any]:
    """A ``tritonclient.grpc`` client of the module's ``server`` fixture."""
    grpcclient = pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] missing")
    client = grpcclient.InferenceServerClient(server.address)
    yield client
    client.close()


@pytest.fixture(scope="module")
def stub(server: GrpcServer) -> Iterator[Any]:
    """A raw ``GRPCInferenceServiceStub`` (tritonclient's generated code) on the module's
    ``server`` fixture, for messages the high-level client cannot send."""
    import grpc

    service_pb2_grpc = pytest.importorskip(
        "tritonclient.grpc.service_pb2_grpc", reason="tritonclient[grpc] missing"
    )
    with grpc.insecure_channel(server.address) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)
