"""The registry's remote: publish versions to the Hugging Face Hub, resolve ``hf-hub:`` refs.

One model is one Hub model repo whose files are the artifact's layout (config.json at
the root, model.safetensors, onnx/*.onnx, README.md with the Hub's YAML metadata,
figures/, manifest.json). One version is one commit, tagged ``v<version>`` (model
version ``"1"`` -> tag ``v1``). A reference ``hf-hub:ORG/REPO[@REVISION]`` pins a
branch (``@main``), a tag (``@v1``) or a commit sha; without one it means ``main``.

Every Hub call goes through huggingface_hub: downloads land in the Hugging Face
cache (``HF_HUB_CACHE``), ``HF_HUB_OFFLINE=1`` loads from that cache only, and the
token comes from ``HF_TOKEN`` or ``hf auth login`` and is never printed. What comes
down is checked against the sha256 of every file in ``manifest.json`` before use;
only the files the manifest lists are downloaded, and nothing is unpickled.
``HF_ENDPOINT``, ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` are read at each call, so
setting them after import works. Every failure is an :class:`~aezoo.errors.HubError`
subclass with a one-line message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import huggingface_hub as hf
from huggingface_hub import constants, errors
from huggingface_hub.utils import validate_repo_id
from tqdm.auto import tqdm

from aezoo._version import __version__
from aezoo.errors import (
    AezooError,
    HubAuthError,
    HubConnectionError,
    HubError,
    HubRefError,
    HubRepoNotFoundError,
    HubRevisionNotFoundError,
    IntegrityError,
    NotAnArtifactError,
    UnsafeArtifactError,
    VersionExistsError,
)
from aezoo.registry.artifact import (
    CARD,
    MANIFEST,
    FileEntry,
    Manifest,
    read_manifest,
)
from aezoo.registry.store import LocalStore, ModelVersion
from aezoo.registry.verify import check_manifest_paths, verify_artifact

PREFIX = "hf-hub:"
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)
for _module in ("httpx2", "httpx"):  # huggingface_hub >= 2 uses httpx2, 1.x httpx
    with suppress(ImportError):
        _TRANSPORT_ERRORS += (__import__(_module).TransportError,)


@dataclass(frozen=True)
class HubRef:
    """A parsed ``hf-hub:ORG/REPO[@REVISION]``; ``revision=None`` means ``main``."""

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{PREFIX}{self.repo_id}" + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class PublishResult:
    """Where a published version landed; ``tag`` is ``None`` for a pull request."""

    repo_id: str
    name: str
    version: str
    commit: str
    commit_url: str
    tag: str | None
    pr_url: str | None = None


def is_hub_ref(ref: object) -> bool:
    return isinstance(ref, str) and ref.startswith(PREFIX)


def parse_hub_ref(ref: str) -> HubRef:
    """Split ``hf-hub:ORG/REPO[@REVISION]``.

    Raises:
        HubRefError: no ``hf-hub:`` prefix, an invalid repo id or an empty revision.
    """
    if not is_hub_ref(ref):
        raise HubRefError(f"{ref!r} is not a Hub reference: expected hf-hub:ORG/REPO[@REVISION]")
    repo_id, at, revision = ref[len(PREFIX) :].partition("@")
    try:
        validate_repo_id(repo_id)
    except errors.HFValidationError as e:
        raise HubRefError(f"invalid Hub repo id {repo_id!r} in {ref!r}: {_line(str(e))}") from e
    if at and not revision:
        raise HubRefError(f"empty revision in {ref!r}: expected @BRANCH, @TAG or @COMMIT")
    return HubRef(repo_id, revision or None)


def version_tag(version: str) -> str:
    """The Hub tag of a model version: ``"1"`` -> ``"v1"``."""
    return f"v{version}"


def download(ref: str | HubRef) -> Path:
    """Fetch an ``hf-hub:`` ref into the Hugging Face cache and verify it.

    ``manifest.json`` comes first (at the ref's commit), then only the files it lists
    that are not cached yet. With ``HF_HUB_OFFLINE=1``, or when the Hub cannot be
    reached, the cached snapshot of the ref is used if complete.

    Returns:
        The snapshot directory (``$HF_HUB_CACHE/models--ORG--REPO/snapshots/<commit>``).

    Raises:
        HubRefError, HubConnectionError, HubAuthError, HubRepoNotFoundError,
        HubRevisionNotFoundError: see :mod:`aezoo.errors`.
        NotAnArtifactError: the repo has no valid ``manifest.json``.
        IntegrityError: a file differs from its manifest sha256; names the file.
        UnsafeArtifactError, ConfigMismatchError: the snapshot fails
        :func:`~aezoo.registry.verify.verify_artifact` (e.g. a symlink out of the cache).
    """
    hub = parse_hub_ref(ref) if isinstance(ref, str) else ref
    offline = _offline()
    kwargs = {
        "repo_id": hub.repo_id,
        "endpoint": _endpoint(),
        "cache_dir": os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE,
        "local_files_only": offline,
        "library_name": "aezoo",
        "library_version": __version__,
    }
    what = _what(hub.repo_id, hub.revision)
    with _hub_errors(what, offline), _quiet_snapshot_warnings():
        snapshot = Path(
            hf.snapshot_download(
                revision=hub.revision or "main",
                allow_patterns=[MANIFEST],
                tqdm_class=_Silent,
                **kwargs,
            )
        )
    if not (snapshot / MANIFEST).is_file():
        raise NotAnArtifactError(f"{hub} is not an aezoo artifact: the repo has no {MANIFEST}")
    try:
        manifest = read_manifest(snapshot)
    except AezooError as e:
        raise NotAnArtifactError(f"{hub} is not an aezoo artifact: {_line(str(e))}") from e
    try:
        check_manifest_paths(manifest, snapshot)
    except UnsafeArtifactError as e:
        raise NotAnArtifactError(f"{hub}: {e}") from e
    missing = [f for f in manifest.files if not (snapshot / f).is_file()]
    if missing:
        with _hub_errors(what, offline):
            hf.snapshot_download(revision=snapshot.name, allow_patterns=missing, **kwargs)
    try:
        verify_artifact(snapshot)
    except IntegrityError as e:
        raise IntegrityError(
            e.filename,
            f"{e} [Hugging Face cache of {hub}; delete {snapshot.parent.parent} to fetch it again]",
        ) from e
    return snapshot


def pull(
    ref: str | HubRef, *, name: str | None = None, store: LocalStore | None = None
) -> ModelVersion:
    """Download and verify an ``hf-hub:`` ref, then add it to the local registry.

    Args:
        ref: ``hf-hub:ORG/REPO[@REVISION]``.
        name: local model name; default the name in the artifact's manifest.
        store: target registry; default :class:`LocalStore` under ``AEZOO_HOME``.

    Returns:
        The new local version (the store numbers versions itself).

    Raises:
        Everything :func:`download` raises, and the checks of
        :func:`aezoo.registry.verify.check_graphs`, before the store is touched.
    """
    snapshot = download(ref)
    manifest = read_manifest(snapshot)
    hub = parse_hub_ref(ref) if isinstance(ref, str) else ref
    # add() verifies the snapshot again (layout, config, graphs) and copies the listed files only
    return (store or LocalStore()).add(snapshot, name or manifest.name, command=f"aezoo pull {hub}")


def publish(
    ref: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    store: LocalStore | None = None,
) -> PublishResult:
    """Upload one artifact version to a Hub model repo in one commit and tag it.

    Creates the repo if missing (``private`` applies only then), uploads every file of
    the version in one commit whose message names the aezoo and model versions,
    deletes files of an older version that this one lacks, and tags the commit
    ``v<version>``. The card's ``aezoo.load("<name>")`` line is rewritten to the Hub
    ref, with its manifest entry updated to match. With ``create_pr`` the commit
    opens a pull request and is not tagged (tag it once merged).

    Args:
        ref: local registry ref ``name[@version|@alias]`` or an artifact directory.
        repo_id: ``ORG/REPO`` on the Hub.
        private: create the repo private.
        revision: branch to commit to (created from ``main`` if missing); default ``main``.
        create_pr: open a pull request against ``revision`` instead of committing to it.
        store: registry to resolve ``ref`` in; default :class:`LocalStore`.

    Raises:
        ModelNotFoundError: unknown local ref.
        ArtifactError, IntegrityError: the local version is incomplete or tampered with.
        VersionExistsError: the repo already has the version's tag.
        HubRefError, HubConnectionError, HubAuthError, HubRepoNotFoundError,
        HubRevisionNotFoundError, HubError: see :mod:`aezoo.errors`.
    """
    path = Path(ref).expanduser()
    if not (path / MANIFEST).is_file():
        path = (store or LocalStore()).resolve(str(ref)).path
    manifest = verify_artifact(path)  # never publish a tampered version
    hub = parse_hub_ref(f"{PREFIX}{repo_id}")
    if hub.revision or "/" not in hub.repo_id:
        raise HubRefError(f"invalid repo id {repo_id!r}: expected ORG/REPO")
    files = _hub_files(path, manifest, hub.repo_id)
    token = hf.get_token()
    if not token:
        raise HubAuthError("publishing needs a token: set HF_TOKEN or run `hf auth login`")
    if _offline():
        raise HubConnectionError("HF_HUB_OFFLINE=1 is set: publishing needs the network")
    api = hf.HfApi(
        endpoint=_endpoint(), token=token, library_name="aezoo", library_version=__version__
    )
    tag, branch, repo_id = version_tag(manifest.version), revision or "main", hub.repo_id
    with _hub_errors(_what(hub.repo_id, branch), False):
        api.create_repo(hub.repo_id, private=private, exist_ok=True)
        refs = api.list_repo_refs(repo_id)
        if tag in {t.name for t in refs.tags}:
            raise VersionExistsError(
                f"{PREFIX}{repo_id} already has tag {tag}: a published version is immutable"
            )
        if branch not in {b.name for b in refs.branches}:
            api.create_branch(repo_id, branch=branch)
        stale = set(api.list_repo_files(repo_id, revision=branch)) - set(files) - {".gitattributes"}
        ops: list[hf.CommitOperationAdd | hf.CommitOperationDelete] = [
            hf.CommitOperationAdd(path_in_repo=rel, path_or_fileobj=data)
            for rel, data in files.items()
        ]
        ops += [hf.CommitOperationDelete(path_in_repo=rel) for rel in sorted(stale)]
        info = api.create_commit(
            repo_id,
            ops,
            commit_message=f"aezoo {__version__}: {manifest.name} version {manifest.version}",
            commit_description=f"Model {manifest.name}, version {manifest.version} (tag {tag}), "
            f"{len(manifest.files)} files with sha256 in {MANIFEST}.",
            revision=branch,
            create_pr=create_pr,
        )
        if not create_pr:
            api.create_tag(
                repo_id, tag=tag, revision=info.oid, tag_message=f"{manifest.name} {tag}"
            )
    return PublishResult(
        repo_id=repo_id,
        name=manifest.name,
        version=manifest.version,
        commit=info.oid,
        commit_url=info.commit_url,
        tag=None if create_pr else tag,
        pr_url=info.pr_url,
    )


# -- helpers -------------------------------------------------------------------------
def _hub_files(path: Path, manifest: Manifest, repo_id: str) -> dict[str, bytes]:
    """The version's files as uploaded: the card points at the Hub, the manifest agrees."""
    files = {rel: (path / rel).read_bytes() for rel in manifest.files}
    if CARD in files:
        card = files[CARD].decode()
        files[CARD] = card.replace(
            f'aezoo.load("{manifest.name}")', f'aezoo.load("{PREFIX}{repo_id}")'
        ).encode()
        entry = FileEntry(sha256=hashlib.sha256(files[CARD]).hexdigest(), size=len(files[CARD]))
        manifest = manifest.model_copy(update={"files": {**manifest.files, CARD: entry}})
    files[MANIFEST] = (json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n").encode()
    return files


def _endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _offline() -> bool:
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return constants.is_offline_mode() or env in {"1", "ON", "YES", "TRUE"}


def _line(text: str) -> str:
    """One line, without the token (belt and braces: no Hub message should carry it)."""
    token = hf.get_token()
    text = " ".join(text.split())
    return text.replace(token, "***") if token else text


class _Silent(tqdm):
    """No progress bars for the metadata step (one small file)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)


@contextmanager
def _quiet_snapshot_warnings() -> Iterator[None]:
    """Hide huggingface_hub's "No files matched" warning: a missing manifest is our error."""
    log = logging.getLogger("huggingface_hub._snapshot_download")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _what(repo_id: str, revision: str | None) -> str:
    return f"{PREFIX}{repo_id}@{revision or 'main'}"


def _http_error(e: errors.HfHubHTTPError, what: str, endpoint: str) -> HubError:
    """An HTTP error answer of the Hub as one line: status, repo and revision, the Hub's words."""
    response = e.response
    status = response.status_code if response is not None else None
    reason = getattr(response, "reason_phrase", "") or ""
    detail = _line(e.server_message or str(e).split("\n")[0])
    head = f"{what}: the Hub at {endpoint} answered HTTP {status}" + (
        f" {reason}" if reason else ""
    )
    if status in (401, 403):
        return HubAuthError(f"{head}, refusing access ({detail})")
    return HubError(f"{head} ({detail})")


@contextmanager
def _hub_errors(what: str, offline: bool) -> Iterator[None]:
    """Turn huggingface_hub and transport exceptions into one-line aezoo errors.

    ``what`` is ``hf-hub:REPO@REVISION``. Only Hub calls run inside these blocks, so any
    other exception is the client failing on an answer it did not expect (e.g. a server
    that is not a Hub). huggingface_hub reports an HTTP error during ``snapshot_download``
    as "not in the cache" with the error as its cause: the cause is what is reported.
    """
    endpoint = _endpoint()
    try:
        yield
    except AezooError:
        raise
    except errors.GatedRepoError as e:
        raise HubAuthError(
            f"{what} is gated: accept its terms on the Hub and set HF_TOKEN (or run `hf auth login`)"
        ) from e
    except errors.RepositoryNotFoundError as e:
        hint = (
            "or the token cannot see it"
            if hf.get_token()
            else "if it is private or gated, set HF_TOKEN or run `hf auth login`"
        )
        raise HubRepoNotFoundError(f"{what}: no such repo on {endpoint} ({hint})") from e
    except errors.RevisionNotFoundError as e:
        raise HubRevisionNotFoundError(
            f"{what}: the repo has no branch, tag or commit by that name"
        ) from e
    except (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled) as e:
        cause = e.__cause__
        if isinstance(cause, errors.HfHubHTTPError):
            raise _http_error(cause, what, endpoint) from e
        if offline:
            raise HubConnectionError(
                f"{what} is not in the Hugging Face cache and HF_HUB_OFFLINE=1 forbids downloading it"
            ) from e
        reason = f" ({type(cause).__name__}: {_line(str(cause))})" if cause is not None else ""
        raise HubConnectionError(
            f"cannot reach the Hugging Face Hub at {endpoint} for {what}{reason}, "
            "and it is not in the cache"
        ) from e
    except errors.HfHubHTTPError as e:
        raise _http_error(e, what, endpoint) from e
    except errors.HFValidationError as e:
        raise HubRefError(f"{what}: {_line(str(e))}") from e
    except _TRANSPORT_ERRORS as e:
        raise HubConnectionError(
            f"cannot reach the Hugging Face Hub at {endpoint} for {what}: "
            f"{_line(str(e)) or type(e).__name__}"
        ) from e
    except Exception as e:  # only Hub calls run inside: the client choked on an answer
        raise HubError(
            f"{what}: unexpected answer from the Hub at {endpoint} ({type(e).__name__}: {_line(str(e))})"
        ) from e
