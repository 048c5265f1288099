"""Write a trained torch model as an artifact directory, and read one back.

Needs ``aezoo[train]`` (torch, onnx). Serving never imports this module.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from aezoo._version import __version__
from aezoo.errors import ArtifactError
from aezoo.export.card import render_card
from aezoo.export.onnx import export_onnx
from aezoo.export.samples import write_samples
from aezoo.models import create_model
from aezoo.models.base import AutoEncoder
from aezoo.registry.artifact import (
    CARD,
    CONFIG,
    EXPORT_RECORD,
    TRAINING,
    WEIGHTS,
    read_config,
    write_manifest,
)
from aezoo.registry.verify import check_graphs, check_weights, verify_artifact
from aezoo.spec import InputSpec, ModelConfig


def model_config(model: AutoEncoder, input_spec: InputSpec | None = None) -> ModelConfig:
    """``config.json`` of ``model``; ``input_spec`` replaces the model's own (an image
    model trained on a user's folder says how its image bodies are decoded)."""
    return ModelConfig(
        architecture=model.architecture,
        family=model.family,
        model_args=model.model_args(),
        input=input_spec or model.input_spec(),
        n_components=model.n_components,
        operations=model.operations,
        class_names=model.class_names,
        aezoo_version=__version__,
    )


def build_artifact(
    model: AutoEncoder,
    out_dir: Path,
    *,
    name: str,
    version: str = "1",
    training: Mapping[str, Any] | None = None,
    figures: Mapping[str, bytes] | None = None,
    card_text: str = "",
    samples: Mapping[str, Any] | None = None,
    input_spec: InputSpec | None = None,
) -> Path:
    """Write a complete, verified artifact for ``model`` at ``out_dir``.

    The artifact is assembled in a temporary sibling directory and renamed
    into place only once export, parity check and manifest have succeeded.

    Args:
        model: trained model (put in eval mode).
        out_dir: destination; must not exist yet.
        name, version: recorded in the manifest (the local store renumbers on ``add``).
        training: record written as ``training.json`` (recipe, seed, metrics, ...).
        figures: ``{"filters.png": png_bytes, ...}`` written under ``figures/``.
        card_text: extra markdown for the model card's body.
        samples: the ``samples.json`` record (:func:`aezoo.export.samples.make_samples`):
            a few real test inputs shipped with the model; None writes none.
        input_spec: replaces ``model.input_spec()`` in ``config.json`` (same
            ``n_features``; e.g. with the :class:`~aezoo.spec.ImageInput` of image data).

    Raises:
        ExportError: ONNX checker or parity failure.
        FileExistsError: ``out_dir`` exists.
    """
    model = model.eval()
    return assemble_artifact(
        out_dir,
        name=name,
        version=version,
        config=model_config(model, input_spec),
        state=model.state_dict(),
        export=lambda root: export_onnx(model, root),
        training=training,
        figures=figures,
        card_text=card_text,
        samples=samples,
    )


def assemble_artifact(
    out_dir: Path,
    *,
    name: str,
    version: str,
    config: ModelConfig,
    state: Mapping[str, torch.Tensor],
    export: Callable[[Path], dict[str, Any]],
    training: Mapping[str, Any] | None = None,
    figures: Mapping[str, bytes] | None = None,
    card_text: str = "",
    samples: Mapping[str, Any] | None = None,
) -> Path:
    """Write config, weights, graphs (``export(root)`` returns the export record), record,
    figures, samples, card and manifest into a temporary sibling of ``out_dir``, and rename
    it into place once all of it succeeded.

    Raises:
        ExportError: from ``export``.
        FileExistsError: ``out_dir`` exists.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; choose a new directory")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it owner-only; an artifact is shareable
    try:
        (tmp / CONFIG).write_text(config.model_dump_json(indent=2) + "\n")
        tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
        save_file(tensors, str(tmp / WEIGHTS), metadata={"architecture": config.architecture})
        export_record = export(tmp)
        (tmp / EXPORT_RECORD).write_text(json.dumps(export_record, indent=2) + "\n")
        record = dict(training or {})
        (tmp / TRAINING).write_text(json.dumps(record, indent=2, default=str) + "\n")
        for fname, data in (figures or {}).items():
            (tmp / "figures").mkdir(exist_ok=True)
            (tmp / "figures" / fname).write_bytes(data)
        if samples is not None:
            write_samples(tmp, dict(samples))
        (tmp / CARD).write_text(
            render_card(name, config, record, export_record, sorted(figures or {}), card_text)
        )
        for f in tmp.rglob("*"):
            if f.is_file():
                os.chmod(f, 0o666 & ~umask)  # safetensors writes 0600
        write_manifest(tmp, name, version)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def load_torch_model(path: Path, verify: bool = True) -> AutoEncoder:
    """Rebuild the torch module from ``config.json`` and ``model.safetensors``.

    The artifact is verified as for serving (:mod:`aezoo.registry.verify`), then the net
    the config describes is built on the ``meta`` device (no memory) and its tensors'
    shapes compared with the weights' header; only then is it built for real.

    Raises:
        ArtifactError and its subclasses: missing, unlisted or tampered files; a config
        that disagrees with the graphs or with the weights (ConfigMismatchError).
    """
    path = Path(path)
    if verify:
        verify_artifact(path)
    config = read_config(path)
    if verify:
        check_graphs(path, config)
    with torch.device("meta"):
        skeleton = create_model(config.architecture, config.model_args)
    check_weights(path, {k: tuple(v.shape) for k, v in skeleton.state_dict().items()})
    model = create_model(config.architecture, config.model_args)
    state = load_file(str(path / WEIGHTS))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ArtifactError(f"{path / WEIGHTS} does not fit {config.architecture}: {e}") from e
    return model.eval()
