"""`aezoo calibrate` end to end in a subprocess with a private AEZOO_HOME."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from tests.conftest import run_cli


def test_calibrate_cli_registers_a_version_and_refuses_a_bad_fpr(
    tiny_artifact: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "AEZOO_HOME": str(tmp_path / "home")}
    assert run_cli("register", str(tiny_artifact), env=env).returncode == 0
    data = tmp_path / "normal.npy"
    np.save(data, np.random.default_rng(0).random((300, 784), dtype=np.float32))
    ok = run_cli("calibrate", "sda-tiny", "--data", str(data), "--fpr", "0.02", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "registered sda-tiny@2" in ok.stdout and "fpr=0.02 on 300 rows" in ok.stdout
    cal = tmp_path / "home" / "registry" / "sda-tiny" / "versions" / "2" / "calibration.json"
    assert json.loads(cal.read_text())["fpr"] == 0.02
    assert (
        not cal.with_name("calibration.json")
        .parent.with_name("1")
        .joinpath("calibration.json")
        .exists()
    )
    bad = run_cli("calibrate", "sda-tiny", "--data", str(data), "--fpr", "0.9", env=env)
    assert bad.returncode != 0 and "fpr = 0.9" in bad.stderr and "Traceback" not in bad.stderr
