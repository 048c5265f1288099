"""benchmarks/asgi_inprocess.py drives the real apps in process: every replayed request is
answered 200 (the script stops otherwise) and the table has each arm with a CPU time."""

from __future__ import annotations

import re

import pytest

import asgi_inprocess as bench


def test_the_table_has_every_arm_and_their_cpu_times(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--requests", "20", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    for arm in ("floor", "aezoo v1", "aezoo OIP", "model"):
        row = re.search(rf"^\| {arm} \| ([0-9.]+) ", out, re.M)
        assert row is not None, out
        assert float(row.group(1)) > 0
    assert re.search(
        r"^\| aezoo v1 \| [0-9.]+ \([0-9.]+-[0-9.]+\) \| [0-9]+\.[0-9]+x \|$", out, re.M
    )
