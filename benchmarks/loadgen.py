"""Closed-loop HTTP load on loopback with ``hey``, summarised as one :class:`LoadResult`.

``hey`` (Debian package ``hey``) keeps ``concurrency`` clients each sending its next
request as soon as the previous answer arrives (a closed loop), and with ``-o csv``
writes one row per answered request: latency, status code and start offset, all
in seconds. :func:`run_load` runs it bounded in both request count (``-n``) and time
(SIGINT at ``max_seconds``; hey then stops and still writes what it measured) and
summarises those rows.

Measures over the requests answered with a 2xx status:
  rps            answered 2xx requests per second of the run's span (first request
                 start to last answer), i.e. closed-loop throughput
  samples_per_s  rps x samples per request
  p50/p90/p99    latency percentiles in ms (linear interpolation, numpy's default)
  p99_any_ms     p99 latency over every answered request, whatever its status (a 429
                 that took long counts here)
Transport errors (no HTTP answer: refused, reset, client timeout) are not in hey's
CSV; they are counted as requests sent minus rows when hey ran to its count, and
unknown (``None``) when the time cap stopped it.

Only loopback targets are accepted (127.0.0.0/8, ::1, localhost).

Usage (CLI)::

    python benchmarks/loadgen.py http://127.0.0.1:8000/v1/models/sda-mnist/encode \\
        -D body.json -T application/json -c 16 -n 2000 --max-seconds 20 [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import fcntl
import io
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

CSV_HEADER = "response-time"  # first column of hey's CSV header line
BENCH_LOCK = "/tmp/aezoo-bench.lock"  # held by every benchmark on this machine (flock)


@dataclass(frozen=True)
class LoadResult:
    """Summary of one closed-loop run (latencies in ms, rates per second)."""

    url: str
    concurrency: int
    requested: int  # requests hey was asked for (rounded down to a multiple of concurrency)
    answered: int  # requests that got an HTTP answer (any status)
    ok: int  # answers with a 2xx status
    seconds: float  # span of the run: first request start to last answer
    rps: float  # ok / seconds
    samples_per_s: float  # rps x samples_per_request
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    status_counts: dict[int, int] = field(default_factory=dict)
    transport_errors: int | None = 0  # None: the time cap stopped hey, count unknown
    completed: bool = True  # False: stopped by max_seconds before sending every request
    p99_any_ms: float = float("nan")  # p99 over every answered request, any status

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["status_counts"] = {str(k): v for k, v in self.status_counts.items()}
        return d

    def summary(self) -> str:
        """One line: rates, latencies and anything that went wrong."""
        bad = {k: v for k, v in self.status_counts.items() if not 200 <= k < 300}
        notes = [f"status {k}: {v}" for k, v in sorted(bad.items())]
        if self.transport_errors:
            notes.append(f"transport errors: {self.transport_errors}")
        if not self.completed:
            notes.append("stopped by the time cap")
        return (
            f"{self.rps:,.0f} req/s, {self.samples_per_s:,.0f} samples/s, "
            f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms ({self.ok} ok"
            + (f"; {'; '.join(notes)}" if notes else "")
            + ")"
        )


def check_loopback(url: str) -> None:
    """Raise ValueError unless ``url`` is http(s) to a loopback host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url must be http(s)://HOST[:PORT]/..., got {url!r}")
    host = parts.hostname
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"load is only sent to loopback (127.0.0.0/8, ::1, localhost), got {host!r}"
        )


