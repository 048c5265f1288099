"""Pins what aezoo.serving.http.protocol relies on inside uvicorn's httptools protocol
(not public API): the hooks it overrides are called as it assumes, and the attributes it
reads exist. A uvicorn upgrade that changes them fails here, not silently in production."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aezoo.serving.http.protocol import ARRIVED, IN_FLIGHT, alone, guarded_protocol
from aezoo.serving.settings import ServeSettings

uvicorn = pytest.importorskip("uvicorn")


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.closed, self.written = False, b""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def test_hooks_and_attributes_the_guard_uses() -> None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    for hook in ("connection_made", "connection_lost", "on_message_begin",
                 "on_headers_complete", "on_message_complete", "data_received"):  # fmt: skip
        assert callable(getattr(HttpToolsProtocol, hook, None)), hook

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        # the server's request tasks, shared by every connection, hold this one's task
        assert asyncio.current_task() in scope["state"][IN_FLIGHT]
        lone.append(alone(scope))

    lone: list[bool] = []

    seen: list[Any] = []
    settings = ServeSettings(header_timeout_s=0.05, max_connections=1)
    calls: list[str] = []
    proto_cls = guarded_protocol(settings, lambda: calls.append("reject"))

    async def run() -> tuple[Any, _Transport, _Transport]:
        config = uvicorn.Config(app, http=proto_cls, lifespan="off")
        config.load()
        state = ServerState()
        proto = proto_cls(config=config, server_state=state, app_state={})
        transport = _Transport()
        proto.connection_made(transport)
        assert proto in proto.connections and proto.loop is asyncio.get_running_loop()
        assert proto.client == ("127.0.0.1", 5)
        proto.data_received(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        assert ARRIVED in proto.scope["state"]  # on_headers_complete ran with the scope built
        assert proto.tasks is state.tasks and proto.scope["state"][IN_FLIGHT] is state.tasks
        await asyncio.sleep(0.02)
        # a second connection over the cap of 1: its app is swapped for the 429 answer
        other = proto_cls(config=config, server_state=state, app_state={})
        slow = _Transport()
        other.connection_made(slow)
        assert other.app is not proto.app
        await asyncio.sleep(0.1)  # the header timeout (0.05 s) drops the silent one
        return proto, transport, slow

    _, _, slow = asyncio.run(run())
    assert seen and seen[0]["path"] == "/x"
    assert lone == [True]  # the only request in flight
    assert not alone({"state": {}}) and not alone({})  # another server: nothing to tell
    assert slow.closed
