"""Overload with default flags (issue 25, item 4): many concurrent single-sample clients.

Starts ``python -m aezoo.serving.server`` (no model named: every bundled model, as
``aezoo serve`` does, from an empty ``AEZOO_HOME``) on 127.0.0.1 once per arm, and drives
``sda-mnist``'s encode route closed-loop with ``benchmarks/loadgen.py`` (hey): ``--clients``
clients each sending one-sample JSON bodies (the bundled ``samples.json``'s first image) as
fast as answers come back, for ``--seconds`` (and at most ``--requests``). Meanwhile one
more client sends the same request every 20 ms and records whether each 429 carried
``Retry-After``, and ``/health/live`` is polled every 100 ms.

Arms: ``default`` (no flags) and, for comparison, each ``--arm "NAME=FLAGS"`` (e.g.
``"no deadline=--max-queue-time-ms 0"``).

Per arm: answers by status, p50/p99 of the 200s, p99 of every answer (429s included), the
429s counted by ``aezoo_rejections_total{reason}`` and ``aezoo_queue_timeouts_total``,
whether every sampled 429 had ``Retry-After``, the slowest ``/health/live``.

Usage (the machine's other benchmarks hold the same lock)::

    python benchmarks/overload.py --clients 256,768 --seconds 6 \\
        --arm "no deadline=--max-queue-time-ms 0" [--json runs/overload.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from loadgen import BENCH_LOCK, LoadResult, bench_lock, run_load, wait_ready

REPO = Path(__file__).resolve().parents[1]
MODEL = "sda-mnist"
PATH = f"/v1/models/{MODEL}/encode"
JSON = {"content-type": "application/json"}


def start_server(args: list[str], home: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m aezoo.serving.server ARGS`` on a free loopback port; waits for ready."""
    env = {**os.environ, "AEZOO_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "aezoo.serving.server", "--port", "0", *args]
    cmd += ["--log-level", "warning"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, wait_ready(proc, log)


class Probe:
    """In a thread: one encode request every 20 ms (did each 429 carry Retry-After?) and
    one ``/health/live`` every 100 ms (its latency)."""

    def __init__(self, url: str, body: bytes) -> None:
        self.url, self.body = url, body
        self.health_ms: list[float] = []
        self.health_failed = 0
        self.sampled_429 = 0
        self.retry_after_missing = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as c:
            while not self._stop.wait(0.02):
                for _ in range(5):
                    try:
                        r = c.post(self.url + PATH, content=self.body, headers=JSON)
                    except httpx.HTTPError:
                        continue  # hey's numbers count transport errors; this only samples 429s
                    if r.status_code == 429:
                        self.sampled_429 += 1
                        self.retry_after_missing += "retry-after" not in r.headers
                    if self._stop.wait(0.02):
                        return
                start = time.perf_counter()
                try:
                    ok = c.get(f"{self.url}/health/live").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.health_ms.append((time.perf_counter() - start) * 1e3)
                self.health_failed += not ok

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def metric_values(url: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of every sample of ``name`` in ``/metrics``."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(rf"^{name}\{{(.*?)\}} (\S+)$", text, flags=re.MULTILINE)
    }


def run_arm(
    flags: list[str], clients: int, body: bytes, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    proc, url = start_server(flags, home, tmp / "server.log")
    try:
        warm = run_load(url + PATH, body=body, concurrency=4, requests=200, max_seconds=5)
        assert warm.ok > 0, warm.summary()
        with Probe(url, body) as probe:
            result: LoadResult = run_load(
                url + PATH, body=body, concurrency=clients, requests=args.requests,
                max_seconds=args.seconds, request_timeout_s=30,
            )  # fmt: skip
        means = {
            what: _mean(url, f"aezoo_{what}_seconds") for what in ("queue", "request_duration")
        }
        rejections = metric_values(url, "aezoo_rejections_total")
        timeouts = metric_values(url, "aezoo_queue_timeouts_total")
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "load": result.to_dict(),
        "rejections": rejections,
        "queue_timeouts": sum(timeouts.values()),
        "sampled_429": probe.sampled_429,
        "retry_after_missing": probe.retry_after_missing,
        "health_max_ms": max(probe.health_ms, default=float("nan")),
        "health_failed": probe.health_failed,
        "mean_queue_ms": means["queue"],
        "mean_server_ms": means["request_duration"],
    }


def _mean(url: str, histogram: str) -> float:
    """Mean in ms of the encode route's ``histogram`` (``_sum / _count``) in /metrics."""
    key = f'model="{MODEL}",operation="encode"'
    total = metric_values(url, histogram + "_sum").get(key, 0.0)
    count = metric_values(url, histogram + "_count").get(key, 0.0)
    return 1e3 * total / count if count else float("nan")


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print(
        "| clients (1 sample each) x arm | answers | 200 | 429 | other | "
        "ok req/s | p50 ms (200s) | p99 ms (200s) | p99 ms (all) | 429s by reason | "
        "sampled 429s with Retry-After | slowest /health/live ms | "
        "server-side mean ms: in queue / whole request |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for arm, r in results.items():
        load = r["load"]
        counts = {int(k): v for k, v in load["status_counts"].items()}
        other = sum(v for k, v in counts.items() if k not in (200, 429))
        reasons = ", ".join(
            f"{k.removeprefix('reason=').strip(chr(34))} {v:,.0f}"
            for k, v in r["rejections"].items()
            if v
        )
        print(
            f"| {arm} | {load['answered']:,} | {counts.get(200, 0):,} | {counts.get(429, 0):,} | "
            f"{other:,} | {load['rps']:,.0f} | {load['p50_ms']:.1f} | {load['p99_ms']:.1f} | "
            f"{load['p99_any_ms']:.1f} | {reasons or '-'} | "
            f"{r['sampled_429'] - r['retry_after_missing']} of {r['sampled_429']} | "
            f"{r['health_max_ms']:.0f} | {r['mean_queue_ms']:.1f} / {r['mean_server_ms']:.1f} |"
        )


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--clients",
        type=lambda s: [int(c) for c in s.split(",")],
        default=[256],
        help="concurrent clients; a comma-separated list runs every arm at each (default 256)",
    )
    p.add_argument("--seconds", type=float, default=10.0, help="time cap of each arm's load")
    p.add_argument("--requests", type=int, default=200_000, help="request cap of each arm")
    p.add_argument("--arm", action="append", default=[], help="'NAME=FLAGS' (repeatable)")
    p.add_argument(
        "--cpus",
        type=lambda s: {int(c) for c in s.split(",")},
        help="run everything (server, hey, probes) on these CPUs only, e.g. 0: one core of "
        "two, a busy machine's share, to see the limits when the load needs more CPU",
    )
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--no-lock", action="store_true", help=f"do not take {BENCH_LOCK}")
    args = p.parse_args()
    arms = {"default": []}
    for spec in args.arm:
        name, sep, flags = spec.partition("=")
        if not sep:
            p.error(f"--arm must be 'NAME=FLAGS', got {spec!r}")
        arms[name.strip()] = shlex.split(flags)
    samples = json.loads((REPO / "aezoo/pretrained" / MODEL / "samples.json").read_text())
    body = json.dumps({"inputs": samples["inputs"][:1]}).encode()
    results: dict[str, dict[str, Any]] = {}
    if args.cpus:
        os.sched_setaffinity(0, args.cpus)  # inherited by the server and hey
    with bench_lock(None if args.no_lock else BENCH_LOCK), tempfile.TemporaryDirectory() as tmp:
        print(f"load average before: {os.getloadavg()}", file=sys.stderr)
        for clients in args.clients:
            for name, flags in arms.items():
                key = f"{clients} x {name}"
                results[key] = run_arm(flags, clients, body, args, Path(tmp))
                results[key] |= {"flags": flags, "clients": clients}
                print(f"{key}: {LoadResult(**_load_fields(results[key]['load'])).summary()}",
                      file=sys.stderr)  # fmt: skip
        print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _load_fields(d: dict[str, Any]) -> dict[str, Any]:
    return {**d, "status_counts": {int(k): v for k, v in d["status_counts"].items()}}


if __name__ == "__main__":
    sys.exit(main())
