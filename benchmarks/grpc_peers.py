"""The gRPC rows of ``benchmarks/serving_peers.py``: aezoo's OIP gRPC endpoint against
Triton's (PyTriton serves gRPC beside its HTTP, on its HTTP port + 1), the same model
(the bundled sda-mnist encoder), in the same run, with ``tritonclient.grpc`` as the client
for both (closed loop, one client per thread, raw tensors: :func:`grpc_load.run`).

Scenarios: single-sample ``codes`` at 1, 16 and 64 clients; 1,024-sample requests at 4
clients. Each arm is warmed up, then ``rounds`` rounds run each arm in turn (the order
rotates per round); rows give medians over rounds, in serving_peers' row format.
"""

from __future__ import annotations

import statistics
from typing import Any

import grpc_load

MODEL = "sda-mnist"
GRPC_SCENARIOS = [  # (label, samples per request, clients)
    ("gRPC: 1 sample, 1 client", 1, 1),
    ("gRPC: 1 sample, 16 clients", 1, 16),
    ("gRPC: 1 sample, 64 clients", 1, 64),
    ("gRPC: 1024 samples, 4 clients", 1024, 4),
]
ARM_NAMES = {"aezoo": "aezoo gRPC", "pytriton": "Triton gRPC"}
FORMAT = "raw tensors (tritonclient.grpc)"
MAX_REQUESTS = 1_000_000  # runs end on time


def run_grpc_scenarios(
    addresses: dict[str, str], rounds: int, seconds: float, wanted: list[int]
) -> list[dict[str, Any]]:
    """Rows for the wanted scenarios (1-based) over every server in ``addresses``
    (server name -> host:port of its gRPC endpoint)."""
    out: list[dict[str, Any]] = []
    servers = list(addresses)
    for i, (label, rows, clients) in enumerate(GRPC_SCENARIOS, start=1):
        if i not in wanted or not servers:
            continue
        results: dict[str, list[dict[str, float]]] = {s: [] for s in servers}
        for s in servers:  # warm up: connections, the batcher, onnxruntime's buffers
            grpc_load.run("grpc", addresses[s], MODEL, rows, clients, 1.0, MAX_REQUESTS)
        for r in range(rounds):
            for s in servers[r % len(servers) :] + servers[: r % len(servers)]:
                res = grpc_load.run("grpc", addresses[s], MODEL, rows, clients, seconds,
                                    MAX_REQUESTS)  # fmt: skip
                results[s].append(res)
                print(f"  {label:<30} round {r + 1}  {ARM_NAMES[s]:<12} "
                      f"{res['req_s']:,.0f} req/s, p50 {res['p50_ms']:.2f} ms, "
                      f"p99 {res['p99_ms']:.2f} ms, failed {res['failed']:.0f}", flush=True)  # fmt: skip
        for s in servers:
            runs = results[s]
            out.append(
                {
                    "scenario": label,
                    "rows": rows,
                    "clients": clients,
                    "arm": ARM_NAMES[s],
                    "server": s,
                    "format": FORMAT,
                    "rps": statistics.median(r["req_s"] for r in runs),
                    "rps_range": [min(r["req_s"] for r in runs), max(r["req_s"] for r in runs)],
                    "samples_per_s": statistics.median(r["samples_s"] for r in runs),
                    "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                    "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                    "failed": int(sum(r["failed"] for r in runs)),
                    "runs": runs,
                }
            )
    return out
