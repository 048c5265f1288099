"""benchmarks/loadgen.py drives a real hey against a tiny local http.server."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import loadgen

pytestmark = pytest.mark.skipif(
    shutil.which("hey") is None, reason="hey is not installed (Debian: apt-get install hey)"
)


class _Handler(BaseHTTPRequestHandler):
    """POST /ok -> 200, /fail -> 503, /slow -> 200 after 0.2 s; records bodies and headers."""

    protocol_version = "HTTP/1.1"  # keep-alive, as hey expects

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.seen.append(  # type: ignore[attr-defined]
                (self.path, body, self.headers.get("Content-Type"), self.headers.get("X-Probe"))
            )
        if self.path == "/slow":
            time.sleep(0.2)
        status = 503 if self.path == "/fail" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.seen, srv.lock = [], threading.Lock()  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _url(srv: ThreadingHTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def test_counts_bodies_headers_and_rates(server: ThreadingHTTPServer) -> None:
    r = loadgen.run_load(
        _url(server, "/ok"),
        body=b'{"inputs": [[0.5]]}',
        content_type="application/x-test",
        headers={"X-Probe": "yes"},
        concurrency=3,
        requests=31,  # hey sends 31 // 3 * 3 = 30
        samples_per_request=4,
    )
    assert (r.requested, r.answered, r.ok, r.transport_errors) == (30, 30, 30, 0)
    assert r.status_counts == {200: 30} and r.completed
    assert len(server.seen) == 30  # type: ignore[attr-defined]
    assert set(server.seen) == {("/ok", b'{"inputs": [[0.5]]}', "application/x-test", "yes")}  # type: ignore[attr-defined]
    assert r.rps > 0 and r.samples_per_s == pytest.approx(4 * r.rps)
    assert 0 < r.p50_ms <= r.p90_ms <= r.p99_ms <= r.max_ms
    assert r.rps == pytest.approx(r.ok / r.seconds)


def test_non_2xx_are_counted_not_rated(server: ThreadingHTTPServer) -> None:
    r = loadgen.run_load(_url(server, "/fail"), body=b"x", concurrency=2, requests=10)
    assert r.status_counts == {503: 10}
    assert (r.answered, r.ok, r.rps) == (10, 0, 0.0)
    assert "status 503: 10" in r.summary()


def test_time_cap_stops_hey_and_keeps_what_it_measured(server: ThreadingHTTPServer) -> None:
    r = loadgen.run_load(
        _url(server, "/slow"), body=b"x", concurrency=2, requests=1000, max_seconds=1.0
    )
    assert not r.completed and r.transport_errors is None
    assert 0 < r.ok < 1000  # 0.2 s per answer, 2 clients: about 10 in a second
    assert r.p50_ms >= 200


def test_refused_connections_are_transport_errors() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nobody listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = loadgen.run_load(f"http://127.0.0.1:{port}/", body=b"x", concurrency=1, requests=3)
    assert (r.answered, r.ok, r.transport_errors) == (0, 0, 3)


@pytest.mark.parametrize("url", ["http://10.1.2.3/x", "http://example.com/", "ftp://127.0.0.1/"])
def test_only_loopback_targets(url: str) -> None:
    with pytest.raises(ValueError, match=r"loopback|http"):
        loadgen.run_load(url, requests=1)


def test_parse_hey_csv_reads_rows_after_the_header() -> None:
    text = (
        "response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset\n"
        "0.0100,0.0001,0.0000,0.0000,0.0099,0.0000,200,0.0000\n"
        "0.0300,0.0001,0.0000,0.0000,0.0299,0.0000,429,0.0050\n"
        "0.0200,0.0001,0.0000,0.0000,0.0199,0.0000,200,0.0100\n"
    )
    rows = loadgen.parse_hey_csv(text)
    r = loadgen.summarize("http://127.0.0.1/", 1, 3, rows)
    assert r.status_counts == {200: 2, 429: 1}
    assert r.seconds == pytest.approx(0.035)  # first start 0.0 to last answer 0.0050 + 0.0300
    assert r.rps == pytest.approx(2 / 0.035)
    assert r.p50_ms == pytest.approx(15.0)  # over the 2xx answers only
    with pytest.raises(ValueError, match="CSV header"):
        loadgen.parse_hey_csv("Error: nothing")
