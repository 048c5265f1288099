"""The LISTA family through the pipeline: recipe -> trained -> scored artifact -> aezoo evaluate."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aezoo.registry.store import LocalStore
from tests.conftest import REPO_ROOT, run_cli

pytestmark = pytest.mark.integration
TINY = ["--set", "epochs=1", "--set", "max_train_samples=1000", "--set", "model.n_components=32"]


def _run(*args: str, home: Path) -> str:
    env = {**os.environ, "AEZOO_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}
    proc = run_cli(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.slow  # over 8 s: the README test command stays under 6 minutes
@pytest.mark.parametrize("recipe", ["lista-vdl-mnist", "lista-sdl-nl-mnist"])
def test_lista_recipe_trains_registers_and_evaluates(
    recipe: str, tmp_path: Path, mnist_dir: Path
) -> None:
    extra = ["--set", "model.nl_hidden=64"] if "nl" in recipe else []
    _run(
        "train",
        recipe,
        *TINY,
        *extra,
        "--data-dir",
        str(mnist_dir),
        "--run-dir",
        str(tmp_path / "run"),
        "--quiet",
        home=tmp_path,
    )
    art = LocalStore(root=tmp_path / "registry").resolve(recipe).path  # after the bundled one
    assert art.parent.parent.parent == tmp_path / "registry"
    training = json.loads((art / "training.json").read_text())
    card = training["metrics"]
    for key in (
        "code_zero_pct",
        "collapsed_components",
        "gaussian_denoised_psnr_db",
        "probe100_accuracy_pct",
        "pixels_probe100_accuracy_pct",
        "probe_accuracy_pct",
    ):
        assert key in card, key
    first = training["history"][0]  # the progress terms reach the history
    assert 0 < first["zero_pct"] < 100 and first["psnr"] > 0 and first["fista_steps"] >= 1
    assert (art / "figures" / "filters.png").is_file()
    got = json.loads(
        _run("evaluate", recipe, "--data-dir", str(mnist_dir), "--json", home=tmp_path)
    )
    # the served graphs reproduce the card's numbers (same function, same noise)
    assert got["n_samples"] == 5000
    assert got["code_zero_pct"] == pytest.approx(card["code_zero_pct"], abs=0.05)
    assert got["recon_psnr_db"] == pytest.approx(card["recon_psnr_db"], abs=0.01)
    assert got["gaussian_denoised_psnr_db"] == pytest.approx(
        card["gaussian_denoised_psnr_db"], abs=0.01
    )
    assert got["pixels_probe100_accuracy_pct"] == card["pixels_probe100_accuracy_pct"]


@pytest.mark.slow  # over 8 s: the README test command stays under 6 minutes
def test_lista_on_patches_declares_the_lcn_input_range(tmp_path: Path) -> None:
    recipe = {
        "family": "lista",
        "name": "lista-patches-tiny",
        "dataset": "patches",
        "model": {
            "n_components": 16,
            "input_mean": 0.0,
            "input_std": 1.0,
            "value_range": [-8.0, 8.0],
            "preprocessing": "LCN patches",
        },
        "epochs": 1,
        "max_train_samples": 500,
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(recipe))
    _run("train", str(path), "--run-dir", str(tmp_path / "run"), "--quiet", home=tmp_path)
    art = tmp_path / "registry" / "lista-patches-tiny" / "versions" / "1"
    config = json.loads((art / "config.json").read_text())
    assert config["input"]["value_range"] == [-8.0, 8.0]
    training = json.loads((art / "training.json").read_text())
    assert training["dataset"] == "patches" and "code_zero_pct" in training["metrics"]
    got = json.loads(_run("evaluate", str(art), "--json", home=tmp_path))
    assert got["recon_psnr_db"] == pytest.approx(training["metrics"]["recon_psnr_db"], abs=0.01)
