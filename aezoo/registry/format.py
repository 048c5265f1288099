"""The on-disk artifact of one model version, and its integrity manifest.

Layout (ARCHITECTURE.md; also the layout of the model's Hub repo)::

    config.json          ModelConfig: architecture, model_args, input spec, operations
    model.safetensors    weights (never pickle)
    onnx/encoder.onnx    x -> z       (dynamic batch axis)
    onnx/decoder.onnx    z -> x_hat   (dynamic batch axis)
    onnx/classifier.onnx x -> logits  (only with a supervised head)
    onnx/scorer.onnx     x -> scores (B,), contributions (B, n_features)  (optional;
                         aezoo.models.score: the anomaly score in the model's input space)
    onnx/export.json     opset, versions and the torch-vs-onnxruntime parity record
    README.md            model card
    training.json        recipe, seed, data fingerprint, metrics, library versions
    figures/*.png        filters, reconstructions
    samples.json         a few real test inputs (aezoo.export.samples), for playgrounds
    manifest.json        sha256 and size of every file above; written last

This module is the format's base layer (file names, the manifest, reading and writing);
:mod:`aezoo.registry.verify` checks an artifact against it, and
:mod:`aezoo.registry.artifact` is the public face of both. No torch here: serving reads
artifacts with numpy, pydantic and onnxruntime only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from aezoo.errors import ArtifactError, ConfigMismatchError
from aezoo.spec import ModelConfig

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
MANIFEST = "manifest.json"
CARD = "README.md"
TRAINING = "training.json"
ENCODER = "onnx/encoder.onnx"
DECODER = "onnx/decoder.onnx"
CLASSIFIER = "onnx/classifier.onnx"
SCORER = "onnx/scorer.onnx"  # optional anomaly scorer (aezoo.models.score)
DENOISER = (
    "onnx/denoiser.onnx"  # whole-image denoisers (spec.DenoiserSpec) instead of ENCODER/DECODER
)
EXPORT_RECORD = "onnx/export.json"
CALIBRATION = "calibration.json"  # optional: threshold + p-value table (aezoo.runtime.calibration)
SAMPLES = "samples.json"
FORMAT = "aezoo-artifact/1"
REQUIRED = (CONFIG, WEIGHTS, ENCODER, DECODER)
REQUIRED_DENOISER = (CONFIG, WEIGHTS, DENOISER)
# A model name: it becomes a registry directory, a URL path segment and a metrics label.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,95}$")
# A version: a registry directory, an HTTP header and a metrics label ("1", "2", ...).
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


def check_name(name: str) -> str:
    """``name`` if it is a valid model name, else ValueError naming the rule."""
    if not NAME_RE.match(name):
        raise ValueError(
            f"invalid model name {name!r}: use lowercase letters, digits, '.', '_' or '-' "
            "(max 96 characters, starting with a letter or digit)"
        )
    return name


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sha256: str
    size: int


class Manifest(BaseModel):
    """Contents of ``manifest.json``: what the version is and what its files must hash to.

    ``name`` follows :data:`NAME_RE` (the registry's rule: a name like ``../../escape`` is
    refused) and ``version`` :data:`VERSION_RE`; :func:`read_manifest` raises ArtifactError
    naming the field otherwise.
    """

    model_config = ConfigDict(extra="forbid")

    format: str = FORMAT
    name: str
    version: str
    created_at: str
    files: dict[str, FileEntry]

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        return check_name(name)

    @field_validator("version")
    @classmethod
    def _valid_version(cls, version: str) -> str:
        if not VERSION_RE.match(version):
            raise ValueError(
                f"invalid version {version!r}: letters, digits, '.', '_', '+' or '-' "
                "(max 64 characters, starting with a letter or digit)"
            )
        return version


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _artifact_files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name != MANIFEST
    )


def write_manifest(root: Path, name: str, version: str) -> Manifest:
    """Hash every file under ``root`` and write ``manifest.json`` (fsynced).

    Raises:
        ArtifactError: a required file (config, weights, and encoder and decoder, or the
            denoiser of a whole-image denoiser) is missing.
    """
    root = Path(root)
    required = REQUIRED_DENOISER if (root / DENOISER).is_file() else REQUIRED
    missing = [f for f in required if not (root / f).is_file()]
    if missing:
        alternative = (
            ""
            if required is REQUIRED_DENOISER
            else f" (or, for a whole-image denoiser, {DENOISER})"
        )
        raise ArtifactError(
            f"{root} is not a complete artifact: missing {', '.join(missing)}{alternative}"
        )
    files = {
        rel: FileEntry(sha256=sha256_file(root / rel), size=(root / rel).stat().st_size)
        for rel in _artifact_files(root)
    }
    manifest = Manifest(
        name=name,
        version=version,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        files=files,
    )
    write_json_durable(root / MANIFEST, manifest.model_dump(mode="json"))
    return manifest


def write_json_durable(path: Path, data: Any) -> None:
    """Write JSON via a uniquely named temp file + fsync + ``os.replace``: readers never see
    half a file, and concurrent writers (threads or processes) never share a temp file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it owner-only
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_manifest(root: Path) -> Manifest:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{root} is not an aezoo artifact: {MANIFEST} is missing")
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except ValidationError as e:
        raise ArtifactError(f"{path} is not a valid aezoo manifest: {one_line(e)}") from e
    if manifest.format != FORMAT:
        raise ArtifactError(
            f"{path}: unsupported artifact format {manifest.format!r}, expected {FORMAT!r}"
        )
    return manifest


def read_config(root: Path) -> ModelConfig:
    path = Path(root) / CONFIG
    if not path.is_file():
        raise ArtifactError(f"{root} is not an aezoo artifact: {CONFIG} is missing")
    try:
        return ModelConfig.model_validate_json(path.read_bytes())
    except ValidationError as e:
        raise ConfigMismatchError(
            CONFIG, f"{path} is not a valid aezoo config: {one_line(e)}"
        ) from e


def one_line(e: ValidationError) -> str:
    """A pydantic error as one line: ``field: message; field: message``."""
    return "; ".join(
        f"{'.'.join(map(str, err['loc'])) or 'value'}: {_message(err)}" for err in e.errors()
    )


def _message(err: Any) -> str:
    """A validator's own message without pydantic's ``Value error, `` prefix."""
    cause = err.get("ctx", {}).get("error") if err["type"] == "value_error" else None
    return str(cause) if cause is not None else err["msg"]
