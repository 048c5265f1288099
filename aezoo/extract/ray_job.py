"""``aezoo extract --engine ray``: files -> Ray Data -> :class:`Extractor` actors -> Parquet or .npy.

One pipeline, Ray's scheduler and nothing of our own: read the source as a Ray
``Dataset``, ``map_batches`` it through a fixed pool of :class:`~aezoo.extract.ray_data.Extractor`
actors (``compute=ActorPoolStrategy(size=actors)``), write it with ``write_parquet`` or
``write_numpy``. The model is resolved and verified here, on the driver, and shipped once
through Ray's object store (:func:`~aezoo.extract.ray_data.ship_model`), so every worker
runs the same version. Output rows keep the input order (``preserve_order``).

Sources (a file, or a directory of files of one kind, taken in name order):

- ``.npy`` arrays ``(n, n_features)`` or ``(n, *image_shape)``: read by row windows of one
  batch each from a memory map, so no worker holds a whole file; the output has an ``id``
  column, the row's index counted across the files;
- Parquet files with one tensor (or list) column, or ``column=`` naming it; every other
  column passes through;
- images (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``, ``.tif``, ``.tiff``) of the
  model's image shape, read as 8-bit grayscale with a ``path`` column and scaled by 1/255
  unless ``scale`` is given.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aezoo.errors import AezooError, ConfigError, DataError
from aezoo.extract.features import _check_rows, _open_source
from aezoo.extract.ray_data import DEFAULT_OUTPUT, OPERATIONS, Extractor, ship_model
from aezoo.runtime.loading import load_model

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
KINDS = {".npy": "npy", ".parquet": "parquet", **dict.fromkeys(IMAGE_SUFFIXES, "images")}
FORMATS = ("parquet", "npy")
BLOCK_BYTES = 32 * 2**20  # inputs per Ray batch (and per .npy read): whole model batches


@dataclass(frozen=True)
class RayExtractReport:
    """What :func:`extract_with_ray` did.

    Attributes:
        n_samples: rows written.
        files: output files written under ``dest``.
        seconds: wall time of the whole call (cluster start included).
        start_seconds: of that, starting or joining the Ray cluster.
        rows_per_second: ``n_samples / (seconds - start_seconds)``.
        dest: the output directory.
    """

    n_samples: int
    files: int
    seconds: float
    start_seconds: float
    rows_per_second: float
    dest: Path


def find_sources(source: str | os.PathLike[str]) -> tuple[str, list[Path]]:
    """``(kind, files)`` of a file or a directory: kind is ``npy``, ``parquet`` or ``images``.

    Raises:
        DataError: missing, empty, of an unsupported kind, or mixing kinds.
    """
    path = Path(source)
    if not path.exists():
        raise DataError(f"{path}: source not found")
    path = path.resolve()  # workers on other machines or in other directories
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    kinds = {KINDS.get(p.suffix.lower()) for p in files if not p.name.startswith(".")}
    supported = ", ".join(sorted(KINDS))
    if None in kinds or not kinds:
        bad = next((p.name for p in files if p.suffix.lower() not in KINDS), "")
        raise DataError(
            f"{path}: "
            + (f"unsupported file {bad!r}; " if bad else "no files; ")
            + f"the ray engine reads {supported} (MNIST IDX files: use --engine local)"
        )
    if len(kinds) > 1:
        raise DataError(f"{path}: mixes {' and '.join(sorted(kinds))} files; use one kind")
    kind = kinds.pop()
    return kind, [p for p in files if KINDS.get(p.suffix.lower()) == kind]


def _read_npy_rows(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One ``{"file", "start", "stop"}`` window -> its rows ``{"id", "data"}`` (memory-mapped read)."""
    (path,), (start,), (stop,), (first,) = (batch[k] for k in ("file", "start", "stop", "first"))
    _, read, _ = _open_source(Path(str(path)))
    rows = read(int(start), int(stop))
    flat = rows.reshape(len(rows), -1)  # (n, 28, 28) and (n, 784) files make one column
    return {"id": np.arange(first, first + len(rows), dtype=np.int64), "data": flat}


