"""Hostile artifacts (issue 15), built from the tiny SdA artifact: each is one way a
tampered or careless artifact tries to load. Shared by the registry, serving and Hub tests.

Each builder returns ``(directory, file the error must name)``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aezoo.registry.artifact import (
    CONFIG,
    ENCODER,
    MANIFEST,
    FileEntry,
    read_manifest,
    sha256_file,
    write_json_durable,
)
from aezoo.registry.store import BUNDLED_DIR

FOREIGN_ENCODER = BUNDLED_DIR / "sda-mnist" / ENCODER  # 784 -> 200; the tiny one is 784 -> 16


def relist(root: Path, drop: tuple[str, ...] = ()) -> None:
    """Rewrite the manifest over every file now in ``root`` (following links) except
    ``drop``: what a careless or malicious packer would ship."""
    old = read_manifest(root)
    files = {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    entries = {
        rel: FileEntry(sha256=sha256_file(p), size=p.stat().st_size).model_dump()
        for rel, p in files.items()
        if rel not in drop
    }
    data = old.model_dump(mode="json")
    data["files"] = entries
    write_json_durable(root / MANIFEST, data)


def edit_config(root: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = root / CONFIG
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config, indent=2))
    relist(root)


def unlisted_foreign_encoder(src: Path, dst: Path) -> tuple[Path, str]:
    """Another model's encoder in place of ours, and dropped from the manifest."""
    shutil.copytree(src, dst)
    shutil.copyfile(FOREIGN_ENCODER, dst / ENCODER)
    relist(dst, drop=(ENCODER,))
    return dst, ENCODER


def listed_foreign_encoder(src: Path, dst: Path) -> tuple[Path, str]:
    """Another model's encoder, listed with its true hash: the manifest is fine, the config
    (n_components 16) disagrees with the graph (200 wide)."""
    shutil.copytree(src, dst)
    shutil.copyfile(FOREIGN_ENCODER, dst / ENCODER)
    relist(dst)
    return dst, ENCODER


def n_features_mismatch(src: Path, dst: Path) -> tuple[Path, str]:
    """config.json says 100 input features throughout; the graphs take 784."""
    shutil.copytree(src, dst)

    def change(c: dict[str, Any]) -> None:
        c["input"].update(n_features=100, shape=None)
        c["model_args"].update(n_features=100, image_shape=None)

    edit_config(dst, change)
    return dst, ENCODER


def huge_model_args(src: Path, dst: Path) -> tuple[Path, str]:
    shutil.copytree(src, dst)
    edit_config(dst, lambda c: c["model_args"].update(hidden_sizes=[10**12, 16]))
    return dst, CONFIG


def negative_model_args(src: Path, dst: Path) -> tuple[Path, str]:
    shutil.copytree(src, dst)
    edit_config(dst, lambda c: c["model_args"].update(hidden_sizes=[-32, 16]))
    return dst, CONFIG


def config_symlink(src: Path, dst: Path) -> tuple[Path, str]:
    """config.json is a symlink to an identical file outside the artifact."""
    shutil.copytree(src, dst)
    outside = dst.parent / f"{dst.name}-outside-config.json"
    shutil.copyfile(dst / CONFIG, outside)
    (dst / CONFIG).unlink()
    os.symlink(outside, dst / CONFIG)
    return dst, CONFIG


def path_outside(src: Path, dst: Path) -> tuple[Path, str]:
    """The manifest lists a file outside the artifact (``../secret``)."""
    shutil.copytree(src, dst)
    secret = dst.parent / "secret"
    secret.write_text("not yours")
    data = json.loads((dst / MANIFEST).read_text())
    data["files"]["../secret"] = FileEntry(sha256=sha256_file(secret), size=9).model_dump()
    write_json_durable(dst / MANIFEST, data)
    return dst, "../secret"


HOSTILE: dict[str, Callable[[Path, Path], tuple[Path, str]]] = {
    "unlisted-foreign-encoder": unlisted_foreign_encoder,
    "listed-foreign-encoder": listed_foreign_encoder,
    "n-features-mismatch": n_features_mismatch,
    "huge-model-args": huge_model_args,
    "negative-model-args": negative_model_args,
    "config-symlink": config_symlink,
    "path-outside": path_outside,
}
