"""Train any family on a user's data: source -> sized recipe -> model with its preprocessing
-> evaluated on the held-out split -> artifact -> local registry.

``aezoo train FAMILY --data SOURCE`` and :func:`aezoo.train` call :func:`train_on_data`.
The data comes from :func:`aezoo.data.sources.load_source` (files, folders, Hugging Face
datasets, arrays); the recipe from :func:`aezoo.training.sizing.template` plus ``--set``
overrides; the trainer is the family's own. What the data needs before the model sees it
is part of the model: a table's per-feature scaling (fitted on the training split only)
becomes buffers of :class:`~aezoo.models.scaled.ScaledAutoEncoder` and so part of every
ONNX graph; an image model's decoding, mode, size and scaling are written to its input
spec (:class:`~aezoo.spec.ImageInput`), which every runtime that takes image bodies follows.
Nothing is registered unless training, evaluation and export all succeed.
"""

from __future__ import annotations

import dataclasses
import platform
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aezoo._version import __version__
from aezoo.data.preprocess import (
    ScalingMethod,
    apply_scaling,
    fill_missing,
    fit_fill,
    fit_scaling,
)
from aezoo.data.sources import LoadedData, load_source
from aezoo.data.sources.spill import IN_MEMORY_BYTES, needs_spill, spill_source
from aezoo.errors import ConfigError
from aezoo.evaluation.own_data import score_own_data
from aezoo.evaluation.scores import Ops
from aezoo.export.own_data import (
    data_card_text,
    image_input_spec,
    own_data_figures,
    samples_record,
)
from aezoo.export.torch_io import build_artifact
from aezoo.models.base import AutoEncoder
from aezoo.models.scaled import ScaledAutoEncoder
from aezoo.registry.store import LocalStore, ModelVersion, check_name
from aezoo.training.ops import torch_ops
from aezoo.training.pipeline import FAMILIES, parse_config
from aezoo.training.recipes import apply_overrides
from aezoo.training.rescore import calibrate_after_training
from aezoo.training.sizing import template

SIZING_ROWS = 20_000  # training rows whose statistics size a model (drsae, lista)


def train_on_data(
    family: str,
    source: Any,
    *,
    name: str | None = None,
    overrides: Iterable[str] = (),
    scaling: ScalingMethod = "minmax",
    run_dir: Path | None = None,
    store: LocalStore | None = None,
    register: bool = True,
    show_progress: bool = True,
    command: str = "",
    in_memory_bytes: int = IN_MEMORY_BYTES,
    calibrate_fpr: float | None = None,
    **source_options: Any,
) -> tuple[Path, ModelVersion | None]:
    """Train ``family`` on ``source``, evaluate it, build its artifact and register it.

    Args:
        family: ``"sda"``, ``"lista"``, ``"drsae"`` or ``"conv-ae"``.
        source: anything :func:`aezoo.data.sources.load_source` takes (a path, ``hf:NAME``,
            an array, ``(X, y)``, a DataFrame or an Arrow table).
        name: registry name; default: derived from the source. Never a bundled model's name.
        overrides: ``key=value`` recipe overrides (``epochs=3``, ``model.n_components=64``).
        scaling: a table's per-feature scaling, ``"minmax"`` (default), ``"standard"`` or
            ``"standard-floor"`` (:mod:`aezoo.data.preprocess`).
        run_dir: checkpoints and the artifact (default: a temporary directory).
        store: the registry (default: the local store under ``AEZOO_HOME``).
        register: add the artifact to the registry.
        show_progress: progress bars and per-epoch lines.
        command: the command line, recorded in ``training.json``.
        in_memory_bytes: a path source whose float32 rows are larger is streamed once to
            disk and trained by chunks (:func:`aezoo.data.sources.spill.spill_source`):
            memory stays bounded, labels are not used.
        calibrate_fpr: after export, set the anomaly threshold at this false-positive rate
            on the held-out test split (``calibration.json``, as ``aezoo calibrate``;
            :func:`aezoo.training.rescore.calibrate_after_training`); a case that cannot be
            calibrated (no test split, too few rows) is said on stderr and left
            uncalibrated. None (default): no calibration. ``aezoo train`` passes 0.01.
        **source_options: ``label_column``, ``feature_columns``, ``image_size``,
            ``image_mode``, ``seed``, ``val_fraction``, ``test_fraction``, ``allow_missing``.

    Returns:
        ``(artifact directory, registered version or None)``.

    Raises:
        DataError: the data cannot be read or is unusable (message names the problem).
        ConfigError: unknown family, bad override, a bundled model's name.
        ExportError: the ONNX export or its parity check failed.
    """
    if family not in FAMILIES:
        raise ConfigError(f"unknown family {family!r}; families: {', '.join(FAMILIES)}")
    own_dir, spill_dir = run_dir is None, None
    run_dir = Path(run_dir or tempfile.mkdtemp(prefix="aezoo-train-"))
    try:
        large = needs_spill(source, in_memory_bytes, **source_options)
        if large is not None:
            spill_dir = Path(tempfile.mkdtemp(prefix="aezoo-spill-"))
            data = spill_source(source, spill_dir, description=large, **source_options)
        else:
            data = load_source(source, **source_options)
        seed = int(source_options.get("seed", 0))
        return _train(family, data, name, overrides, scaling, run_dir, own_dir, store, register,
                      show_progress, command, seed,
                      bool(source_options.get("allow_missing")), calibrate_fpr)  # fmt: skip
    finally:
        if spill_dir is not None:
            shutil.rmtree(spill_dir, ignore_errors=True)
        if own_dir and register:
            shutil.rmtree(run_dir, ignore_errors=True)


