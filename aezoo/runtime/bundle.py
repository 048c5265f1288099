"""An artifact as one picklable value, for machines that do not share a disk.

A cluster job resolves its model reference once, on the machine that starts the job
(:func:`pack_artifact`), and sends the bytes to every worker through the cluster's
object store; each worker writes them to a node-local directory once
(:func:`unpack_artifact`) and loads that directory as usual, with every file checked
against the manifest again. Every worker then runs the very version the job named,
whatever its own registry holds. No Ray import here: callers ``ray.put`` the bundle.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from aezoo.errors import ArtifactError, IntegrityError
from aezoo.registry.artifact import MANIFEST, verify_artifact

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class ArtifactBundle:
    """Every file of one verified artifact, in memory.

    Attributes:
        name, version: from the manifest.
        digest: sha256 hex of ``manifest.json``'s bytes (the manifest holds every
            other file's sha256, so this names the whole artifact).
        files: relative POSIX path -> bytes, ``manifest.json`` included.
    """

    name: str
    version: str
    digest: str
    files: dict[str, bytes]

    @property
    def size(self) -> int:
        """Bytes of all files together."""
        return sum(len(b) for b in self.files.values())


def pack_artifact(path: str | os.PathLike[str]) -> ArtifactBundle:
    """Verify the artifact directory ``path`` against its manifest and read it into a bundle.

    Raises:
        ArtifactError: no manifest, a listed file missing, or a listed path that is a symlink.
        IntegrityError: a file differs from its manifest sha256.
    """
    root = Path(path)
    manifest = verify_artifact(root)
    files: dict[str, bytes] = {}
    for rel in [*manifest.files, MANIFEST]:
        if (root / rel).is_symlink():
            raise ArtifactError(f"{root / rel} is a symlink; an artifact holds plain files only")
        files[rel] = (root / rel).read_bytes()
    digest = hashlib.sha256(files[MANIFEST]).hexdigest()
    return ArtifactBundle(manifest.name, manifest.version, digest, files)


def default_unpack_root() -> Path:
    """Node-local cache of unpacked bundles: ``$TMPDIR/aezoo-artifacts-<uid>``."""
    return Path(tempfile.gettempdir()) / f"aezoo-artifacts-{os.getuid()}"


def unpack_artifact(bundle: ArtifactBundle, root: str | os.PathLike[str] | None = None) -> Path:
    """Write a bundle under ``root`` once per machine and return the artifact directory.

    The directory is ``root/<name>-<version>-<digest[:16]>``. A complete one left by an
    earlier worker is reused after its files pass :func:`verify_artifact`; otherwise the
    files go to a private temporary directory, are verified, and are renamed into place
    (two workers racing both succeed; one rename wins).

    Args:
        bundle: from :func:`pack_artifact`.
        root: cache directory; default :func:`default_unpack_root`.

    Returns:
        The artifact directory.

    Raises:
        IntegrityError: the bundle's manifest does not hash to ``bundle.digest``, or a
            file does not match the manifest (the bundle was altered in transit).
        ArtifactError: a path in the bundle leaves the artifact directory.
    """
    if hashlib.sha256(bundle.files.get(MANIFEST, b"")).hexdigest() != bundle.digest:
        raise IntegrityError(MANIFEST, f"bundle of {bundle.name!r}: manifest digest mismatch")
    base = Path(root) if root is not None else default_unpack_root()
    base.mkdir(parents=True, exist_ok=True)
    key = "-".join(_UNSAFE.sub("_", s) for s in (bundle.name, bundle.version, bundle.digest[:16]))
    target = base / key
    if target.is_dir():
        try:
            verify_artifact(target)
            return target
        except ArtifactError:  # a damaged copy: replace it
            shutil.rmtree(target, ignore_errors=True)
    staging = base / f".{key}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        for rel, data in bundle.files.items():
            dest = (staging / rel).resolve()
            if staging.resolve() not in dest.parents:
                raise ArtifactError(f"bundle of {bundle.name!r}: path {rel!r} leaves the artifact")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        verify_artifact(staging)
        try:
            staging.rename(target)
        except OSError:  # another worker renamed its copy first
            verify_artifact(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


__all__ = ["ArtifactBundle", "default_unpack_root", "pack_artifact", "unpack_artifact"]
