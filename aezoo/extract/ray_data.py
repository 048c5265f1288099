"""Ray Data adapter: a callable class for ``Dataset.map_batches`` (Ray itself is not imported)."""

from __future__ import annotations

import os

import numpy as np

from aezoo.extract.features import (
    OUTPUT_COLUMNS,
    ExtractOperation,
    _check_args,
    _load,
    run_in_batches,
)


def ray_map_batches_fn(
    model_ref: str | os.PathLike[str],
    operation: ExtractOperation = "encode",
    scale: float | None = None,
) -> type:
    """A callable class for Ray Data ``map_batches`` (Ray itself is not imported).

    Ray runs a class in actors, so the model loads once per actor in ``__init__`` (a
    function would run as tasks). An instance maps a numpy batch ``{"inputs":
    (batch, n_features) or (batch, *image_shape)}`` to ``{"codes": (batch,
    n_components) float32}`` for encode or ``{"outputs": (batch, n_features)
    float32}`` for denoise (the HTTP API's names); other columns (ids, labels) pass
    through and ``"inputs"`` is dropped. A batch without ``"inputs"`` raises KeyError::

        ds = ray.data.from_numpy(X).rename_columns({"data": "inputs"})  # X (n, 784) float32
        feats = ds.map_batches(ray_map_batches_fn("sda-mnist"), batch_format="numpy",
                               concurrency=4)  # or fn_constructor_args=(ref, op, scale)

    Args:
        model_ref: artifact directory or registry reference ``name[@version|@alias]``.
        operation: ``"encode"`` or ``"denoise"``.
        scale: multiply inputs by this first (1/255 for uint8 images).

    Returns:
        A class whose constructor arguments ``(model_ref, operation, scale)`` default
        to these.
    """
    defaults = (model_ref, operation, scale)

    class OnnxBatchMapper:
        def __init__(self, model_ref=defaults[0], operation=defaults[1], scale=defaults[2]):
            self.model = _load(model_ref)
            self.operation, self.scale = operation, scale
            _check_args(self.model, operation, 1, scale)

        def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            if "inputs" not in batch:
                raise KeyError(f"batch has columns {sorted(batch)}; expected 'inputs'")
            out = {k: v for k, v in batch.items() if k != "inputs"}
            column = OUTPUT_COLUMNS[self.operation]
            out[column] = run_in_batches(
                self.model, batch["inputs"], self.operation, 1024, self.scale
            )
            return out

    return OnnxBatchMapper


__all__ = ["ray_map_batches_fn"]
