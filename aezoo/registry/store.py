"""The local model registry: named models, immutable versions, movable aliases.

Layout under ``$AEZOO_HOME/registry`` (``AEZOO_HOME`` defaults to the user
cache directory, e.g. ``~/.cache/aezoo``)::

    <name>/versions/<n>/...            one complete artifact per version
    <name>/aliases.json                {"production": "2", ...}: the current aliases
    <name>/aliases.history.jsonl       every alias move: who, what, from, to, when
    <name>/.lock                       writers of <name> hold it (filelock)
    <name>/.staging-*/                 a version being written; never listed or loaded

``latest`` is not stored: it is always the highest version, so it cannot go stale.
A version is written into a staging directory, its manifest last, fsynced, then
numbered and renamed into place in one ``rename(2)`` under the model's lock: a
process killed at any point leaves the previous versions and aliases exactly as
they were, and two writers never take one number. Alias moves take the same lock
and append to the history (:mod:`aezoo.registry.history`).

Models bundled inside the package (``aezoo/pretrained/<name>/``) are a read-only
fallback: a name the local store lacks resolves to its bundled copy, local versions
of a bundled name number after the bundled one (bundled ``1``, first local ``2``),
and ``NAME@bundled`` always reaches the packaged copy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import platformdirs

from aezoo.errors import ArtifactError, ModelNotFoundError
from aezoo.registry import history
from aezoo.registry.artifact import (
    MANIFEST,
    Manifest,
    check_name,
    read_config,
    read_manifest,
    write_json_durable,
)
from aezoo.registry.verify import check_file_hash, check_graphs, verify_artifact

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
LATEST = "latest"
BUNDLED = "bundled"
RESERVED = (LATEST, BUNDLED)  # aliases the store answers itself; never set
_DEFAULT = object()
_ALIAS_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def aezoo_home() -> Path:
    """``$AEZOO_HOME`` or the user cache directory (``platformdirs.user_cache_dir("aezoo")``)."""
    env = os.environ.get("AEZOO_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("aezoo"))


def check_alias(alias: str) -> str:
    if alias in RESERVED:
        raise ValueError(f"{alias!r} is not an alias that can be set: the store answers it itself")
    if not _ALIAS_RE.match(alias) or alias.isdigit():
        raise ValueError(
            f"invalid alias {alias!r}: lowercase letters, digits, '_', '-'; starting with a "
            "letter; not all digits"
        )
    return alias


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
        """Current aliases of ``name`` (``{alias: version}``; ``latest``/``bundled`` are implicit)."""
        path = self.root / name / history.ALIASES
        return json.loads(path.read_text()) if path.is_file() else {}

    def alias_history(self, name: str) -> list[dict[str, Any]]:
        """Every alias move of ``name``, oldest first (see :mod:`aezoo.registry.history`)."""
        return history.read_history(self.root / name)

    def is_bundled(self, name: str) -> bool:
        """Whether ``name`` is one of the models bundled in the package."""
        return self._bundled(name) is not None

    def _bundled(self, name: str) -> ModelVersion | None:
        if self.bundled is None or not (self.bundled / name / MANIFEST).is_file():
            return None
        m = read_manifest(self.bundled / name)
        return ModelVersion(name, m.version, self.bundled / name, "bundled", (BUNDLED,))

    def _tags(
        self, name: str, version: str, source: str, aliases: dict[str, str]
    ) -> tuple[str, ...]:
        local = self.local_versions(name)
        newest = local[-1] if local else None
        tags = [
            a for a, v in aliases.items() if v == version and (source == "local") == (v in local)
        ]
        if source == "bundled":
            tags.insert(0, BUNDLED)
        if (source == "local" and version == newest) or (source == "bundled" and not local):
            tags.insert(0, LATEST)
        return tuple(tags)

    def resolve(self, ref: str) -> ModelVersion:
        """Find ``name``, ``name@<version>``, ``name@<alias>`` or ``name@bundled``.

        A version number is looked up locally first, then in the bundled copy; an alias
        may point at either.

        Raises:
            ModelNotFoundError: unknown model, version or alias (the message lists what exists).
        """
        name, tag = parse_ref(ref)
        versions = self.local_versions(name)
        bundled = self._bundled(name)
        aliases = self.aliases(name)
        if tag == BUNDLED and bundled is None:
            raise ModelNotFoundError(f"no bundled model named {name!r} in {self.bundled}")
        version = (versions[-1] if versions else None) if tag == LATEST else aliases.get(tag, tag)
        if tag != BUNDLED and version is not None and version in versions:
            path = self._versions_dir(name) / version
            tags = self._tags(name, version, "local", aliases)
            return ModelVersion(name, version, path, "local", tags)
        if bundled is not None and (tag in (LATEST, BUNDLED) or version == bundled.version):
            tags = self._tags(name, bundled.version, "bundled", aliases)
            return ModelVersion(name, bundled.version, bundled.path, "bundled", tags)
        if not versions and bundled is None:
            known = ", ".join(m.name for m in self.list()) or "none"
            raise ModelNotFoundError(f"no model named {name!r} in the registry (known: {known})")
        have = ([f"{bundled.version} (bundled)"] if bundled else []) + versions
        raise ModelNotFoundError(
            f"model {name!r} has no version or alias {tag!r} "
            f"(versions: {', '.join(have)}; aliases: {', '.join(sorted(aliases)) or 'none'})"
        )

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``: the bundled copy first (if any), then local ones, ascending.

        Raises:
            ModelNotFoundError: no such model.
        """
        check_name(name)
        aliases = self.aliases(name)
        out = [self.resolve(f"{name}@{BUNDLED}")] if self._bundled(name) else []
        for v in self.local_versions(name):
            path = self._versions_dir(name) / v
            out.append(ModelVersion(name, v, path, "local", self._tags(name, v, "local", aliases)))
        if not out:
            self.resolve(name)  # raises, listing the known models
        return out

    def list(self) -> list[ModelVersion]:
        """The latest version of every model, local first, then bundled-only names."""
        names = (
            {p.name for p in self.root.iterdir() if self.local_versions(p.name)}
            if self.root.is_dir()
            else set()
        )
        if self.bundled is not None and self.bundled.is_dir():
            names |= {p.name for p in self.bundled.iterdir() if (p / MANIFEST).is_file()}
        return [self.resolve(n) for n in sorted(names)]

    # -- writing -----------------------------------------------------------
    def _next_version(self, name: str) -> str:
        """One more than the highest local or bundled version (caller holds the lock)."""
        taken = [int(v) for v in self.local_versions(name)]
        bundled = self._bundled(name)
        if bundled is not None and bundled.version.isdigit():
            taken.append(int(bundled.version))
        return str(max(taken, default=0) + 1)

    def add(
        self,
        src: Path,
        name: str,
        aliases: tuple[str, ...] = (),
        command: str | None = None,
        note: str | None = None,
    ) -> ModelVersion:
        """Copy the artifact in ``src`` into the store as the next version of ``name``.

        ``src`` is verified first (:func:`~aezoo.registry.verify.verify_artifact` and
        :func:`~aezoo.registry.verify.check_graphs`); only the files its manifest lists are
        copied, and each copy is checked against that manifest. The copy is staged, then
        numbered, its manifest written last, and renamed into place under the model's
        lock; ``src`` is not modified. ``aliases`` (e.g. ``production``) then move to the
        new version, recorded in the history with ``command``; ``note`` (e.g. where an
        import came from) is recorded there too, moving no alias.

        Raises:
            ArtifactError (and its subclasses): ``src`` is not a complete, consistent artifact.
            ValueError: an invalid name or alias.
        """
        check_name(name)
        for alias in aliases:
            check_alias(alias)
        src = Path(src)
        if not (src / MANIFEST).is_file():
            raise ArtifactError(f"{src} is not an artifact directory (no {MANIFEST})")
        source = verify_artifact(src)
        check_graphs(src, read_config(src))
        base = self.root / name
        (base / "versions").mkdir(parents=True, exist_ok=True)
        self._clean_staging(base)
        staging = base / f".staging-{os.getpid()}-{uuid.uuid4().hex}"
        try:
            for rel in source.files:  # only the listed files, each checked after the copy
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src / rel, staging / rel)
                check_file_hash(staging, rel, source)
            _fsync_tree(staging)
            with history.locked(base):
                version = self._next_version(name)
                manifest = Manifest(
                    name=name,
                    version=version,
                    created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    files=source.files,
                )
                write_json_durable(staging / MANIFEST, manifest.model_dump(mode="json"))
                os.rename(staging, self._versions_dir(name) / version)
                _fsync_dir(self._versions_dir(name))
                for alias in aliases:
                    self._move_alias(name, alias, version, command)
                if note is not None:
                    history.append(base, history.note(note, version, command))
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return self.resolve(f"{name}@{version}")

    def set_alias(
        self, name: str, alias: str, version: str, command: str | None = None
    ) -> dict[str, Any]:
        """Point ``alias`` of ``name`` at ``version`` (a local version, the bundled version's
        number, or ``bundled``), and record the move in the history.

        Args:
            command: what moved it, for the history; default this process's command line.

        Returns:
            The history record of this move.

        Raises:
            ValueError: ``alias`` is invalid or reserved (``latest``, ``bundled``).
            ModelNotFoundError: no such version.
        """
        check_name(name)
        check_alias(alias)
        with history.locked(self.root / name):
            return self._move_alias(name, alias, version, command)

    def _move_alias(
        self, name: str, alias: str, version: str, command: str | None
    ) -> dict[str, Any]:
        """Caller holds the lock: append the move, then rewrite ``aliases.json`` from the history."""
        bundled = self._bundled(name)
        if version == BUNDLED and bundled is not None:
            version = bundled.version
        local = self.local_versions(name)
        if version not in local and (bundled is None or version != bundled.version):
            have = ([f"{bundled.version} (bundled)"] if bundled else []) + local
            raise ModelNotFoundError(
                f"model {name!r} has no version {version!r} (versions: {', '.join(have) or 'none'})"
            )
        base = self.root / name
        state = history.replay(history.read_history(base))
        rec = history.record(alias, state.get(alias), version, command)
        history.append(base, rec)
        write_json_durable(base / history.ALIASES, {**state, alias: version})
        return rec

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
