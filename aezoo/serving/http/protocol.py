"""Connection-level limits uvicorn lacks: header and body read timeouts, and a connection
cap that answers 429 (uvicorn's ``limit_concurrency`` answers 503 and also counts requests).

A subclass of uvicorn's httptools protocol (uvicorn's default where ``uvicorn[standard]`` is
installed, as ``aezoo[serve]`` does) with three additions:

- header timeout: from the connection's first byte (or from the end of the previous answer's
  keep-alive wait) until the request's headers are complete, at most ``header_timeout_s``;
  uvicorn itself waits for a slow request line and headers forever (slowloris).
- body timeout: from the end of the headers until the whole body is in, at most
  ``body_timeout_s``. A client too slow on either is dropped (the connection is closed).
- connection cap: a connection opened while ``max_connections`` are open has each of its
  requests answered ``429`` with ``Retry-After`` and the ``overloaded`` error body, then is
  closed; its health checks (``/health/*``, ``/v2/health/*``) are still served.

It also stamps each request with the time its headers were read and parsed
(``scope["state"][ARRIVED]``, ``time.perf_counter()``), just before uvicorn queues the task
that runs the app: under overload a request can wait on the event loop, before its route
runs, longer than in a model's queue, and the routes count that wait towards the
queue-time deadline (``max_queue_time_ms``). A client slow to send its headers or body is
the timeouts' business, not the deadline's. Beside it goes the server's set of request
tasks in flight (``scope["state"][IN_FLIGHT]``, uvicorn's ``server_state.tasks``, shared
by every connection): a route that finds itself alone there may have its model run inline
(:func:`alone`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aezoo.errors import ConfigError
from aezoo.serving.settings import ServeSettings

log = logging.getLogger("aezoo.serving")
HEALTH_PREFIXES = ("/health/", "/v2/health/")
RETRY_AFTER_S = 1
ARRIVED = "aezoo.arrived"  # scope["state"] key: perf_counter() when the headers were parsed
IN_FLIGHT = "aezoo.in_flight"  # scope["state"] key: the server's request tasks in flight

ASGIApp = Callable[..., Any]


def arrived_at(scope: dict[str, Any], default: float) -> float:
    """``time.perf_counter()`` when the request's headers were parsed (stamped by
    :func:`guarded_protocol`), or ``default`` where another server ran the app."""
    return float(scope.get("state", {}).get(ARRIVED, default))


def alone(scope: dict[str, Any]) -> bool:
    """Whether this request is the only one the server has in flight (started, queued or
    being answered); ``False`` where another server ran the app (nothing to tell)."""
    tasks = scope.get("state", {}).get(IN_FLIGHT)
    return tasks is not None and len(tasks) <= 1


def over_capacity_app(app: ASGIApp, max_connections: int, on_reject: Callable[[], None]) -> ASGIApp:
    """An ASGI app answering 429 (and closing) for all but health checks."""
    body = json.dumps(
        {
            "error": {
                "type": "overloaded",
                "message": f"server has max_connections={max_connections} connections open; "
                "retry shortly",
            }
        }
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_S).encode()),
        (b"connection", b"close"),
    ]

    async def refuse(
        scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] == "http" and scope["path"].startswith(HEALTH_PREFIXES):
            await app(scope, receive, send)
            return
        on_reject()
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return refuse


def guarded_protocol(settings: ServeSettings, on_reject: Callable[[], None]) -> type:
    """uvicorn's httptools protocol with the timeouts and the connection cap of ``settings``,
    stamping each request's arrival (:data:`ARRIVED`).

    Raises:
        ConfigError: httptools is not installed (install ``aezoo[serve]``).
    """
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError as e:
        raise ConfigError(f"the server needs httptools (install aezoo[serve]): {e}") from None

    header_s, body_s, cap = (
        settings.header_timeout_s,
        settings.body_timeout_s,
        settings.max_connections,
    )

    class GuardedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc]
        _timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > cap:
                self.app = over_capacity_app(self.app, cap, on_reject)
            self._arm(header_s, "headers")

        def _arm(self, seconds: float, what: str) -> None:
            self._disarm()
            self._timer = self.loop.call_later(seconds, self._expire, what, seconds)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _expire(self, what: str, seconds: float) -> None:
            self._timer = None
            if not self.transport.is_closing():
                log.info(
                    "dropping %s: request %s not received within %g s", self.client, what, seconds
                )
                self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._timer is None:
                self._arm(header_s, "headers")

        def on_headers_complete(self) -> None:
            state = self.scope["state"]
            state[ARRIVED] = time.perf_counter()  # before its task is queued
            state[IN_FLIGHT] = self.tasks  # shared by all connections (server_state.tasks)
            self._arm(body_s, "body")  # disarmed at once by on_message_complete if bodiless
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedHttpToolsProtocol
