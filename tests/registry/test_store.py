"""Local registry: versions, aliases, bundled fallback, integrity, atomic writes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import aezoo
from aezoo.errors import ArtifactError, IntegrityError, ModelNotFoundError
from aezoo.registry.store import LocalStore
from aezoo.registry.verify import verify_artifact
from aezoo.runtime.model import OnnxModel


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(root=tmp_path / "registry", bundled=tmp_path / "bundled")


def test_versions_are_numbered_and_latest_follows(store: LocalStore, tiny_artifact: Path) -> None:
    v1 = store.add(tiny_artifact, "m")
    v2 = store.add(tiny_artifact, "m")
    assert (v1.version, v2.version) == ("1", "2")
    assert store.resolve("m").version == "2"
    assert store.resolve("m@latest").version == "2"
    assert store.resolve("m@1").path == v1.path
    assert [m.name for m in store.list()] == ["m"]
    # the source artifact is untouched and both stored copies verify
    verify_artifact(v1.path)
    assert (v2.path / "manifest.json").read_text().count('"version": "2"') == 1


def test_aliases_move_and_unknown_refs_are_named(store: LocalStore, tiny_artifact: Path) -> None:
    store.add(tiny_artifact, "m")
    store.add(tiny_artifact, "m", aliases=("production",))
    assert store.resolve("m@production").version == "2"
    store.set_alias("m", "production", "1")
    assert store.resolve("m@production").version == "1"
    with pytest.raises(ModelNotFoundError, match=r"no version or alias 'staging'.*versions: 1, 2"):
        store.resolve("m@staging")
    with pytest.raises(ModelNotFoundError, match=r"no model named 'nope'.*known: m"):
        store.resolve("nope")
    with pytest.raises(ModelNotFoundError):
        store.set_alias("m", "production", "7")
    with pytest.raises(ValueError, match="invalid model name"):
        store.add(tiny_artifact, "Bad Name")


def test_bundled_models_are_a_read_only_fallback(store: LocalStore, tiny_artifact: Path) -> None:
    bundled = store.bundled / "b"  # type: ignore[operator]
    shutil.copytree(tiny_artifact, bundled)
    got = store.resolve("b")
    assert (got.source, got.path, got.version) == ("bundled", bundled, "1")
    assert got.aliases == ("latest", "bundled")
    # the first local version numbers after the bundled one and becomes latest ...
    local = store.add(tiny_artifact, "b")
    assert local.version == "2" and store.resolve("b").path == local.path
    assert store.resolve("b@2").path == local.path
    # ... while the packaged copy stays reachable, by name and by number
    for ref in ("b@bundled", "b@1"):
        assert store.resolve(ref).path == bundled, ref
    assert aezoo.load(f"{store.root}/b/versions/2").version == "2"
    assert [(v.version, v.source) for v in store.versions("b")] == [
        ("1", "bundled"),
        ("2", "local"),
    ]
    assert {m.name for m in store.list()} == {"b"}
    # an alias may pin the packaged copy
    store.set_alias("b", "production", "bundled")
    assert store.resolve("b@production").path == bundled
    assert store.resolve("b@bundled").aliases == ("bundled", "production")
    for reserved in ("latest", "bundled"):
        with pytest.raises(ValueError, match="not an alias that can be set"):
            store.set_alias("b", reserved, "2")
    with pytest.raises(ModelNotFoundError, match="no bundled model named 'm'"):
        store.resolve("m@bundled")


def test_alias_history_records_who_what_from_and_when(
    store: LocalStore, tiny_artifact: Path
) -> None:
    store.add(tiny_artifact, "m", aliases=("production",), command="first build")
    store.add(tiny_artifact, "m")
    store.set_alias("m", "production", "2", command="promote")
    store.set_alias("m", "production", "1")  # default command: this process's argv
    history = store.alias_history("m")
    assert [(h["alias"], h["from"], h["to"]) for h in history] == [
        ("production", None, "1"),
        ("production", "1", "2"),
        ("production", "2", "1"),
    ]
    assert [h["command"] for h in history[:2]] == ["first build", "promote"]
    assert history[2]["command"] and all("@" in h["user"] and h["pid"] for h in history)
    times = [h["time"] for h in history]
    assert times == sorted(times)
    assert store.aliases("m") == {"production": "1"}
    # appended, never rewritten: the first lines are byte-for-byte the same after a move
    log = store.root / "m" / "aliases.history.jsonl"
    before = log.read_bytes()
    store.set_alias("m", "staging", "2")
    assert log.read_bytes().startswith(before)


def test_flipped_byte_is_refused_naming_the_file(store: LocalStore, tiny_artifact: Path) -> None:
    v = store.add(tiny_artifact, "m")
    OnnxModel(v.path)  # loads while intact
    target = v.path / "onnx" / "encoder.onnx"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"onnx/encoder\.onnx") as info:
        aezoo.load(str(v.path))
    assert info.value.filename == "onnx/encoder.onnx"


def test_missing_manifest_is_not_an_artifact(tmp_path: Path, tiny_artifact: Path) -> None:
    d = tmp_path / "copy"
    shutil.copytree(tiny_artifact, d)
    (d / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match=r"manifest\.json is missing"):
        OnnxModel(d)


KILLER = textwrap.dedent(
    """
    import os, shutil, signal, sys
    from aezoo.registry.store import LocalStore
    copied = []
    real_copyfile = shutil.copyfile
    def copy_then_die(src, dst, **kw):
        real_copyfile(src, dst, **kw)
        copied.append(dst)
        if len(copied) == 3:          # midway through the artifact's files
            os.kill(os.getpid(), signal.SIGKILL)
    shutil.copyfile = copy_then_die
    LocalStore(root=sys.argv[1], bundled=None).add(sys.argv[2], "m")
    """
)


def test_write_killed_midway_leaves_previous_version_loadable(
    tmp_path: Path, tiny_artifact: Path
) -> None:
    root = tmp_path / "registry"
    store = LocalStore(root=root, bundled=None)
    store.add(tiny_artifact, "m")
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(root), str(tiny_artifact)], timeout=120
    )
    assert proc.returncode == -9  # really killed mid-write
    assert list((root / "m").glob(".staging-*")), (
        "the killed writer should have left its staging dir"
    )
    assert store.local_versions("m") == ["1"]
    model = OnnxModel(store.resolve("m").path)
    x = np.random.default_rng(0).random((2, 784), dtype=np.float32)
    assert model.encode(x).shape == (2, 16)
    # the next writer cleans the dead writer's staging dir and takes version 2
    assert store.add(tiny_artifact, "m").version == "2"
    assert not list((root / "m").glob(".staging-*"))