def block_rows(model: Any, batch_size: int) -> int:
    """Rows per Ray batch: about ``BLOCK_BYTES`` of float32 inputs, whole model batches."""
    row_bytes = 4 * model.config.input.n_features
    return max(batch_size, BLOCK_BYTES // row_bytes // batch_size * batch_size)


def _dataset(kind: str, files: list[Path], model: Any, batch_size: int) -> Any:
    import ray

    if kind == "npy":  # row windows of one Ray batch each, as in-memory items
        windows, first = [], 0
        step = block_rows(model, batch_size)
        for f in files:
            shape, _, _ = _open_source(f)
            _check_rows(model, shape, str(f))
            for start in range(0, shape[0], step):
                stop = min(start + step, shape[0])
                windows.append({"file": str(f), "start": start, "stop": stop, "first": first})
                first += stop - start
        return ray.data.from_items(windows).map_batches(_read_npy_rows, batch_size=1)
    if kind == "parquet":
        return ray.data.read_parquet([str(f) for f in files])
    mode = "L" if len(model.config.input.shape or ()) == 2 else None
    return ray.data.read_images([str(f) for f in files], mode=mode, include_paths=True)


def _aezoo_cause(error: BaseException) -> AezooError | None:
    """The AezooError a Ray error wraps (through ``.cause`` and ``__cause__`` links), if any."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(getattr(e, "cause", None), BaseException):  # RayTaskError: the original
            todo.append(e.cause)  # type: ignore[attr-defined]
        elif isinstance(e, AezooError):
            return e
        else:
            todo += [e.__cause__, e.__context__]
    return None


def _count_rows(directory: Path, output_format: str) -> tuple[int, int]:
    files = sorted(directory.glob(f"*.{output_format}"))
    if output_format == "parquet":
        import pyarrow.parquet as pq

        return sum(pq.read_metadata(f).num_rows for f in files), len(files)
    return sum(np.load(f, mmap_mode="r").shape[0] for f in files), len(files)


def extract_with_ray(
    model: str | os.PathLike[str],
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    operation: str = "encode",
    batch_size: int = 1024,
    actors: int = 1,
    cpus_per_actor: float = 1,
    scale: float | None = None,
    column: str | None = None,
    output_column: str | None = None,
    output_format: str = "parquet",
    address: str | None = None,
    progress: bool = True,
) -> RayExtractReport:
    """Run a source through ``actors`` model replicas on Ray and write a directory of files.

    Args:
        model: artifact directory, ``name[@version|@alias]`` or ``hf-hub:ORG/REPO[@REV]``,
            resolved on this machine and shipped to the workers.
        source: a file or a directory of ``.npy``, Parquet or image files (module docstring).
        dest: output directory, created; must not exist yet (or be empty). Written under a
            temporary name next to it and renamed when complete.
        operation: ``encode``, ``denoise`` or ``classify`` (see :class:`Extractor`).
        batch_size: rows per model call.
        actors: model actors (the size of the fixed actor pool).
        cpus_per_actor: CPUs Ray reserves per actor; also its onnxruntime threads.
        scale: multiply inputs by this first; default 1/255 for images, 1 otherwise.
        column, output_column: as in :class:`Extractor`.
        output_format: ``parquet`` (every column) or ``npy`` (the output column only,
            one ``.npy`` shard per block, in row order by file name).
        address: Ray cluster to join (``auto``, ``HOST:PORT``, ``ray://...``); ``None``
            starts a local one for this call and stops it afterwards.
        progress: Ray Data's progress bars on stderr.

    Returns:
        A :class:`RayExtractReport`.

    Raises:
        DataError: bad source or dest. ConfigError: bad options.
        InputError, OperationNotSupportedError, ModelNotFoundError, ArtifactError: as
        :func:`~aezoo.extract.features.extract_features` (raised from the workers).
    """
    t0 = time.perf_counter()
    if operation not in OPERATIONS:
        raise ConfigError(f"operation must be one of {', '.join(OPERATIONS)}; got {operation!r}")
    if output_format not in FORMATS:
        raise ConfigError(f"output_format must be parquet or npy, got {output_format!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if isinstance(actors, bool) or not isinstance(actors, int) or actors < 1:
        raise ConfigError(f"actors must be an integer >= 1, got {actors!r}")
    if not cpus_per_actor > 0:
        raise ConfigError(f"cpus_per_actor must be > 0, got {cpus_per_actor!r}")
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise DataError(f"{dest}: dest exists; the ray engine writes a new directory")
    if not dest.parent.is_dir():
        raise DataError(f"{dest}: directory {dest.parent} does not exist")
    kind, files = find_sources(source)
    local = load_model(model)  # fail here, before any cluster starts, on a bad ref or op
    Extractor(local, operation)  # checks the operation is offered
    if scale is None and kind == "images":
        scale = 1.0 / 255.0

    import ray

    started = not ray.is_initialized()
    if started:
        quiet = logging.WARNING if not progress else logging.INFO
        # A local cluster gets one logical CPU beyond the actors' for the read and write
        # tasks (1 CPU each), which would otherwise wait forever behind a pool that holds
        # every core; they time-share the cores with the actors.
        cpus = None if address else max(os.cpu_count() or 1, math.ceil(actors * cpus_per_actor) + 1)
        ray.init(address=address, num_cpus=cpus, include_dashboard=False, logging_level=quiet)
    t_started = time.perf_counter()
    staging = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.tmp")
    ctx = ray.data.DataContext.get_current()
    saved = (ctx.execution_options.preserve_order, ctx.raise_original_map_exception)
    saved += (ctx.enable_progress_bars,)
    try:
        ctx.execution_options.preserve_order = True
        ctx.raise_original_map_exception = True  # an InputError, not "UDF failed"
        ctx.enable_progress_bars = progress
        ds = _dataset(kind, files, local, batch_size).map_batches(
            Extractor,
            fn_constructor_kwargs={
                "model": ship_model(local.path),
                "operation": operation,
                "column": column,
                "output_column": output_column,
                "scale": scale,
                "threads": max(1, int(cpus_per_actor)),
                "batch_size": batch_size,
            },
            batch_size=block_rows(local, batch_size),
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=cpus_per_actor,
        )
        if output_format == "parquet":
            ds.write_parquet(str(staging))
        else:
            ds.write_numpy(str(staging), column=output_column or DEFAULT_OUTPUT[operation])
        n, n_files = _count_rows(staging, output_format)
        if dest.exists():
            dest.rmdir()  # empty, checked above
        staging.rename(dest)
        t_done = time.perf_counter()
    except ray.exceptions.RayError as e:  # an AezooError in a worker: raise it here, one line
        cause = _aezoo_cause(e)
        if cause is None:
            raise
        raise cause from None
    finally:
        ctx.execution_options.preserve_order, ctx.raise_original_map_exception = saved[:2]
        ctx.enable_progress_bars = saved[2]
        shutil.rmtree(staging, ignore_errors=True)
        if started:
            ray.shutdown()
    seconds = time.perf_counter() - t0
    return RayExtractReport(n, n_files, seconds, t_started - t0, n / (t_done - t_started), dest)


__all__ = ["FORMATS", "RayExtractReport", "extract_with_ray", "find_sources"]
