"""Fixtures for the Hub tests: a fake Hub server process on loopback and the env to reach it.

The real huggingface_hub client runs through aezoo's real code against
``tests/hub/fake_hub.py`` (see its docstring for what it implements). Every test
gets its own Hugging Face cache, ``HF_HOME`` (so no stored login leaks in) and
``AEZOO_HOME``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, stop_process

TOKEN = "hf_aezooFakeToken0123456789abcdef"  # must never show in any output
HUB_VARS = ("HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_HOME")


@dataclass
class FakeHub:
    url: str
    root: Path
    process: subprocess.Popen[str]

    def requests(self) -> list[str]:
        log = self.root / "requests.log"
        return log.read_text().splitlines() if log.is_file() else []

    def stop(self) -> None:
        stop_process(self.process)


def start_hub(root: Path) -> FakeHub:
    """``python -m tests.hub.fake_hub`` on 127.0.0.1 and a free port; waits for its line."""
    cmd = [sys.executable, "-m", "tests.hub.fake_hub", "--root", str(root), "--token", TOKEN]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once bound; "" if the process died
    if not line.startswith("fake-hub listening on "):
        proc.kill()
        pytest.fail(f"fake hub did not start (exit {proc.wait()}): {line!r}")
    return FakeHub(line.split()[-1], root, proc)


def closed_port_url() -> str:
    """An http URL on loopback where nothing listens (the port was just released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def hub_env(
    url: str, tmp: Path, token: str | None = TOKEN, offline: bool = False
) -> dict[str, str]:
    """Environment for the client side: endpoint, own cache, token or none, own AEZOO_HOME."""
    env = {k: v for k, v in os.environ.items() if k not in HUB_VARS}
    env.update(
        HF_ENDPOINT=url,
        HF_HUB_CACHE=str(tmp / "hf-cache"),
        HF_HOME=str(tmp / "hf-home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        AEZOO_HOME=str(tmp / "aezoo-home"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    )
    if token:
        env["HF_TOKEN"] = token
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key in HUB_VARS:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[FakeHub]:
    """A fresh, empty fake Hub for one test."""
    server = start_hub(tmp_path / "fake-hub")
    yield server
    server.stop()


@pytest.fixture
def env(hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's environment pointed at ``hub`` (token set); returned for subprocesses."""
    values = hub_env(hub.url, tmp_path)
    set_env(monkeypatch, values)
    return values


@pytest.fixture(scope="session")
def tiny_artifact_v2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same tiny SdA variant as ``tiny_artifact``, other weights (seed 1), version "2"."""
    import torch

    from aezoo.export.torch_io import build_artifact
    from aezoo.models import create_variant

    torch.manual_seed(1)
    out = tmp_path_factory.mktemp("artifacts-v2") / "sda-tiny"
    return build_artifact(create_variant("sda_mnist_tiny"), out, name="sda-tiny", version="2")


@pytest.fixture(scope="session")
def populated_hub(
    tiny_artifact: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeHub]:
    """A fake Hub holding ``org/sda-tiny`` (public, v1), ``org/private`` (private),
    ``org/gated`` (gated) and ``org/not-an-artifact`` (a config.json and a pickle)."""
    import huggingface_hub as hf

    from aezoo.registry.hub import publish

    tmp = tmp_path_factory.mktemp("populated")
    server = start_hub(tmp / "fake-hub")
    with pytest.MonkeyPatch.context() as mp:
        set_env(mp, hub_env(server.url, tmp))
        publish(tiny_artifact, "org/sda-tiny")
        publish(tiny_artifact, "org/private", private=True)
        publish(tiny_artifact, "org/gated")
        api = hf.HfApi(endpoint=server.url, token=TOKEN)
        api.update_repo_settings("org/gated", gated="auto")
        api.create_repo("org/not-an-artifact")
        for name, data in (("config.json", b"{}"), ("pytorch_model.bin", b"\x80\x04N.")):
            api.upload_file(path_or_fileobj=data, path_in_repo=name, repo_id="org/not-an-artifact")
    yield server
    server.stop()
    shutil.rmtree(tmp, ignore_errors=True)
