"""Serving engine benchmark (issue 12): dynamic batching, binary bodies, JSON bodies.

Starts this checkout's server (``python -m aezoo.serving.server sda-mnist``) and the
pre-change server (a ``git archive`` of ``--baseline-ref``, default d5ea1d4, run from its
own directory with the same interpreter), both on 127.0.0.1, and drives them closed-loop
with ``benchmarks/loadgen.py`` (hey). Every arm is measured ``--repeats`` times,
interleaved, and its median run reported. Inputs are real MNIST test images.

Rows (targets from issue 12):
  single x1 / x64   one-sample JSON encode at 1 and 64 clients; x64 >= 1.3x x1, and the
                    mean formed batch during the x64 run >= 4 (from /metrics)
  npy 1024          1,024-sample application/x-npy encode bodies answered in .npy
                    (``Accept: application/x-npy``), 2 clients, against
                    in-process aezoo.load("sda-mnist").encode at batch 1,024 (>= 50%)
  oip 1024          the same images as one Open Inference Protocol v2 request with binary
                    tensors in and out (what tritonclient.http sends), 2 clients (issue 13)
  json 1024         1,024-sample JSON encode bodies, 2 clients, against the same on the
                    pre-change server (>= 2x)
  overhead          aezoo.load(...).encode at batch 1 against a raw onnxruntime session on
                    the same graph (<= 1.10x), interleaved rounds: one thread each in CPU
                    time, and onnxruntime's default threads in wall time
  health            the slowest /health/live answer, polled every 100 ms during x64 (< 1 s)

Usage (wrap it in the shared lock; the machine has 2 cores):
  flock /tmp/aezoo-bench.lock python benchmarks/serving_engine.py --json serving_engine.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort

import aezoo
from aezoo.data.mnist import load_mnist

from loadgen import LoadResult, run_load, wait_ready

REPO = Path(__file__).resolve().parents[1]
MODEL = "sda-mnist"


def start_server(tree: Path, args: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m aezoo.serving.server MODEL ARGS`` from ``tree`` on a free port; waits for ready."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "aezoo.serving.server", MODEL, "--port", "0", *args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, wait_ready(proc, log)


def baseline_tree(ref: str, root: Path) -> Path:
    """The repository at ``ref``, unpacked with ``git archive`` (cached under ``root``)."""
    out = root / f"aezoo-{ref}"
    if not (out / "aezoo" / "serving" / "server.py").is_file():
        out.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return out


def batch_stats(url: str) -> tuple[float, float]:
    """(sum, count) of aezoo_batch_size for sda-mnist encode, from /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = {}
    for kind in ("sum", "count"):
        m = re.search(rf'aezoo_batch_size_{kind}{{model="{MODEL}",operation="encode"}} (\S+)', text)
        found[kind] = float(m.group(1)) if m else 0.0
    return found["sum"], found["count"]


def in_process_rate(x: np.ndarray, repeats: int) -> float:
    """samples/s of aezoo.load(MODEL).encode at batch len(x), median of ``repeats`` x 10 calls."""
    m = aezoo.load(MODEL)
    m.encode(x)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(10):
            m.encode(x)
        rates.append(10 * len(x) / (time.perf_counter() - start))
    return median(rates)


def call_overhead(
    x1: np.ndarray, threads: int, rounds: int = 15, calls: int = 2000
) -> dict[str, float]:
    """Per-call time of aezoo.load(MODEL).encode vs a raw onnxruntime session on the same
    graph at batch 1, interleaved rounds, medians. ``threads`` = 1: both single-threaded and
    timed in CPU time of the calling thread (robust to other load on the machine);
    0: onnxruntime's default threads, timed in wall time."""
    m = aezoo.load(MODEL, intra_op_threads=threads)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    raw = ort.InferenceSession(
        str(m.path / "onnx" / "encoder.onnx"), opts, providers=["CPUExecutionProvider"]
    )
    feed = {raw.get_inputs()[0].name: x1}
    clock = time.thread_time if threads == 1 else time.perf_counter
    ratios, t_raw, t_aezoo = [], [], []
    for _ in range(300):
        raw.run(None, feed), m.encode(x1)
    for _ in range(rounds):
        start = clock()
        for _ in range(calls):
            raw.run(None, feed)
        mid = clock()
        for _ in range(calls):
            m.encode(x1)
        end = clock()
        t_raw.append((mid - start) / calls * 1e6)
        t_aezoo.append((end - mid) / calls * 1e6)
        ratios.append(t_aezoo[-1] / t_raw[-1])
    return {
        "threads": threads,
        "raw_us": median(t_raw),
        "aezoo_us": median(t_aezoo),
        "ratio": median(ratios),
    }


