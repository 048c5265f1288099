"""Start and stop the gRPC server on the running event loop (``grpc.aio``)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from aezoo.errors import ConfigError
from aezoo.serving.engine import Engine
from aezoo.serving.grpc.messages import SERVICE
from aezoo.serving.grpc.service import InferenceService

# Room for the message's framing and metadata beyond the body cap.
_FRAMING_BYTES = 64 * 1024
_HEALTH_NAMES = ("", SERVICE)  # the server as a whole and the inference service


@dataclass
class GrpcEndpoint:
    """A started gRPC server, its inference service and its health service."""

    server: grpc.aio.Server
    service: InferenceService
    health: health.aio.HealthServicer
    port: int

    async def begin_shutdown(self) -> None:
        """The first step of a graceful shutdown, at once: the health service answers
        ``NOT_SERVING`` (for ``""`` and the inference service; later ``set`` calls are
        ignored) and new ModelInfer calls ``UNAVAILABLE``, while the server still accepts
        calls, so a load balancer that polls health sees the drain begin."""
        await self.health.enter_graceful_shutdown()
        self.service.draining = True

    async def stop(self, grace_s: float) -> None:
        """Wait up to ``grace_s`` for in-flight ModelInfer calls to be answered, then stop
        the server (calls still running after the grace are cancelled)."""
        await self.service.drained(grace_s)
        await self.server.stop(1.0)


async def start(engine: Engine, host: str, port: int, api_key: str | None) -> GrpcEndpoint:
    """A started ``grpc.aio`` server for ``inference.GRPCInferenceService`` and the
    standard ``grpc.health.v1.Health`` service (SERVING for "" and the inference service).

    Messages larger than ``max_body_bytes`` (the HTTP body cap) are refused by gRPC with
    ``RESOURCE_EXHAUSTED``; answers may be as large as ``max_body_bytes`` too.

    Args:
        port: the TCP port; 0 picks a free one (:attr:`GrpcEndpoint.port` says which).

    Raises:
        ConfigError: the address cannot be bound (in use, not an address of this machine).
    """
    cap = engine.settings.max_body_bytes + _FRAMING_BYTES
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", cap),
            ("grpc.max_send_message_length", max(cap, 4 * 2**20)),
            ("grpc.so_reuseport", 0),
        ]
    )
    service = InferenceService(engine, api_key)
    server.add_generic_rpc_handlers((service.handler(),))
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as e:
        raise ConfigError(f"cannot listen for gRPC on {address}: {e}") from None
    if bound == 0:
        raise ConfigError(
            f"cannot listen for gRPC on {address} (in use?); pick another --grpc-port"
        )
    await server.start()
    for name in _HEALTH_NAMES:
        await checker.set(name, health_pb2.HealthCheckResponse.SERVING)
    return GrpcEndpoint(server, service, checker, bound)
