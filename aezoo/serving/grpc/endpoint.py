"""Start and stop the gRPC server on the running event loop (``grpc.aio``)."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from aezoo.errors import ConfigError
from aezoo.serving.engine import Engine
from aezoo.serving.grpc.messages import SERVICE
from aezoo.serving.grpc.service import InferenceService

# Room for the message's framing and metadata beyond the body cap.
_FRAMING_BYTES = 64 * 1024


async def start(
    engine: Engine, host: str, port: int, api_key: str | None
) -> tuple[grpc.aio.Server, int]:
    """A started ``grpc.aio`` server for ``inference.GRPCInferenceService`` and the
    standard ``grpc.health.v1.Health`` service (SERVING for "" and the inference service).

    Messages larger than ``max_body_bytes`` (the HTTP body cap) are refused by gRPC with
    ``RESOURCE_EXHAUSTED``; answers may be as large as ``max_body_bytes`` too.

    Returns:
        The server and the port it listens on (``port`` 0 picks a free one).

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
    server.add_generic_rpc_handlers((InferenceService(engine, api_key).handler(),))
    checker = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
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
    for name in ("", SERVICE):
        result = checker.set(name, health_pb2.HealthCheckResponse.SERVING)
        if result is not None:
            await result
    return server, bound