def print_overhead(overhead: list[dict[str, float]]) -> None:
    for o in overhead:
        how = "1 thread, CPU time" if o["threads"] == 1 else "default threads, wall time"
        print(
            f"per-call at batch 1 ({how}): raw onnxruntime {o['raw_us']:.1f} us, "
            f"aezoo.load().encode {o['aezoo_us']:.1f} us, ratio {o['ratio']:.3f} (target <= 1.10)"
        )


class HealthProbe:
    """GET /health/live every 100 ms in a thread while a load runs; keeps the latencies."""

    def __init__(self, url: str) -> None:
        self.url, self.ms, self._stop = url, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as c:
            while not self._stop.wait(0.1):
                start = time.perf_counter()
                c.get(f"{self.url}/health/live").raise_for_status()
                self.ms.append((time.perf_counter() - start) * 1e3)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)


def load(
    url: str,
    body: Path,
    ctype: str,
    clients: int,
    n: int,
    seconds: float,
    samples: int,
    path: str = f"/v1/models/{MODEL}/encode",
    headers: dict[str, str] | None = None,
) -> LoadResult:
    return run_load(
        f"{url}{path}", body=body, content_type=ctype, concurrency=clients, requests=n,
        max_seconds=seconds, samples_per_request=samples, headers=headers,
    )  # fmt: skip


