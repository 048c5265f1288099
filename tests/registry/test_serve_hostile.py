"""``aezoo serve`` with a hostile artifact, as a real server process: it refuses to start
with one line naming the file, so no request can ever get a 500 from it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from aezoo.registry.store import LocalStore
from tests.conftest import REPO_ROOT
from tests.registry.hostile import HOSTILE, edit_config

pytestmark = pytest.mark.integration


def serve(*refs: str, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "AEZOO_HOME": str(home)}
    cmd = [sys.executable, "-m", "aezoo", "serve", *refs, "--port", "0"]
    return subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def refused(proc: subprocess.Popen[str], filename: str) -> str:
    out, err = proc.communicate(timeout=120)
    lines = err.strip().splitlines()
    assert proc.returncode == 1, (out, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "cannot serve:" in lines[0] and filename in lines[0], lines[0]
    assert "serving" not in out  # never listened
    return lines[0]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_serve_refuses_to_start_on_a_hostile_artifact(
    case: str, tiny_artifact: Path, tmp_path: Path
) -> None:
    root, filename = HOSTILE[case](tiny_artifact, tmp_path / case)
    refused(serve(str(root), home=tmp_path / "home"), filename)


def test_a_registered_version_tampered_later_is_not_served(
    tiny_artifact: Path, tmp_path: Path
) -> None:
    """Registered sound, edited on disk afterwards (config's width no longer the graph's):
    neither the explicit ref nor the whole-registry mode starts; the sound copy serves."""
    home = tmp_path / "home"
    store = LocalStore(root=home / "registry", bundled=None)
    version = store.add(tiny_artifact, "m")
    sound = tmp_path / "sound"
    shutil.copytree(version.path, sound)
    edit_config(version.path, lambda c: c.update(n_components=15))  # the manifest agrees
    refused(serve("m@1", home=home), "onnx/encoder.onnx")

    proc = serve(str(sound), home=home)  # control: the same artifact untouched serves
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("aezoo: serving"), line + (proc.stderr.read() if proc.poll() else "")
        url = line.split(" at ")[1].split()[0]
        x = np.random.default_rng(0).random((2, 784)).round(3).tolist()
        r = httpx.post(f"{url}/v1/models/m/encode", json={"inputs": x}, timeout=30)
        assert r.status_code == 200 and np.asarray(r.json()["codes"]).shape == (2, 16)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_serve_refuses_a_manifest_name_that_escapes(tiny_artifact: Path, tmp_path: Path) -> None:
    """A name like ../../escape would be listed, unreachable, and land in metrics labels."""
    root = tmp_path / "escape"
    shutil.copytree(tiny_artifact, root)
    manifest = json.loads((root / "manifest.json").read_text())
    (root / "manifest.json").write_text(json.dumps({**manifest, "name": "../../escape"}))
    line = refused(serve(str(root), home=tmp_path / "home"), "manifest.json")
    assert "invalid model name '../../escape'" in line
