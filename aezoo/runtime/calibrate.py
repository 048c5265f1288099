"""``aezoo calibrate``: a new registry version with a fresh ``calibration.json``, same weights.

The source version is read, never written: its listed files are copied to a staging
directory, ``calibration.json`` is (re)written there from the model's scores on the given
rows (:func:`aezoo.runtime.calibration.calibrate`), the manifest is rewritten, and
:meth:`aezoo.registry.store.LocalStore.add` registers the copy as the next version (staged,
checked file by file, renamed into place under the model's lock: atomic).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from aezoo.errors import ConfigError
from aezoo.registry.format import CALIBRATION, MANIFEST, read_manifest, write_manifest
from aezoo.registry.store import LocalStore, ModelVersion
from aezoo.runtime.calibration import Calibration, calibrate, data_hash, write_calibration
from aezoo.runtime.model import OnnxModel


def read_rows(source: Any, model: OnnxModel) -> np.ndarray:
    """Every row of ``source`` (a path :func:`aezoo.data.sources.load_source` reads, or an
    array) as float32 ``(n, n_features)``; a table model reads its own columns.

    Raises:
        DataError: the source cannot be read (see ``load_source``).
    """
    if isinstance(source, np.ndarray):
        return model.check_inputs(source)
    from aezoo.data.sources import load_source

    spec = model.config.input
    columns = (
        list(spec.columns) if spec.columns and str(source).endswith((".csv", ".parquet")) else None
    )
    loaded = load_source(
        str(source),
        feature_columns=columns,
        val_fraction=0.0,
        test_fraction=0.0,
        allow_missing=spec.missing == "impute",
        quiet=True,
    )
    return model.check_inputs(loaded.splits["train"][0])


def calibrate_model(
    model: OnnxModel,
    rows: np.ndarray,
    fpr: float | None = None,
    contamination: float | None = None,
    source: str | None = None,
) -> Calibration:
    """The calibration of ``model`` on ``rows`` ``(n, n_features)`` (normal rows for ``fpr``);
    ``source`` says what the rows were (recorded in ``calibration.json``).

    Raises:
        OperationNotSupportedError: the model has no scorer graph.
        ConfigError: see :func:`aezoo.runtime.calibration.calibrate`.
    """
    scores, _ = model.score_contributions(rows)
    return calibrate(scores, data_hash(rows), fpr=fpr, contamination=contamination, source=source)


def calibrate_version(
    ref: str,
    data: Any,
    fpr: float | None = None,
    contamination: float | None = None,
    store: LocalStore | None = None,
    aliases: tuple[str, ...] = (),
) -> tuple[ModelVersion, Calibration]:
    """Register the next version of ``ref``'s model: its files plus a new calibration.

    Args:
        ref: ``name[@version|@alias]`` in the local registry.
        data: calibration rows (path or array), see :func:`read_rows`.
        fpr, contamination: the target (default ``fpr = 0.01``).
        store: the registry (default ``LocalStore()``).
        aliases: aliases to move to the new version.

    Returns:
        The new version and its calibration; the old version is left as it was.

    Raises:
        ArtifactError, DataError, ConfigError, OperationNotSupportedError.
    """
    store = store or LocalStore()
    src = store.resolve(ref)
    model = OnnxModel(src.path, intra_op_threads=1)
    if not model.has_scorer:
        raise ConfigError(
            f"{ref}: the artifact has no onnx/scorer.onnx; re-export it with this version of "
            "aezoo before calibrating"
        )
    source = None if isinstance(data, np.ndarray) else str(data)
    cal = calibrate_model(
        model, read_rows(data, model), fpr=fpr, contamination=contamination, source=source
    )
    manifest = read_manifest(src.path)
    with tempfile.TemporaryDirectory(prefix="aezoo-calibrate-") as tmp:
        stage = Path(tmp) / "artifact"
        for rel in manifest.files:
            if rel == CALIBRATION:
                continue
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src.path / rel, stage / rel)
        write_calibration(stage, cal)
        (stage / MANIFEST).unlink(missing_ok=True)
        write_manifest(stage, manifest.name, manifest.version)
        new = store.add(stage, src.name, aliases=aliases, command=f"calibrate {ref}")
    return new, cal
