"""The real thing: a venv with only ``aezoo[serve,sklearn]`` (no torch).

Building the venv takes about a minute (pip, from its cache where warm), so these
tests are slow; ``tests/cli/test_messages.py`` covers the same cases quickly with the
packages hidden instead of absent.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.test_messages import NEEDS_EXTRA
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def serve_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bin/`` of a fresh venv with ``pip install -e REPO[serve,sklearn]`` and nothing else."""
    venv = tmp_path_factory.mktemp("no-torch") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "-e", f"{REPO_ROOT}[serve,sklearn]"],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    if pip.returncode != 0:
        pytest.skip(f"cannot install aezoo[serve,sklearn] into a venv: {pip.stderr.strip()[-500:]}")
    probe = "import importlib.util as u; print(u.find_spec('torch'))"
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True
    )
    assert found.stdout.strip() == "None", "the venv must lack torch"
    probe = "import importlib.util as u; print(u.find_spec('mlflow'))"
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True
    )
    assert found.stdout.strip() == "None", "core and [serve] must not pull MLflow"
    return venv / "bin"


def run(bin_dir: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AEZOO_HOME": str(home)}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]], env=env, capture_output=True, text=True, timeout=120
    )


TORCH_FIRST = (
    "install torch's CPU build first (pip install torch==2.13.0 "
    "--index-url https://download.pytorch.org/whl/cpu), then "
)


def test_train_names_the_extra(serve_venv: Path, tmp_path: Path) -> None:
    result = run(serve_venv, "aezoo", "train", "sda-mnist", home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "aezoo train: error: this command needs the [train] extra (torch is not installed); "
        f"{TORCH_FIRST}pip install 'aezoo[train]'"
    )


@pytest.mark.parametrize(
    "args,hidden,extra",
    # this venv has [serve], and [serve] brings Pillow (image bodies), so PIL is no missing extra
    [a for a in NEEDS_EXTRA if a[2] != "serve" and a[1] != "PIL"],
    ids=lambda a: " ".join(a) if isinstance(a, tuple) else str(a),
)
def test_every_command_without_its_extra_is_one_line_and_exit_2(
    serve_venv: Path, tmp_path: Path, args: tuple[str, ...], hidden: str, extra: str
) -> None:
    result = run(serve_venv, "aezoo", *args, home=tmp_path)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    hint = TORCH_FIRST if extra in ("train", "torchserve") else "install it with: "
    assert line.startswith(f"aezoo {args[0]}: error: ")
    assert line.endswith(
        f"needs the [{extra}] extra ({hidden} is not installed); {hint}pip install 'aezoo[{extra}]'"
    )


def test_denoise_images_runs_on_serve_alone(serve_venv: Path, tmp_path: Path) -> None:
    """[serve] has Pillow: denoise-images needs no other extra and gets as far as the model."""
    result = run(serve_venv, "aezoo", "denoise-images", "sda-mnist", "in/", "out/",
                 "--sigma", "25", home=tmp_path)  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "'sda-mnist' is not a whole-image denoiser" in result.stderr
    assert "extra" not in result.stderr


def test_list_and_key_checks_work_without_torch(serve_venv: Path, tmp_path: Path) -> None:
    listing = run(serve_venv, "aezoo", "train", "--list", home=tmp_path)
    assert listing.returncode == 0 and "sda-mnist" in listing.stdout
    assert "needs the [train] extra" in listing.stdout.splitlines()[-1]
    typo = run(
        serve_venv, "aezoo", "train", "sda-mnist", "--set", "pretrain_epoch=1", home=tmp_path
    )
    assert typo.returncode == 1 and "did you mean 'pretrain_epochs'?" in typo.stderr
    assert len(typo.stderr.strip().splitlines()) == 1


def test_from_pretrained_raises_an_import_error_naming_the_extra(
    serve_venv: Path, tmp_path: Path
) -> None:
    code = (
        "import aezoo\n"
        "try:\n    aezoo.from_pretrained('sda-mnist')\n"
        "except ImportError as e:\n    print(e)\n"
    )
    result = run(serve_venv, "python", "-c", code, home=tmp_path)
    assert result.stdout.strip() == (
        "aezoo.from_pretrained needs the [train] extra (torch is not installed); "
        f"{TORCH_FIRST}pip install 'aezoo[train]'"
    )


def test_serve_and_its_gallery_run_without_torch(serve_venv: Path, tmp_path: Path) -> None:
    env = {**os.environ, "AEZOO_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(serve_venv / "aezoo"), "serve", "sda-mnist", "--port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while not (match := re.search(r"at (http://127\.0\.0\.1:\d+)", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        url = match.group(1)
        assert "<title>aezoo gallery</title>" in httpx.get(f"{url}/", timeout=10).text
        samples = httpx.get(f"{url}/v1/models/sda-mnist/files/samples.json", timeout=10).json()
        labels = httpx.post(
            f"{url}/v1/models/sda-mnist/classify", json={"inputs": samples["inputs"]}, timeout=30
        ).json()["labels"]
        assert labels == samples["labels"]  # class names, as strings, on HTTP
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_readme_scikit_learn_example_runs_without_torch(
    serve_venv: Path, tmp_path: Path, mnist_dir: Path
) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    example = next(b for b in blocks if "EncoderTransformer" in b and "load_mnist" in b)
    code = example + "import sys\nprint('torch imported:', 'torch' in sys.modules)\n"
    env = {**os.environ, "AEZOO_HOME": str(tmp_path), "AEZOO_DATA_DIR": str(mnist_dir)}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(serve_venv / "python"), "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    accuracy = float(re.search(r"accuracy (\d\.\d+)", result.stdout).group(1))
    assert accuracy >= 0.95 and "torch imported: False" in result.stdout
