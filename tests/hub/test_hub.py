"""The Hub remote in Python: publish, resolve hf-hub: refs, offline, integrity, typed errors.

Every test drives the real huggingface_hub client through aezoo's code against a fake
Hub process on loopback (tests/hub/fake_hub.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import huggingface_hub as hf
import numpy as np
import pytest

import aezoo
from aezoo._version import __version__
from aezoo.errors import (
    HubAuthError,
    HubConnectionError,
    HubRefError,
    HubRepoNotFoundError,
    HubRevisionNotFoundError,
    IntegrityError,
    NotAnArtifactError,
    VersionExistsError,
)
from aezoo.registry.artifact import read_manifest, write_manifest
from aezoo.registry.hub import HubRef, download, parse_hub_ref, publish, pull
from aezoo.registry.store import BUNDLED_DIR, LocalStore
from aezoo.runtime.model import OnnxModel
from tests.hub.conftest import TOKEN, FakeHub, closed_port_url, hub_env, set_env

BUNDLED = sorted(
    {"sda-mnist"} | {p.parent.name for p in BUNDLED_DIR.glob("*/manifest.json")}
)  # sda-mnist is expected; skipped (with the reason) until it is trained


def samples(model: OnnxModel, n: int = 5) -> np.ndarray:
    return np.random.default_rng(0).random((n, model.config.input.n_features), dtype=np.float32)


def test_parse_hub_ref() -> None:
    assert parse_hub_ref("hf-hub:org/name") == HubRef("org/name", None)
    assert parse_hub_ref("hf-hub:org/name@v1") == HubRef("org/name", "v1")
    assert parse_hub_ref("hf-hub:org/name@refs/pr/1") == HubRef("org/name", "refs/pr/1")
    assert str(HubRef("org/name", "main")) == "hf-hub:org/name@main"
    for bad in ("org/name", "hf-hub:org//name", "hf-hub:org/name@", "hf-hub:"):
        with pytest.raises(HubRefError):
            parse_hub_ref(bad)


@pytest.mark.parametrize("which", ["tiny", *BUNDLED])
def test_round_trip_then_offline(
    which: str,
    tiny_artifact: Path,
    hub: FakeHub,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if which == "tiny":  # published by registry name from a local store
        store = LocalStore(root=tmp_path / "registry", bundled=None)
        name, local = "sda-tiny", store.add(tiny_artifact, "sda-tiny").path
    else:  # the bundled model, published by name through the bundled fallback
        if not (BUNDLED_DIR / which / "manifest.json").is_file():
            pytest.skip(f"bundled model {which} not built yet (aezoo/pretrained/{which})")
        store = LocalStore(root=tmp_path / "registry", bundled=BUNDLED_DIR)
        name, local = which, BUNDLED_DIR / which
    result = publish(name, f"org/{name}", store=store)
    manifest = read_manifest(local)
    assert (result.tag, result.version) == (f"v{manifest.version}", manifest.version)
    api = hf.HfApi(endpoint=hub.url, token=TOKEN)
    assert {*manifest.files, "manifest.json"} <= set(api.list_repo_files(f"org/{name}"))

    expected_model = OnnxModel(local)
    if expected_model.config.denoiser is not None:  # a whole-image denoiser: its sample photo
        photo = json.loads((local / "samples.json").read_text())["images"][0]["pixels"]
        x = np.asarray(photo, np.uint8)
        run = lambda m, x: m.denoise_image(x, sigma=25.0)  # noqa: E731
    else:
        x = samples(expected_model)
        run = lambda m, x: m.encode(x)  # noqa: E731
    expected = run(expected_model, x)
    cache = Path(env["HF_HUB_CACHE"])
    assert not cache.exists() or not any(cache.iterdir())  # loads below start cold
    model = aezoo.load(f"hf-hub:org/{name}")
    assert model.path.is_relative_to(cache)
    np.testing.assert_array_equal(run(model, x), expected)
    fetched = {p.relative_to(model.path).as_posix() for p in model.path.rglob("*") if p.is_file()}
    assert fetched == {*manifest.files, "manifest.json"}  # nothing else (.gitattributes) came
    assert not [r for r in hub.requests() if "xet" in r.lower() or "lfs" in r.lower()]

    # HF_HUB_OFFLINE=1 with the server still up: served from the warm cache, no request
    before = len(hub.requests())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    np.testing.assert_array_equal(run(aezoo.load(f"hf-hub:org/{name}"), x), expected)
    assert len(hub.requests()) == before

    # server stopped; a fresh process where huggingface_hub itself starts offline
    hub.stop()
    np.save(tmp_path / "x.npy", x)
    op = "denoise_image(x, sigma=25.0)" if x.dtype == np.uint8 else "encode(x)"
    code = (
        "import sys, numpy as np, aezoo; m = aezoo.load(sys.argv[1]); "
        f"x = np.load(sys.argv[2]); np.save(sys.argv[3], m.{op})"
    )
    out = tmp_path / "codes.npy"
    args = [sys.executable, "-c", code, f"hf-hub:org/{name}", str(tmp_path / "x.npy"), str(out)]
    proc = subprocess.run(args, env={**env, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    np.testing.assert_array_equal(np.load(out), expected)


def test_publish_makes_a_hub_model_repo(tiny_artifact: Path, hub: FakeHub, env: dict) -> None:
    result = publish(tiny_artifact, "org/sda-tiny")
    api = hf.HfApi(endpoint=hub.url, token=TOKEN)
    files = set(api.list_repo_files("org/sda-tiny"))
    layout = {"config.json", "model.safetensors", "README.md", "manifest.json"}
    layout |= {f"onnx/{g}.onnx" for g in ("encoder", "decoder", "classifier")}
    assert layout <= files
    commits = api.list_repo_commits("org/sda-tiny")
    assert [c.title for c in commits] == [
        f"aezoo {__version__}: sda-tiny version 1",
        "initial commit",
    ]
    refs = api.list_repo_refs("org/sda-tiny")
    assert {t.name: t.target_commit for t in refs.tags} == {"v1": result.commit}
    assert {b.name: b.target_commit for b in refs.branches} == {"main": result.commit}

    readme = hf.hf_hub_download("org/sda-tiny", "README.md", endpoint=hub.url, revision="v1")
    card = hf.ModelCard.load(readme)
    assert card.data.library_name == "aezoo"
    assert card.data.pipeline_tag == "feature-extraction"
    assert "sda" in card.data.tags and card.data.datasets == ["mnist"]
    assert card.data.license == "apache-2.0"
    assert [(r.metric_type, r.metric_value) for r in card.data.eval_results] == [
        ("test_error_pct", 90.0)
    ]
    assert 'aezoo.load("hf-hub:org/sda-tiny")' in card.text


def test_revision_pin_loads_that_revision(
    tiny_artifact: Path, tiny_artifact_v2: Path, hub: FakeHub, env: dict
) -> None:
    first = publish(tiny_artifact, "org/m")
    publish(tiny_artifact_v2, "org/m")
    x = samples(OnnxModel(tiny_artifact))
    e1, e2 = OnnxModel(tiny_artifact).encode(x), OnnxModel(tiny_artifact_v2).encode(x)
    assert not np.allclose(e1, e2)
    pins = {"@v1": e1, f"@{first.commit}": e1, "@v2": e2, "@main": e2, "": e2}
    for pin, expected in pins.items():
        model = aezoo.load(f"hf-hub:org/m{pin}")
        assert model.version == ("1" if expected is e1 else "2"), pin
        np.testing.assert_array_equal(model.encode(x), expected, err_msg=pin)
    torch = pytest.importorskip("torch")
    net = aezoo.from_pretrained("hf-hub:org/m@v1")
    ref = aezoo.from_pretrained(tiny_artifact)
    for key, value in ref.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key


def _version(src: Path, dst: Path, version: str, extra: bool = False) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("manifest.json"))
    if extra:
        (dst / "figures").mkdir()
        (dst / "figures" / "extra.png").write_bytes(b"\x89PNG fake")
    write_manifest(dst, "sda-tiny", version)
    return dst


def test_publish_branches_prs_stale_files_immutability(
    tiny_artifact: Path, hub: FakeHub, env: dict, tmp_path: Path
) -> None:
    api = hf.HfApi(endpoint=hub.url, token=TOKEN)
    v = {n: _version(tiny_artifact, tmp_path / f"v{n}", str(n), extra=n == 1) for n in range(1, 5)}
    r1 = publish(v[1], "org/m")
    r2 = publish(v[2], "org/m")  # drops figures/extra.png from main; v1 keeps it
    assert "figures/extra.png" in api.list_repo_files("org/m", revision="v1")
    assert "figures/extra.png" not in api.list_repo_files("org/m")
    r3 = publish(v[3], "org/m", revision="dev")
    r4 = publish(v[4], "org/m", create_pr=True)
    assert (r4.tag, r4.pr_url.rsplit("/", 2)[-2:]) == (None, ["discussions", "1"])
    refs = api.list_repo_refs("org/m")
    assert {b.name: b.target_commit for b in refs.branches} == {"main": r2.commit, "dev": r3.commit}
    assert {t.name: t.target_commit for t in refs.tags} == {
        "v1": r1.commit,
        "v2": r2.commit,
        "v3": r3.commit,
    }
    assert aezoo.load("hf-hub:org/m@refs/pr/1").version == "4"
    with pytest.raises(VersionExistsError, match="v1"):
        publish(v[1], "org/m")


def test_pull_copies_into_the_local_registry(
    populated_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, hub_env(populated_hub.url, tmp_path))
    store = LocalStore(root=tmp_path / "registry", bundled=None)
    version = pull("hf-hub:org/sda-tiny@v1", store=store)
    assert (version.name, version.version) == ("sda-tiny", "1")
    manifest = store.verify("sda-tiny")
    on_disk = {
        p.relative_to(version.path).as_posix() for p in version.path.rglob("*") if p.is_file()
    }
    assert on_disk == {*manifest.files, "manifest.json"}
    assert pull("hf-hub:org/sda-tiny", name="other", store=store).name == "other"


@pytest.mark.parametrize("filename", ["onnx/encoder.onnx", "model.safetensors", "config.json"])
def test_a_flipped_byte_in_the_cache_is_refused(
    filename: str, populated_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, hub_env(populated_hub.url, tmp_path))
    snapshot = download("hf-hub:org/sda-tiny")
    blob = (snapshot / filename).resolve()  # the cache's snapshot files link to blobs
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as info:
        download("hf-hub:org/sda-tiny")  # checked on the way out of the cache ...
    assert info.value.filename == filename
    assert filename in str(info.value) and "cache of hf-hub:org/sda-tiny" in str(info.value)
    with pytest.raises(IntegrityError, match=filename):
        aezoo.load("hf-hub:org/sda-tiny")  # ... so nothing loads it


ERROR_CASES = [
    # (id, ref, endpoint is closed, token, offline, error type, words in the message)
    ("unreachable", "hf-hub:org/sda-tiny", True, True, False, HubConnectionError, "cannot reach"),
    ("missing-repo", "hf-hub:org/nope", False, True, False, HubRepoNotFoundError, "org/nope"),
    ("missing-rev", "hf-hub:org/sda-tiny@v9", False, True, False, HubRevisionNotFoundError, "v9"),
    ("private", "hf-hub:org/private", False, False, False, HubRepoNotFoundError, "HF_TOKEN"),
    ("gated", "hf-hub:org/gated", False, False, False, HubAuthError, "gated"),
    (
        "not-artifact",
        "hf-hub:org/not-an-artifact",
        False,
        True,
        False,
        NotAnArtifactError,
        "manifest",
    ),
    (
        "offline-cold",
        "hf-hub:org/sda-tiny",
        False,
        True,
        True,
        HubConnectionError,
        "HF_HUB_OFFLINE",
    ),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_are_typed_and_one_line(
    case: tuple, populated_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ref, closed, token, offline, error, words = case
    url = closed_port_url() if closed else populated_hub.url
    set_env(monkeypatch, hub_env(url, tmp_path, token=TOKEN if token else None, offline=offline))
    with pytest.raises(error) as info:
        aezoo.load(ref)
    message = str(info.value)
    assert words in message and "\n" not in message and TOKEN not in message
    assert not list((tmp_path / "hf-cache").rglob("*.bin"))  # the pickle never came down


def test_private_and_gated_load_with_the_token(
    populated_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, hub_env(populated_hub.url, tmp_path))
    assert aezoo.load("hf-hub:org/private").name == "sda-tiny"
    assert aezoo.load("hf-hub:org/gated").name == "sda-tiny"


def test_publish_errors(tiny_artifact: Path, hub: FakeHub, tmp_path: Path, monkeypatch) -> None:
    set_env(monkeypatch, hub_env(closed_port_url(), tmp_path))
    with pytest.raises(HubConnectionError, match="cannot reach"):
        publish(tiny_artifact, "org/x")
    set_env(monkeypatch, hub_env(hub.url, tmp_path, token=None))
    with pytest.raises(HubAuthError, match="HF_TOKEN"):
        publish(tiny_artifact, "org/x")
    set_env(monkeypatch, hub_env(hub.url, tmp_path, token="hf_wrong"))
    with pytest.raises(HubAuthError, match="401"):
        publish(tiny_artifact, "org/x")
    with pytest.raises(HubRefError):
        publish(tiny_artifact, "no-namespace")
    state = hub.root / "state.json"  # written on the first change: nothing was created
    assert not state.exists() or json.loads(state.read_text()) == {}
