"""aezoo against the servers users would otherwise pick, serving the same ONNX encoder.

The bundled sda-mnist encoder (784 -> 200) is served on loopback at once by:
  aezoo       ``aezoo serve sda-mnist`` (v1 encode; OIP v2 too where the server has it)
  TorchServe  the .mar from ``aezoo export-torchserve`` (aezoo's handler, onnxruntime),
              batching: batch_size 32 requests, max_batch_delay 5 ms, 1 worker
  LitServe    benchmarks/peers/litserve_server.py, max_batch_size 32 requests,
              batch_timeout 5 ms (rows of all batched requests in one onnxruntime run)
  Triton      through PyTriton (benchmarks/peers/pytriton_server.py), dynamic batching,
              max_batch_size 1024 rows, max_queue_delay 1 ms
  floor       benchmarks/peers/asgi_floor.py: a bare Starlette app on aezoo's uvicorn
              settings (uvloop, httptools, 1 worker, no access log) that reads the body
              and answers a fixed .npy the size of aezoo's one-sample answer; measured in
              the single-sample scenarios only, where aezoo's req/s over its req/s is
              printed (target >= 0.5x at 1 and 64 clients)
  granian     benchmarks/peers/aezoo_granian.py: aezoo's own app on granian instead of
              uvicorn (not in the default list; ``--servers aezoo,granian``)
In the 1,024-sample scenario each round also times in-process ``aezoo.load().encode``
on the same batch (``--seconds`` of back-to-back calls, in this process, while the servers
idle), and aezoo's samples/s over that rate is printed (target >= 0.8x).
Each server gets requests in the best format it accepts (probed at start and printed
per row): aezoo v1 ``application/x-npy`` if accepted else JSON, aezoo OIP and Triton
the binary tensor extension, TorchServe ``.npy`` through aezoo's handler, LitServe JSON.
Every server runs onnxruntime on the CPU with its default intra-op threads.

Scenarios (closed loop, ``hey`` via benchmarks/loadgen.py): single sample at 1, 16 and
64 clients; 64-sample bodies at 8 clients; 1,024-sample bodies at 2 clients. Then the gRPC
rows (benchmarks/grpc_peers.py): aezoo's gRPC endpoint and Triton's (PyTriton's, beside its
HTTP), both driven by tritonclient.grpc, single sample at 1, 16 and 64 clients and
1,024-sample requests at 4 clients. Within a
scenario every arm is warmed up, then ``--rounds`` rounds run each arm in turn (the
order rotates per round), each run sized to last about ``--seconds``; the table gives
medians over rounds. Answers are first checked against onnxruntime in this process.

The whole run holds /tmp/aezoo-bench.lock (shared with every benchmark on this machine).
Peers come from ``benchmarks/peers/setup.sh``; a missing one is skipped and said so.

Usage:
  python benchmarks/serving_peers.py [--quick] [--rounds 3] [--seconds 5]
      [--servers aezoo,floor,torchserve,litserve,pytriton] [--grpc-scenarios 1,2,3,4]
      [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

import loadgen
import peer_profile
from grpc_peers import GRPC_SCENARIOS, run_grpc_scenarios
from peer_servers import Arm
from peer_setup import MODEL, start_servers

REPO = Path(__file__).resolve().parent.parent
ENCODER = REPO / "aezoo" / "pretrained" / "sda-mnist" / "onnx" / "encoder.onnx"
FLOOR = "floor"  # the bare-ASGI server's name (peer_setup.py)
IN_PROCESS = "in-process"
SCENARIOS = [  # (label, samples per request, clients)
    ("1 sample, 1 client", 1, 1),
    ("1 sample, 16 clients", 1, 16),
    ("1 sample, 64 clients", 1, 64),
    ("64 samples, 8 clients", 64, 8),
    ("1024 samples, 2 clients", 1024, 2),
]


def check_answers(arms: list[Arm], x: np.ndarray) -> dict[str, float]:
    """Largest |difference| from onnxruntime here, per arm; raises if any arm fails."""
    sess = ort.InferenceSession(str(ENCODER), providers=["CPUExecutionProvider"])
    want = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    diffs = {}
    for arm in arms:
        if arm.server == FLOOR:  # a fixed answer, no model
            continue
        status, got = arm.call(x)
        if not 200 <= status < 300 or not isinstance(got, np.ndarray):
            raise RuntimeError(f"{arm.name}: {status} {got}")
        diffs[arm.name] = float(np.abs(np.asarray(got).reshape(want.shape) - want).max())
    return diffs


class InProcess:
    """In-process ``aezoo.load("sda-mnist").encode`` on one batch: the rate a server's
    binary route is held against (onnxruntime's default threads, as ``aezoo serve``)."""

    def __init__(self, x: np.ndarray) -> None:
        import aezoo

        self.x, self.model = x, aezoo.load(MODEL)
        self.model.encode(x)  # warm-up
        self.rates: list[float] = []
        self.call_ms: list[float] = []

    def run(self, seconds: float) -> float:
        """Back-to-back calls for about ``seconds``; returns samples/s (kept per round)."""
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds or calls < 3:
            self.model.encode(self.x)
            calls += 1
        self.rates.append(calls * len(self.x) / elapsed)
        self.call_ms.append(elapsed / calls * 1e3)
        return self.rates[-1]

    def row(self, label: str, clients: int) -> dict[str, Any]:
        rows = len(self.x)
        rps = [r / rows for r in self.rates]
        ms = statistics.median(self.call_ms)
        return {
            "scenario": label,
            "rows": rows,
            "clients": clients,
            "arm": f"{IN_PROCESS} aezoo.load().encode",
            "server": IN_PROCESS,
            "format": "numpy",
            "rps": statistics.median(rps),
            "rps_range": [min(rps), max(rps)],
            "samples_per_s": statistics.median(self.rates),
            "p50_ms": ms,
            "p99_ms": ms,
            "failed": 0,
            "runs": [{"rps": r / rows, "samples_per_s": r} for r in self.rates],
        }


def run_scenario(
    arms: list[Arm],
    label: str,
    rows: int,
    clients: int,
    args: argparse.Namespace,
    tmp: Path,
    pids: dict[str, int],
) -> list[dict[str, Any]]:
    x = np.random.default_rng(rows).random((rows, 784), dtype=np.float32)
    arms = [a for a in arms if a.server != FLOOR or rows == 1]  # its answer is one sample's
    files = {}
    for i, arm in enumerate(arms):
        body, ctype, headers = arm.request(x)
        path = tmp / f"body-{rows}-{i}.bin"
        path.write_bytes(body)
        files[arm.name] = (path, ctype, headers)

    def run(arm: Arm, n: int, cap: float) -> loadgen.LoadResult:
        path, ctype, headers = files[arm.name]
        return loadgen.run_load(
            arm.url,
            body=path,
            content_type=ctype,
            headers=headers,
            concurrency=clients,
            requests=n,
            max_seconds=cap,
            samples_per_request=rows,
        )

    sizes = {}
    for arm in arms:  # warm up, and size the runs to last about --seconds
        warm = run(arm, max(clients * 10, 20 if rows == 1 else clients * 4), 10.0)
        rate = max(warm.rps, 1.0)
        n = int(rate * args.seconds) // clients * clients
        sizes[arm.name] = max(n, clients * 4)
    results: dict[str, list[loadgen.LoadResult]] = {arm.name: [] for arm in arms}
    local = InProcess(x) if rows >= 1024 else None
    for r in range(args.rounds):
        for arm in arms[r % len(arms) :] + arms[: r % len(arms)]:
            res = run(arm, sizes[arm.name], max(3 * args.seconds, 10.0))
            results[arm.name].append(res)
            print(f"  {label:<24} round {r + 1}  {arm.name:<12} {res.summary()}", flush=True)
        if local is not None:
            rate = local.run(args.seconds)
            print(
                f"  {label:<24} round {r + 1}  {IN_PROCESS:<12} {rate:,.0f} samples/s", flush=True
            )
    if args.profile:  # one more run per aezoo arm, sampled by py-spy, not in the table
        for arm in arms:
            if arm.server != "aezoo":
                continue
            raw = args.profile / f"{arm.name.replace(' ', '-')}-{rows}x{clients}.txt"
            spy = peer_profile.start(pids[arm.server], args.seconds, raw)
            run(arm, sizes[arm.name], max(3 * args.seconds, 10.0))
            _, err = spy.communicate(timeout=60)
            if spy.returncode != 0 or not raw.exists():
                print(f"  py-spy failed: {err.decode(errors='replace')[-500:]}")
                continue
            print(peer_profile.report(raw, f"{arm.name}, {label}"), flush=True)
    out = [local.row(label, clients)] if local is not None else []
    for arm in arms:
        runs = results[arm.name]
        out.append(
            {
                "scenario": label,
                "rows": rows,
                "clients": clients,
                "arm": arm.name,
                "server": arm.server,
                "format": arm.fmt,
                "rps": statistics.median(r.rps for r in runs),
                "rps_range": [min(r.rps for r in runs), max(r.rps for r in runs)],
                "samples_per_s": statistics.median(r.samples_per_s for r in runs),
                "p50_ms": statistics.median(r.p50_ms for r in runs),
                "p99_ms": statistics.median(r.p99_ms for r in runs),
                "failed": sum(r.answered - r.ok + (r.transport_errors or 0) for r in runs),
                "runs": [r.to_dict() for r in runs],
            }
        )
    return out


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "\n| scenario | server | format | req/s (min-max of rounds) | samples/s | p50 ms | "
        "p99 ms | failed | "
        "aezoo / best peer by throughput |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label, _, _ in SCENARIOS + GRPC_SCENARIOS:
        group = [r for r in rows if r["scenario"] == label]
        peers = [r for r in group if r["server"] not in ("aezoo", FLOOR, IN_PROCESS)]
        best = max(peers, key=lambda r: r["samples_per_s"], default=None)
        for r in group:
            ratio = ""
            if r["server"] == "aezoo" and best:
                ratio = (
                    f"{r['samples_per_s'] / best['samples_per_s']:.2f}x {best['arm']} "
                    f"(its p99 {best['p99_ms']:.1f} ms)"
                )
            print(
                f"| {label} | {r['arm']} | {r['format']} | {r['rps']:,.0f} "
                f"({r['rps_range'][0]:,.0f}-{r['rps_range'][1]:,.0f}) | "
                f"{r['samples_per_s']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                f"{r['failed']} | {ratio} |"
            )


def print_ratios(rows: list[dict[str, Any]]) -> None:
    """aezoo against the bare-ASGI floor (req/s, single sample) and against in-process
    encode (samples/s, 1,024 samples), each ratio from the same run's medians."""
    lines = []
    for label, _, _ in SCENARIOS:
        group = [r for r in rows if r["scenario"] == label]
        base = next((r for r in group if r["server"] in (FLOOR, IN_PROCESS)), None)
        if base is None:
            continue
        floor = base["server"] == FLOOR
        key, target = ("rps", 0.5) if floor else ("samples_per_s", 0.8)
        for r in group:
            if r["server"] != "aezoo":
                continue
            ratio = r[key] / base[key]
            lines.append(
                f"| {label} | {r['arm']} ({r['format']}) | {r[key]:,.0f} | {base['arm']} | "
                f"{base[key]:,.0f} | {ratio:.2f}x | >= {target}x: "
                f"{'met' if ratio >= target else 'not met'} |"
            )
    if lines:
        print("\n| scenario | aezoo arm | aezoo rate | against | its rate | ratio | target |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(lines))


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--servers", default="aezoo,floor,torchserve,litserve,pytriton")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5.0, help="target length of one run")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round of ~1 s runs")
    p.add_argument(
        "--scenarios", default="1,2,3,4,5", help="which scenarios, 1-based (default all)"
    )
    p.add_argument(
        "--grpc-scenarios",
        default="1,2,3,4",
        help="which gRPC scenarios (benchmarks/grpc_peers.py), 1-based; '' for none",
    )
    p.add_argument(
        "--torchserve-workers",
        type=int,
        default=0,
        help="TorchServe worker processes (default 0: TorchServe's own, one per core)",
    )
    p.add_argument("--peers-dir", type=Path, default=REPO / ".peers")
    p.add_argument("--json", type=Path, help="write every run here")
    p.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="after each scenario, sample aezoo with py-spy during one more run; "
        "raw stacks go to DIR, a summary is printed",
    )
    p.add_argument("--show", type=Path, metavar="JSON", help="print the table of a --json file")
    p.add_argument("--no-lock", action="store_true", help="caller already holds the lock")
    args = p.parse_args()
    if args.show:
        rows = json.loads(args.show.read_text())["results"]
        for r in rows:
            rps = [run["rps"] for run in r["runs"]]
            r.setdefault("rps_range", [min(rps), max(rps)])
        print_table(rows)
        print_ratios(rows)
        return 0
    if args.quick:
        args.rounds, args.seconds = 1, 1.0
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    with (
        loadgen.bench_lock(None if args.no_lock else loadgen.BENCH_LOCK),
        tempfile.TemporaryDirectory(prefix="serving-peers-") as tmpdir,
    ):
        tmp = Path(tmpdir)
        load_before = os.getloadavg()
        servers, arms, meta = start_servers(
            wanted,
            args.peers_dir,
            tmp,
            torchserve_workers=args.torchserve_workers,
            grpc=bool(args.grpc_scenarios.strip()),
        )
        try:
            pids = {s.name: s.proc.pid for s in servers if s.proc is not None}
            x = np.random.default_rng(7).random((3, 784), dtype=np.float32)
            meta["max_abs_diff_vs_onnxruntime"] = check_answers(arms, x)
            print("answers match onnxruntime:", meta["max_abs_diff_vs_onnxruntime"])
            rows = []
            for i, (label, n, clients) in enumerate(SCENARIOS, start=1):
                if str(i) not in args.scenarios.split(","):
                    continue
                rows += run_scenario(arms, label, n, clients, args, tmp, pids)
            if "pytriton" in wanted and "pytriton" not in meta["grpc"]:
                print("gRPC: no Triton (PyTriton) to compare with; aezoo gRPC rows only")
            wanted_grpc = [int(i) for i in args.grpc_scenarios.split(",") if i.strip()]
            rows += run_grpc_scenarios(meta["grpc"], args.rounds, args.seconds, wanted_grpc)
        finally:
            for s in servers:
                s.stop()
    print_table(rows)
    print_ratios(rows)
    meta.update(
        load_average_1_5_15_min={"start": load_before, "end": os.getloadavg()},
        args={k: str(v) for k, v in vars(args).items()},
        machine=f"{platform.machine()}, {platform.processor() or '?'}, 2 cores (shared with hey)",
        finished=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    print("\nversions:", json.dumps(meta["versions"]))
    print("load average (1, 5, 15 min):", meta["load_average_1_5_15_min"])
    if args.json:
        args.json.write_text(json.dumps({"_meta": meta, "results": rows}, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
