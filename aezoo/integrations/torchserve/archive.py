"""Pack a registered aezoo model as a TorchServe model archive (``.mar``).

The archive is built with ``torch-model-archiver`` (the ``[torchserve]`` extra) and holds:

    torchserve_handler.py   aezoo's handler (:mod:`aezoo.integrations.torchserve.torchserve_handler`)
    artifact/...            every file of the artifact's manifest, and manifest.json
    model-config.yaml       TorchServe's per-model settings: batchSize, maxBatchDelay,
                            workers, responseTimeout; under ``aezoo:`` the name and version
                            packed, max_batch_size (samples per request), intra_op_threads
    MAR-INF/MANIFEST.json   written by torch-model-archiver

The handler runs the ONNX graphs with aezoo's onnxruntime runtime, not the torch
module: the graphs are what every other aezoo surface serves (``aezoo serve``,
``aezoo.load``, the Hub), so TorchServe answers the same numbers; the input checks
are the runtime's own; and the handler needs neither torch nor aezoo's training code.
TorchServe's Python environment needs aezoo installed (``pip install aezoo``).

After writing, every archived artifact file is read back from the zip and checked
against the manifest's sha256.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from aezoo.errors import ArtifactError, ConfigError, missing_extra
from aezoo.integrations.torchserve import torchserve_handler
from aezoo.registry import resolve
from aezoo.registry.artifact import MANIFEST, verify_artifact

HANDLER_FILE = Path(torchserve_handler.__file__)


@dataclass(frozen=True)
class ArchiveSettings:
    """TorchServe batching and worker settings written into ``model-config.yaml``.

    Attributes:
        batch_size: requests TorchServe gathers into one handler call (>= 1).
        max_batch_delay_ms: longest wait for a batch to fill, milliseconds (>= 0).
        workers: worker processes (minWorkers = maxWorkers), each with its own sessions;
            0 leaves it to TorchServe (one per CPU core).
        response_timeout_s: TorchServe's per-batch timeout, seconds.
        max_batch_size: most samples one request may carry (413 above).
        intra_op_threads: onnxruntime threads per session (0 = onnxruntime's default).
    """

    batch_size: int = 32
    max_batch_delay_ms: int = 5
    workers: int = 0
    response_timeout_s: int = 120
    max_batch_size: int = 1024
    intra_op_threads: int = 0

    def __post_init__(self) -> None:
        for name in ("batch_size", "response_timeout_s", "max_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_batch_delay_ms", "workers", "intra_op_threads"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")

    def yaml(self, name: str, version: str) -> str:
        """``model-config.yaml`` text (flat YAML; strings quoted as JSON, a YAML subset)."""
        import json

        workers = f"minWorkers: {self.workers}\nmaxWorkers: {self.workers}\n"
        return (
            (workers if self.workers else "")
            + f"batchSize: {self.batch_size}\nmaxBatchDelay: {self.max_batch_delay_ms}\n"
            f"responseTimeout: {self.response_timeout_s}\n"
            f"aezoo:\n  name: {json.dumps(name)}\n  version: {json.dumps(version)}\n"
            f"  max_batch_size: {self.max_batch_size}\n"
            f"  intra_op_threads: {self.intra_op_threads}\n"
        )


def _stage_artifact(src: Path, dst: Path) -> tuple[str, str, dict[str, str]]:
    """Copy the manifest's files (and the manifest) of ``src`` into ``dst``.

    A Hugging Face cache snapshot's files are links into its blobs (which
    :func:`verify_artifact` allows there and nowhere else); the copies are plain files.

    Returns:
        ``(name, version, {relative path: sha256})`` from the manifest.

    Raises:
        ArtifactError / IntegrityError: a file fails verification.
    """
    manifest = verify_artifact(src)
    for rel in [*manifest.files, MANIFEST]:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dst / rel)  # follows a snapshot's link to its blob
    return manifest.name, manifest.version, {k: v.sha256 for k, v in manifest.files.items()}


def _check_archive(mar: Path, sha256: dict[str, str]) -> None:
    """Read every archived artifact file back and compare with the manifest."""
    with zipfile.ZipFile(mar) as z:
        names = set(z.namelist())
        for rel, want in sha256.items():
            member = f"{torchserve_handler.ARTIFACT_DIR}/{rel}"
            if member not in names:
                raise ArtifactError(f"{mar}: {member} is missing from the archive")
            if hashlib.sha256(z.read(member)).hexdigest() != want:
                raise ArtifactError(f"{mar}: {member} differs from its manifest sha256")
        for required in (HANDLER_FILE.name, "MAR-INF/MANIFEST.json"):
            if required not in names:
                raise ArtifactError(f"{mar}: {required} is missing from the archive")


def build_archive(
    ref: str,
    to: str | Path,
    settings: ArchiveSettings | None = None,
    force: bool = False,
) -> Path:
    """Write ``<to>/<name>.mar`` for a registered model (or an artifact directory).

    Args:
        ref: ``name[@version|@alias]``, ``hf-hub:ORG/REPO[@REV]`` or an artifact directory.
        to: output directory (created if missing).
        settings: TorchServe batching/worker settings; default :class:`ArchiveSettings`.
        force: overwrite an existing archive of the same name.

    Returns:
        Path of the ``.mar``.

    Raises:
        ModelNotFoundError, ArtifactError, IntegrityError: bad ref or artifact.
        FileExistsError: the archive exists and ``force`` is false.
        MissingExtraError: ``torch-model-archiver`` is not installed (the [torchserve] extra).
        ConfigError: bad settings.
    """
    try:
        from model_archiver import ModelArchiver, ModelArchiverConfig
    except ModuleNotFoundError as e:
        raise (missing_extra(e, "a TorchServe archive") or e) from None
    settings = settings or ArchiveSettings()
    src = resolve(ref)
    out_dir = Path(to)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="aezoo-mar-") as tmp:
        extra = Path(tmp) / "extra"
        name, version, sha256 = _stage_artifact(src, extra / torchserve_handler.ARTIFACT_DIR)
        mar = out_dir / f"{name}.mar"
        if mar.exists() and not force:
            raise FileExistsError(f"{mar} exists; pass --force to overwrite it")
        config = Path(tmp) / "model-config.yaml"
        config.write_text(settings.yaml(name, version))
        ModelArchiver.generate_model_archive(
            ModelArchiverConfig(
                model_name=name,
                handler=str(HANDLER_FILE),
                version=version,
                extra_files=str(extra),
                config_file=str(config),
                export_path=str(out_dir),
                force=force,
            )
        )
    _check_archive(mar, sha256)
    return mar
