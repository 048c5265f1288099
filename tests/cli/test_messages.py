"""The CLI explains itself: one line and a non-zero exit for each mistake, at once.

Commands run in subprocesses; ``tests.cli.without`` hides packages (torch, fastapi)
the way an environment without the extra lacks them. A blocked torch also proves a
check ran before torch was imported: importing it would end the command with the
missing-extra message instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aezoo.training.recipe_help import KEYS_FILE, recipe_keys
from aezoo.training.recipes import list_recipes, read_recipe
from tests.conftest import REPO_ROOT


def aezoo(
    *args: str, without: str = "", home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``aezoo ARGS`` in a subprocess, with the packages in ``without`` hidden."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    if home is not None:
        env["AEZOO_HOME"] = str(home)
    prefix = ["-m", "tests.cli.without", without, "aezoo"] if without else ["-m", "aezoo"]
    return subprocess.run(
        [sys.executable, *prefix, *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# Every command whose code needs an extra, run with that extra's module hidden:
# (argv, hidden module, extra). tests/cli/test_without_extras.py runs the same in a real
# venv without the extras.
NEEDS_EXTRA = [
    (("train", "sda-mnist", "--data-dir", "nowhere"), "torch", "train"),
    (("train", "sda-mnist", "--set", "seed=3"), "torch", "train"),
    (("export", "runs/none"), "torch", "train"),
    (
        ("train-denoiser", "--data-dir", "../shared/data/denoising", "--steps", "1"),
        "torch",
        "train",
    ),
    (("serve", "--port", "0"), "fastapi", "serve"),
    (("serve",), "uvicorn", "serve"),
    (("serve", "--engine", "ray", "sda-mnist", "--port", "0"), "ray", "ray"),
    (("serve", "--grpc-port", "0", "--port", "0"), "grpc", "grpc"),
    (("extract", "sda-mnist", "X.npy", "codes/", "--engine", "ray"), "ray", "ray"),
    (("export-torchserve", "sda-mnist", "--to", "model-store"), "model_archiver", "torchserve"),
    (("denoise-images", "sda-mnist", "in/", "out/", "--sigma", "25"), "PIL", "data"),
]
# Commands that run on the core install alone (numpy, onnxruntime, huggingface_hub).
CORE_COMMANDS = {"evaluate", "models", "publish", "pull", "register", "alias", "calibrate"}
TORCH_CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"


def test_every_command_is_either_core_or_checked_without_its_extra() -> None:
    from aezoo.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    checked = {args[0] for args, _, _ in NEEDS_EXTRA}
    assert set(sub.choices) == checked | CORE_COMMANDS


@pytest.mark.parametrize("args,hidden,extra", NEEDS_EXTRA)
def test_a_missing_extra_is_one_line_and_exit_2(
    args: tuple[str, ...], hidden: str, extra: str, tmp_path: Path
) -> None:
    result = aezoo(*args, without=hidden, home=tmp_path)
    line = one_line(result)
    assert result.returncode == 2, line
    assert f"needs the [{extra}] extra" in line and f"({hidden} is not installed)" in line
    assert f"pip install 'aezoo[{extra}]'" in line and line.startswith(f"aezoo {args[0]}: error:")
    # torch itself: the CPU build first, or pip may fetch gigabytes of CUDA wheels
    torch_first = f"pip install torch==2.13.0 {TORCH_CPU_INDEX}), then pip install"
    assert (torch_first in line) == (extra in ("train", "torchserve")), line


def test_grpc_with_the_ray_engine_is_refused_in_one_line(tmp_path: Path) -> None:
    result = aezoo("serve", "--engine", "ray", "--grpc-port", "8001", home=tmp_path)
    line = one_line(result)
    assert result.returncode == 2 and "--grpc-port is not offered with --engine ray" in line


def test_from_pretrained_without_torch_names_the_extra() -> None:
    code = (
        "import aezoo\n"
        "try:\n    aezoo.from_pretrained('sda-mnist')\n"
        "except ImportError as e:\n    print(type(e).__name__, e.name, '|', e)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "tests.cli.without", "torch", "-c", code],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert out.startswith("MissingExtraError torch |"), out
    assert "aezoo.from_pretrained needs the [train] extra" in out and "aezoo[train]" in out


def test_list_shows_family_data_purpose_and_shipped_time_without_torch() -> None:
    result = aezoo("train", "--list", without="torch")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()}
    for name in list_recipes():
        assert name in rows, name
    assert rows["sda-mnist"].split()[1:3] == ["sda", "mnist"]
    assert rows["acai-lines"].split()[1:3] == ["conv-ae", "lines"]
    shipped = json.loads((REPO_ROOT / "aezoo/pretrained/sda-mnist/training.json").read_text())
    assert f"{shipped['train_seconds'] / 60:.1f} min" in rows["sda-mnist"]
    assert "stacked denoising autoencoder" in rows["sda-mnist"]
    assert rows["lista-sdl-mnist"].split()[3] == "-"  # no bundled model: no shipped time
    assert "needs the [train] extra" in result.stdout.splitlines()[-1]


def test_unknown_set_key_suggests_the_closest_before_torch() -> None:
    result = aezoo("train", "sda-mnist", "--set", "pretrain_epoch=1", without="torch")
    line = one_line(result)
    assert result.returncode == 1
    assert "unknown recipe --set key 'pretrain_epoch'" in line
    assert "did you mean 'pretrain_epochs'?" in line
    assert all(key in line for key in recipe_keys("sda"))  # every valid key is listed
    nested = one_line(aezoo("train", "drsae-mnist", "--set", "n_steps=3", without="torch"))
    assert "did you mean 'model.n_steps'?" in nested
    leaf = one_line(aezoo("train", "sda-mnist", "--set", "seed.value=3", without="torch"))
    assert "'seed' is a value, not a section" in leaf


def test_unknown_key_in_a_recipe_file(tmp_path: Path) -> None:
    recipe = {**read_recipe("sda-mnist"), "finetune_epoch": 3}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(recipe))
    result = aezoo("train", str(path), without="torch")
    assert result.returncode == 1
    assert "unknown recipe key 'finetune_epoch' for mine" in one_line(result)


def test_help_recipe_lists_every_key_with_value_default_and_meaning() -> None:
    result = aezoo("train", "sda-mnist", "--help-recipe", "--set", "seed=7", without="torch")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[2:] if line.strip()}
    for key, info in recipe_keys("sda").items():
        assert (f"{key}.*" if info["type"] == "section" else key) in rows, key
    assert rows["seed"].split()[1:3] == ["7", "*"]  # the override, marked as not the default
    assert "passes over the data" in rows["pretrain_epochs"]  # the config's comment
    assert rows["pretrain_epochs"].split()[1:3] == ["20", "*"]  # recipe 20, default 30


def test_help_names_data_and_cache_locations(tmp_path: Path) -> None:
    for command in ("train", "evaluate", "serve", "models", "pull"):
        result = aezoo(command, "--help", home=tmp_path)
        assert result.returncode == 0
        assert "AEZOO_HOME" in result.stdout and str(tmp_path) in result.stdout, command
    train = aezoo("train", "--help", home=tmp_path).stdout
    assert "AEZOO_DATA_DIR" in train and "AEZOO_CACHE_DIR" in train
    assert f"{tmp_path}/datasets/mnist" in train  # the cache follows AEZOO_HOME


def test_recipe_keys_file_matches_the_configs() -> None:
    pytest.importorskip("torch")
    from aezoo.training.recipe_help import build_keys

    assert json.loads(KEYS_FILE.read_text()) == json.loads(json.dumps(build_keys())), (
        "recipe_keys.json is stale: run python -m aezoo.training.recipe_help"
    )
