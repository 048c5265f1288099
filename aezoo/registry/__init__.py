"""Artifacts, ONNX export, the local store and (later) the Hub remote."""

from __future__ import annotations

import os
from pathlib import Path

from aezoo.registry.store import LocalStore, ModelVersion


def resolve(name_or_path: str | os.PathLike[str], store: LocalStore | None = None) -> Path:
    """Artifact directory for a path, or a registry reference ``name[@version|@alias]``.

    Raises:
        ModelNotFoundError: neither an artifact directory nor a known model.
    """
    p = Path(name_or_path).expanduser()
    if p.is_dir() and (p / "config.json").is_file():
        return p
    return (store or LocalStore()).resolve(str(name_or_path)).path


__all__ = ["LocalStore", "ModelVersion", "resolve"]
