"""Closed-loop gRPC load on a real aezoo server, against OIP REST binary in the same run.

Starts ``python -m aezoo.serving.server MODEL --port 0 --grpc-port 0`` on loopback (an
empty registry: the bundled model serves), then for each scenario runs ``clients`` threads,
each with its own ``tritonclient`` client, sending the next request as soon as the previous
answer arrives, for ``--seconds`` or ``--max-requests`` (whichever first). Scenarios:
single-sample ``codes`` at 1, 16 and 64 clients, and 1,024-sample requests at 4 clients;
each over gRPC (tritonclient.grpc, raw tensors) and REST (tritonclient.http, binary
tensors). Prints req/s, samples/s, p50 and p99 latency, and where the CPU went (psutil):
the server's CPU per request, the share of it on its event-loop thread (the
main thread: at 100% the loop is the bottleneck), this process's CPU per request (the
``tritonclient`` clients) and the cores left idle on the machine. A 1,024-sample request
that costs gRPC more CPU than REST shows up there even when the rates are level.

Usage::

    flock /tmp/aezoo-bench.lock nice -n 10 python benchmarks/grpc_load.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = [(1, 1), (1, 16), (1, 64), (1024, 4)]  # (samples per request, clients)


def start_server(model: str, home: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """The server process, its HTTP host:port and its gRPC host:port."""
    log = home / "server.log"
    cmd = [sys.executable, "-m", "aezoo.serving.server", model, "--host", "127.0.0.1",
           "--port", "0", "--grpc-port", "0", "--log-level", "warning",
           "--max-queue-time-ms", "0"]  # fmt: skip
    env = {**os.environ, "AEZOO_HOME": str(home), "PYTHONPATH": str(REPO)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = log.read_text()
        http = re.search(r"at http://(127\.0\.0\.1:\d+)", text)
        grpc = re.search(r"gRPC \(Open Inference Protocol\) at (\S+)", text)
        if http and grpc:
            return proc, http.group(1), grpc.group(1)
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{text}")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server not ready:\n{log.read_text()}")


def cpu_snapshot(server_pid: int) -> tuple[float, float, float, float, float]:
    """``(wall, server, server's main thread, this process, machine idle)`` in seconds, from
    psutil (the main thread's id is the process id on Linux)."""
    server = psutil.Process(server_pid)
    times = server.cpu_times()
    loop = next((t.user_time + t.system_time for t in server.threads() if t.id == server_pid), 0.0)
    mine = psutil.Process().cpu_times()
    machine = psutil.cpu_times()
    return (time.perf_counter(), times.user + times.system, loop, mine.user + mine.system,
            machine.idle + getattr(machine, "iowait", 0.0))  # fmt: skip


def cpu_use(
    before: tuple[float, ...], after: tuple[float, ...], requests: float
) -> dict[str, float]:
    """Server and client CPU ms per request, the loop thread's busy share, idle cores."""
    wall, server, loop, client, idle = (b - a for a, b in zip(before, after, strict=True))
    per = 1e3 / max(requests, 1.0)
    return {"server_ms": server * per, "loop_busy": loop / wall, "client_ms": client * per,
            "idle_cores": idle / wall}  # fmt: skip


def run(protocol: str, address: str, model: str, samples: int, clients: int,
        seconds: float, max_requests: int, server_pid: int | None = None) -> dict[str, float]:  # fmt: skip
    """One closed-loop run: req/s, samples/s, p50 and p99 latency (ms), answered requests
    ``n`` and ``failed`` ones (errors, not in the latencies); with ``server_pid`` also
    :func:`cpu_use` over the timed part."""
    if protocol == "grpc":
        import tritonclient.grpc as tc
    else:
        import tritonclient.http as tc  # type: ignore[no-redef]
    x = np.random.default_rng(0).random((samples, 784), dtype=np.float32)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failed = [0] * clients
    stop = time.perf_counter() + seconds
    per_client = max(1, max_requests // clients)
    barrier = threading.Barrier(clients + 1)

    def loop(i: int) -> None:
        kw = {"concurrency": 1} if protocol == "http" else {}
        client = tc.InferenceServerClient(address, **kw)
        tensor = tc.InferInput("inputs", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x)
        out = [tc.InferRequestedOutput("codes")]
        with contextlib.suppress(Exception):  # refused (e.g. RESOURCE_EXHAUSTED): runs count theirs
            client.infer(model, [tensor], outputs=out)  # connect, warm
        barrier.wait()
        mine = latencies[i]
        while len(mine) < per_client and time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                client.infer(model, [tensor], outputs=out).as_numpy("codes")
            except Exception:  # tritonclient's InferenceServerException: counted, not timed
                failed[i] += 1
                continue
            mine.append(time.perf_counter() - t0)
        client.close()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    cpu0 = cpu_snapshot(server_pid) if server_pid is not None else None
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu = cpu_use(cpu0, cpu_snapshot(server_pid), sum(map(len, latencies))) if cpu0 else {}
    lat = np.concatenate([np.asarray(m) for m in latencies])
    return {
        "req_s": lat.size / wall,
        "samples_s": lat.size * samples / wall,
        "p50_ms": float(np.percentile(lat, 50) * 1e3),
        "p99_ms": float(np.percentile(lat, 99) * 1e3),
        "n": float(lat.size),
        "failed": float(sum(failed)),
        **cpu,
    }


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default="sda-mnist")
    p.add_argument("--seconds", type=float, default=5.0, help="length of one run (s)")
    p.add_argument("--max-requests", type=int, default=200_000, help="requests per run, at most")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, http, grpc = start_server(args.model, Path(tmp))
        try:
            print(
                "| samples/request | clients | protocol | req/s | samples/s | p50 ms | p99 ms "
                "| requests | server CPU ms/req | loop busy | client CPU ms/req | idle cores |"
            )
            print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for samples, clients in SCENARIOS:
                for protocol, address in (("grpc", grpc), ("http", http)):
                    r = run(protocol, address, args.model, samples, clients, args.seconds,
                            args.max_requests, proc.pid)  # fmt: skip
                    name = "gRPC (raw)" if protocol == "grpc" else "REST binary"
                    print(f"| {samples} | {clients} | {name} | {r['req_s']:,.0f} | "
                          f"{r['samples_s']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                          f"{r['n']:.0f} | {r['server_ms']:.3f} | {r['loop_busy']:.0%} | "
                          f"{r['client_ms']:.3f} | {r['idle_cores']:.2f} |", flush=True)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