def parse_hey_csv(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``hey -o csv`` as arrays ``(latency_s, status, offset_s)``, each ``(n,)``.

    Raises:
        ValueError: the text has no hey CSV header.
    """
    start = text.find(CSV_HEADER)
    if start < 0:
        raise ValueError(f"no hey CSV header in output: {text[:200]!r}")
    reader = csv.DictReader(io.StringIO(text[start:]))
    lat, status, offset = [], [], []
    for row in reader:
        if not row.get("status-code"):
            continue
        lat.append(float(row["response-time"]))
        status.append(int(row["status-code"]))
        offset.append(float(row["offset"]))
    return np.array(lat, dtype=float), np.array(status, dtype=int), np.array(offset, dtype=float)


def summarize(
    url: str,
    concurrency: int,
    requested: int,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    samples_per_request: int = 1,
    completed: bool = True,
) -> LoadResult:
    """A :class:`LoadResult` from parsed rows (see :func:`parse_hey_csv`)."""
    lat, status, offset = rows
    good = (status >= 200) & (status < 300)
    ok_ms = lat[good] * 1000.0
    span = float(np.max(offset + lat) - np.min(offset)) if lat.size else 0.0
    rps = int(good.sum()) / span if span > 0 else 0.0

    def pct(q: float) -> float:
        return float(np.percentile(ok_ms, q)) if ok_ms.size else float("nan")

    return LoadResult(
        url=url,
        concurrency=concurrency,
        requested=requested,
        answered=int(lat.size),
        ok=int(good.sum()),
        seconds=span,
        rps=rps,
        samples_per_s=rps * samples_per_request,
        p50_ms=pct(50),
        p90_ms=pct(90),
        p99_ms=pct(99),
        mean_ms=float(ok_ms.mean()) if ok_ms.size else float("nan"),
        max_ms=float(ok_ms.max()) if ok_ms.size else float("nan"),
        status_counts=dict(sorted(Counter(status.tolist()).items())),
        transport_errors=requested - int(lat.size) if completed else None,
        completed=completed,
        p99_any_ms=float(np.percentile(lat * 1000.0, 99)) if lat.size else float("nan"),
    )


def run_load(
    url: str,
    *,
    body: bytes | str | os.PathLike[str] | None = None,
    method: str = "POST",
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    concurrency: int = 1,
    requests: int = 1000,
    max_seconds: float = 30.0,
    samples_per_request: int = 1,
    request_timeout_s: int = 20,
    hey: str = "hey",
) -> LoadResult:
    """Send ``requests`` requests from ``concurrency`` closed-loop clients; stop at ``max_seconds``.

    Args:
        url: loopback http(s) URL.
        body: request body bytes or a path to a file holding it; ``None`` sends none.
        method: HTTP method.
        content_type: ``Content-Type`` of the body.
        headers: extra request headers.
        concurrency: clients (hey ``-c``), >= 1.
        requests: total requests (hey ``-n``), >= ``concurrency``; hey sends
            ``requests // concurrency`` per client.
        max_seconds: time cap; hey is interrupted then and reports what it measured.
        samples_per_request: samples in one body, for ``samples_per_s``.
        request_timeout_s: hey's per-request timeout (``-t``), seconds.
        hey: the hey executable.

    Returns:
        The run's :class:`LoadResult`.

    Raises:
        ValueError: non-loopback URL or bad counts.
        FileNotFoundError: hey is not installed (Debian: ``apt-get install hey``).
        RuntimeError: hey failed or printed no CSV.
    """
    check_loopback(url)
    if concurrency < 1 or requests < concurrency:
        raise ValueError(f"need 1 <= concurrency <= requests, got {concurrency}, {requests}")
    if max_seconds <= 0:
        raise ValueError(f"max_seconds must be > 0, got {max_seconds}")
    exe = shutil.which(hey)
    if exe is None:
        raise FileNotFoundError(f"{hey!r} not found; install it (Debian: apt-get install hey)")
    with tempfile.TemporaryDirectory(prefix="loadgen-") as tmp:
        cmd = [exe, "-n", str(requests), "-c", str(concurrency), "-m", method.upper()]
        cmd += ["-t", str(request_timeout_s), "-o", "csv", "-T", content_type]
        for k, v in (headers or {}).items():
            cmd += ["-H", f"{k}: {v}"]
        if body is not None:
            if isinstance(body, bytes):
                path = Path(tmp) / "body"
                path.write_bytes(body)
            else:
                path = Path(body)
            cmd += ["-D", str(path)]
        out_path = Path(tmp) / "out.csv"
        with out_path.open("wb") as out:
            proc = subprocess.Popen([*cmd, url], stdout=out, stderr=subprocess.PIPE)
            completed = True
            try:
                _, err = proc.communicate(timeout=max_seconds)
            except subprocess.TimeoutExpired:
                completed = False
                proc.send_signal(signal.SIGINT)  # hey stops its clients and writes its CSV
                try:
                    _, err = proc.communicate(timeout=request_timeout_s + 10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                    raise RuntimeError(f"hey did not stop after SIGINT: {url}") from None
        if proc.returncode != 0:
            raise RuntimeError(f"hey exited {proc.returncode}: {err.decode(errors='replace')}")
        rows = parse_hey_csv(out_path.read_text())
    sent = (requests // concurrency) * concurrency
    return summarize(url, concurrency, sent, rows, samples_per_request, completed)


@contextlib.contextmanager
def bench_lock(path: str | os.PathLike[str] | None = BENCH_LOCK) -> Iterator[None]:
    """Hold the machine-wide benchmark lock (``flock(2)`` on ``path``, as ``flock(1)`` takes it).

    ``None`` takes nothing: for a caller already run under ``flock PATH ...``, whose lock
    this process would otherwise wait for forever. Prints a line while it waits.
    """
    if path is None:
        yield
        return
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for {path} (another benchmark holds it)", file=sys.stderr, flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("url")
    p.add_argument("-m", "--method", default="POST")
    p.add_argument("-D", "--body-file", type=Path, help="file holding the request body")
    p.add_argument("-T", "--content-type", default="application/json")
    p.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    p.add_argument("-c", "--concurrency", type=int, default=1)
    p.add_argument("-n", "--requests", type=int, default=1000)
    p.add_argument("--max-seconds", type=float, default=30.0)
    p.add_argument("--samples-per-request", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-lock", action="store_true", help=f"do not take {BENCH_LOCK}")
    args = p.parse_args(argv)
    headers = {}
    for h in args.header:
        name, sep, value = h.partition(":")
        if not sep:
            p.error(f"header must be 'Name: value', got {h!r}")
        headers[name.strip()] = value.strip()
    try:
        with bench_lock(None if args.no_lock else BENCH_LOCK):
            result = run_load(
                args.url,
                body=args.body_file,
                method=args.method,
                content_type=args.content_type,
                headers=headers,
                concurrency=args.concurrency,
                requests=args.requests,
                max_seconds=args.max_seconds,
                samples_per_request=args.samples_per_request,
            )
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"loadgen: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())


def wait_ready(proc: subprocess.Popen, log: Path, timeout: float = 120) -> str:
    """The base URL of an ``aezoo serve`` process once ``/health/ready`` answers 200: read
    from its ready line (``... at http://127.0.0.1:PORT``) in ``log``.

    Raises:
        RuntimeError: the process exited, or was not ready within ``timeout`` s (then killed);
            the message holds its log.
    """
    import re
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {log.read_text()}")
        match = re.search(r"at (http://127\.0\.0\.1:\d+)", log.read_text())
        if match:
            try:
                if httpx.get(match.group(1) + "/health/ready", timeout=2).status_code == 200:
                    return match.group(1)
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server not ready within {timeout:.0f} s: {log.read_text()}")
