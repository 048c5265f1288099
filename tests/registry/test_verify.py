"""Artifact verification on every load path: hostile artifacts are refused with one typed,
one-line error naming the file, before anything is loaded or allocated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import aezoo
from aezoo.errors import (
    ArtifactError,
    ConfigMismatchError,
    IntegrityError,
    UnsafeArtifactError,
)
from aezoo.registry.artifact import CONFIG, read_config
from aezoo.registry.store import BUNDLED_DIR, LocalStore
from aezoo.registry.verify import MAX_ARG, check_graphs, verify_artifact
from tests.registry.hostile import HOSTILE, edit_config, relist

BUNDLED = sorted(p.parent.name for p in BUNDLED_DIR.glob("*/manifest.json"))


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_model_passes_every_check(name: str) -> None:
    root = BUNDLED_DIR / name
    verify_artifact(root)
    check_graphs(root, read_config(root))


def check_refusal(info: pytest.ExceptionInfo[ArtifactError], filename: str) -> None:
    message = str(info.value)
    assert info.value.filename == filename  # type: ignore[attr-defined]
    assert filename in message and "\n" not in message


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_artifacts_are_refused_by_load_register_and_from_pretrained(
    case: str, tiny_artifact: Path, tmp_path: Path
) -> None:
    root, filename = HOSTILE[case](tiny_artifact, tmp_path / case)
    with pytest.raises((UnsafeArtifactError, ConfigMismatchError, IntegrityError)) as info:
        aezoo.load(root)
    check_refusal(info, filename)
    store = LocalStore(root=tmp_path / "registry", bundled=None)
    with pytest.raises(ArtifactError) as info:
        store.add(root, "m")
    check_refusal(info, filename)
    assert store.local_versions("m") == [] and not list((tmp_path / "registry").rglob("*.onnx"))
    pytest.importorskip("torch")
    with pytest.raises(ArtifactError) as info:
        aezoo.from_pretrained(root)
    check_refusal(info, filename)


def test_unlisted_and_missing_files_are_named(tiny_artifact: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    shutil.copytree(tiny_artifact, extra)
    (extra / "figures").mkdir(exist_ok=True)
    (extra / "figures" / "later.png").write_bytes(b"\x89PNG")
    with pytest.raises(UnsafeArtifactError, match=r"figures/later\.png is not listed") as info:
        verify_artifact(extra)
    assert info.value.filename == "figures/later.png"

    no_head = tmp_path / "no-head"  # offers classify, ships no classifier
    shutil.copytree(tiny_artifact, no_head)
    (no_head / "onnx" / "classifier.onnx").unlink()
    relist(no_head)
    with pytest.raises(UnsafeArtifactError, match=r"needed by config\.json") as info:
        verify_artifact(no_head)
    assert info.value.filename == "onnx/classifier.onnx"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda c: c["model_args"].update(n_features=100), "model_args.n_features is 100"),
        (lambda c: c.update(n_components=10**9), "n_components is 1000000000"),
        (lambda c: c["input"].update(shape=[-28, -28]), "input.shape [-28, -28]"),
        (lambda c: c["model_args"].update(dropout=float("nan")), "model_args.dropout is nan"),
        (lambda c: c.update(n_components=-3), "n_components"),
        (lambda c: c.update(class_names=["only-one"]), "class_names is 1"),
    ],
    ids=["disagrees", "huge", "negative-shape", "nan", "negative", "one-class"],
)
def test_config_bounds(change, words: str, tiny_artifact: Path, tmp_path: Path) -> None:
    root = tmp_path / "a"
    shutil.copytree(tiny_artifact, root)
    edit_config(root, change)
    with pytest.raises(ConfigMismatchError) as info:
        verify_artifact(root)
    assert words in str(info.value) and info.value.filename == CONFIG


def test_from_pretrained_compares_the_weights_before_allocating(
    tiny_artifact: Path, tmp_path: Path
) -> None:
    """model_args within the generic bounds that would need ~4 TiB: refused by shape, from
    the weights' header, before torch allocates (an allocation would fail differently)."""
    pytest.importorskip("torch")
    root = tmp_path / "wide"
    shutil.copytree(tiny_artifact, root)
    edit_config(root, lambda c: c["model_args"].update(hidden_sizes=[MAX_ARG, MAX_ARG, 16]))
    aezoo.load(root)  # the ONNX graphs never read model_args: serving is unaffected
    with pytest.raises(ConfigMismatchError, match=r"disagree.*layers\.0\.") as info:
        aezoo.from_pretrained(root)
    assert "model.safetensors" in str(info.value) and info.value.filename == CONFIG


def test_a_hostile_config_is_refused_in_one_line_by_the_cli(
    tiny_artifact: Path, tmp_path: Path
) -> None:
    from tests.conftest import run_cli

    root, _ = HOSTILE["listed-foreign-encoder"](tiny_artifact, tmp_path / "a")
    env = {**__import__("os").environ, "AEZOO_HOME": str(tmp_path / "home")}
    for argv in (["register", str(root)], ["evaluate", str(root)]):
        proc = run_cli(*argv, env=env)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1, proc.stderr
        assert "onnx/encoder.onnx" in lines[0] and "(batch, 16)" in lines[0]
    assert not (tmp_path / "home" / "registry").exists() or not list(
        (tmp_path / "home").rglob("manifest.json")
    )
    assert json.loads((root / "manifest.json").read_text())["files"]  # untouched


def _with_manifest(src: Path, dst: Path, **fields: str) -> Path:
    """A copy of ``src`` whose manifest.json states ``fields`` (its file hashes still hold)."""
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    (dst / "manifest.json").write_text(json.dumps({**manifest, **fields}))
    return dst


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("name", "../../escape", "invalid model name '../../escape'"),
        ("name", "a/b", "invalid model name 'a/b'"),
        ("name", "Sda-MNIST", "invalid model name 'Sda-MNIST'"),
        ("name", "", "invalid model name ''"),
        ("name", "m" * 97, "max 96 characters"),
        ("version", "../1", "invalid version '../1'"),
        ("version", "1\nx", "invalid version"),
    ],
)
def test_manifest_name_and_version_follow_the_registry_rules(
    field: str, value: str, words: str, tiny_artifact: Path, tmp_path: Path
) -> None:
    root = _with_manifest(tiny_artifact, tmp_path / "a", **{field: value})
    for load in (verify_artifact, aezoo.load):
        with pytest.raises(ArtifactError) as info:
            load(root)
        message = str(info.value)
        assert words in message and f"{field}: " in message and "\n" not in message
        assert "Value error" not in message  # the rule itself, not pydantic's wrapping
    store = LocalStore(root=tmp_path / "registry", bundled=None)
    with pytest.raises(ArtifactError, match="invalid"):
        store.add(root, "m")
