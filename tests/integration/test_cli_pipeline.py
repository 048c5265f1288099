"""The CLI end to end on real MNIST: train a tiny recipe, register, list, evaluate, export."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_cli

pytestmark = pytest.mark.integration
TINY = [
    "--set",
    "model.hidden_sizes=[32,16]",
    "--set",
    "pretrain_epochs=1",
    "--set",
    "finetune_epochs=1",
    "--set",
    "max_train_samples=1500",
    "--set",
    "name=sda-cli",
]


def aezoo(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AEZOO_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}
    proc = run_cli(*args, env=env)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> tuple[Path, Path]:
    home, run = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("run")
    aezoo(
        "train",
        "sda-mnist",
        *TINY,
        "--data-dir",
        str(mnist_dir),
        "--run-dir",
        str(run),
        "--quiet",
        home=home,
    )
    return home, run


def test_train_builds_and_registers_a_complete_artifact(trained: tuple[Path, Path]) -> None:
    home, run = trained
    art = home / "registry" / "sda-cli" / "versions" / "1"
    for rel in (
        "config.json",
        "model.safetensors",
        "onnx/encoder.onnx",
        "onnx/decoder.onnx",
        "onnx/classifier.onnx",
        "README.md",
        "training.json",
        "manifest.json",
        "figures/filters.png",
        "figures/reconstructions.png",
        "figures/interpolation.png",
    ):
        assert (art / rel).is_file(), rel
    card = (art / "README.md").read_text()
    assert "library_name: aezoo" in card and "datasets:" in card and "model-index" in card
    record = json.loads((art / "training.json").read_text())
    assert record["recipe"]["model"]["hidden_sizes"] == [32, 16]
    assert len(record["data_fingerprint"]) == 64 and 0 <= record["metrics"]["test_error_pct"] <= 100
    assert (run / "checkpoint.pt").is_file()


def test_models_lists_and_evaluate_measures(trained: tuple[Path, Path], mnist_dir: Path) -> None:
    home, _ = trained
    listing = aezoo("models", home=home).stdout
    line = next(ln for ln in listing.splitlines() if ln.startswith("sda-cli"))
    assert " 1 " in line and "sda" in line and "classify" in line
    rows = json.loads(aezoo("models", "--json", home=home).stdout)
    assert {"sda-cli", "sda-mnist"} <= {r["name"] for r in rows}
    metrics = json.loads(
        aezoo("evaluate", "sda-cli", "--data-dir", str(mnist_dir), "--json", home=home).stdout
    )
    assert metrics["n_samples"] == 5000 and 0 <= metrics["test_error_pct"] <= 100
    assert metrics["recon_psnr_db"] > 0


@pytest.mark.slow  # over 8 s: the README test command stays under 6 minutes
def test_export_rebuilds_from_the_checkpoint(
    trained: tuple[Path, Path], tmp_path: Path, mnist_dir: Path
) -> None:
    home, run = trained
    out = tmp_path / "re-exported"
    aezoo(
        "export", str(run), "--to", str(out), "--data-dir", str(mnist_dir), "--register", home=home
    )
    assert (out / "manifest.json").is_file()
    assert (home / "registry" / "sda-cli" / "versions" / "2").is_dir()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["train", "sda-mnist", "--set", "lerning_rate=1"], "lerning_rate"),
        (["train", "no-such-recipe"], "unknown recipe"),
        (["train", "sda-mnist", "--data-dir", "/nonexistent/mnist"], "/nonexistent/mnist"),
        (["evaluate", "no-such-model"], "no model named 'no-such-model'"),
        (["serve", "no-such-model", "--port", "0"], "no-such-model"),
    ],
)
def test_cli_errors_are_one_line_and_nonzero(tmp_path: Path, args: list[str], needle: str) -> None:
    proc = aezoo(*args, home=tmp_path, check=False)
    assert proc.returncode != 0
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_help_explains_every_command(tmp_path: Path) -> None:
    text = aezoo("--help", home=tmp_path).stdout
    for cmd in ("train", "evaluate", "export", "models", "serve"):
        assert cmd in text
    assert "--port" in aezoo("serve", "--help", home=tmp_path).stdout
    assert "--resume" in aezoo("train", "--help", home=tmp_path).stdout
