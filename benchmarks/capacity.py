"""The measured inputs of the capacity plan (docs/capacity.md): per core, per replica.

1. In-process, one core: every bundled model's ``encode`` through onnxruntime with one
   intra-op thread, batches of 1,024 rows (offline extraction) and of 1 row (one request
   at a time): rows/s, best of ``--repeats`` runs of at least 1 s each.
2. Over HTTP, one replica on one core: single-sample JSON ``encode`` requests (sda-mnist)
   from ``hey`` at several concurrencies against ``aezoo serve --threads 1`` (uvicorn)
   and ``aezoo serve --engine ray --replicas 1 --cpus-per-replica 1`` (Ray Serve):
   req/s, p50 and p99 latency. ``hey`` runs on the same 2 cores, so these are lower
   bounds of what a replica does on a core of its own. A third server,
   ``benchmarks/peers/ray_serve_floor.py``, is Ray Serve alone (a deployment that reads
   the body and answers fixed codes): the floor under any Ray Serve replica here.

Usage::

    python benchmarks/capacity.py [--seconds 5] [--concurrency 1 16 64] [--json out.json]

The run holds /tmp/aezoo-bench.lock (``--no-lock`` when run under ``flock`` already).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from loadgen import BENCH_LOCK, bench_lock, run_load
from peer_servers import Arm, ServerProcess, free_port, json_body

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aezoo.registry.store import BUNDLED_DIR  # noqa: E402
from aezoo.runtime.model import OnnxModel  # noqa: E402


def rows_per_second(fn: Any, x: np.ndarray, repeats: int, min_seconds: float = 1.0) -> float:
    """Best of ``repeats`` runs of ``fn(x)`` repeated for at least ``min_seconds``."""
    fn(x)  # warm-up: onnxruntime's arena and first-run allocations
    best = 0.0
    for _ in range(repeats):
        calls, t0 = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < min_seconds:
            fn(x)
            calls += 1
        best = max(best, calls * len(x) / elapsed)
    return best


def in_process(repeats: int) -> dict[str, dict[str, float]]:
    out = {}
    for path in sorted(p for p in BUNDLED_DIR.iterdir() if (p / "manifest.json").is_file()):
        model = OnnxModel(path, intra_op_threads=1)
        lo, hi = model.config.input.value_range
        x = np.random.default_rng(0).uniform(lo, hi, (1024, model.config.input.n_features))
        x = x.astype(np.float32)
        out[model.name] = {
            "n_features": model.config.input.n_features,
            "n_components": model.config.n_components,
            "rows_per_s_batch_1024": rows_per_second(model.encode, x, repeats),
            "rows_per_s_batch_1": rows_per_second(model.encode, x[:1], repeats),
        }
        print(f"{model.name}: {out[model.name]}", file=sys.stderr, flush=True)
    return out


def over_http(seconds: float, concurrencies: list[int], tmp: Path) -> dict[str, list[dict]]:
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    body = tmp / "one.json"
    body.write_bytes(json_body(x))
    env = {"PYTHONPATH": str(REPO), "AEZOO_HOME": str(tmp / "home")}
    aezoo = [sys.executable, "-m", "aezoo", "serve", "sda-mnist", "--log-level", "warning"]
    servers = {
        "uvicorn, 1 process, 1 thread": [*aezoo, "--threads", "1"],
        "Ray Serve, 1 replica, 1 CPU": [*aezoo, "--engine", "ray", "--replicas", "1"],
        "Ray Serve floor (body read, fixed answer), 1 replica, 1 CPU": [
            sys.executable, str(REPO / "benchmarks" / "peers" / "ray_serve_floor.py"),
        ],
    }  # fmt: skip
    out: dict[str, list[dict]] = {}
    for name, cmd in servers.items():
        port = free_port()
        url = f"http://127.0.0.1:{port}/v1/models/sda-mnist/encode"
        arm = Arm(name, name, url, "json")
        server = ServerProcess(name, [*cmd, "--port", str(port)], arm, tmp / f"{port}.log", env)
        server.start()
        try:
            server.wait_ready(x, timeout=300)
            out[name] = []
            for c in concurrencies:
                r = run_load(url, body=body, concurrency=c, requests=100_000, max_seconds=seconds)
                out[name].append({"concurrency": c, **r.to_dict()})
                print(f"{name}, {c} clients: {r.summary()}", file=sys.stderr, flush=True)
        finally:
            server.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seconds", type=float, default=5.0, help="length of one HTTP load run")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path)
    p.add_argument("--no-lock", action="store_true", help=f"do not take {BENCH_LOCK}")
    args = p.parse_args(argv)
    with bench_lock(None if args.no_lock else BENCH_LOCK), tempfile.TemporaryDirectory() as tmp:
        cores = in_process(args.repeats)
        http = over_http(args.seconds, args.concurrency, Path(tmp))
    print(f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")
    print("| model | input | code | rows/s per core, batch 1,024 | rows/s per core, batch 1 |")
    print("|---|---|---|---|---|")
    for name, r in cores.items():
        print(
            f"| {name} | {r['n_features']} | {r['n_components']} "
            f"| {r['rows_per_s_batch_1024']:,.0f} | {r['rows_per_s_batch_1']:,.0f} |"
        )
    print(
        "\n| server (sda-mnist encode, 1 sample per request) | clients | req/s | p50 ms | p99 ms |"
    )
    print("|---|---|---|---|---|")
    for name, runs in http.items():
        for r in runs:
            print(
                f"| {name} | {r['concurrency']} | {r['rps']:,.0f} "
                f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
            )
    if args.json:
        args.json.write_text(json.dumps({"in_process": cores, "http": http}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
