"""The overload contract and bounded memory against a real server process on loopback:
429 with Retry-After when a model's queue is full, 429 beyond the connection cap, slow
clients dropped by the header and body timeouts, liveness throughout, peak RSS under
1 GB with four maximum-size JSON bodies, and one-line start-up errors."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.serving.conftest import REPO_ROOT, LiveServer, N, running_server

pytestmark = pytest.mark.integration
JSON = {"content-type": "application/json"}


def _addr(server: LiveServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def _metric(server: LiveServer, line_start: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture(scope="module")
def tight_server(
    aezoo_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """sda-tiny with a queue of one full batch, a long batching wait, 4 connections,
    a 1-second header and a 5-second body timeout, and 2 MB of request bodies in flight;
    no queue-time deadline (tests/serving/test_queue_time.py has its own server), so that
    requests wait in the queue for as long as these tests hold them there."""
    args = [
        "sda-tiny",
        *("--max-batch-size", "64", "--max-queue", "64", "--max-queue-delay-ms", "30000"),
        *("--max-queue-time-ms", "0"),
        *("--max-connections", "4", "--header-timeout", "1", "--body-timeout", "5"),
        *("--max-inflight-body-bytes", "2000000"),
        *("--keep-alive", "120", "--threads", "1", "--log-level", "warning"),
    ]
    log = tmp_path_factory.mktemp("tight") / "stdout.txt"
    with running_server(args, {"AEZOO_HOME": str(aezoo_home)}, log) as server:
        yield server


def test_full_queue_answers_429_and_stays_live(tight_server: LiveServer) -> None:
    url = tight_server.url

    def body(n: int) -> bytes:
        return f'{{"inputs": {[[0.5] * N] * n}}}'.encode()

    head = (
        "POST /v1/models/sda-tiny/encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
        f"\r\nContent-Length: {len(body(1))}\r\n\r\n"
    ).encode()
    with socket.create_connection(_addr(tight_server), timeout=20) as slow:
        slow.sendall(head)  # announced, body still on its way: the batcher waits for it
        answers: dict[str, httpx.Response] = {}

        def send_first() -> None:
            answers["a"] = httpx.post(
                f"{url}/v1/models/sda-tiny/encode", content=body(32), headers=JSON, timeout=60
            )

        first = threading.Thread(target=send_first)
        first.start()  # 32 samples: queued, waiting for the announced request to merge
        while _metric(tight_server, 'aezoo_queue_depth_samples{model="sda-tiny"}') < 32:
            assert first.is_alive()
        over = httpx.post(
            f"{url}/v1/models/sda-tiny/encode", content=body(40), headers=JSON, timeout=10
        )
        assert over.status_code == 429 and over.headers["retry-after"] == "1"
        assert over.json()["error"]["type"] == "overloaded"
        assert "max_queue=64" in over.json()["error"]["message"]
        assert httpx.get(f"{url}/health/live", timeout=1).json() == {"status": "live"}
        v2 = {
            "inputs": [
                {"name": "inputs", "shape": [40, N], "datatype": "FP32", "data": [0.5] * (40 * N)}
            ]
        }
        over_v2 = httpx.post(f"{url}/v2/models/sda-tiny/infer", json=v2, timeout=10)
        assert over_v2.status_code == 429 and over_v2.headers["retry-after"] == "1"
        assert set(over_v2.json()) == {"error"} and "max_queue=64" in over_v2.json()["error"]
        assert httpx.get(f"{url}/v2/health/live", timeout=1).json() == {"live": True}
        slow.sendall(body(1)[:100])  # then stall: the body timeout (5 s) drops this client
        assert slow.recv(1024) == b""
    first.join(60)
    assert answers["a"].status_code == 200 and len(answers["a"].json()["codes"]) == 32
    assert _metric(tight_server, 'aezoo_rejections_total{reason="queue_full"}') >= 1
    assert httpx.get(f"{url}/health/ready", timeout=5).status_code == 200


def test_body_budget_answers_429_before_reading(tight_server: LiveServer) -> None:
    url = f"{tight_server.url}/v1/models/sda-tiny/encode"
    head = (
        b"POST /v1/models/sda-tiny/encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
        b"\r\nContent-Length: 1600000\r\n\r\n"
    )
    body = f'{{"inputs": {[[0.123456789] * N] * 40}}}'.encode()  # ~0.5 MB
    for _ in range(5):  # the body timeout may drop the slow client first: try again
        with socket.create_connection(_addr(tight_server), timeout=20) as slow:
            slow.sendall(head)  # reserves 1.6 MB of the 2 MB budget while its body is awaited
            r = httpx.post(url, content=body, headers=JSON, timeout=10)
        if r.status_code == 429:
            break
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["type"] == "overloaded"
    assert "max_inflight_body_bytes=2,000,000" in r.json()["error"]["message"]
    assert _metric(tight_server, 'aezoo_rejections_total{reason="body_budget"}') >= 1
    for _ in range(100):  # as Retry-After says: once the slow client is gone, it fits
        ok = httpx.post(url, content=body, headers=JSON, timeout=10)
        if ok.status_code != 429:
            break
        time.sleep(0.1)
    assert ok.status_code == 200


def test_slow_headers_are_dropped(tight_server: LiveServer) -> None:
    with socket.create_connection(_addr(tight_server), timeout=20) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # never ends its headers
        assert sock.recv(1024) == b""  # closed by the 1-second header timeout
    with socket.create_connection(_addr(tight_server), timeout=20) as sock:
        assert sock.recv(1024) == b""  # connected and silent: dropped too
    assert httpx.get(f"{tight_server.url}/health/live", timeout=1).status_code == 200


def test_connections_beyond_the_cap_get_429(tight_server: LiveServer) -> None:
    held = []
    try:
        for _ in range(4):  # keep-alive connections that have each been served once
            sock = socket.create_connection(_addr(tight_server), timeout=20)
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            held.append(sock)
        with httpx.Client(base_url=tight_server.url, timeout=10) as c:
            refused = c.get("/v1/models")
            assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
            assert refused.json()["error"]["type"] == "overloaded"
            assert "max_connections=4" in refused.json()["error"]["message"]
        with httpx.Client(base_url=tight_server.url, timeout=1) as c:
            assert c.get("/health/live").status_code == 200  # health checks still answered
    finally:
        for sock in held:
            sock.close()
    assert _metric(tight_server, 'aezoo_rejections_total{reason="connections"}') >= 1


def _peak_rss(pid: int) -> int:
    """Peak resident set size (VmHWM) of a process, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_four_maximum_json_bodies_stay_under_1_gb(tmp_path: Path) -> None:
    """Default settings; each body is as long as a 1,024-sample JSON body may be (25.8 MB)."""
    from aezoo.serving.limits import JSON_BYTES_PER_NUMBER, JSON_OVERHEAD_BYTES

    cap = 1024 * N * JSON_BYTES_PER_NUMBER + JSON_OVERHEAD_BYTES
    row = "[" + ", ".join(["1.2345678901234567e-01"] * N) + "]"
    body = ('{"inputs": [' + ", ".join([row] * 1024) + "]").encode()
    body += b" " * (cap - len(body) - 1) + b"}"
    many = b'{"inputs": [[' + b"0," * (cap // 2 - 16) + b"0]]}"  # 12.9M numbers: refused unparsed
    assert len(body) == cap and len(many) <= cap
    home = tmp_path / "home"
    # no queue-time deadline: the four bodies arrive together and each waits for the others'
    # uploads on the event loop; a deadline would refuse one (that is test_queue_time's job)
    args = ["sda-mnist", "--log-level", "warning", "--max-queue-time-ms", "0"]
    with running_server(args, {"AEZOO_HOME": str(home)}, tmp_path / "log") as server:
        import psutil

        before = psutil.Process(server.process.pid).memory_info().rss
        results: list[int] = []

        def post(content: bytes) -> None:
            r = httpx.post(
                f"{server.url}/v1/models/sda-mnist/denoise",
                content=content,
                headers=JSON,
                timeout=300,
            )
            results.append(r.status_code)

        threads = [
            threading.Thread(target=post, args=(b,)) for b in (body, body, body, body, many, many)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        peak = _peak_rss(server.process.pid)
        assert sorted(results) == [200, 200, 200, 200, 413, 413]
        assert httpx.get(f"{server.url}/health/live", timeout=5).status_code == 200
    print(f"server RSS before {before / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB")
    assert peak < 2**30, f"peak RSS {peak / 2**20:.0f} MiB"


def _serve(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aezoo", "serve", *args],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120,
    )  # fmt: skip


def test_start_up_errors_are_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "AEZOO_HOME": str(tmp_path)}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = _serve("sda-mnist", "--port", str(port), env=env)
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and f"port {port}" in out.stderr
    assert "already in use" in out.stderr and out.stdout == ""
    assert "Errno" not in out.stderr and "startup complete" not in out.stderr
    watch = _serve("--watch", "--poll-interval", "0", env=env)
    assert watch.returncode == 1 and watch.stdout == ""
    assert watch.stderr.strip() == (
        "aezoo serve: cannot serve: --watch needs --poll-interval above 0 "
        "(the registry is never polled)"
    )
    bad = _serve("--port", "99999", env=env)
    assert bad.returncode == 2 and bad.stdout == ""
    assert (
        bad.stderr.strip()
        == "aezoo serve: error: --port must be less than or equal to 65535, got 99999"
    )


def test_burst_keeps_the_contract(tight_server: LiveServer) -> None:
    """Twelve concurrent 64-sample requests on a 64-sample queue: 200 or 429, never else."""
    body = f'{{"inputs": {np.full((64, N), 0.25).tolist()}}}'.encode()
    statuses: list[int] = []

    def one() -> None:
        with httpx.Client(timeout=60) as c:
            statuses.append(
                c.post(
                    f"{tight_server.url}/v1/models/sda-tiny/encode", content=body, headers=JSON
                ).status_code
            )

    threads = [threading.Thread(target=one) for _ in range(3)]  # within the 4-connection cap
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert statuses and set(statuses) <= {200, 429}
    assert httpx.get(f"{tight_server.url}/health/ready", timeout=5).status_code == 200