def _train(
    family: str,
    data: LoadedData,
    name: str | None,
    overrides: Iterable[str],
    scaling: ScalingMethod,
    run_dir: Path,
    own_dir: bool,
    store: LocalStore | None,
    register: bool,
    show_progress: bool,
    command: str,
    seed: int,
    impute: bool,
    calibrate_fpr: float | None,
) -> tuple[Path, ModelVersion | None]:
    desc = data.description
    if not desc.source.startswith(("hf:", "<")):  # a local path: its name, not the machine's
        desc = dataclasses.replace(desc, source=Path(desc.source).name)  # folders in artifacts
        data = LoadedData(data.splits, desc)
    name = check_name(name or desc.name)
    store = store or LocalStore()
    if store.is_bundled(name):
        raise ConfigError(f"{name!r} is a bundled model's name; pass another --name")
    X_train, y_train = data.splits["train"]
    X_test = data.splits["test"][0] if "test" in data.splits else None  # raw: the model's input
    offset = scale = fill = None
    if desc.kind == "table" and impute:  # --allow-missing: the training split's means
        fill = fit_fill(X_train)
        data = LoadedData(
            {k: (fill_missing(X, fill), y) for k, (X, y) in data.splits.items()}, desc
        )
        X_train = data.splits["train"][0]
    if desc.kind == "table":
        offset, scale = fit_scaling(X_train, scaling)
    to_model = (lambda A: apply_scaling(A, offset, scale)) if offset is not None else (lambda A: A)
    splits = {
        k: (to_model(X), y if y is not None else np.zeros(len(X), dtype=np.int64))
        for k, (X, y) in data.splits.items()
    }
    raw = template(
        family,
        n_features=desc.n_features,
        n_train=len(X_train),
        class_names=desc.class_names if y_train is not None else None,
        image=desc.image_shape,
        X_train=np.asarray(splits["train"][0][:SIZING_ROWS]),  # statistics of a sample
    )
    raw["name"] = name
    raw["seed"] = seed
    cfg = parse_config(apply_overrides(raw, overrides))
    t0 = time.perf_counter()
    trainer = FAMILIES[family][1](cfg, splits, run_dir, show_progress=show_progress)
    model = trainer.fit().eval()
    seconds = time.perf_counter() - t0
    exported: AutoEncoder = (
        ScaledAutoEncoder.wrap(model, offset, scale, scaling, fill) if offset is not None else model
    ).eval()
    spec = image_input_spec(data) or exported.input_spec()
    if desc.columns and len(desc.columns) == desc.n_features:
        spec = spec.model_copy(update={"columns": list(desc.columns)})
    ops: Ops = torch_ops(exported)
    metrics = score_own_data(ops, data.splits, exported.family, offset, scale, cfg.seed)
    history = trainer.state["history"]
    record = {
        "recipe": cfg.model_dump(mode="json"),
        "seed": cfg.seed,
        "dataset": "user",
        "protocol": desc.split_protocol,
        "data": desc.to_json(),
        "data_fingerprint": desc.content_hash,
        "preprocessing": {
            "scaling": scaling if offset is not None else None,
            "impute_missing": fill is not None,
        },
        "metrics": metrics,
        "history": history,
        "train_seconds": round(seconds, 1),
        "command": command,
        "versions": {
            "aezoo": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    artifact = run_dir / "artifact"
    if artifact.exists():
        shutil.rmtree(artifact)
    card_text = data_card_text(data, scaling if offset is not None else None, fill is not None)
    build_artifact(
        exported,
        artifact,
        name=name,
        training=record,
        figures=own_data_figures(exported, data, history),
        card_text=card_text,
        samples=samples_record(data, spec),
        input_spec=spec,
    )
    if calibrate_fpr is not None:
        n_test = 0 if X_test is None else len(X_test)
        calibrate_after_training(
            artifact, X_test, calibrate_fpr,
            source=f"the held-out test split of {desc.source} ({n_test:,} rows)",
            body=card_text, model=exported,
        )  # fmt: skip
    version = store.add(artifact, name, command=command or None) if register else None
    if own_dir and version is not None:
        artifact = version.path
    return artifact, version
