"""The queue-time deadline (``--max-queue-time-ms``): a request that waited too long is
answered 429 ``overloaded`` with ``Retry-After``, never run, and counted per model; in
process (a request that already waited on the event loop is refused before its body is
read) and against a real server under a burst, with health answering throughout."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from aezoo.runtime.model import OnnxModel
from aezoo.serving.http.app import ServeSettings, create_app
from aezoo.serving.http.protocol import ARRIVED
from tests.serving.conftest import ZERO, LiveServer, running_server

JSON = {"content-type": "application/json"}


def _metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class _ArrivedEarlier:
    """ASGI wrapper: stamps each request as if its first byte arrived ``seconds`` ago (what
    the server's protocol does, with the wait an overloaded event loop would add)."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})[ARRIVED] = time.perf_counter() - self.seconds
        await self.app(scope, receive, send)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/models/sda-tiny/encode", b'{"inputs": [[0.0, '),  # malformed: never parsed
        ("/v1/models/sda-tiny/interpolate", b'{"a": [0.0'),
        ("/v2/models/sda-tiny/infer", b'{"inputs": ['),
    ],
)
def test_a_late_request_is_refused_before_its_body_is_read(
    models: dict[str, OnnxModel], path: str, body: bytes
) -> None:
    settings = ServeSettings(max_queue_time_ms=100)
    app = create_app(models, settings)
    with TestClient(_ArrivedEarlier(app, 1.0)) as late, TestClient(app) as on_time:
        r = late.post(path, content=body, headers=JSON)
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        error = r.json()["error"]
        message = error["message"] if isinstance(error, dict) else error  # v2: a string
        assert "max_queue_time_ms=100" in message
        if path.startswith("/v1"):
            assert error["type"] == "overloaded"
        assert on_time.post(path, content=body, headers=JSON).status_code == 400  # parsed
        metrics = on_time.get("/metrics").text
    operation = path.rsplit("/", 1)[1]
    key = f'aezoo_queue_timeouts_total{{model="sda-tiny",operation="{operation}"}}'
    assert _metric(metrics, key) == 1
    assert _metric(metrics, 'aezoo_rejections_total{reason="queue_timeout"}') == 1


def test_no_deadline_with_zero(models: dict[str, OnnxModel]) -> None:
    app = create_app(models, ServeSettings(max_queue_time_ms=0))
    with TestClient(_ArrivedEarlier(app, 3600.0)) as c:
        r = c.post("/v1/models/sda-tiny/encode", json={"inputs": [ZERO]})
    assert r.status_code == 200


@pytest.fixture(scope="module")
def deadline_server(
    aezoo_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """sda-tiny with a 300 ms queue-time deadline and a batching wait (30 s) that only the
    deadline can cut short, a 5-second body timeout."""
    args = [
        "sda-tiny",
        *("--max-queue-time-ms", "300", "--max-queue-delay-ms", "30000"),
        *("--body-timeout", "5", "--threads", "1", "--log-level", "warning"),
    ]
    log = tmp_path_factory.mktemp("deadline") / "stdout.txt"
    with running_server(args, {"AEZOO_HOME": str(aezoo_home)}, log) as server:
        yield server


@pytest.mark.integration
def test_burst_gets_429s_with_retry_after_and_health_answers(
    deadline_server: LiveServer,
) -> None:
    """A client that sent its headers but not its body is awaited by the batcher (it could
    merge); a burst queued behind that wait passes the deadline: 429s, never anything but
    200 and 429, and health checks answered while the burst waits."""
    url = deadline_server.url
    host, port = url.removeprefix("http://").split(":")
    body = f'{{"inputs": [{ZERO}]}}'.encode()
    head = (
        "POST /v1/models/sda-tiny/encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
        f"\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    answers: list[httpx.Response] = []

    def one() -> None:
        with httpx.Client(timeout=30) as c:
            answers.append(c.post(f"{url}/v1/models/sda-tiny/encode", content=body, headers=JSON))

    with socket.create_connection((host, int(port)), timeout=20) as slow:
        slow.sendall(head)  # announced; its body never comes (dropped by the body timeout)
        burst = [threading.Thread(target=one) for _ in range(6)]
        for t in burst:
            t.start()
        live = httpx.get(f"{url}/health/live", timeout=5)
        for t in burst:
            t.join(60)
    assert live.status_code == 200
    statuses = sorted(r.status_code for r in answers)
    assert len(statuses) == 6 and set(statuses) <= {200, 429} and 429 in statuses, statuses
    for r in answers:
        if r.status_code == 429:
            assert r.headers["retry-after"] == "1"
            assert r.json()["error"]["type"] == "overloaded"
            assert "max_queue_time_ms=300" in r.json()["error"]["message"]
        else:
            assert len(r.json()["codes"]) == 1
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    refused = _metric(metrics, 'aezoo_queue_timeouts_total{model="sda-tiny",operation="encode"}')
    assert refused == statuses.count(429)
    assert httpx.get(f"{url}/health/ready", timeout=5).status_code == 200


@pytest.mark.integration
def test_the_wait_on_the_event_loop_counts(aezoo_home: Path, tmp_path: Path) -> None:
    """With a 1 ms deadline, bursts of 64 requests whose bodies are malformed JSON: those
    whose route starts 1 ms or more after their headers were parsed (queued behind the
    others on the event loop) are refused unread (429); the others are parsed (400). Only
    the server's stamp of each request's arrival makes a 429 possible here."""
    args = ["sda-tiny", "--max-queue-time-ms", "1", "--threads", "1", "--log-level", "warning"]
    with running_server(args, {"AEZOO_HOME": str(aezoo_home)}, tmp_path / "log") as server:
        host, port = server.url.removeprefix("http://").split(":")
        body = b'{"inputs": [[0.0, '
        request = (
            "POST /v1/models/sda-tiny/encode HTTP/1.1\r\nHost: x\r\nContent-Type: "
            f"application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        statuses: set[bytes] = set()
        cut = request.index(b"\r\n\r\n") + 3  # all but the headers' last byte
        for _ in range(20):  # a bound so that a missing stamp fails, not a speed check
            socks = [socket.create_connection((host, int(port)), timeout=20) for _ in range(64)]
            for s in socks:
                s.sendall(request[:cut])
            time.sleep(0.05)  # the server has read the partial headers of every socket
            for s in socks:  # their headers now complete together, even on a busy machine
                s.sendall(request[cut:])
            for s in socks:
                answer = b""
                while chunk := s.recv(65536):
                    answer += chunk
                statuses.add(answer[9:12])
                s.close()
            if b"429" in statuses:
                break
        assert b"429" in statuses and statuses <= {b"400", b"429"}, statuses
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    refused = 'aezoo_queue_timeouts_total{model="sda-tiny",operation="encode"}'
    assert _metric(metrics, refused) >= 1
