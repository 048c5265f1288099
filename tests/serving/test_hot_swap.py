"""Hot swap against a real server process: ``serve sda-tiny@production`` follows the alias
while a client keeps sending; not one request fails; a corrupt version is refused and the
serving one stays, reported in the log and the metrics."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from aezoo.registry import LocalStore
from tests.serving.conftest import N, running_server

pytestmark = pytest.mark.integration


def _wait_for(predicate, what: str, limit_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit_s  # a bound so a broken swap fails, not a speed check
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_alias_move_is_followed_without_a_failed_request(
    tmp_path: Path, tiny_artifact: Path, tiny_artifact_v2: Path
) -> None:
    home = tmp_path / "home"
    store = LocalStore(root=home / "registry", bundled=None)
    store.add(tiny_artifact, "sda-tiny", aliases=("production",))
    x = np.random.default_rng(0).random((3, N), dtype=np.float32)
    args = ["sda-tiny@production", "--poll-interval", "0.2", "--log-level", "info"]
    log = tmp_path / "server.log"
    with running_server(args, {"AEZOO_HOME": str(home)}, log) as server:
        stop, seen, failures = threading.Event(), [], []

        def client() -> None:  # keeps sending, one request after another, until told to stop
            with httpx.Client(base_url=server.url, timeout=30) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/v1/models/sda-tiny/encode", json={"inputs": x.tolist()})
                    except httpx.HTTPError as e:
                        failures.append(repr(e))
                        continue
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                        continue
                    seen.append((r.headers["x-model-version"], r.json()["codes"]))

        threads = [threading.Thread(target=client) for _ in range(2)]
        for t in threads:
            t.start()
        _wait_for(lambda: len(seen) > 20, "answers from version 1")
        v2 = store.add(tiny_artifact_v2, "sda-tiny")
        store.set_alias("sda-tiny", "production", v2.version)
        _wait_for(
            lambda: httpx.get(f"{server.url}/health/ready").json()["versions"]["sda-tiny"] == "2",
            "the swap to version 2",
        )
        n_at_swap = len(seen)
        _wait_for(lambda: len(seen) > n_at_swap + 20, "answers from version 2")

        broken = store.add(tiny_artifact_v2, "sda-tiny")
        onnx = broken.path / "onnx" / "decoder.onnx"
        onnx.chmod(0o644)
        onnx.write_bytes(onnx.read_bytes()[:-8] + b"tampered")
        store.set_alias("sda-tiny", "production", broken.version)
        failed = 'aezoo_model_loads_total{model="sda-tiny",outcome="failed"} 1.0'
        _wait_for(lambda: failed in httpx.get(f"{server.url}/metrics").text, "the failed load")
        n_after = len(seen)
        _wait_for(lambda: len(seen) > n_after + 20, "answers after the failed load")
        stop.set()
        for t in threads:
            t.join(30)
        metrics = httpx.get(f"{server.url}/metrics").text
        ready = httpx.get(f"{server.url}/health/ready").json()

    assert failures == []
    versions = [v for v, _ in seen]
    assert versions[0] == "1" and versions[-1] == "2" and set(versions) == {"1", "2"}
    first_v2 = versions.index("2")
    assert "1" not in versions[first_v2 + 2 :]  # after the swap (2 clients in flight), only v2
    codes = {v: np.asarray(c) for v, c in seen}
    assert not np.allclose(codes["1"], codes["2"])  # other weights really serve
    assert ready["versions"] == {"sda-tiny": "2"}
    assert 'aezoo_model_swaps_total{model="sda-tiny"} 1.0' in metrics
    assert 'aezoo_model_info{model="sda-tiny",version="2"} 1.0' in metrics
    text = log.read_text()
    assert "swapped version 1 -> 2" in text
    assert f"version {broken.version} failed to load" in text and "version 2 keeps serving" in text


def test_bare_names_stay_aliases_follow_and_watch_adds_new_names(
    tmp_path: Path, tiny_artifact: Path, tiny_artifact_v2: Path
) -> None:
    """``serve sda-tiny sda-tiny-b@latest --watch`` while two clients keep sending: registering
    new versions of both swaps only the ``@latest`` one (a bare name stays on the version it
    resolved to at start); a name registered after start is served without restart; a
    broken new version leaves the serving one in place. Not one request fails."""
    home = tmp_path / "home"
    store = LocalStore(root=home / "registry", bundled=None)
    store.add(tiny_artifact, "sda-tiny")
    store.add(tiny_artifact, "sda-tiny-b")
    x = np.random.default_rng(0).random((2, N), dtype=np.float32)
    args = ["sda-tiny", "sda-tiny-b@latest", "--watch", "--poll-interval", "0.2"]
    log = tmp_path / "server.log"
    with running_server([*args, "--log-level", "info"], {"AEZOO_HOME": str(home)}, log) as server:
        stop, failures = threading.Event(), []
        seen: dict[str, list[str]] = {"sda-tiny": [], "sda-tiny-b": []}

        def client(name: str) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as c:
                while not stop.is_set():
                    try:
                        r = c.post(f"/v1/models/{name}/encode", json={"inputs": x.tolist()})
                    except httpx.HTTPError as e:
                        failures.append(repr(e))
                        continue
                    if r.status_code != 200:
                        failures.append(f"{name}: {r.status_code} {r.text[:200]}")
                        continue
                    seen[name].append(r.headers["x-model-version"])

        threads = [threading.Thread(target=client, args=(name,)) for name in seen]
        for t in threads:
            t.start()
        _wait_for(lambda: min(len(v) for v in seen.values()) > 10, "answers from both")
        new_url = f"{server.url}/v1/models/sda-tiny-new/encode"
        assert httpx.post(new_url, json={"inputs": x.tolist()}).status_code == 404

        store.add(tiny_artifact_v2, "sda-tiny")  # latest moves for the bare name first...
        store.add(tiny_artifact_v2, "sda-tiny-b")  # ...then for the followed alias

        def versions() -> dict[str, str]:
            return httpx.get(f"{server.url}/health/ready").json()["versions"]

        _wait_for(lambda: versions()["sda-tiny-b"] == "2", "the swap of sda-tiny-b@latest")
        n_bare = len(seen["sda-tiny"])
        _wait_for(lambda: len(seen["sda-tiny"]) > n_bare + 10, "answers after the swap")

        store.add(tiny_artifact_v2, "sda-tiny-new")
        _wait_for(lambda: "sda-tiny-new" in versions(), "the new name to be served")
        new = httpx.post(new_url, json={"inputs": x.tolist()})

        broken = store.add(tiny_artifact_v2, "sda-tiny-b")
        onnx = broken.path / "onnx" / "decoder.onnx"
        onnx.chmod(0o644)
        onnx.write_bytes(onnx.read_bytes()[:-8] + b"tampered")
        failed = 'aezoo_model_loads_total{model="sda-tiny-b",outcome="failed"} 1.0'
        _wait_for(lambda: failed in httpx.get(f"{server.url}/metrics").text, "the failed load")
        n_b = len(seen["sda-tiny-b"])
        _wait_for(lambda: len(seen["sda-tiny-b"]) > n_b + 10, "answers after the failed load")
        stop.set()
        for t in threads:
            t.join(30)
        final = versions()

    assert failures == []
    assert set(seen["sda-tiny"]) == {"1"}  # the bare name never moved
    assert seen["sda-tiny-b"][0] == "1" and seen["sda-tiny-b"][-1] == "2"
    assert new.status_code == 200 and new.headers["x-model-version"] == "1"
    assert final == {"sda-tiny": "1", "sda-tiny-b": "2", "sda-tiny-new": "1"}
    text = log.read_text()
    assert "new model sda-tiny-new: version 1 loaded and serving" in text
    assert f"version {broken.version} failed to load" in text
