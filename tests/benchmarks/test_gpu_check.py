"""benchmarks/gpu_check.py: its CPU half runs and passes here (no GPU in CI), covers every
bundled model, and a parity difference beyond the tolerance fails the check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gpu_check
import numpy as np
import pytest

from aezoo.registry.store import BUNDLED_DIR
from tests.conftest import REPO_ROOT

BUNDLED = sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / "manifest.json").is_file())


@pytest.mark.slow  # over 8 s: the README test command stays under 6 minutes
def test_cpu_half_runs_every_check(tmp_path: Path) -> None:
    env = {**os.environ, "AEZOO_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--tiny", "--json", str(tmp_path / "r.json")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    gpu, _ = gpu_check.cuda_usable()
    if not gpu:
        assert out.stdout.startswith("no CUDA GPU usable here: ")
        assert "running the CPU half only" in out.stdout.splitlines()[0]
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ")][1:]
    checks = [r.split(" | ")[0].removeprefix("| ") for r in rows]
    assert {"provider", "parity", "encode", "http", "train"} <= set(checks)
    parity = [r for r in rows if r.startswith("| parity |")]
    for name in BUNDLED:
        op = (
            "denoise_image"
            if (BUNDLED_DIR / name / "onnx" / "denoiser.onnx").is_file()
            else "encode"
        )
        assert any(f"| ok | {name} {op}" in r for r in parity), name
    assert all("| ok |" in r for r in parity)
    assert sum(r.startswith("| encode | cpu |") for r in rows) == 3  # batch 1, 8, 32
    assert (tmp_path / "r.json").is_file()
    assert out.stdout.splitlines()[-1].endswith(" s; all checks passed")


def test_a_step_that_raises_is_a_failed_row_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object) -> list[dict[str, str]]:
        raise RuntimeError("server exited 1: CUDA was requested but onnxruntime runs it on CPU")

    monkeypatch.setattr(gpu_check, "encode_rows", lambda *a: [])
    monkeypatch.setattr(gpu_check, "http_rows", broken)
    monkeypatch.setattr(gpu_check, "train_rows", lambda *a: [])
    assert gpu_check.main(["--tiny"]) == 1
    out = capsys.readouterr().out
    http = [line for line in out.splitlines() if line.startswith("| http |")]
    assert len(http) == 1 and "| FAIL | RuntimeError: server exited 1: CUDA was" in http[0]
    assert out.splitlines()[-1].endswith(" s; FAILED")


def test_a_difference_beyond_the_tolerance_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    compute = gpu_check.OnnxModel.compute

    def off_by_one_sample(self, op, x):  # type: ignore[no-untyped-def]
        y = compute(self, op, x)
        return y + np.float32(0.01) if len(x) == 1 else y  # sda-mnist atol: 3.7e-4

    monkeypatch.setattr(gpu_check.OnnxModel, "compute", off_by_one_sample)
    rows, ok = gpu_check.parity_rows(gpu=False)
    assert not ok
    sda = [r for r in rows if r["detail"].startswith("sda-mnist encode")]
    assert sda and sda[0]["result"] == "FAIL" and "> " in sda[0]["detail"]
