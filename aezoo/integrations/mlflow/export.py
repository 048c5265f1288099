"""Export: one aezoo model version becomes one MLflow registered model version.

The run holds the ``aezoo`` pyfunc model (the whole artifact under its ``artifacts/aezoo``,
every file the manifest lists, re-hashed before logging) and ``encoder-onnx`` (the encoder
graph under MLflow's ``onnx`` flavor). The registered version gets the card as description,
the metrics and data description of ``training.json`` as tags, and optionally an alias.
Source: MLflow 3 docs, "MLflow Model Registry" and "Custom PyFunc models".
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aezoo.integrations.mlflow.errors import MlflowBridgeError
from aezoo.integrations.mlflow.tracking import client_for, using

EXPERIMENT = "aezoo"
PYFUNC_NAME = "aezoo"
ONNX_NAME = "encoder-onnx"
TAG_PREFIX = "aezoo."


@dataclass(frozen=True)
class MlflowVersion:
    """Where an export landed: ``models:/{name}/{version}``, its run, its alias."""

    name: str
    version: str
    run_id: str
    alias: str | None
    source: str  # the aezoo reference, NAME@VERSION

    @property
    def uri(self) -> str:
        return (
            f"models:/{self.name}@{self.alias}"
            if self.alias
            else f"models:/{self.name}/{self.version}"
        )


def _local(ref: str) -> tuple[Path, Any]:
    """The artifact directory and manifest of a registry reference or a directory, verified."""
    from aezoo.registry.store import LocalStore
    from aezoo.registry.verify import verify_artifact

    path = Path(ref)
    if not (path / "manifest.json").is_file():
        path = LocalStore().resolve(ref).path
    return path, verify_artifact(path)


def _stage(src: Path, files: list[str], into: Path) -> Path:
    """Copy the manifest's files (and the manifest) into ``into/aezoo``."""
    out = into / PYFUNC_NAME
    for rel in [*files, "manifest.json"]:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, out / rel)
    return out


def _signature(model: Any) -> Any:
    """Input ``(-1, -1)`` float32 (``n_features`` wide, or ``code_dim`` for ``decode``),
    output the default operation's answer, and the
    params ``operation`` (string, default ``encode``) and ``steps`` (long, default 8)."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec, Schema, TensorSpec

    from aezoo.integrations.mlflow.pyfunc import answer

    x = model.blank_inputs(2).reshape(2, -1)
    y = answer(model, x, None)
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, -1))]),
        outputs=Schema([TensorSpec(y.dtype, (-1, *y.shape[1:]))]),
        params=ParamSchema(
            [ParamSpec("operation", "string", "encode"), ParamSpec("steps", "long", 8)]
        ),
    )


def _tags(path: Path, name: str, version: str) -> dict[str, str]:
    tags = {f"{TAG_PREFIX}source": f"{name}@{version}"}
    training = path / "training.json"
    if training.is_file():
        info = json.loads(training.read_text())
        for key, value in (info.get("metrics") or {}).items():
            tags[f"{TAG_PREFIX}metric.{key}"] = repr(value)
        data = {k: info[k] for k in ("dataset", "data_fingerprint") if info.get(k) is not None}
        if data:
            tags[f"{TAG_PREFIX}data"] = json.dumps(data, sort_keys=True)[:5000]
    return tags


def publish(
    ref: str,
    tracking_uri: str | None = None,
    registered_model: str | None = None,
    alias: str | None = None,
) -> MlflowVersion:
    """Log an aezoo version to an MLflow run and register it (``aezoo publish --to mlflow``).

    Args:
        ref: registry reference ``NAME[@VERSION|@ALIAS]`` or an artifact directory.
        tracking_uri: e.g. ``sqlite:///mlflow.db`` or ``http://127.0.0.1:5000``; default
            MLflow's own resolution (``MLFLOW_TRACKING_URI``). The registry URI is the same.
        registered_model: MLflow registered-model name; default the aezoo model's name.
        alias: move this MLflow alias (e.g. ``production``) to the new version.

    Returns:
        :class:`MlflowVersion`.

    Raises:
        ModelNotFoundError, ArtifactError, IntegrityError: the local version is missing or
            fails its manifest.
        MlflowUnreachableError: no tracking server / store (checked before anything is written).
        MlflowBridgeError: an MLflow step failed; the run and any version it registered are
            deleted again, so the registry holds nothing of this call.
    """
    import mlflow
    import onnx

    from aezoo.integrations.mlflow.pyfunc import AezooPyfunc
    from aezoo.registry.store import check_alias
    from aezoo.runtime.loading import load_model

    if alias is not None:
        check_alias(alias)
    path, manifest = _local(ref)
    model = load_model(path)
    target = registered_model or manifest.name
    client = client_for(tracking_uri)
    uri = client.tracking_uri
    had_model = bool(client.search_registered_models(filter_string=f"name = '{target}'"))
    run_id: str | None = None
    version: str | None = None
    try:
        with using(uri):
            exp = client.get_experiment_by_name(EXPERIMENT)
            exp_id = exp.experiment_id if exp else client.create_experiment(EXPERIMENT)
            tags = _tags(path, manifest.name, manifest.version)
            with tempfile.TemporaryDirectory(prefix="aezoo-mlflow-") as tmp:
                staged = _stage(path, list(manifest.files), Path(tmp))
                _local(str(staged))  # the staged copy, re-hashed
                with mlflow.start_run(
                    experiment_id=exp_id, run_name=f"{manifest.name}@{manifest.version}"
                ) as run:
                    run_id = run.info.run_id
                    mlflow.set_tags(tags)
                    info = mlflow.pyfunc.log_model(
                        name=PYFUNC_NAME,
                        python_model=AezooPyfunc(),
                        artifacts={"aezoo": str(staged)},
                        signature=_signature(model),
                        pip_requirements=["aezoo[mlflow]", "onnxruntime", "numpy"],
                    )
                    encoder = staged / "onnx" / "encoder.onnx"
                    if encoder.is_file():
                        mlflow.onnx.log_model(onnx.load(str(encoder)), name=ONNX_NAME)
            mv = mlflow.register_model(info.model_uri, target, tags=tags)
            version = str(mv.version)
            card = path / "README.md"
            if card.is_file():
                client.update_model_version(target, version, description=card.read_text())
            if alias:
                client.set_registered_model_alias(target, alias, version)
    except Exception as e:
        _undo(client, target, version, run_id, had_model)
        raise MlflowBridgeError(
            f"export of {manifest.name}@{manifest.version} to {uri} failed: {e}"
        ) from e
    return MlflowVersion(
        target, version, run_id or "", alias, f"{manifest.name}@{manifest.version}"
    )


def _undo(client: Any, name: str, version: str | None, run_id: str | None, had_model: bool) -> None:
    """Remove what a failed export wrote: the version, a registered model it created, the run."""
    steps = []
    if version is not None:
        steps.append(lambda: client.delete_model_version(name, version))
    if not had_model:
        steps.append(lambda: client.delete_registered_model(name))
    if run_id is not None:
        steps.append(lambda: client.delete_run(run_id))
    for step in steps:
        with contextlib.suppress(Exception):  # best effort: the first error is reported
            step()
