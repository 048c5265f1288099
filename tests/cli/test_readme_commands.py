"""README.md's shell commands are true: each line of its ```bash blocks runs here verbatim,
or :data:`ELSEWHERE` names the test that runs it or why no test can.

The cheap lines run in README order, in one scratch directory laid out as the README
assumes (``../shared/data/mnist`` beside the checkout, an ``X.npy``, an artifact directory
at ``path/to/artifact``), with a private ``AEZOO_HOME``; each must exit 0, and
:data:`CHECKS` holds what each must have done.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tests.integration.test_readme_own_data import bash_lines as own_data_lines
from tests.integrations.mlflow.test_readme import section_lines as mlflow_lines

pytestmark = pytest.mark.integration

README = REPO_ROOT / "README.md"
TORCHSERVE_LINE = "aezoo export-torchserve sda-mnist --to model_store"
# Run here, in this order (a line's text without its trailing `# comment`).
RUN_HERE = [
    "aezoo extract sda-mnist ../shared/data/mnist codes.npy",
    "aezoo extract sda-mnist X.npy codes.npy --batch-size 4096",
    "aezoo train --list",
    "aezoo train sda-mnist --help-recipe",
    "aezoo evaluate sda-mnist --data-dir ../shared/data/mnist",
    "aezoo models",
    "aezoo register path/to/artifact --name sda-mnist --alias staging",
    "aezoo alias sda-mnist production 2",
    "aezoo alias sda-mnist production bundled",
    "aezoo models sda-mnist",
]
_SLOW_SERVE = "serves until interrupted; tests/serving/test_server_process.py runs `aezoo serve`"
_TRAIN = "trains for minutes to hours; tests/training runs the trainers on tiny settings"
_HUB = "needs a Hugging Face account and network; tests/hub/test_cli.py runs it on a fake Hub"
_RAY = "needs [ray] and a cluster; tests/extract/test_ray_data.py, test_ray_serve.py (slow)"
ELSEWHERE = {
    'curl -s -X POST "http://127.0.0.1:8000/v1/models/lista-denoiser-bsd/denoise?sigma=25" \\': (
        "tests/serving/test_photo_server.py posts PNG and JPEG bodies with ?sigma= to a real server"
    ),
    '-H "Content-Type: image/png" --data-binary @noisy.png -o denoised.png': "the same",
    '-H "Content-Type: image/jpeg" -H "Accept: application/x-npy" --data-binary @noisy.jpg '
    "-o denoised.npy": "the same (JPEG in, .npy out)",
    "aezoo denoise-images lista-denoiser-bsd photos/ denoised/ --sigma 25": (
        "tests/extract/test_denoise_images.py runs the command over a folder"
    ),
    'python3 -m venv .venv && .venv/bin/pip install -q -e ".[serve]" && .venv/bin/aezoo serve': (
        "a fresh venv, then serves until interrupted: tests/cli/test_without_extras.py (slow) "
        "installs [serve] alone and runs `aezoo serve` from it"
    ),
    'python3 -m venv .venv && .venv/bin/pip install -q torch==2.13.0 -e ".[train,serve,dev]" '
    "&& .venv/bin/python -m pytest -q": ".ci/run (step tests) runs it verbatim",
    "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu": "installs",
    'pip install -e ".[train]"': "installs",
    TORCHSERVE_LINE: "test_readme_export_torchserve_line below (needs [torchserve])",
    "torchserve --start --ncs --disable-token-auth --model-store model_store --models "
    "sda-mnist=sda-mnist.mar": (
        "tests/serving/test_torchserve_server.py (slow) starts TorchServe with this line's flags"
    ),
    "aezoo train sda-mnist --data-dir ../shared/data/mnist": _TRAIN,
    "aezoo train sda-mnist --set seed=1 --set pretrain_epochs=5 --data-dir ../shared/data/mnist "
    "--run-dir runs/quick": _TRAIN,
    "aezoo train sda-mnist --resume --data-dir ../shared/data/mnist": _TRAIN,
    "aezoo train sda-mnist --data-dir ../shared/data/mnist --export-to aezoo/pretrained/sda-mnist": (
        _TRAIN
    ),
    "aezoo train drsae-mnist --data-dir ../shared/data/mnist "
    "--export-to aezoo/pretrained/drsae-mnist": _TRAIN,
    "aezoo train lista-vdl-mnist --set epochs=100 --set select_checkpoint=last "
    "--data-dir ../shared/data/mnist --export-to aezoo/pretrained/lista-vdl-mnist": _TRAIN,
    "aezoo train ae-lines --set epochs=10 --export-to aezoo/pretrained/ae-lines": _TRAIN,
    "aezoo train acai-lines --set epochs=10 --export-to aezoo/pretrained/acai-lines": _TRAIN,
    "aezoo train lista-vdl-patches --set epochs=20": _TRAIN,
    "aezoo serve sda-mnist@2 path/to/artifact --port 8080": _SLOW_SERVE,
    "aezoo serve sda-mnist@bundled": _SLOW_SERVE,
    "aezoo extract sda-mnist X.npy codes/ --engine ray --actors 2": _RAY,
    "aezoo extract sda-mnist pngs/ labels/ --engine ray --operation classify": _RAY,
    "aezoo extract sda-mnist shards/ codes/ --engine ray --format npy --address auto": _RAY,
    "aezoo serve --engine ray sda-mnist --replicas 4": _RAY,
    "aezoo serve --engine ray --autoscale 1:8": _RAY,
    "export HF_TOKEN=...": _HUB,
    "aezoo publish sda-mnist --repo-id ORG/sda-mnist": _HUB,
    "aezoo pull hf-hub:ORG/sda-mnist@v1": _HUB,
    "aezoo serve hf-hub:ORG/sda-mnist": _HUB,
    "HF_HUB_OFFLINE=1 aezoo serve hf-hub:ORG/sda-mnist": _HUB,
}


# The "Your own data" section: tests/integration/test_readme_own_data.py (slow) runs its
# blocks as written, aezoo serve on a free port and the curl lines against it.
OWN_DATA = "tests/integration/test_readme_own_data.py (slow) runs the section's blocks"
ELSEWHERE.update(dict.fromkeys(own_data_lines(), OWN_DATA))
# The "MLflow" section: tests/integrations/mlflow/test_readme.py runs its block verbatim.
MLFLOW = "tests/integrations/mlflow/test_readme.py runs the section's block verbatim ([mlflow])"
ELSEWHERE.update(dict.fromkeys(mlflow_lines(), MLFLOW))


def readme_commands() -> list[str]:
    """Every command line of README.md's ```bash blocks, without its trailing comment."""
    blocks = re.findall(r"^```bash\n(.*?)^```", README.read_text(), flags=re.S | re.M)
    lines = (line.strip() for block in blocks for line in block.splitlines())
    return [re.sub(r"\s+#\s.*$", "", line) for line in lines if line and not line.startswith("#")]


