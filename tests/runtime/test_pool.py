"""Hot swap in-process: a followed alias moves, the new version is loaded, warmed up and
swapped in; a broken version leaves the serving one in place and is reported; a bare name
stays on the version it resolved to; watching loads names registered later."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aezoo.registry import LocalStore
from aezoo.runtime.pool import ModelPool, follows


@pytest.fixture
def store(tmp_path: Path, tiny_artifact: Path, tiny_artifact_v2: Path) -> LocalStore:
    s = LocalStore(root=tmp_path / "registry", bundled=None)
    s.add(tiny_artifact, "sda-tiny", aliases=("production",))
    s.add(tiny_artifact_v2, "sda-tiny")
    return s


def test_follows() -> None:
    assert follows("sda-mnist@production") and follows("sda-mnist@latest")
    assert not follows("sda-mnist")  # a bare name is pinned to the version it resolved to
    assert not follows("sda-mnist@3") and not follows("hf-hub:org/repo")


def test_a_bare_name_stays_and_name_at_latest_follows(
    tmp_path: Path, tiny_artifact: Path, tiny_artifact_v2: Path
) -> None:
    store = LocalStore(root=tmp_path / "registry", bundled=None)
    store.add(tiny_artifact, "sda-tiny")
    store.add(tiny_artifact, "sda-tiny-latest")
    pool = ModelPool(store=store)
    pool.load(["sda-tiny", "sda-tiny-latest@latest"])
    assert pool.get("sda-tiny").ref is None
    store.add(tiny_artifact_v2, "sda-tiny")  # `aezoo register` moves latest
    store.add(tiny_artifact_v2, "sda-tiny-latest")
    assert pool.refresh() == ["sda-tiny-latest"]
    assert pool.get("sda-tiny").version == "1" and pool.get("sda-tiny-latest").version == "2"
    pool.close()


def test_watching_loads_new_names_pinned_and_skips_broken_ones(
    tmp_path: Path, tiny_artifact: Path, tiny_artifact_v2: Path
) -> None:
    events: list[tuple[str, ...]] = []
    store = LocalStore(root=tmp_path / "registry", bundled=None)
    store.add(tiny_artifact, "sda-tiny")
    store.add(tiny_artifact, "not-served")  # in the registry at start, not asked for
    pool = ModelPool(store=store, on_event=lambda *e: events.append(e))
    pool.load(["sda-tiny"])
    assert pool.load_new_names() == []  # "not-served" was there at start: not new
    store.add(tiny_artifact_v2, "sda-tiny-new")
    assert pool.load_new_names() == ["sda-tiny-new"]
    new = pool.get("sda-tiny-new")
    assert new.ready and new.ref is None and new.version == "1"
    assert events[-1][:4] == ("load", "sda-tiny-new", "1", "ok")
    assert pool.load_new_names() == []  # loaded once
    store.add(tiny_artifact_v2, "sda-tiny-new")
    assert pool.refresh() == [] and pool.get("sda-tiny-new").version == "1"  # pinned

    broken = store.add(tiny_artifact, "sda-tiny-broken")
    onnx = broken.path / "onnx" / "encoder.onnx"
    onnx.chmod(0o644)
    onnx.write_bytes(onnx.read_bytes()[:-10] + b"corrupted!")
    assert pool.load_new_names() == []
    assert "sda-tiny-broken" not in pool.names()
    failed = [e for e in events if e[3] == "failed"]
    assert failed and failed[0][:3] == ("load", "sda-tiny-broken", "1") and "sha256" in failed[0][4]
    events.clear()
    assert pool.load_new_names() == [] and events == []  # not retried while latest stays
    assert sorted(pool.names()) == ["sda-tiny", "sda-tiny-new"]
    pool.close()


def test_alias_move_is_followed_and_a_broken_version_is_not(store: LocalStore) -> None:
    events: list[tuple[str, ...]] = []
    pool = ModelPool(store=store, on_event=lambda *e: events.append(e))
    pool.load(["sda-tiny@production"])
    old = pool.get("sda-tiny")
    assert old.version == "1" and old.ready and old.ref == "sda-tiny@production"
    x = np.random.default_rng(0).random((2, 784), dtype=np.float32)
    v1_codes = old.batcher.run("encode", x)
    assert pool.refresh() == []  # nothing moved

    store.set_alias("sda-tiny", "production", "2")
    assert pool.refresh() == ["sda-tiny"]
    new = pool.get("sda-tiny")
    assert new.version == "2" and new.ready
    assert not np.allclose(new.batcher.run("encode", x), v1_codes)  # other weights
    assert ("swap", "sda-tiny", "2", "ok", "from 1") in events

    v3 = store.add(store.resolve("sda-tiny@2").path, "sda-tiny")
    onnx = v3.path / "onnx" / "encoder.onnx"
    onnx.chmod(0o644)
    onnx.write_bytes(onnx.read_bytes()[:-10] + b"corrupted!")
    store.set_alias("sda-tiny", "production", v3.version)
    assert pool.refresh() == []
    assert pool.get("sda-tiny").version == "2"  # the old version keeps serving
    failed = [e for e in events if e[3] == "failed"]
    assert failed and failed[0][:3] == ("load", "sda-tiny", "3") and "sha256" in failed[0][4]
    assert pool.refresh() == []  # not retried while the alias stays there
    pool.close()
