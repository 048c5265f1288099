"""``aezoo publish``, ``aezoo pull`` and ``aezoo serve hf-hub:...`` as real processes.

Errors: exit status 1, exactly one line on stderr, no traceback, the token never shown,
the local registry byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from aezoo.registry.store import LocalStore
from aezoo.runtime.model import OnnxModel
from tests.conftest import run_cli
from tests.hub.conftest import REPO_ROOT, TOKEN, FakeHub, closed_port_url, hub_env
from tests.tolerance import sda_atol

pytestmark = pytest.mark.integration


def registry_state(home: Path) -> dict[str, str]:
    """Every file under AEZOO_HOME with its sha256."""
    return {
        p.relative_to(home).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file()
    }


def check_one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


CLI_ERRORS = [
    # (id, argv, endpoint closed, token, offline, words on the line)
    ("publish-unreachable", ["publish", "sda-tiny", "--repo-id", "org/new"], True, True, False,
     ["aezoo publish: error:", "cannot reach"]),
    ("publish-no-token", ["publish", "sda-tiny", "--repo-id", "org/new"], False, False, False,
     ["HF_TOKEN"]),
    ("pull-unreachable", ["pull", "hf-hub:org/sda-tiny"], True, True, False,
     ["aezoo pull: error:", "cannot reach"]),
    ("pull-missing-repo", ["pull", "hf-hub:org/nope"], False, True, False, ["org/nope"]),
    ("pull-missing-revision", ["pull", "hf-hub:org/sda-tiny@v9"], False, True, False, ["v9"]),
    ("pull-private-no-token", ["pull", "hf-hub:org/private"], False, False, False,
     ["org/private", "HF_TOKEN"]),
    ("pull-gated-no-token", ["pull", "hf-hub:org/gated"], False, False, False, ["gated"]),
    ("pull-not-an-artifact", ["pull", "hf-hub:org/not-an-artifact"], False, True, False,
     ["not an aezoo artifact"]),
    ("pull-offline-cold", ["pull", "hf-hub:org/sda-tiny"], False, True, True, ["HF_HUB_OFFLINE"]),
    ("serve-missing-repo", ["serve", "hf-hub:org/nope", "--port", "0"], False, True, False,
     ["cannot serve", "org/nope"]),
]  # fmt: skip


@pytest.mark.parametrize("case", CLI_ERRORS, ids=[c[0] for c in CLI_ERRORS])
def test_cli_errors(
    case: tuple, populated_hub: FakeHub, tiny_artifact: Path, tmp_path: Path
) -> None:
    _, argv, closed, token, offline, words = case
    url = closed_port_url() if closed else populated_hub.url
    env = hub_env(url, tmp_path, token=TOKEN if token else None, offline=offline)
    home = Path(env["AEZOO_HOME"])
    LocalStore(root=home / "registry", bundled=None).add(tiny_artifact, "sda-tiny")
    before = registry_state(home)
    check_one_line_error(run_cli(*argv, env=env), *words)
    assert registry_state(home) == before


def test_cli_publish_pull_and_a_tampered_cache(
    tiny_artifact: Path, hub: FakeHub, env: dict[str, str]
) -> None:
    home = Path(env["AEZOO_HOME"])
    LocalStore(root=home / "registry", bundled=None).add(tiny_artifact, "sda-tiny")
    published = run_cli("publish", "sda-tiny", "--repo-id", "org/sda-tiny", env=env)
    assert published.returncode == 0, published.stderr
    assert "published sda-tiny@1 to hf-hub:org/sda-tiny" in published.stdout
    assert 'aezoo.load("hf-hub:org/sda-tiny@v1")' in published.stdout
    assert TOKEN not in published.stdout + published.stderr

    pulled = run_cli("pull", "hf-hub:org/sda-tiny@v1", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert "as sda-tiny@2" in pulled.stdout
    LocalStore(root=home / "registry", bundled=None).verify("sda-tiny@2")

    cached = next(Path(env["HF_HUB_CACHE"]).glob("models--org--sda-tiny/snapshots/*/onnx"))
    blob = (cached / "decoder.onnx").resolve()
    blob.write_bytes(blob.read_bytes()[:-1] + bytes([blob.read_bytes()[-1] ^ 0xFF]))
    before = registry_state(home)
    check_one_line_error(run_cli("pull", "hf-hub:org/sda-tiny@v1", env=env), "onnx/decoder.onnx")
    assert registry_state(home) == before


def test_cli_serve_a_hub_model(populated_hub: FakeHub, tiny_artifact: Path, tmp_path: Path) -> None:
    env = hub_env(populated_hub.url, tmp_path)
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "aezoo", "serve", "--model", "hf-hub:org/sda-tiny@v1"]
    cmd += ["--port", "0", "--log-level", "warning"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline, url = time.monotonic() + 60, None
        while url is None and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            match = re.search(r"at (http://127\.0\.0\.1:\d+)", log.read_text())
            url = match.group(1) if match else None
            time.sleep(0.1)
        assert url is not None, log.read_text()
        x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
        response = httpx.post(f"{url}/v1/models/sda-tiny/encode", json={"inputs": x.tolist()})
        assert response.status_code == 200, response.text
        expected = OnnxModel(tiny_artifact).encode(x)
        # another process, its own threads and batching: the tiny SdA's two encoder layers
        atol = sda_atol("tiny", "encode")
        np.testing.assert_allclose(response.json()["codes"], expected, rtol=0, atol=atol)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_model_trained_on_a_table_publishes_and_comes_back_the_same(
    hub: FakeHub, env: dict[str, str], tmp_path: Path
) -> None:
    """A user's model (its scaling inside the graphs, its columns and class names in the
    config) goes to the Hub and back like a bundled one, and answers the same."""
    pytest.importorskip("torch")
    import aezoo

    rng = np.random.default_rng(0)
    table = tmp_path / "sensors.csv"
    X = rng.normal([20.0, 1013.0, 0.4], [5.0, 8.0, 0.1], size=(240, 3))
    label = np.where(X[:, 0] > 20, "warm", "cold")
    rows = [f"{a:.4f},{b:.4f},{c:.4f},{lab}" for (a, b, c), lab in zip(X, label, strict=True)]
    table.write_text("temp,pressure,humidity,state\n" + "\n".join(rows) + "\n")
    home = Path(env["AEZOO_HOME"])
    store = LocalStore(root=home / "registry", bundled=None)
    aezoo.train("sda", str(table), label_column="state", store=store, show_progress=False,
                overrides=["pretrain_epochs=2", "finetune_epochs=2"])  # fmt: skip
    published = run_cli("publish", "sensors", "--repo-id", "org/sensors", env=env)
    assert published.returncode == 0, published.stderr
    pulled = run_cli("pull", "hf-hub:org/sensors@v1", env=env)
    assert pulled.returncode == 0 and "as sensors@2" in pulled.stdout, pulled.stderr
    local, back = OnnxModel(store.resolve("sensors@1").path), aezoo.load("sensors@2")
    assert back.config.input.columns == ["temp", "pressure", "humidity"]
    assert back.config.class_names == ["cold", "warm"]
    x = X[:5].astype(np.float32)  # raw units: the graphs scale them
    np.testing.assert_array_equal(back.encode(x), local.encode(x))
