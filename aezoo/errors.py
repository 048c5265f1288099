"""Typed exceptions shared by every layer of aezoo.

Every error names the bad value and what was expected, so a CLI can print one
line and an HTTP handler can map the type to a status code.
"""

from __future__ import annotations


class AezooError(Exception):
    """Base class of every error aezoo raises on purpose."""


class ConfigError(AezooError, ValueError):
    """A recipe, config or override is invalid (unknown key, bad value)."""


class DataError(AezooError, ValueError):
    """A dataset file is missing, malformed or fails its checksum."""


class ArtifactError(AezooError):
    """An artifact directory is incomplete or not an aezoo artifact."""


class ArtifactFileError(ArtifactError):
    """An artifact failed a check about one of its files (the subclasses say which check).

    Attributes:
        filename: path of the offending file, relative to the artifact root.
    """

    def __init__(self, filename: str, message: str) -> None:
        super().__init__(message)
        self.filename = filename


class IntegrityError(ArtifactFileError):
    """A file of an artifact does not match the sha256 in its manifest."""


class UnsafeArtifactError(ArtifactFileError):
    """An artifact's files disagree with its manifest or leave the artifact: a file the
    config needs is not listed, a file is not listed, a path points outside, or a file is a
    symlink or not a regular file."""


class ConfigMismatchError(ArtifactFileError):
    """``config.json`` disagrees with a graph's input/output shapes or with the weights, or
    asks for sizes outside sane bounds; ``filename`` is the file that disagrees with the
    config (or ``config.json`` itself)."""


class ModelNotFoundError(AezooError, LookupError):
    """No model, version or alias of that name exists in the registry."""


class VersionExistsError(AezooError):
    """A version is immutable: it cannot be written twice."""


class OperationNotSupportedError(AezooError):
    """The model does not offer the requested operation (e.g. classify without a head)."""


class InputError(AezooError, ValueError):
    """Input arrays have the wrong shape, dtype, value range or contain NaN/Inf."""


class ExportError(AezooError):
    """ONNX export failed its checker or its parity check against torch."""


class HubError(AezooError):
    """A Hugging Face Hub operation failed; the subclasses say why."""


class HubRefError(HubError, ValueError):
    """An ``hf-hub:ORG/REPO[@REVISION]`` reference or repo id is malformed."""


class HubConnectionError(HubError, ConnectionError):
    """The Hub cannot be reached, or ``HF_HUB_OFFLINE=1``, and the cache cannot stand in."""


class HubAuthError(HubError, PermissionError):
    """No token, a rejected token, or a gated repo the token may not read."""


class HubRepoNotFoundError(HubError, ModelNotFoundError):
    """No such Hub repo, or a private one the current token (if any) cannot see."""


class HubRevisionNotFoundError(HubError, ModelNotFoundError):
    """The repo exists but has no such branch, tag or commit."""


class NotAnArtifactError(HubError, ArtifactError):
    """The Hub repo exists but is not an aezoo artifact (no ``manifest.json``)."""


# Top-level module -> the extra that installs it (pyproject.toml [project.optional-dependencies]).
EXTRA_OF_MODULE: dict[str, str] = {
    "torch": "train",
    "onnx": "train",
    "onnxscript": "train",
    "PIL": "data",
    "pyarrow": "data",
    "pandas": "data",
    "datasets": "data",
    "sklearn": "sklearn",
    "fastapi": "serve",
    "starlette": "serve",
    "uvicorn": "serve",
    "prometheus_client": "serve",
    "fastapi_offline": "serve",
    "matplotlib": "bench",
    "ray": "ray",
    "grpc": "grpc",
    "grpc_health": "grpc",
    "google": "grpc",
    "model_archiver": "torchserve",
    "mlflow": "mlflow",
}
# Extras that need torch: pip must be pointed at torch's CPU build first, or it may fetch
# gigabytes of CUDA wheels (README, "Install extras").
TORCH_EXTRAS = ("train", "torchserve")
TORCH_CPU_HINT = (
    "install torch's CPU build first (pip install torch==2.13.0 "
    "--index-url https://download.pytorch.org/whl/cpu), then "
)


def install_hint(extra: str) -> str:
    """How to install ``extra``, in one line: ``install it with: pip install 'aezoo[EXTRA]'``,
    preceded by torch's CPU build where the extra needs torch."""
    first = TORCH_CPU_HINT if extra in TORCH_EXTRAS else "install it with: "
    return f"{first}pip install 'aezoo[{extra}]'"


class MissingExtraError(AezooError, ImportError):
    """A feature needs an optional dependency that is not installed.

    Raised in place of a bare ``ModuleNotFoundError``; its one-line message names the
    extra to install (``aezoo.from_pretrained`` without torch: ``aezoo[train]``) and, for
    an extra that needs torch, torch's CPU build to install first (:func:`install_hint`).

    Attributes:
        feature: what was attempted (``"aezoo train"``, ``"aezoo.from_pretrained"``).
        module: the missing top-level module (``"torch"``).
        extra: the extra that brings it (``"train"``).
    """

    def __init__(self, feature: str, module: str, extra: str) -> None:
        also = " (also in [train])" if extra in ("sklearn", "data") else ""
        super().__init__(
            f"{feature} needs the [{extra}] extra{also} ({module} is not installed); "
            + install_hint(extra),
            name=module,
        )
        self.feature, self.module, self.extra = feature, module, extra


def missing_extra(exc: ModuleNotFoundError, feature: str) -> MissingExtraError | None:
    """The :class:`MissingExtraError` for ``exc`` when an extra brings the missing module.

    Returns None for a module no extra brings (a real bug: let it propagate).
    """
    module = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    return MissingExtraError(feature, module, extra) if extra else None
