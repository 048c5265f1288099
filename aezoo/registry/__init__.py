"""Torch-free registry: the artifact format and its verification, the local store, and the
Hugging Face Hub remote."""

from __future__ import annotations

import os
from pathlib import Path

from aezoo.registry.store import LocalStore, ModelVersion


def resolve(name_or_path: str | os.PathLike[str], store: LocalStore | None = None) -> Path:
    """Artifact directory for a path, a registry reference ``name[@version|@alias]``, or a
    Hub reference ``hf-hub:ORG/REPO[@REVISION]`` (downloaded into the Hugging Face cache
    and verified; see :mod:`aezoo.registry.hub`).

    Raises:
        ModelNotFoundError: neither an artifact directory nor a known model.
        HubError: a Hub reference that cannot be fetched (see :func:`aezoo.registry.hub.download`).
        IntegrityError: a downloaded file differs from its manifest sha256.
    """
    if isinstance(name_or_path, str) and name_or_path.startswith("hf-hub:"):
        from aezoo.registry.hub import download

        return download(name_or_path)
    p = Path(name_or_path).expanduser()
    if p.is_dir() and (p / "config.json").is_file():
        return p
    return (store or LocalStore()).resolve(str(name_or_path)).path


__all__ = ["LocalStore", "ModelVersion", "resolve"]
