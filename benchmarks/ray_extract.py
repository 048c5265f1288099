"""Ray Data extraction against single-process ``aezoo extract`` on one 200,000 x 784 file.

Each arm is the real command in a fresh process, on the same float32 ``.npy`` file
(real MNIST test images, tiled to ``--rows``):

  local            aezoo extract MODEL X.npy Z.npy                (onnxruntime: every core)
  local 1 thread   aezoo extract ... --threads 1
  ray N actor(s)   aezoo extract MODEL X.npy DIR --engine ray --actors N   (a local cluster)
  --warm           one more arm: the second of two jobs run in one cluster (no start-up);
                   its wall time and memory cover both jobs

Measured per arm: wall time of the command; for Ray, the cluster start it reports and
the rows/s after it (reading, the actors, writing Parquet); the throughput ratio to
``local``; and peak memory: the largest sum of PSS (proportional set size: shared
pages split among the processes that map them, so Ray's object store counts once)
over the command's whole process tree (driver, raylet, GCS, workers), sampled every
0.1 s from /proc (Linux only). Codes are checked against the local arm's.

Usage::

    python benchmarks/ray_extract.py [--rows 200000] [--actors 1 2] [--warm] [--json out.json]

The run holds /tmp/aezoo-bench.lock (``--no-lock`` when run under ``flock`` already).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from loadgen import BENCH_LOCK, bench_lock

REPO = Path(__file__).resolve().parents[1]
MNIST = Path(os.environ.get("AEZOO_DATA_DIR", REPO.parent / "shared" / "data" / "mnist"))


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(d))
    return kids


def tree_pss_mib(root: int) -> float:
    """Sum of PSS (MiB) over ``root`` and all its descendants, now."""
    kids, todo, total = _children(), [root], 0
    while todo:
        pid = todo.pop()
        todo += kids.get(pid, [])
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += int(re.search(r"^Pss:\s+(\d+) kB", text, re.M).group(1))
    return total / 1024


def run_sampled(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``cmd``; return (wall seconds, peak tree PSS MiB, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    peak, done = 0.0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.1):
            peak = max(peak, tree_pss_mib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{err[-3000:]}")
    return wall, peak, out


def make_source(path: Path, rows: int) -> None:
    """(rows, 784) float32: the 10,000 MNIST test images / 255, tiled."""
    sys.path.insert(0, str(REPO))
    from aezoo.data.mnist import read_idx

    images = read_idx(MNIST / "t10k-images-idx3-ubyte.gz").reshape(-1, 784)
    x = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, 784))
    for start in range(0, rows, len(images)):
        stop = min(start + len(images), rows)
        x[start:stop] = images[: stop - start].astype(np.float32) / np.float32(255)
    x.flush()


def read_codes(dest: Path) -> np.ndarray:
    if dest.suffix == ".npy":
        return np.load(dest, mmap_mode="r")
    import pyarrow.parquet as pq

    return np.stack(pq.read_table(dest, columns=["codes"]).column("codes").to_numpy(False))


def warm_run(model: str, src: str, dest: str, actors: int, batch_size: int) -> None:
    """Two jobs in one local cluster; print the second's summary (a cluster that stays up)."""
    import ray

    sys.path.insert(0, str(REPO))
    from aezoo.extract.ray_job import extract_with_ray

    ray.init(include_dashboard=False, num_cpus=(os.cpu_count() or 1) + 1, logging_level="ERROR")
    try:
        for i in range(2):
            r = extract_with_ray(
                model, src, f"{dest}-{i}", actors=actors, batch_size=batch_size, progress=False
            )
    finally:
        ray.shutdown()  # at exit a worker of the last job was seen to outlive its cluster
    print(f"second job: {r.n_samples} rows in {r.seconds:.2f} s (cluster start 0.00 s; "
          f"{r.rows_per_second:,.0f} rows/s after it)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--model", default="sda-mnist")
    p.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--no-lock", action="store_true", help=f"do not take {BENCH_LOCK}")
    p.add_argument("--warm", action="store_true", help="add a second job in a running cluster")
    p.add_argument("--warm-run", nargs=2, metavar=("SRC", "DEST"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.warm_run:
        warm_run(args.model, *args.warm_run, args.actors[0], args.batch_size)
        return 0
    aezoo = [sys.executable, "-m", "aezoo", "extract", args.model]
    env = {**os.environ, "PYTHONPATH": str(REPO), "AEZOO_HOME": tempfile.mkdtemp()}
    rows: dict[str, dict[str, Any]] = {}
    with bench_lock(None if args.no_lock else BENCH_LOCK), tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "x.npy"
        make_source(src, args.rows)
        arms = [("local", [], "z.npy"), ("local 1 thread", ["--threads", "1"], "z1.npy")]
        arms += [
            (f"ray {n} actor{'s' * (n > 1)}", ["--engine", "ray", "--actors", str(n)], f"ray{n}")
            for n in args.actors
        ]
        if args.warm:
            arms.append(("ray 1 actor, second job in a running cluster", ["warm"], "warm"))
        reference = None
        for name, extra, out in arms:
            dest = Path(tmp) / out
            cmd = [*aezoo, str(src), str(dest), "--batch-size", str(args.batch_size), "--quiet"]
            cmd += extra
            if extra == ["warm"]:  # wall time and memory then cover both jobs
                cmd = [sys.executable, __file__, "--warm-run", str(src), str(dest), "--actors", "1"]
                dest = Path(f"{dest}-1")
            wall, peak, stdout = run_sampled(cmd, env)
            start = re.search(r"cluster start ([\d.]+) s", stdout)
            row = {"wall_s": wall, "peak_pss_mib": peak, "summary": stdout.strip()}
            row["start_s"] = float(start.group(1)) if start else 0.0
            after = re.search(r"([\d,]+) rows/s", stdout).group(1).replace(",", "")
            row["rows_per_s_after_start"] = float(after)
            row["rows_per_s_wall"] = args.rows / wall
            codes = read_codes(dest)
            if reference is None:
                reference = np.array(codes)
            row["max_abs_diff"] = float(np.abs(codes - reference).max())
            rows[name] = row
            print(f"{name}: {stdout.strip()}", file=sys.stderr, flush=True)
    base = rows["local"]
    print(f"\n{args.rows:,} x 784 float32 ({args.rows * 784 * 4 / 2**20:.0f} MiB), {args.model}, "
          f"batch {args.batch_size}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print("| arm | wall s | cluster start s | rows/s (wall) | rows/s after start | x local (wall) "
          "| x local (after start) | peak PSS MiB (all processes) | max abs diff |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        both = name.startswith("ray 1 actor, second")  # its wall time covers two jobs
        wall = "n/a" if both else f"{r['rows_per_s_wall']:,.0f}"
        ratio = "n/a" if both else f"{r['rows_per_s_wall'] / base['rows_per_s_wall']:.2f}"
        print(
            f"| {name} | {r['wall_s']:.1f} | {r['start_s']:.1f} | {wall} "
            f"| {r['rows_per_s_after_start']:,.0f} | {ratio} "
            f"| {r['rows_per_s_after_start'] / base['rows_per_s_after_start']:.2f} "
            f"| {r['peak_pss_mib']:,.0f} | {r['max_abs_diff']:.1g} |"
        )
    if args.json:
        meta = {"_args": vars(args) | {"json": str(args.json)}, "_cores": os.cpu_count()}
        args.json.write_text(json.dumps({**meta, **{k: [v] for k, v in rows.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
