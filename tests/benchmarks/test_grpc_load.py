"""benchmarks/grpc_load.py's CPU accounting: /proc times of a process and of one of its
threads, and the per-request figures derived from them."""

from __future__ import annotations

import os
import threading
import time

import pytest

import grpc_load as bench

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_thread_seconds_tells_the_main_thread_from_the_process() -> None:
    pid = os.getpid()
    before = bench.cpu_snapshot(pid)
    _spin(0.3)  # the main thread (tid == pid) works
    worker = threading.Thread(target=_spin, args=(0.3,))
    worker.start()
    worker.join()
    after = bench.cpu_snapshot(pid)
    use = bench.cpu_use(before, after, requests=10)
    # the process spent both spins (0.6 s), its main thread one (0.3 s); /proc counts in
    # clock ticks (1/100 s here), so allow a few ticks either way
    assert use["server_ms"] == pytest.approx(60.0, abs=6.0)  # 600 ms over 10 "requests"
    assert use["client_ms"] == pytest.approx(60.0, abs=6.0)  # os.times() sees the same
    wall = after[0] - before[0]
    assert use["loop_busy"] == pytest.approx(0.3 / wall, abs=0.05)
    assert 0.0 <= use["idle_cores"] <= (os.cpu_count() or 1)
