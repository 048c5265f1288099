"""Ray Data adapter: a model as a stateful callable class for ``Dataset.map_batches``.

Ray runs a callable class in a pool of actors, so :class:`Extractor` loads its model
once per actor (in ``__init__``) and then maps every batch it is given::

    import ray
    from aezoo.extract.ray_data import Extractor

    ds = ray.data.from_numpy(X)                     # X (n, 784) float32 in [0, 1]: column "data"
    codes = ds.map_batches(
        Extractor,
        fn_constructor_kwargs={"model": "sda-mnist"},
        compute=ray.data.ActorPoolStrategy(size=2),  # Ray >= 2.51; concurrency=2 still works
        batch_size=1024,
    )                                               # column "codes": (n, 200) float32

Where the model comes from: ``model`` is whatever :func:`aezoo.load` takes (an
artifact directory on shared storage, a registry reference, ``hf-hub:ORG/REPO``),
resolved by each actor on its own machine; or the object reference that
:func:`ship_model` returns, which carries the exact version resolved on the driver to
every machine through Ray's object store (no shared disk needed; unpacked once per
machine). Every file is checked against the manifest's sha256 when an actor loads it.
Nothing is loaded or downloaded per batch.

Ray is imported only by :func:`ship_model` and inside actors; the class itself runs
without Ray (``Extractor(model="sda-mnist")({"data": X})``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from aezoo.errors import ConfigError, InputError, OperationNotSupportedError
from aezoo.extract.features import _check_rows, _prepare
from aezoo.runtime.bundle import ArtifactBundle, pack_artifact, unpack_artifact
from aezoo.runtime.loading import load_model
from aezoo.runtime.model import OnnxModel

OPERATIONS = ("encode", "denoise", "classify")
DEFAULT_OUTPUT = {"encode": "codes", "denoise": "outputs", "classify": "labels"}
PROBABILITIES = "probabilities"  # classify's second column, as in the HTTP API


def ship_model(model: str | os.PathLike[str]) -> Any:
    """Resolve ``model`` here, verify it and ``ray.put`` its files once for every worker.

    Args:
        model: artifact directory, ``name[@version|@alias]`` or ``hf-hub:ORG/REPO[@REV]``
            (resolved on this machine: ``sda-mnist`` means this registry's latest).

    Returns:
        A ``ray.ObjectRef`` of an :class:`~aezoo.runtime.bundle.ArtifactBundle`, to pass
        as ``fn_constructor_kwargs={"model": ref}``. Needs ``ray.init()`` first.

    Raises:
        ModelNotFoundError, ArtifactError, IntegrityError, HubError: as :func:`aezoo.load`.
    """
    import ray

    from aezoo.registry import resolve

    return ray.put(pack_artifact(resolve(model)))


def _assigned_cpus() -> int:
    """CPUs Ray reserved for this actor (its onnxruntime threads); 0 outside Ray."""
    try:
        import ray
    except ImportError:
        return 0
    if not ray.is_initialized():
        return 0
    try:
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 0)
    except AssertionError:  # the driver, not a worker
        return 0
    return max(1, int(cpus)) if cpus else 0


def _load(model: Any, threads: int) -> OnnxModel:
    if type(model).__name__ == "ObjectRef":  # not auto-resolved when nested; avoid importing ray
        import ray

        model = ray.get(model)
    if isinstance(model, ArtifactBundle):
        return OnnxModel(unpack_artifact(model), intra_op_threads=threads)
    if isinstance(model, OnnxModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        return load_model(model, intra_op_threads=threads)
    raise ConfigError(
        f"model must be a path, a registry or hf-hub: reference, or ship_model()'s result; "
        f"got {type(model).__name__}"
    )


def _is_tensor(values: Any) -> bool:
    """A column of arrays: numeric with ndim >= 2, or an object column of per-row arrays."""
    if not isinstance(values, np.ndarray) or len(values) == 0:
        return False
    if values.dtype.kind in "biuf":
        return values.ndim >= 2
    return values.dtype == object and isinstance(values[0], (np.ndarray, list))


def _stack(values: np.ndarray, column: str) -> np.ndarray:
    """An object column of per-row arrays (Parquet lists, ragged tensors) -> one ndarray."""
    if values.dtype != object:
        return values
    shapes = {np.shape(v) for v in values}
    if len(shapes) != 1:
        raise InputError(f"column {column!r} holds rows of different shapes: {sorted(shapes)}")
    return np.stack([np.asarray(v) for v in values])


class Extractor:
    """Callable class for ``Dataset.map_batches``: one model per actor, numpy batches in and out.

    A batch is a dict of columns (Ray's ``"numpy"``/``"default"`` batch format). The
    input column holds ``(batch, n_features)`` or ``(batch, *image_shape)`` numbers (or
    per-row arrays, as Parquet list columns arrive); it is dropped, every other column
    (ids, paths, labels) passes through, and the result is added:

    - ``encode``: ``output_column`` (default ``"codes"``), float32 ``(batch, n_components)``;
    - ``denoise``: ``output_column`` (default ``"outputs"``), float32 ``(batch, n_features)``;
    - ``classify``: ``output_column`` (default ``"labels"``), int64 ``(batch,)`` class
      indices (names in ``model.config.class_names``), and ``"probabilities"``, float32
      ``(batch, n_classes)``.

    Values come out bit for bit as ``aezoo.load(model).encode(X)`` (and so on) gives them.

    Args:
        model: see the module docstring (a reference, a path, or :func:`ship_model`'s result).
        operation: ``"encode"``, ``"denoise"`` or ``"classify"``.
        column: the input column; ``None`` picks the only tensor column of the batch
            (``"data"`` from ``from_numpy``/``read_numpy``, ``"image"`` from ``read_images``).
        output_column: name of the result column; default per operation (above).
        scale: multiply inputs by this first (``1/255`` for 8-bit pixels such as
            ``read_images`` gives); ``None`` = as they are. ``1/N`` divides by N exactly.
        threads: onnxruntime intra-op threads; ``None`` = the CPUs Ray reserved for the
            actor (``num_cpus``, 1 by default), or onnxruntime's default outside Ray.
        batch_size: rows per onnxruntime call; ``None`` = the whole Ray batch. Lets Ray
            move big batches (less per-batch overhead in Ray, measured 2x with Parquet
            output) while the model runs on small ones.

    Raises:
        ConfigError: bad ``operation``, ``scale`` or ``model`` argument (at construction);
            no tensor column, several without ``column=``, or ``output_column`` clashing with
            a column that passes through (at the first batch).
        OperationNotSupportedError: the model does not offer ``operation``.
        InputError: rows of the wrong shape, NaN/Inf, or values outside the model's range
            (the message suggests ``scale=1/255`` for 8-bit pixels).
        ModelNotFoundError, ArtifactError, IntegrityError, HubError: loading failed.
    """

    def __init__(
        self,
        model: Any = "sda-mnist",
        operation: str = "encode",
        column: str | None = None,
        output_column: str | None = None,
        scale: float | None = None,
        threads: int | None = None,
        batch_size: int | None = None,
    ) -> None:
        if operation not in OPERATIONS:
            raise ConfigError(
                f"operation must be one of {', '.join(OPERATIONS)}; got {operation!r}"
            )
        if scale is not None and not (np.isfinite(scale) and scale > 0):
            raise ConfigError(f"scale must be a finite number > 0, got {scale!r}")
        if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
            raise ConfigError(f"batch_size must be an integer >= 1 or None, got {batch_size!r}")
        self.batch_size = batch_size
        self.model = _load(model, _assigned_cpus() if threads is None else threads)
        if operation not in self.model.operations:
            raise OperationNotSupportedError(
                f"model {self.model.name!r} does not offer {operation!r}; "
                f"it offers {', '.join(self.model.operations)}"
            )
        self.operation, self.column, self.scale = operation, column, scale
        self.output_column = output_column or DEFAULT_OUTPUT[operation]

    def __repr__(self) -> str:
        return f"Extractor({self.model!r}, operation={self.operation!r})"

    def input_column(self, batch: dict[str, np.ndarray]) -> str:
        """The column to read: ``column=`` if given, else the batch's only tensor column."""
        if self.column is not None:
            if self.column not in batch:
                raise ConfigError(f"no column {self.column!r}; the batch has {sorted(batch)}")
            return self.column
        found = [name for name, values in batch.items() if _is_tensor(values)]
        if len(found) != 1:
            what = "no tensor column" if not found else f"several tensor columns {found}"
            raise ConfigError(
                f"the batch has {what} (columns {sorted(batch)}); name the input with column="
            )
        self.column = found[0]
        return self.column

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Map one batch; see the class docstring for the columns."""
        if not isinstance(batch, dict):
            raise ConfigError(
                f"Extractor takes numpy batches (dicts of arrays); got {type(batch).__name__}: "
                "use map_batches(..., batch_format='numpy')"
            )
        column = self.input_column(batch)
        out = {k: v for k, v in batch.items() if k != column}
        names = [self.output_column] + ([PROBABILITIES] if self.operation == "classify" else [])
        clash = [n for n in names if n in out]
        if clash:
            raise ConfigError(
                f"output column {clash[0]!r} is already a column; pass output_column="
            )
        rows = _stack(batch[column], column)
        where = f"column {column!r}"
        _check_rows(self.model, rows.shape, where)
        x = _prepare(rows, self.scale, self.model, where, 0)
        run = {"encode": self.model.encode, "denoise": self.model.denoise}.get(
            self.operation, self.model.predict_proba
        )
        step = self.batch_size or len(x)
        try:
            y = np.concatenate([run(x[i : i + step]) for i in range(0, len(x), step)])
        except InputError as e:  # NaN/Inf: say which column
            raise InputError(f"{where}: {e}") from None
        if self.operation == "classify":
            out[self.output_column], out[PROBABILITIES] = y.argmax(axis=1), y
        else:
            out[self.output_column] = y
        return out


__all__ = ["DEFAULT_OUTPUT", "OPERATIONS", "Extractor", "ship_model"]
