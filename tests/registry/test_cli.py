"""``aezoo register``, ``aezoo alias`` and ``aezoo models NAME`` in a fresh home, as real
processes; a trained or registered copy of a bundled model never hides the packaged one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

import aezoo
from aezoo.registry.store import BUNDLED_DIR
from tests.conftest import REPO_ROOT, run_cli

pytestmark = pytest.mark.integration
PACKAGED = BUNDLED_DIR / "sda-mnist"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("AEZOO_HOME", str(home))
    return home


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=dict(os.environ))


def one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert all(w in lines[0] for w in words), lines[0]


def test_register_alias_and_list_in_a_fresh_home(home: Path) -> None:
    out = cli("register", str(PACKAGED), "--alias", "production")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("registered sda-mnist@2 (") and "production -> 2" in out.stdout
    assert aezoo.load("sda-mnist").version == "2"
    assert aezoo.load("sda-mnist").path.is_relative_to(home)
    for ref in ("sda-mnist@bundled", "sda-mnist@1"):
        assert aezoo.load(ref).path == PACKAGED, ref

    moved = cli("alias", "sda-mnist", "production", "bundled")
    assert moved.returncode == 0 and moved.stdout.strip() == "sda-mnist@production: 2 -> 1"
    assert aezoo.load("sda-mnist@production").path == PACKAGED

    listing = json.loads(cli("models", "sda-mnist", "--json").stdout)
    versions = [(v["version"], v["source"], v["aliases"]) for v in listing["versions"]]
    assert versions == [("1", "bundled", ["bundled", "production"]), ("2", "local", ["latest"])]
    assert listing["aliases"] == {"production": "1"}
    assert [(h["from"], h["to"], h["command"]) for h in listing["history"]] == [
        (None, "2", f"aezoo register {PACKAGED}"),
        ("2", "1", "aezoo alias sda-mnist production bundled"),
    ]
    text = cli("models", "sda-mnist").stdout
    assert "production: 2 -> 1" in text and "bundled, production" in text

    one_line_error(cli("alias", "sda-mnist", "production", "9"), "no version '9'", "1 (bundled), 2")
    one_line_error(cli("alias", "sda-mnist", "latest", "2"), "'latest'")
    one_line_error(cli("models", "nope"), "no model named 'nope'")
    one_line_error(cli("register", str(home / "missing")), "missing")


def test_readme_serve_of_version_two_works(home: Path) -> None:
    """README: ``aezoo serve sda-mnist@2`` after the first local copy."""
    assert cli("register", str(PACKAGED)).returncode == 0
    cmd = [sys.executable, "-m", "aezoo", "serve", "sda-mnist@2", "--port", "0"]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, text=True, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("aezoo: serving sda-mnist"), line
        url = line.split(" at ")[1].split()[0]
        x = np.zeros((1, 784)).tolist()
        r = httpx.post(f"{url}/v1/models/sda-mnist/encode", json={"inputs": x}, timeout=30)
        assert r.status_code == 200 and len(r.json()["codes"][0]) == 200
        info = httpx.get(f"{url}/v1/models/sda-mnist", timeout=30).json()
        assert (info["name"], info["version"]) == ("sda-mnist", "2")
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.mark.slow
def test_training_a_bundled_name_registers_version_two(
    home: Path, mnist_dir: Path, tmp_path: Path
) -> None:
    """A fresh home, one short `aezoo train sda-mnist`: the result is sda-mnist@2 and the
    bundled model stays reachable (issue 15)."""
    sets = ["pretrain_epochs=1", "finetune_epochs=1", "max_train_samples=512",
            "model.hidden_sizes=[32,16]"]  # fmt: skip
    argv = ["train", "sda-mnist", "--data-dir", str(mnist_dir), "--quiet"]
    argv += ["--run-dir", str(tmp_path / "run")] + [a for s in sets for a in ("--set", s)]
    out = cli(*argv)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "registered: sda-mnist@2 " in out.stdout
    assert aezoo.load("sda-mnist").config.n_components == 16  # the new one is latest
    bundled = aezoo.load("sda-mnist@bundled")
    assert bundled.path == PACKAGED and bundled.config.n_components == 200
