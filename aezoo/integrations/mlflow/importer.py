"""Import: an aezoo export in an MLflow registry becomes a new local registry version.

The version's files are downloaded into a temp dir and added with
:meth:`aezoo.registry.store.LocalStore.add` (manifest, config and graphs verified, each
copy re-hashed; staged and renamed, so a failure leaves the local registry untouched).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from aezoo.errors import ModelNotFoundError
from aezoo.integrations.mlflow.errors import NotAezooModelError
from aezoo.integrations.mlflow.tracking import client_for, using
from aezoo.integrations.mlflow.uri import parse_model_uri


def _version(client: Any, name: str, alias: str | None, version: str | None) -> Any:
    try:
        if alias is not None:
            return client.get_model_version_by_alias(name, alias)
        return client.get_model_version(name, version)
    except Exception as e:
        where = f"@{alias}" if alias is not None else f"/{version}"
        raise ModelNotFoundError(
            f"MLflow registry has no models:/{name}{where} ({str(e).splitlines()[0]})"
        ) from None


def aezoo_dir(model_dir: Path, what: str) -> Path:
    """The aezoo artifact inside a downloaded MLflow model, or NotAezooModelError naming
    what is missing (``MLmodel``, the ``python_function`` flavor's ``aezoo`` artifact, or
    its ``manifest.json``)."""
    from mlflow.models import Model

    if not (model_dir / "MLmodel").is_file():
        raise NotAezooModelError(f"{what} is not an MLflow model: no MLmodel file")
    flavors = Model.load(str(model_dir / "MLmodel")).flavors
    pyfunc = flavors.get("python_function") or {}
    entry = (pyfunc.get("artifacts") or {}).get("aezoo")
    if entry is None:
        raise NotAezooModelError(
            f"{what} is not an aezoo export: its MLmodel has no python_function artifact 'aezoo' "
            f"(flavors: {', '.join(flavors) or 'none'}); export with `aezoo publish --to mlflow`"
        )
    root = model_dir / entry["path"]
    if not (root / "manifest.json").is_file():
        raise NotAezooModelError(
            f"{what} is not an aezoo export: {entry['path']}/manifest.json is missing"
        )
    return root


def pull(ref: str, tracking_uri: str | None = None, name: str | None = None) -> Any:
    """Copy ``mlflow:models:/NAME@ALIAS`` (or ``models:/NAME/VERSION``) into the local registry.

    Args:
        ref: see :func:`aezoo.integrations.mlflow.uri.parse_model_uri`.
        tracking_uri: default MLflow's own resolution (``MLFLOW_TRACKING_URI``).
        name: local model name; default the name in the artifact's manifest.

    Returns:
        The new :class:`aezoo.registry.store.ModelVersion`. When the source was addressed by
        an alias, the model's history gets a note recording it (no local alias moves).

    Raises:
        ValueError: ``ref`` is not an MLflow model reference.
        MlflowUnreachableError: no tracking server / store.
        ModelNotFoundError: no such registered model, version or alias.
        NotAezooModelError: the model is not an aezoo export (message names what is missing).
        IntegrityError: a file in the MLflow store does not match the manifest (names the file).
    """
    import mlflow.artifacts

    from aezoo.registry.artifact import read_manifest
    from aezoo.registry.store import LocalStore

    mname, alias, mversion = parse_model_uri(ref)
    client = client_for(tracking_uri)
    mv = _version(client, mname, alias, mversion)
    with tempfile.TemporaryDirectory(prefix="aezoo-mlflow-") as tmp, using(client.tracking_uri):
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{mname}/{mv.version}", dst_path=tmp
        )
        root = aezoo_dir(Path(local), f"models:/{mname}/{mv.version}")
        target = name or read_manifest(root).name
        note = None
        if alias is not None:
            note = f"imported from MLflow models:/{mname}/{mv.version}, alias {alias!r} there"
        command = f"aezoo pull {ref}" + (f" --name {name}" if name else "")
        return LocalStore().add(root, target, command=command, note=note)
