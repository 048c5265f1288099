"""Load the models a server or a job names: registry references, Hub references or paths."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from aezoo.errors import ConfigError
from aezoo.registry import LocalStore, resolve
from aezoo.runtime.model import OnnxModel


def same_name_error(name: str, first: tuple[str, str], second: tuple[str, str]) -> ConfigError:
    """The error for two references that load the same model name (one server serves one
    version per name); ``first``/``second`` are ``(reference or path, version)``."""
    return ConfigError(
        f"{first[0]} and {second[0]} are both model {name!r} (versions {first[1]} and "
        f"{second[1]}); a server serves one version per name: pass one of them"
    )


def load_model(name_or_path: str | os.PathLike[str], **kwargs: Any) -> OnnxModel:
    """One artifact for inference: a directory, ``name[@version|@alias]`` or ``hf-hub:ORG/REPO[@REV]``.

    Args:
        name_or_path: see :func:`aezoo.registry.resolve`.
        **kwargs: passed to :class:`~aezoo.runtime.model.OnnxModel` (providers, ...).

    Raises:
        ModelNotFoundError, ArtifactError, IntegrityError, HubError.
    """
    return OnnxModel(resolve(name_or_path), **kwargs)


def load_models(refs: Sequence[str] | None = None, threads: int = 0) -> dict[str, OnnxModel]:
    """Load artifacts by registry reference or path; none given = every model in the registry.

    Args:
        refs: ``name[@version|@alias]`` or artifact directories; empty or ``None`` loads
            the latest version of every model in :class:`~aezoo.registry.LocalStore`.
        threads: onnxruntime intra-op threads per session (0 = onnxruntime's default).

    Returns:
        Models keyed by their manifest name, in the order given.

    Raises:
        ConfigError: nothing to load, or two refs resolve to the same model name.
        ModelNotFoundError, ArtifactError, IntegrityError: unknown ref, broken artifact.
    """
    if refs:
        paths = [resolve(ref) for ref in refs]
    else:
        store = LocalStore()
        paths = [mv.path for mv in store.list()]
        if not paths:
            raise ConfigError(f"no models to serve: the registry {store.root} is empty; pass refs")
    models: dict[str, tuple[str, OnnxModel]] = {}  # name -> (the ref that loaded it, model)
    for ref, path in zip(refs or map(str, paths), paths, strict=True):
        model = OnnxModel(path, intra_op_threads=threads)
        if model.name in models:
            first, seen = models[model.name]
            raise same_name_error(model.name, (first, seen.version), (ref, model.version))
        models[model.name] = (ref, model)
    return {name: model for name, (_, model) in models.items()}
