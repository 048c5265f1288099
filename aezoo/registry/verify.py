"""Verification of an artifact before anything loads it (torch-free).

Every load path (``aezoo.load``, ``aezoo.from_pretrained``, ``pull``, ``serve``, Hub
snapshots, ``aezoo register``) runs :func:`verify_artifact` and :func:`check_graphs`; the
torch side adds one comparison of the weights' shapes (:func:`weight_shapes`) with the net
the config builds. What is checked, in order (ARCHITECTURE.md, "The artifact"):

1. ``manifest.json`` lists only plain relative paths inside the artifact (no ``/`` at the
   start, no ``..``, ``.`` or empty segments, no backslashes, no glob characters).
2. The directory holds regular files and directories only, and every file is listed:
   no symlinks, devices, sockets or pipes, nothing unlisted. A Hugging Face cache snapshot
   (``.../models--ORG--REPO/snapshots/<commit>``) is the one exception: its files are
   symlinks, and each must resolve to a blob of the same repo's cache (``../../blobs/``);
   files of that commit that the manifest does not list may sit beside them (another
   client may have fetched them) and are never read.
3. ``config.json`` parses, its sizes lie within sane bounds (:data:`BOUNDS`), every
   integer of ``model_args`` is a count or size in ``[0, MAX_ARG]``, every float is finite,
   and ``model_args`` agrees with ``input`` and ``n_components`` where both state a size.
4. Every file the config needs (config, weights, encoder, decoder, and the classifier when
   ``classify`` is offered) is listed.
5. Every listed file exists and matches its sha256 and size.
6. Each graph takes and returns ``(batch, width)`` float32 with the widths the config
   states (:func:`check_graphs`).

Each failure raises one typed error whose one-line message names the file and the
mismatch: :class:`~aezoo.errors.UnsafeArtifactError` (1, 2, 4),
:class:`~aezoo.errors.ConfigMismatchError` (3, 6, weights),
:class:`~aezoo.errors.IntegrityError` (5).
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from aezoo.errors import ConfigMismatchError, IntegrityError, UnsafeArtifactError
from aezoo.registry.format import (
    CLASSIFIER,
    CONFIG,
    DECODER,
    DENOISER,
    ENCODER,
    MANIFEST,
    SCORER,
    WEIGHTS,
    Manifest,
    read_config,
    read_manifest,
    sha256_file,
)
from aezoo.spec import ModelConfig

MAX_ARG = 1 << 20  # any integer in model_args: a width, a count of steps or layers
BOUNDS = {  # config.json fields: (low, high), inclusive
    "input.n_features": (1, 1 << 22),  # a 2048 x 2048 image
    "n_components": (1, 1 << 20),
    "class_names": (2, 1 << 16),  # how many, when classify is offered
}
_MAX_LIST, _MAX_DEPTH, _MAX_STR = 256, 4, 1024  # shape of model_args values


# -- 1, 2: paths and layout -------------------------------------------------------------
def check_manifest_paths(manifest: Manifest, root: Path) -> None:
    """Every manifest entry is a plain relative path inside the artifact (check 1)."""
    for rel in manifest.files:
        parts = rel.split("/")
        if (
            not rel
            or rel.startswith("/")
            or "\\" in rel
            or any(c in rel for c in "\0*?[]")  # no glob patterns: files are fetched by name
            or any(p in ("", ".", "..") for p in parts)
            or rel == MANIFEST
        ):
            raise UnsafeArtifactError(
                rel, f"{Path(root) / MANIFEST} lists {rel!r}: not a plain path inside the artifact"
            )


def hub_snapshot_blobs(root: Path) -> Path | None:
    """The blob directory when ``root`` is a Hugging Face cache snapshot, else None."""
    root = Path(root)
    repo = root.parent.parent
    if root.parent.name == "snapshots" and repo.name.startswith("models--"):
        blobs = repo / "blobs"
        if blobs.is_dir() and not blobs.is_symlink():
            return blobs.resolve()
    return None


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry under ``root`` (not following links): relative posix path, lstat."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            yield path.relative_to(root).as_posix(), path.lstat()


def check_layout(root: Path, manifest: Manifest) -> None:
    """Regular files only, each listed; the Hub-cache exception of check 2."""
    root = Path(root)
    blobs = hub_snapshot_blobs(root)
    for rel, st in _walk(root):
        path = root / rel
        if stat.S_ISLNK(st.st_mode):
            target = Path(os.path.realpath(path))
            if blobs is None:
                raise UnsafeArtifactError(
                    rel,
                    f"{path} is a symlink (to {os.readlink(path)}); an artifact holds regular files only",
                )
            if target.parent != blobs or not target.is_file():
                raise UnsafeArtifactError(
                    rel,
                    f"{path} is a symlink to {target}, outside this repo's blobs in the "
                    "Hugging Face cache",
                )
            continue
        if stat.S_ISDIR(st.st_mode):
            continue
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeArtifactError(rel, f"{path} is not a regular file")
        if rel != MANIFEST and rel not in manifest.files and blobs is None:
            raise UnsafeArtifactError(
                rel, f"{path} is not listed in {MANIFEST}: an artifact holds listed files only"
            )


# -- 3, 4: the config --------------------------------------------------------------------
def _bound(where: str, value: float, field: str) -> None:
    lo, hi = BOUNDS[field]
    if not lo <= value <= hi:
        raise ConfigMismatchError(CONFIG, f"{where}: {field} is {value}, outside [{lo}, {hi}]")


def _walk_args(value: Any, key: str, depth: int = 0) -> Iterator[tuple[str, Any]]:
    if depth > _MAX_DEPTH:
        yield key, "nested too deeply"
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk_args(v, f"{key}.{k}", depth + 1)
    elif isinstance(value, (list, tuple)):
        if len(value) > _MAX_LIST:
            yield key, f"a list of {len(value)} items (at most {_MAX_LIST})"
        for i, v in enumerate(value[:_MAX_LIST]):
            yield from _walk_args(v, f"{key}[{i}]", depth + 1)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not 0 <= value <= MAX_ARG:
            yield key, f"{value}, outside [0, {MAX_ARG}] (sizes and counts)"
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield key, f"{value} (not finite)"
    elif isinstance(value, str):
        if len(value) > _MAX_STR:
            yield key, f"a string of {len(value)} characters (at most {_MAX_STR})"
    else:  # pragma: no cover - JSON has no other types
        yield key, f"of type {type(value).__name__}"


def check_config(config: ModelConfig, root: Path) -> None:
    """Sane bounds and internal agreement of ``config.json`` (check 3), before any
    allocation.

    Raises:
        ConfigMismatchError: names ``config.json``, the field and the expected range.
    """
    where = str(Path(root) / CONFIG)
    spec = config.input
    _bound(where, spec.n_features, "input.n_features")
    _bound(where, config.n_components, "n_components")
    if any(d <= 0 for d in spec.shape or ()):
        raise ConfigMismatchError(CONFIG, f"{where}: input.shape {spec.shape} has a size <= 0")
    if not all(math.isfinite(v) for v in spec.value_range):
        raise ConfigMismatchError(
            CONFIG, f"{where}: input.value_range {spec.value_range} is not finite"
        )
    if "classify" in config.operations:
        _bound(where, len(config.class_names or ()), "class_names")
    for key, problem in _walk_args(config.model_args, "model_args"):
        raise ConfigMismatchError(CONFIG, f"{where}: {key} is {problem}")
    args = config.model_args
    agree = {
        "n_features": spec.n_features,
        "n_components": config.n_components,
        "image_shape": spec.shape[-2:] if spec.shape else None,  # [C, H, W] images: H, W
    }
    if "classify" in config.operations:
        agree["n_classes"] = len(config.class_names or ())
    for key, want in agree.items():
        if key in args and args[key] is not None and want is not None and args[key] != want:
            raise ConfigMismatchError(
                CONFIG, f"{where}: model_args.{key} is {args[key]} but the config states {want}"
            )


def required_files(config: ModelConfig) -> list[str]:
    """The files a loader reads for this config (check 4)."""
    if config.denoiser is not None:
        return [CONFIG, WEIGHTS, DENOISER]
    files = [CONFIG, WEIGHTS, ENCODER, DECODER]
    return [*files, CLASSIFIER] if "classify" in config.operations else files


# -- the whole check ---------------------------------------------------------------------
def check_file_hash(root: Path, rel: str, manifest: Manifest) -> None:
    entry, path = manifest.files[rel], root / rel
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


def verify_artifact(root: Path, files: list[str] | None = None) -> Manifest:
    """Checks 1 to 5 of the module docstring (everything but the graphs' shapes).

    Args:
        root: artifact directory.
        files: check only these listed files' hashes (and skip checks 2 to 4); default:
            the whole artifact.

    Returns:
        The manifest.

    Raises:
        ArtifactError: no or invalid manifest; UnsafeArtifactError, ConfigMismatchError,
        IntegrityError: see the module docstring; each names the file.
    """
    root = Path(root)
    manifest = read_manifest(root)
    check_manifest_paths(manifest, root)
    if files is not None:
        for rel in files:
            if rel not in manifest.files:
                raise UnsafeArtifactError(rel, f"{root}: {rel} is not listed in {MANIFEST}")
            check_file_hash(root, rel, manifest)
        return manifest
    check_layout(root, manifest)
    if CONFIG not in manifest.files:
        raise UnsafeArtifactError(CONFIG, f"{root}: {CONFIG} is not listed in {MANIFEST}")
    check_file_hash(root, CONFIG, manifest)
    config = read_config(root)
    check_config(config, root)
    for rel in required_files(config):
        if rel not in manifest.files:
            raise UnsafeArtifactError(
                rel,
                f"{root}: {rel} is needed by {CONFIG} (operations {', '.join(config.operations)}) "
                f"but not listed in {MANIFEST}",
            )
    for rel in manifest.files:
        if rel != CONFIG:
            check_file_hash(root, rel, manifest)
    return manifest


# -- 6: graphs ---------------------------------------------------------------------------
def graph_widths(config: ModelConfig) -> dict[str, tuple[int, int]]:
    """``{graph file: (input width, output width)}`` as the config states them."""
    n, m = config.input.n_features, config.n_components
    widths = {ENCODER: (n, m), DECODER: (m, n)}
    if "classify" in config.operations:
        widths[CLASSIFIER] = (n, len(config.class_names or ()))
    return widths


def _open(root: Path, rel: str) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(
            str(root / rel), sess_options=opts, providers=["CPUExecutionProvider"]
        )
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/... types
        message = " ".join(str(e).split())[:300]
        raise ConfigMismatchError(rel, f"{root / rel} is not a valid ONNX graph: {message}") from e


def _describe(arg: Any) -> str:
    dims = ", ".join(str(d) for d in (arg.shape or []))
    return f"{arg.name!r} {arg.type} ({dims})"


def check_graphs(
    root: Path, config: ModelConfig, sessions: Mapping[str, Any] | None = None
) -> None:
    """Check 6: each graph has one input ``(batch, in)`` and its first output ``(batch, out)``,
    float32, with the config's widths (:func:`graph_widths`).

    Args:
        root: artifact directory (verified).
        config: its config.
        sessions: onnxruntime sessions already open, keyed by graph file
            (``onnx/encoder.onnx``) or by ``"encoder"``/``"decoder"``/``"classifier"``;
            graphs without one are opened here (CPU, no optimisation) to read their shapes.

    Raises:
        ConfigMismatchError: names the graph file, what it takes or returns and what the
        config says.
    """
    root, sessions = Path(root), sessions or {}
    if config.denoiser is not None:
        sess = sessions.get(DENOISER) or sessions.get("denoiser") or _open(root, DENOISER)
        check_denoiser_graph(root, sess)
        return
    for rel, (n_in, n_out) in graph_widths(config).items():
        key = Path(rel).stem
        sess = sessions.get(rel) or sessions.get(key) or _open(root, rel)
        inputs, outputs = sess.get_inputs(), sess.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise ConfigMismatchError(
                rel,
                f"{root / rel} has {len(inputs)} inputs and {len(outputs)} outputs; expected 1 and >= 1",
            )
        for arg, want, what in ((inputs[0], n_in, "takes"), (outputs[0], n_out, "returns")):
            shape = list(arg.shape or [])
            ok = arg.type == "tensor(float)" and len(shape) == 2 and shape[1] == want
            if not ok:
                raise ConfigMismatchError(
                    rel,
                    f"{root / rel} {what} {_describe(arg)} but {CONFIG} implies float32 "
                    f"(batch, {want}) ({_widths_reason(config, key, what)})",
                )
            if isinstance(shape[0], int) and shape[0] != 1:
                raise ConfigMismatchError(
                    rel,
                    f"{root / rel} {what} a fixed batch of {shape[0]}; expected a dynamic batch axis",
                )
    if (root / SCORER).is_file():
        sess = sessions.get(SCORER) or sessions.get("scorer") or _open(root, SCORER)
        check_scorer_graph(root, sess, config.input.n_features)


SCORER_OUTPUTS = ("scores", "contributions")


def check_scorer_graph(root: Path, sess: Any, n_features: int) -> None:
    """The optional scorer (:mod:`aezoo.models.score`) takes float32 ``inputs``
    ``(batch, n_features)`` and returns float32 ``scores`` ``(batch,)`` and
    ``contributions`` ``(batch, n_features)``.

    Raises:
        ConfigMismatchError: names ``onnx/scorer.onnx`` and the argument that differs.
    """
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    names = tuple(o.name for o in outputs)
    if len(inputs) != 1 or names != SCORER_OUTPUTS:
        raise ConfigMismatchError(
            SCORER,
            f"{root / SCORER} has inputs {[i.name for i in inputs]} and outputs {list(names)}; "
            f"expected one input and outputs {list(SCORER_OUTPUTS)}",
        )
    for arg, rank in ((inputs[0], 2), (outputs[0], 1), (outputs[1], 2)):
        shape = list(arg.shape or [])
        if (
            arg.type != "tensor(float)"
            or len(shape) != rank
            or (rank == 2 and shape[1] != n_features)
        ):
            want = "(batch, n_features)" if rank == 2 else "(batch,)"
            raise ConfigMismatchError(
                SCORER,
                f"{root / SCORER}: {_describe(arg)}; expected float32 {want} with "
                f"n_features = {n_features} from {CONFIG}",
            )


DENOISER_INPUTS = ("noisy", "sigma")
DENOISER_OUTPUT = "denoised"


def check_denoiser_graph(root: Path, sess: Any) -> None:
    """Check 6 for a whole-image denoiser (:class:`aezoo.spec.DenoiserSpec`): inputs
    ``noisy`` float32 ``(N, 1, H, W)`` and ``sigma`` float32 ``(N,)``, first output
    ``denoised`` float32 ``(N, 1, H, W)``; batch, height and width dynamic.

    Raises:
        ConfigMismatchError: names the graph file and what it takes or returns instead.
    """
    where = Path(root) / DENOISER
    inputs = {arg.name: arg for arg in sess.get_inputs()}
    outputs = sess.get_outputs()
    if sorted(inputs) != sorted(DENOISER_INPUTS) or not outputs:
        raise ConfigMismatchError(
            DENOISER,
            f"{where} takes inputs {sorted(inputs)} and has {len(outputs)} outputs; expected "
            f"inputs {list(DENOISER_INPUTS)} and a first output {DENOISER_OUTPUT!r}",
        )
    want = {"noisy": 4, "sigma": 1, DENOISER_OUTPUT: 4}
    for arg in (inputs["noisy"], inputs["sigma"], outputs[0]):
        shape = list(arg.shape or [])
        rank = want.get(arg.name)
        ok = (
            rank is not None
            and arg.type == "tensor(float)"
            and len(shape) == rank
            and (rank == 1 or shape[1] == 1)
            and not any(isinstance(d, int) for i, d in enumerate(shape) if i != 1)
        )
        if not ok:
            raise ConfigMismatchError(
                DENOISER,
                f"{where}: {arg.name!r} is {_describe(arg)}; expected float32 "
                + (
                    "(batch,) noise levels"
                    if rank == 1
                    else "(batch, 1, height, width) with dynamic batch, height and width"
                )
                + f" (inputs {list(DENOISER_INPUTS)}, first output {DENOISER_OUTPUT!r})",
            )


def _widths_reason(config: ModelConfig, key: str, what: str) -> str:
    n, m = f"input.n_features {config.input.n_features}", f"n_components {config.n_components}"
    if key == "classifier":
        return n if what == "takes" else f"{len(config.class_names or ())} class_names"
    first, second = (n, m) if key == "encoder" else (m, n)
    return first if what == "takes" else second


def weight_shapes(root: Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape in ``model.safetensors``, read from its header (no data loaded).

    Raises:
        ConfigMismatchError: the header cannot be read; names the file.
    """
    from safetensors import safe_open

    path = Path(root) / WEIGHTS
    try:
        with safe_open(str(path), framework="numpy") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    except Exception as e:  # safetensors raises SafetensorError / OSError
        raise ConfigMismatchError(WEIGHTS, f"{path} has no readable safetensors header: {e}") from e


def check_weights(root: Path, expected: Mapping[str, tuple[int, ...]]) -> None:
    """``model.safetensors`` holds exactly the tensors ``expected`` (name -> shape), the net
    ``config.json`` builds; compared before the net is allocated.

    Raises:
        ConfigMismatchError: names both files and the first differing tensor.
    """
    have = weight_shapes(root)
    where = f"{Path(root) / CONFIG} and {WEIGHTS}"
    for name in sorted(set(expected) | set(have)):
        want, got = expected.get(name), have.get(name)
        if want != got:
            raise ConfigMismatchError(
                CONFIG,
                f"{where} disagree: the config's model_args build tensor {name!r} of shape "
                f"{want and list(want)}, the weights hold {got and list(got)}",
            )


__all__ = [
    "BOUNDS",
    "MAX_ARG",
    "check_config",
    "check_denoiser_graph",
    "check_graphs",
    "check_layout",
    "check_manifest_paths",
    "check_weights",
    "graph_widths",
    "hub_snapshot_blobs",
    "required_files",
    "verify_artifact",
    "weight_shapes",
]
