"""A few real inputs shipped inside each artifact (``samples.json``).

Playgrounds (the gallery at ``/``), examples and quick checks need inputs of the
model's own shape and value range; a file of real test inputs travels with the
model, listed in its manifest like every other file. Format (``aezoo-samples/1``)::

    {"format": "aezoo-samples/1",
     "source": "MNIST test images: the first of each digit 0-9",
     "labels": ["0", "1", ...],          # one short string per sample (class, angle)
     "inputs": [[784 floats], ...]}      # flat rows of n_features, in the value range

The rows are a valid v1 request batch (``{"inputs": samples["inputs"]}``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from aezoo.data import datasets
from aezoo.registry.artifact import (
    MANIFEST,
    SAMPLES,
    FileEntry,
    read_manifest,
    sha256_file,
    write_json_durable,
)

FORMAT = "aezoo-samples/1"
N_UNLABELLED = 8  # samples of a data set without classes (lines, patches)
_DECIMALS = 6  # uint8 / 255 pixels keep their value to 2e-6; rows stay in range


def make_samples(X: np.ndarray, y: np.ndarray, dataset: str) -> dict[str, Any]:
    """The ``samples.json`` record for test inputs ``X`` of ``dataset``.

    Args:
        X: test inputs, float32 ``(n, n_features)`` in the data set's value range.
        y: their labels, ``(n,)``: class indices (MNIST) or line angles in radians.
        dataset: ``"mnist"``, ``"lines"`` or ``"patches"``.

    Returns:
        For a labelled data set, the first test input of each class in class order;
        otherwise the first :data:`N_UNLABELLED`. Labels are short strings.
    """
    info = datasets.info(dataset)
    if info.labelled:
        classes, index = first_of_each_class(y)
        labels = [str(int(c)) for c in classes]
        source = f"{dataset.upper()} test split: the first input of each class"
    else:
        index = list(range(min(N_UNLABELLED, len(X))))
        if dataset == "lines":
            labels = [f"angle {np.degrees(float(a)) % 360:.0f} deg" for a in y[index]]
        else:
            labels = [f"test #{i}" for i in index]
        source = f"{dataset} test split: the first {len(index)} inputs"
    return samples_from(X, index, labels, source, info.value_range)


def first_of_each_class(y: np.ndarray, limit: int | None = None) -> tuple[np.ndarray, list[int]]:
    """The classes of ``y`` in order (the first ``limit``) and the index of each one's first
    sample."""
    classes = np.unique(y)[:limit]
    return classes, [int(np.flatnonzero(y == c)[0]) for c in classes]


def samples_from(
    X: np.ndarray,
    index: list[int],
    labels: list[str],
    source: str,
    value_range: tuple[float, float] | None,
) -> dict[str, Any]:
    """The ``samples.json`` record of rows ``X[index]``: rounded to 6 decimals and clipped to
    ``value_range`` (None: any finite values, a table's raw units)."""
    rows = np.round(X[index].astype(np.float64), _DECIMALS)
    if value_range is not None:
        rows = np.clip(rows, *value_range)
    return {"format": FORMAT, "source": source, "labels": labels, "inputs": rows.tolist()}


def write_samples(root: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    """Write ``samples.json`` into an artifact directory (before its manifest is written)."""
    path = Path(root) / SAMPLES
    path.write_text(json.dumps(record, separators=(",", ":")) + "\n")
    return path


def attach_samples(root: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    """Add ``samples.json`` to an existing artifact and list it in its manifest.

    The other files, the version and ``created_at`` stay as they are; used to give
    artifacts built before samples existed (the bundled ones) their samples.

    Raises:
        ArtifactError: ``root`` is not an artifact.
    """
    root = Path(root)
    manifest = read_manifest(root)
    path = write_samples(root, record)
    entry = FileEntry(sha256=sha256_file(path), size=path.stat().st_size)
    files = dict(sorted({**manifest.files, SAMPLES: entry}.items()))
    updated = manifest.model_copy(update={"files": files})
    write_json_durable(root / MANIFEST, updated.model_dump(mode="json"))
    return path
