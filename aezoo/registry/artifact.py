"""The on-disk artifact of one model version, and its integrity manifest.

Layout (ARCHITECTURE.md; also the layout of the model's Hub repo)::

    config.json          ModelConfig: architecture, model_args, input spec, operations
    model.safetensors    weights (never pickle)
    onnx/encoder.onnx    x -> z       (dynamic batch axis)
    onnx/decoder.onnx    z -> x_hat   (dynamic batch axis)
    onnx/classifier.onnx x -> logits  (only with a supervised head)
    onnx/export.json     opset, versions and the torch-vs-onnxruntime parity record
    README.md            model card
    training.json        recipe, seed, data fingerprint, metrics, library versions
    figures/*.png        filters, reconstructions
    samples.json         a few real test inputs (aezoo.export.samples), for playgrounds
    manifest.json        sha256 and size of every file above; written last

No torch here: serving reads artifacts with numpy, pydantic and onnxruntime only.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from aezoo.errors import ArtifactError, IntegrityError
from aezoo.spec import ModelConfig

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
MANIFEST = "manifest.json"
CARD = "README.md"
TRAINING = "training.json"
ENCODER = "onnx/encoder.onnx"
DECODER = "onnx/decoder.onnx"
CLASSIFIER = "onnx/classifier.onnx"
EXPORT_RECORD = "onnx/export.json"
SAMPLES = "samples.json"
FORMAT = "aezoo-artifact/1"
REQUIRED = (CONFIG, WEIGHTS, ENCODER, DECODER)


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sha256: str
    size: int


class Manifest(BaseModel):
    """Contents of ``manifest.json``: what the version is and what its files must hash to."""

    model_config = ConfigDict(extra="forbid")

    format: str = FORMAT
    name: str
    version: str
    created_at: str
    files: dict[str, FileEntry]


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
        ArtifactError: a required file (config, weights, encoder, decoder) is missing.
    """
    root = Path(root)
    missing = [f for f in REQUIRED if not (root / f).is_file()]
    if missing:
        raise ArtifactError(f"{root} is not a complete artifact: missing {', '.join(missing)}")
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
    """Write JSON via a temp file + fsync + ``os.replace`` so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_manifest(root: Path) -> Manifest:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{root} is not an aezoo artifact: {MANIFEST} is missing")
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except ValidationError as e:
        raise ArtifactError(f"{path} is not a valid aezoo manifest: {e}") from e
    if manifest.format != FORMAT:
        raise ArtifactError(
            f"{path}: unsupported artifact format {manifest.format!r}, expected {FORMAT!r}"
        )
    return manifest


def verify_artifact(root: Path, files: list[str] | None = None) -> Manifest:
    """Check files against the manifest's sha256 and size.

    Args:
        root: artifact directory.
        files: relative paths to check; default every file in the manifest.

    Raises:
        ArtifactError: no manifest, or a listed file is missing.
        IntegrityError: a file's size or sha256 differs from the manifest; names the file.
    """
    root = Path(root)
    manifest = read_manifest(root)
    for rel in files if files is not None else list(manifest.files):
        entry = manifest.files.get(rel)
        if entry is None:
            raise ArtifactError(f"{root}: {rel} is not listed in {MANIFEST}")
        path = root / rel
        if not path.is_file():
            raise IntegrityError(rel, f"{path} is missing (listed in {MANIFEST})")
        size = path.stat().st_size
        if size != entry.size or sha256_file(path) != entry.sha256:
            raise IntegrityError(
                rel,
                f"{path} is corrupted or was modified: its sha256 does not match "
                f"{MANIFEST} (expected {entry.sha256[:12]}..., size {entry.size}; "
                f"found size {size})",
            )
    return manifest


def read_config(root: Path) -> ModelConfig:
    path = Path(root) / CONFIG
    if not path.is_file():
        raise ArtifactError(f"{root} is not an aezoo artifact: {CONFIG} is missing")
    try:
        return ModelConfig.model_validate_json(path.read_bytes())
    except ValidationError as e:
        raise ArtifactError(f"{path} is not a valid aezoo config: {e}") from e
