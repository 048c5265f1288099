"""aezoo: classic representation-learning autoencoders, exported to ONNX and served.

The public face::

    import aezoo
    model = aezoo.load("sda-mnist")          # onnxruntime, numpy in/out, no torch
    codes = model.encode(X)                   # X: (batch, 784) float32 in [0, 1]
    net = aezoo.from_pretrained("sda-mnist")  # the torch nn.Module (needs aezoo[train])
    aezoo.list_models()
    artifact, version = aezoo.train("sda", "table.csv", label_column="label")  # your data
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from aezoo._version import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from aezoo.models.base import AutoEncoder
    from aezoo.registry.store import ModelVersion
    from aezoo.runtime.model import OnnxModel


def load(name_or_path: str | os.PathLike[str], **kwargs) -> OnnxModel:
    """Load an artifact for inference with onnxruntime (torch is not imported).

    Args:
        name_or_path: artifact directory, a registry reference ``name[@version|@alias]``,
            or a Hub reference ``hf-hub:ORG/REPO[@REVISION]`` (downloaded into the Hugging
            Face cache, every file checked against the manifest's sha256).
        **kwargs: passed to :class:`aezoo.runtime.model.OnnxModel` (providers, ...).

    Raises:
        ModelNotFoundError, ArtifactError, IntegrityError, HubError.
    """
    from aezoo.runtime.loading import load_model

    return load_model(name_or_path, **kwargs)


def from_pretrained(name_or_path: str | os.PathLike[str]) -> AutoEncoder:
    """The torch module of an artifact, weights from ``model.safetensors`` (needs ``aezoo[train]``).

    Accepts the same references as :func:`load` (paths, registry names, ``hf-hub:``).
    Nothing is unpickled: the net is rebuilt from ``config.json``.

    Raises:
        MissingExtraError (an ImportError): torch or onnx is not installed; the message
            names ``aezoo[train]``.
        ModelNotFoundError, ArtifactError, IntegrityError, HubError: as :func:`load`.
    """
    try:
        from aezoo.export.torch_io import load_torch_model
    except ModuleNotFoundError as e:
        from aezoo.errors import missing_extra

        raise (missing_extra(e, "aezoo.from_pretrained") or e) from None
    from aezoo.registry import resolve

    return load_torch_model(resolve(name_or_path))


def train(
    family: str, data: object, *, name: str | None = None, **options
) -> tuple[Path, ModelVersion | None]:
    """Train ``family`` on your own data, evaluate it, export it and register it.

    ``aezoo.train("lista", X)``, ``aezoo.train("sda", "digits.csv", label_column="label")``,
    ``aezoo.train("conv-ae", "photos/", image_size=(32, 32))``: the Python face of
    ``aezoo train FAMILY --data SOURCE`` (needs ``aezoo[train]``).

    Args:
        family: ``"sda"``, ``"lista"``, ``"drsae"`` or ``"conv-ae"``.
        data: a path (``.npy``, ``.npz``, ``.csv``, ``.parquet``, an image folder, a
            ``save_to_disk`` directory), ``"hf:NAME[:CONFIG]"``, a float array
            ``(n_samples, n_features)``, an ``(X, y)`` pair, a pandas DataFrame or an Arrow
            table.
        name: registry name (default: derived from the data; never a bundled model's).
        **options: ``overrides=["epochs=3", ...]``, ``scaling``, ``register``, ``run_dir``,
            ``show_progress``, and the source's options (``label_column``,
            ``feature_columns``, ``image_size``, ``image_mode``, ``seed``, ...): see
            :func:`aezoo.training.own_data.train_on_data`.

    Returns:
        ``(artifact directory, registered version or None)``; ``aezoo.load(version.name)``
        serves it.

    Raises:
        MissingExtraError: torch is not installed (names ``aezoo[train]``).
        DataError, ConfigError, ExportError: as ``train_on_data``.
    """
    try:
        from aezoo.training.own_data import train_on_data
    except ModuleNotFoundError as e:
        from aezoo.errors import missing_extra

        raise (missing_extra(e, "aezoo.train") or e) from None
    return train_on_data(family, data, name=name, **options)


def list_models() -> list[ModelVersion]:
    """Latest version of every model in the local registry and the bundled set."""
    from aezoo.registry.store import LocalStore

    return LocalStore().list()


__all__ = ["__version__", "from_pretrained", "list_models", "load", "train"]
