"""The local model registry: named models, immutable versions, movable aliases.

Layout under ``$AEZOO_HOME/registry`` (``AEZOO_HOME`` defaults to the user
cache directory, e.g. ``~/.cache/aezoo``)::

    <name>/versions/<n>/...   one complete artifact per version (n = 1, 2, ...)
    <name>/aliases.json       {"production": "2", ...}
    <name>/.staging-*/        a version being written; never listed or loaded

``latest`` is not stored: it is always the highest complete version, so it
cannot go stale. A version is written into a staging directory, its manifest
last, fsynced, then renamed into place in one ``rename(2)``: a process killed
at any point leaves the previous versions and aliases exactly as they were.

Models bundled inside the package (``aezoo/pretrained/<name>/``) are a
read-only fallback: a name the local store lacks resolves to its bundled copy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from aezoo.errors import ArtifactError, ModelNotFoundError, VersionExistsError
from aezoo.registry.artifact import (
    Manifest,
    read_manifest,
    verify_artifact,
    write_json_durable,
    write_manifest,
)

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
LATEST = "latest"
_DEFAULT = object()
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,95}$")
_ALIAS_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def aezoo_home() -> Path:
    """``$AEZOO_HOME`` or the user cache directory (``platformdirs.user_cache_dir("aezoo")``)."""
    env = os.environ.get("AEZOO_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("aezoo"))


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(
            f"invalid model name {name!r}: use lowercase letters, digits, '.', '_' or '-' "
            "(max 96 characters, starting with a letter or digit)"
        )
    return name


def parse_ref(ref: str) -> tuple[str, str]:
    """Split ``"name[@version-or-alias]"``; the default is ``latest``."""
    name, _, tag = ref.partition("@")
    return check_name(name), tag or LATEST


@dataclass(frozen=True)
class ModelVersion:
    """One resolvable version: where it lives and what its manifest says."""

    name: str
    version: str
    path: Path
    source: str  # "local" or "bundled"
    aliases: tuple[str, ...] = ()


class LocalStore:
    """Filesystem registry under ``root`` with the bundled models as fallback.

    Args:
        root: registry directory; default ``aezoo_home() / "registry"``.
        bundled: directory of bundled artifacts; ``None`` disables the fallback.
    """

    def __init__(self, root: Path | None = None, bundled: Path | object | None = _DEFAULT) -> None:
        self.root = Path(root) if root is not None else aezoo_home() / "registry"
        if bundled is _DEFAULT:
            bundled = BUNDLED_DIR  # read at call time, so it can be redirected
        self.bundled = Path(bundled) if bundled is not None else None  # type: ignore[arg-type]

    # -- reading -----------------------------------------------------------
    def _versions_dir(self, name: str) -> Path:
        return self.root / name / "versions"

    def local_versions(self, name: str) -> list[str]:
        """Complete local versions of ``name``, ascending."""
        d = self._versions_dir(name)
        if not d.is_dir():
            return []
        return sorted((p.name for p in d.iterdir() if p.name.isdigit()), key=int)

    def aliases(self, name: str) -> dict[str, str]:
        path = self.root / name / "aliases.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def _bundled(self, name: str) -> ModelVersion | None:
        if self.bundled is None or not (self.bundled / name / "manifest.json").is_file():
            return None
        m = read_manifest(self.bundled / name)
        return ModelVersion(name, m.version, self.bundled / name, "bundled", (LATEST,))

    def resolve(self, ref: str) -> ModelVersion:
        """Find ``name``, ``name@<version>`` or ``name@<alias>``.

        Raises:
            ModelNotFoundError: unknown model, version or alias (the message lists what exists).
        """
        name, tag = parse_ref(ref)
        versions = self.local_versions(name)
        if versions:
            aliases = self.aliases(name)
            version = versions[-1] if tag == LATEST else aliases.get(tag, tag)
            if version in versions:
                tags = tuple(a for a, v in aliases.items() if v == version)
                if version == versions[-1]:
                    tags = (LATEST, *tags)
                return ModelVersion(
                    name, version, self._versions_dir(name) / version, "local", tags
                )
        bundled = self._bundled(name)
        if bundled is not None and tag in (LATEST, bundled.version):
            return bundled
        if not versions and bundled is None:
            known = ", ".join(m.name for m in self.list()) or "none"
            raise ModelNotFoundError(f"no model named {name!r} in the registry (known: {known})")
        have = versions or [bundled.version]  # type: ignore[union-attr]
        raise ModelNotFoundError(
            f"model {name!r} has no version or alias {tag!r} "
            f"(versions: {', '.join(have)}; aliases: {', '.join(sorted(self.aliases(name))) or 'none'})"
        )

    def list(self) -> list[ModelVersion]:
        """The latest version of every model, local first, then bundled-only names."""
        names = (
            {p.name for p in self.root.iterdir() if self.local_versions(p.name)}
            if self.root.is_dir()
            else set()
        )
        if self.bundled is not None and self.bundled.is_dir():
            names |= {p.name for p in self.bundled.iterdir() if (p / "manifest.json").is_file()}
        return [self.resolve(n) for n in sorted(names)]

    # -- writing -----------------------------------------------------------
    def add(self, src: Path, name: str, aliases: tuple[str, ...] = ()) -> ModelVersion:
        """Copy the artifact in ``src`` into the store as the next version of ``name``.

        The copy is staged, its manifest written last, then renamed into place
        atomically; ``src`` is not modified. ``aliases`` (e.g. ``production``)
        are moved to the new version afterwards.

        Raises:
            ArtifactError: ``src`` is not a complete artifact.
        """
        check_name(name)
        src = Path(src)
        if not (src / "config.json").is_file():
            raise ArtifactError(f"{src} is not an artifact directory (no config.json)")
        base = self.root / name
        (base / "versions").mkdir(parents=True, exist_ok=True)
        self._clean_staging(base)
        staging = base / f".staging-{os.getpid()}-{uuid.uuid4().hex}"
        try:
            shutil.copytree(src, staging, ignore=shutil.ignore_patterns("manifest.json"))
            _fsync_tree(staging)
            for _ in range(100):  # another writer may take a number first: retry
                version = str(int((self.local_versions(name) or ["0"])[-1]) + 1)
                write_manifest(staging, name, version)
                try:
                    os.rename(staging, self._versions_dir(name) / version)
                    break
                except OSError:
                    if not (self._versions_dir(name) / version).exists():
                        raise
            else:  # pragma: no cover
                raise VersionExistsError(f"could not allocate a version number for {name!r}")
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        _fsync_dir(self._versions_dir(name))
        for alias in aliases:
            self.set_alias(name, alias, version)
        return self.resolve(f"{name}@{version}")

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` of ``name`` at an existing ``version`` (atomic replace)."""
        if alias == LATEST:
            return  # implicit: always the highest version
        if not _ALIAS_RE.match(alias) or alias.isdigit():
            raise ValueError(
                f"invalid alias {alias!r}: lowercase letters, digits, '_', '-'; not all digits"
            )
        if version not in self.local_versions(name):
            raise ModelNotFoundError(f"model {name!r} has no local version {version!r}")
        aliases = self.aliases(name)
        aliases[alias] = version
        write_json_durable(self.root / name / "aliases.json", aliases)

    def verify(self, ref: str) -> Manifest:
        """Re-hash every file of a version against its manifest (see ``verify_artifact``)."""
        return verify_artifact(self.resolve(ref).path)

    @staticmethod
    def _clean_staging(base: Path) -> None:
        """Remove staging directories left by writers that were killed (dead pid)."""
        for p in base.glob(".staging-*"):
            pid = p.name.split("-")[1]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(p, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
