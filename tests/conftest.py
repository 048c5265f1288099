"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
MNIST_FILENAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


MAX_WORKERS = 4  # more only multiplies the session fixtures (trained tiny models, servers)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pyproject's addopts): one worker per CPU, at most :data:`MAX_WORKERS`,
    for the quick suite; none (one process, as before) when the run selects slow tests,
    whose load tests, servers and containers measure or bound the whole machine."""
    expr = config.getoption("markexpr") or ""
    if "slow" in expr.replace("not slow", ""):
        return 0
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The local MNIST directory: env AEZOO_DATA_DIR, else <repo>/../shared/data/mnist.

    Skips the test when the directory lacks any of the four IDX files.
    """
    env = os.environ.get("AEZOO_DATA_DIR")
    directory = Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "mnist"
    missing = [name for name in MNIST_FILENAMES if not (directory / name).is_file()]
    if missing:
        source = "AEZOO_DATA_DIR" if env else "default location"
        pytest.skip(f"MNIST not found in {directory} ({source}): missing {', '.join(missing)}")
    return directory


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real artifact of the tiny SdA variant (784-32-16, classifier head), built once."""
    import torch

    from aezoo.export.torch_io import build_artifact
    from aezoo.models import create_variant

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("artifacts") / "sda-tiny"
    build_artifact(
        create_variant("sda_mnist_tiny"),
        out,
        name="sda-tiny",
        training={"metrics": {"test_error_pct": 90.0}},
    )
    return out


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate ``proc`` and wait at most ``timeout`` s, then kill it (no-op if it ended)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python -m aezoo ARGS`` in a subprocess from the repo root; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "aezoo", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def tiny_artifact_v2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another version of ``sda-tiny``: same architecture, other weights (seed 1)."""
    import torch

    from aezoo.export.torch_io import build_artifact
    from aezoo.models import create_variant

    torch.manual_seed(1)
    out = tmp_path_factory.mktemp("artifacts-v2") / "sda-tiny"
    build_artifact(create_variant("sda_mnist_tiny"), out, name="sda-tiny", version="2")
    return out


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """One local Ray cluster for the session's Ray tests; yields its address for --address.

    4 logical CPUs whatever the machine, so a Serve deployment and a 2-actor Ray Data
    job fit side by side (logical CPUs are Ray's bookkeeping; the cores are shared).
    Skips where Ray is not installed (the [ray] extra).
    """
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=4, include_dashboard=False, logging_level="WARNING")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def denoiser_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny whole-image denoiser artifact (tests/denoiser_fixture.py), no torch needed."""
    from tests.denoiser_fixture import write_denoiser_artifact

    return write_denoiser_artifact(tmp_path_factory.mktemp("denoiser") / "tiny-denoiser")
