"""The Hub as an adversary or a failing service: hostile repos, a tampered cache, HTTP
errors. Real huggingface_hub client, fake Hub process, real ``aezoo`` processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import huggingface_hub as hf
import pytest

import aezoo
from aezoo.errors import ArtifactError, HubAuthError, HubError, UnsafeArtifactError
from aezoo.registry.hub import download, pull
from aezoo.registry.store import LocalStore
from tests.conftest import run_cli
from tests.hub.conftest import TOKEN, FakeHub, hub_env, set_env
from tests.hub.test_cli import check_one_line_error, registry_state
from tests.registry.hostile import HOSTILE

pytestmark = pytest.mark.integration
UPLOADED = ["huge-model-args", "listed-foreign-encoder", "n-features-mismatch",
            "unlisted-foreign-encoder", "path-outside"]  # fmt: skip


@pytest.fixture(scope="module")
def hostile_hub(
    populated_hub: FakeHub, tiny_artifact: Path, tmp_path_factory: pytest.TempPathFactory
) -> FakeHub:
    """``org/<case>`` for each hostile artifact, uploaded as is (``publish`` would refuse)."""
    tmp = tmp_path_factory.mktemp("hostile")
    api = hf.HfApi(endpoint=populated_hub.url, token=TOKEN)
    for case in UPLOADED:
        root, _ = HOSTILE[case](tiny_artifact, tmp / case)
        api.create_repo(f"org/{case}")
        api.upload_folder(folder_path=root, repo_id=f"org/{case}")
    return populated_hub


@pytest.mark.parametrize("case", UPLOADED)
def test_hostile_repos_are_refused_by_pull_load_and_serve(
    case: str, hostile_hub: FakeHub, tiny_artifact: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    filename = HOSTILE[case](tiny_artifact, tmp_path / "expected")[1]
    env = hub_env(hostile_hub.url, tmp_path)
    set_env(monkeypatch, env)
    store = LocalStore(root=Path(env["AEZOO_HOME"]) / "registry", bundled=None)
    for attempt in (lambda: pull(f"hf-hub:org/{case}", store=store),
                    lambda: aezoo.load(f"hf-hub:org/{case}")):  # fmt: skip
        with pytest.raises(ArtifactError) as info:
            attempt()
        assert filename in str(info.value) and "\n" not in str(info.value)
    assert store.local_versions("sda-tiny") == []
    check_one_line_error(run_cli("pull", f"hf-hub:org/{case}", env=env), filename)
    served = run_cli("serve", f"hf-hub:org/{case}", "--port", "0", env=env)
    check_one_line_error(served, "cannot serve", filename)
    assert "serving" not in served.stdout


def test_a_symlink_out_of_the_cache_is_refused(
    populated_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot file re-pointed at an identical file outside the cache: pull, load and
    serve (offline, from that cache) refuse it; nothing reaches the registry."""
    env = hub_env(populated_hub.url, tmp_path)
    set_env(monkeypatch, env)
    snapshot = download("hf-hub:org/sda-tiny@v1")
    outside = tmp_path / "outside-config.json"
    outside.write_bytes((snapshot / "config.json").read_bytes())
    (snapshot / "config.json").unlink()
    os.symlink(outside, snapshot / "config.json")
    home = Path(env["AEZOO_HOME"])
    store = LocalStore(root=home / "registry", bundled=None)
    for attempt in (lambda: pull("hf-hub:org/sda-tiny@v1", store=store),
                    lambda: aezoo.load("hf-hub:org/sda-tiny@v1")):  # fmt: skip
        with pytest.raises(UnsafeArtifactError, match="outside this repo's blobs") as info:
            attempt()
        assert info.value.filename == "config.json"
    assert not (home / "registry").exists() or registry_state(home) == {}
    offline = {**env, "HF_HUB_OFFLINE": "1"}
    check_one_line_error(run_cli("pull", "hf-hub:org/sda-tiny@v1", env=offline), "config.json")
    served = run_cli("serve", "hf-hub:org/sda-tiny@v1", "--port", "0", env=offline)
    check_one_line_error(served, "cannot serve", "config.json", "symlink")


FAULTS = [  # (id, fault, error type)
    ("403", 403, HubAuthError),
    ("404", 404, HubError),
    ("500", 500, HubError),
]


@pytest.mark.slow  # huggingface_hub retries a 5xx file download 5 times with backoff: ~25 s
def test_a_500_on_the_file_downloads_says_so(
    populated_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest comes down, then the files fail: reported as the HTTP error, not as a
    connection problem (huggingface_hub wraps it as "not in the cache")."""
    set_env(monkeypatch, hub_env(populated_hub.url, tmp_path))
    faults = populated_hub.root / "faults.json"
    faults.write_text(json.dumps({"org/sda-tiny": {"status": 500, "files_only": True}}))
    try:
        with pytest.raises(HubError) as info:
            aezoo.load("hf-hub:org/sda-tiny@v1")
    finally:
        faults.unlink()
    message = str(info.value)
    assert "HTTP 500" in message and "org/sda-tiny@v1" in message, message
    assert "cannot reach" not in message and "\n" not in message


@pytest.mark.parametrize(("fault", "error"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_hub_http_errors_say_status_repo_and_revision(
    fault: int, error: type, populated_hub: FakeHub, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    status = fault
    env = hub_env(populated_hub.url, tmp_path)
    set_env(monkeypatch, env)
    faults = populated_hub.root / "faults.json"
    faults.write_text(json.dumps({"org/sda-tiny": fault}))
    try:
        for ref, revision in (("hf-hub:org/sda-tiny@v1", "@v1"), ("hf-hub:org/sda-tiny", "@main")):
            with pytest.raises(error) as info:
                aezoo.load(ref)
            message = str(info.value)
            assert f"HTTP {status}" in message and f"org/sda-tiny{revision}" in message, message
            assert "cannot reach" not in message and "\n" not in message
        words = [f"HTTP {status}", "org/sda-tiny@v1"]
        line = check_one_line_error(run_cli("pull", "hf-hub:org/sda-tiny@v1", env=env), *words)
        assert "cannot reach" not in line
        served = run_cli("serve", "hf-hub:org/sda-tiny@v1", "--port", "0", env=env)
        check_one_line_error(served, "cannot serve", *words)
    finally:
        faults.unlink()
