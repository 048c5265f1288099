"""benchmarks/grpc_load.py's CPU accounting: psutil's times of a process and of its main
thread, and the per-request figures derived from them."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

import grpc_load as bench

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the main thread's id is the pid on Linux only"
)


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
    # The process spent both spins (0.6 s of thread CPU), its main thread one of them. The
    # kernel's per-process times are tick-sampled and ran 10-15% above the thread clocks
    # here under load, so the checks are on shares, not on exact sums.
    assert 54.0 <= use["server_ms"] <= 90.0  # about 600 ms over 10 "requests"
    assert use["client_ms"] == pytest.approx(use["server_ms"], abs=2.0)  # the same process
    wall = after[0] - before[0]
    main_share = use["loop_busy"] * wall / (use["server_ms"] * 10 / 1e3)
    assert main_share == pytest.approx(0.5, abs=0.1)  # the main thread's half, not all or none
    assert 0.0 <= use["idle_cores"] <= (os.cpu_count() or 1)