def oip_binary_body(x: np.ndarray) -> tuple[bytes, int]:
    """An Open Inference Protocol request with ``x`` as a binary FP32 tensor and binary
    codes asked for (what tritonclient.http sends); returns the body and its JSON length."""
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "inputs", "shape": list(x.shape), "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()  # fmt: skip
    return head + np.ascontiguousarray(x, dtype="<f4").tobytes(), len(head)


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--baseline-ref", default="d5ea1d4")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10.0, help="time cap of each load run")
    p.add_argument("--server-args", default="", help="extra flags for this checkout's server")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument(
        "--overhead-only",
        action="store_true",
        help="measure only the per-call overhead at batch 1 (no servers; about 30 s)",
    )
    args = p.parse_args()

    X, _ = load_mnist("test", os.environ.get("AEZOO_DATA_DIR"))
    work = Path(tempfile.mkdtemp(prefix="serving-engine-"))
    bodies = {"one": work / "one.json", "json": work / "b1024.json", "npy": work / "b1024.npy"}
    bodies["one"].write_text(json.dumps({"inputs": X[:1].tolist()}))
    bodies["json"].write_text(json.dumps({"inputs": X[:1024].tolist()}))
    buf = io.BytesIO()
    np.save(buf, X[:1024])
    bodies["npy"].write_bytes(buf.getvalue())
    bodies["oip"] = work / "b1024.oip"
    oip_body, oip_head = oip_binary_body(X[:1024])
    bodies["oip"].write_bytes(oip_body)
    oip_headers = {"Inference-Header-Content-Length": str(oip_head)}

    overhead = [call_overhead(X[:1].copy(), threads) for threads in (1, 0)]
    if args.overhead_only:
        print_overhead(overhead)
        return 0
    servers = {
        "new": start_server(
            REPO, ["--log-level", "warning", *args.server_args.split()], work / "new.log"
        ),
        "old": start_server(
            baseline_tree(args.baseline_ref, work), ["--log-level", "warning"], work / "old.log"
        ),
    }
    runs: dict[str, list[dict[str, Any]]] = {
        k: []
        for k in (
            "single1",
            "single64",
            "npy1024",
            "oip1024",
            "inproc1024",
            "json1024",
            "json1024_old",
        )
    }
    url = servers["new"][1]
    try:
        for _ in range(args.repeats):
            s = args.seconds
            runs["single1"].append(
                load(url, bodies["one"], "application/json", 1, 20000, s, 1).to_dict()
            )
            before = batch_stats(url)
            with HealthProbe(url) as probe:
                r = load(url, bodies["one"], "application/json", 64, 40000, s, 1).to_dict()
            after = batch_stats(url)
            r["health_live_max_ms"] = max(probe.ms, default=float("nan"))
            r["mean_formed_batch"] = (after[0] - before[0]) / max(1.0, after[1] - before[1])
            runs["single64"].append(r)
            runs["npy1024"].append(
                load(
                    url, bodies["npy"], "application/x-npy", 2, 2000, s, 1024,
                    headers={"Accept": "application/x-npy"},
                ).to_dict()
            )  # fmt: skip
            runs["oip1024"].append(
                load(
                    url, bodies["oip"], "application/octet-stream", 2, 2000, s, 1024,
                    f"/v2/models/{MODEL}/infer", oip_headers,
                ).to_dict()
            )  # fmt: skip
            runs["inproc1024"].append({"samples_per_s": in_process_rate(X[:1024], 3)})
            runs["json1024"].append(
                load(url, bodies["json"], "application/json", 2, 1000, s, 1024).to_dict()
            )
            old = servers["old"][1]
            runs["json1024_old"].append(
                load(old, bodies["json"], "application/json", 2, 1000, s, 1024).to_dict()
            )
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(30)

    def med(arm: str) -> dict[str, Any]:
        rows = sorted(runs[arm], key=lambda r: r["samples_per_s"])
        return rows[len(rows) // 2]

    m = {arm: med(arm) for arm in runs}
    table = [
        ("single-sample encode, 1 client", m["single1"], None, ""),
        (
            "single-sample encode, 64 clients",
            m["single64"],
            m["single64"]["rps"] / m["single1"]["rps"],
            ">= 1.3x 1 client",
        ),
        (
            "npy 1,024-sample encode, 2 clients",
            m["npy1024"],
            m["npy1024"]["samples_per_s"] / m["inproc1024"]["samples_per_s"],
            ">= 0.5x in-process",
        ),
        (
            "OIP v2 binary 1,024-sample infer, 2 clients",
            m["oip1024"],
            m["oip1024"]["samples_per_s"] / m["inproc1024"]["samples_per_s"],
            "(x in-process)",
        ),
        ("in-process encode, batch 1,024", m["inproc1024"], None, ""),
        (
            "JSON 1,024-sample encode, 2 clients",
            m["json1024"],
            m["json1024"]["samples_per_s"] / m["json1024_old"]["samples_per_s"],
            ">= 2x pre-change",
        ),
        (f"JSON 1,024-sample, pre-change ({args.baseline_ref})", m["json1024_old"], None, ""),
    ]
    print(
        f"\nmedian of {args.repeats} interleaved runs; 2-core machine shared with the load generator\n"
    )
    print("| arm | req/s | samples/s | p50 ms | p99 ms | ratio | target |")
    print("|---|---|---|---|---|---|---|")
    for name, row, ratio, target in table:
        cells = [f"{row['rps']:,.0f}" if "rps" in row else "", f"{row['samples_per_s']:,.0f}"]
        cells += [f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}"] if "p50_ms" in row else ["", ""]
        print(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {'' if ratio is None else f'{ratio:.2f}x'} | {target} |"
        )
    print(
        f"\nmean formed batch at 64 clients: {m['single64']['mean_formed_batch']:.1f} samples (target >= 4)"
    )
    worst = max(r["health_live_max_ms"] for r in runs["single64"])
    print(f"/health/live during the 64-client runs: slowest answer {worst:.1f} ms (target < 1,000)")
    print_overhead(overhead)
    print(f"onnxruntime providers available: {ort.get_available_providers()}")
    if args.json:
        out = {
            "_args": vars(args) | {"json": str(args.json)},
            "_overhead": overhead,
            "_providers": ort.get_available_providers(),
            **runs,
        }
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