def _codes_shape(n: int) -> Callable[[Path, str], None]:
    def check(cwd: Path, out: str) -> None:
        assert np.load(cwd / "codes.npy").shape == (n, 200)

    return check


def _history(cwd: Path, out: str) -> None:
    assert re.search(r"production", out) and re.search(r"staging", out), out
    assert "bundled" in out and re.search(r"\b2\b", out), out


CHECKS: dict[str, Callable[[Path, str], None]] = {
    RUN_HERE[0]: _codes_shape(5000),  # the README: MNIST test images -> (5000, 200)
    RUN_HERE[1]: _codes_shape(64),
    RUN_HERE[2]: lambda cwd, out: None if "sda-mnist" in out else pytest.fail(out),
    RUN_HERE[3]: lambda cwd, out: None if "pretrain_epochs" in out else pytest.fail(out),
    RUN_HERE[4]: lambda cwd, out: None if "denoise_gain_db" in out else pytest.fail(out),
    RUN_HERE[9]: _history,
}


def test_every_readme_command_is_run_or_accounted_for() -> None:
    commands = readme_commands()
    unaccounted = [c for c in commands if c not in RUN_HERE and c not in ELSEWHERE]
    assert not unaccounted, f"README commands no test runs: {unaccounted}"
    gone = [c for c in [*RUN_HERE, *ELSEWHERE] if c not in commands]
    assert not gone, f"no longer in README.md: {gone}"


def _scratch(tmp_path: Path, mnist_dir: Path) -> tuple[Path, dict[str, str]]:
    """A checkout-like cwd with ``../shared/data/mnist``, ``X.npy``, ``path/to/artifact``."""
    cwd = tmp_path / "work" / "aezoo"
    (tmp_path / "work" / "shared" / "data").mkdir(parents=True)
    (tmp_path / "work" / "shared" / "data" / "mnist").symlink_to(mnist_dir)
    cwd.mkdir()
    rng = np.random.default_rng(0)
    np.save(cwd / "X.npy", rng.random((64, 784), dtype=np.float32))
    shutil.copytree(REPO_ROOT / "aezoo" / "pretrained" / "sda-mnist", cwd / "path/to/artifact")
    env = {
        **os.environ,
        "AEZOO_HOME": str(tmp_path / "home"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("AEZOO_DATA_DIR", None)  # the commands name their data themselves
    return cwd, env


def test_readme_commands_run_verbatim(tmp_path: Path, mnist_dir: Path) -> None:
    cwd, env = _scratch(tmp_path, mnist_dir)
    for command in RUN_HERE:
        result = subprocess.run(
            ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"{command}: {result.stderr[-2000:]}"
        CHECKS.get(command, lambda cwd, out: None)(cwd, result.stdout)


def test_readme_export_torchserve_line(tmp_path: Path) -> None:
    pytest.importorskip("model_archiver", reason="needs the [torchserve] extra")
    env = {**os.environ, "AEZOO_HOME": str(tmp_path / "home")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-c", TORCHSERVE_LINE], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "model_store" / "sda-mnist.mar").is_file()
    assert "--disable-token-auth" in result.stdout  # its printed serve line says so too
