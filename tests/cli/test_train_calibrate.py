"""`aezoo train FAMILY --data` calibrates the anomaly threshold on the held-out test split by
default (as `aezoo calibrate` would), --no-calibrate leaves it out, and a case that cannot
be calibrated is said on stderr without failing the run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import aezoo
from aezoo.data.sources import load_source
from aezoo.runtime.calibration import data_hash
from tests.conftest import run_cli

TINY = ("--set", "pretrain_epochs=1", "--set", "finetune_epochs=1")


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,200 rows of 6 features near a 2-d plane: a test split (10%) of 120 rows, >= 99."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1200, 2)) @ rng.standard_normal((2, 6))
    path = tmp_path_factory.mktemp("table") / "plane.npy"
    np.save(path, X.astype(np.float32))
    return path


def _train(table: Path, tmp_path: Path, *extra: str) -> tuple[Path, str, str]:
    env = {**os.environ, "AEZOO_HOME": str(tmp_path / "home")}
    run_dir = tmp_path / "run"
    proc = run_cli("train", "sda", "--data", str(table), "--quiet", "--no-register",
                   "--run-dir", str(run_dir), *TINY, *extra, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return run_dir / "artifact", proc.stdout, proc.stderr


def test_train_calibrates_on_the_test_split_by_default(table: Path, tmp_path: Path) -> None:
    artifact, out, _ = _train(table, tmp_path)
    cal = json.loads((artifact / "calibration.json").read_text())
    X_test = load_source(str(table), seed=0).splits["test"][0]  # the split training held out
    n_test = json.loads((artifact / "training.json").read_text())["data"]["rows"]["test"]
    assert cal["rows"] == n_test == len(X_test) > 0
    assert cal["data_sha256"] == data_hash(X_test) and cal["fpr"] == 0.01
    assert "test split of plane.npy" in cal["source"]
    model = aezoo.load(str(artifact))  # the manifest lists it: the artifact verifies
    assert model.score(X_test)["threshold"] == cal["threshold"]
    assert f"calibrated: threshold {cal['threshold']:.6g} at fpr=0.01 on {n_test}" in out
    assert f"Threshold {cal['threshold']:.6g}" in (artifact / "README.md").read_text()


def test_no_calibrate_leaves_scores_without_threshold(table: Path, tmp_path: Path) -> None:
    artifact, out, _ = _train(table, tmp_path, "--no-calibrate")
    assert not (artifact / "calibration.json").exists() and "calibrated" not in out
    assert aezoo.load(str(artifact)).score(np.zeros((2, 6), np.float32))["threshold"] is None


def test_too_few_test_rows_is_said_and_training_goes_on(table: Path, tmp_path: Path) -> None:
    # fpr 0.001 needs 999 calibration rows; the test split has ~120
    artifact, _, err = _train(table, tmp_path, "--calibrate-fpr", "0.001")
    assert "not calibrated" in err and "too few" in err and "Traceback" not in err
    assert (artifact / "manifest.json").is_file() and not (artifact / "calibration.json").exists()


def test_bad_fpr_is_refused_before_training_and_help_explains(tmp_path: Path) -> None:
    env = {**os.environ, "AEZOO_HOME": str(tmp_path / "home")}
    bad = run_cli("train", "sda", "--data", "nowhere.npy", "--calibrate-fpr", "0.9", env=env)
    assert bad.returncode != 0 and "--calibrate-fpr = 0.9" in bad.stderr
    assert "Traceback" not in bad.stderr
    text = " ".join(run_cli("train", "--help", env=env).stdout.split())
    assert "--calibrate-fpr FPR" in text and "--no-calibrate" in text
    assert "held-out test split" in text and "Default 0.01" in text


@pytest.mark.slow
def test_a_recipe_is_calibrated_on_its_data_sets_test_split(tmp_path: Path) -> None:
    """The recipe path (no --data): ae-lines on 128 lines, one epoch, a 2-channel net (~45 s
    on a loaded 2-core machine, most of it the 5,000 test lines' evaluation)."""
    env = {**os.environ, "AEZOO_HOME": str(tmp_path / "home")}
    proc = run_cli("train", "ae-lines", "--set", "n_train=128", "--set", "epochs=1",
                   "--set", "model.depth=2", "--set", "model.latent_channels=2",
                   "--set", "val_samples=16", "--no-register", "--run-dir", str(tmp_path / "r"),
                   "--quiet", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cal = json.loads((tmp_path / "r" / "artifact" / "calibration.json").read_text())
    from aezoo.data.datasets import LINES_TEST

    assert cal["rows"] == LINES_TEST and cal["source"] == "the lines test split (5,000 rows)"
