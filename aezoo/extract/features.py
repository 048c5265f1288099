"""Batch feature extraction: dataset file -> model -> ``.npy`` features, in bounded memory.

Three layers (STYLE.md): a private kernel running row batches through a model; the
public functions :func:`extract_features` (files) and :func:`run_in_batches`
(arrays); and their callers: ``aezoo extract`` (:mod:`aezoo.extract.cli`),
the scikit-learn transformer (:mod:`aezoo.extract.sklearn`) and Ray Data
(:mod:`aezoo.extract.ray_data`). numpy and onnxruntime only.

Memory: a ``.npy`` source is memory-mapped one batch-sized window at a time (pages
read are unmapped again) and features are written batch by batch, so resident
memory is a few batches whatever the number of rows. IDX files are decompressed
whole (uint8; 47 MB for all 60,000 MNIST training images).
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from aezoo.errors import ConfigError, DataError, InputError, OperationNotSupportedError
from aezoo.runtime.loading import load_model
from aezoo.runtime.model import OnnxModel

ExtractOperation = Literal["encode", "denoise", "score"]
# the HTTP API's names; "score" writes the anomaly scores as one column, (n, 1)
OUTPUT_COLUMNS = {"encode": "codes", "denoise": "outputs", "score": "scores"}
_SCALE_HINT = "divide by 255 first (scale=1/255; aezoo extract --scale 1/255)"
_IDX_IMAGES = ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte")  # MNIST test images
Reader = Callable[[int, int], np.ndarray]  # read(start, stop) -> rows [start, stop)


@dataclass(frozen=True)
class ExtractReport:
    """What :func:`extract_features` did.

    Attributes:
        n_samples: rows read and written.
        n_features_out: feature columns (``n_components`` for encode, ``n_features`` for denoise).
        seconds: wall time of the whole call, loading and the final rename included.
        rows_per_second: ``n_samples / seconds``.
        dest: the features file, ``(n_samples, n_features_out)`` float32 ``.npy``.
    """

    n_samples: int
    n_features_out: int
    seconds: float
    rows_per_second: float
    dest: Path


# -- kernel ----------------------------------------------------------------------
def _load(model: OnnxModel | str | os.PathLike[str], threads: int = 0) -> OnnxModel:
    if isinstance(model, OnnxModel):
        return model
    return load_model(model, intra_op_threads=threads)


def _check_args(model: OnnxModel, operation: str, batch_size: Any, scale: float | None) -> int:
    """Validate the options; return the width of the output rows."""
    if operation not in OUTPUT_COLUMNS:
        raise ConfigError(f"operation must be 'encode', 'denoise' or 'score', got {operation!r}")
    if operation not in model.operations:
        raise OperationNotSupportedError(
            f"model {model.name!r} does not offer {operation!r}; it offers {', '.join(model.operations)}"
        )
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if scale is not None and not (np.isfinite(scale) and scale > 0):
        raise ConfigError(f"scale must be a finite number > 0, got {scale!r}")
    if operation == "score":
        return 1
    return model.config.n_components if operation == "encode" else model.config.input.n_features


def _check_rows(model: OnnxModel, shape: tuple[int, ...], where: str) -> None:
    """Raise InputError unless ``shape`` is ``(n, n_features)`` or ``(n, *image_shape)``, n > 0."""
    spec = model.config.input
    image = tuple(spec.shape or ())
    if len(shape) < 2 or shape[1:] not in ((spec.n_features,), image):
        also = f" or (n, {', '.join(map(str, image))})" if image else ""
        raise InputError(
            f"{where} has shape {shape}; model {model.name!r} expects (n, {spec.n_features}){also}"
        )
    if shape[0] == 0:
        raise InputError(f"{where} has no rows")


def _prepare(
    rows: np.ndarray, scale: float | None, model: OnnxModel, where: str, start: int
) -> np.ndarray:
    """Rows -> ``(batch, n_features)`` float32, times ``scale``, range-checked."""
    x = np.asarray(rows, dtype=np.float32).reshape(len(rows), model.config.input.n_features)
    if scale is not None:
        inv = 1.0 / scale  # 1/N divides: scale=1/255 matches training's uint8 / 255 bit for bit
        x = x / np.float32(round(inv)) if abs(inv - round(inv)) < 1e-9 else x * np.float32(scale)
    lo, hi = model.config.input.value_range
    mn, mx = float(x.min()), float(x.max())  # NaN passes both tests; the model rejects it
    if mn < lo - 1e-6 or mx > hi + 1e-6:
        byte_like = mn >= 0.0 and mx <= 255.0 and hi <= 1.0
        raise InputError(
            f"{where}: rows {start}-{start + len(x) - 1} hold values in [{mn:g}, {mx:g}]; model "
            f"{model.name!r} expects [{lo:g}, {hi:g}] ({model.config.input.preprocessing or 'see its config'})"
            + (f"; if these are 8-bit pixels, {_SCALE_HINT}" if byte_like else "; rescale the data")
        )
    return x


def _stream(
    model: OnnxModel,
    operation: str,
    n: int,
    read: Reader,
    write: Callable[[int, np.ndarray], Any],
    batch_size: int,
    scale: float | None,
    where: str,
    on_rows: Callable[[int], Any] = int,
) -> None:
    """For each batch of rows ``[start, stop)`` of ``[0, n)``: ``write(start, op(read(start, stop)))``."""
    run = {
        "encode": model.encode,
        "denoise": model.denoise,
        "score": lambda x: model.score_contributions(x)[0][:, None],  # (batch, 1)
    }[operation]
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        x = _prepare(read(start, stop), scale, model, where, start)
        try:
            out = run(x)
        except InputError as e:  # NaN/Inf: say where
            raise InputError(f"{where}: rows {start}-{stop - 1}: {e}") from None
        write(start, out)
        on_rows(stop - start)


def _open_user_source(
    source: str, model: OnnxModel | None, batch_size: int
) -> tuple[tuple[int, ...], Reader, float | None]:
    """A table, image folder or Hugging Face dataset, streamed
    (:func:`aezoo.data.sources.iter_batches`) as the model's input spec says: an image model
    decodes at its own size and mode, a table model reads its own columns."""
    from aezoo.data.sources import describe_stream, iter_batches

    if model is None:
        raise DataError(f"{source}: unsupported here; expected .npy files or MNIST IDX files")
    spec = model.config.input
    options: dict[str, Any] = {}
    if spec.image is not None:
        options = {
            "image_size": (spec.image.height, spec.image.width),
            "image_mode": spec.image.mode,
        }
    elif spec.columns and (
        source.startswith("hf:") or Path(source).is_dir() or source.endswith((".csv", ".parquet"))
    ):  # sources with named columns: read the model's own, whatever else the table holds
        options = {"feature_columns": list(spec.columns)}
    n = describe_stream(source, **options).rows
    batches = iter_batches(source, batch_size, quiet=True, **options)

    def read(a: int, b: int) -> np.ndarray:  # _stream asks for the batches in order
        rows = next(batches)
        if len(rows) != b - a:  # pragma: no cover - iter_batches' contract
            raise DataError(f"{source}: expected rows {a}-{b - 1}, got {len(rows)} rows")
        return rows

    return (n, spec.n_features), read, None


def _open_source(
    path: Path, model: OnnxModel | None = None, batch_size: int = 1024
) -> tuple[tuple[int, ...], Reader, float | None]:
    """``(shape, read, default scale)`` of a .npy file, an IDX file, an MNIST directory, or,
    given the ``model`` that will read it, any other source
    :func:`aezoo.data.sources.iter_batches` streams (CSV, parquet, .npz, an image folder, a
    ``save_to_disk`` directory, ``hf:NAME``)."""
    if str(path).startswith("hf:"):
        return _open_user_source(str(path), model, batch_size)
    if not path.exists():
        raise DataError(f"{path}: source not found")
    if path.is_dir():
        found = [path / name for name in _IDX_IMAGES if (path / name).is_file()]
        if not found:
            return _open_user_source(str(path), model, batch_size)
        path = found[0]
    if path.suffix == ".npy":
        try:
            whole = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: not a readable .npy array: {e}") from None
        dtype, shape, offset = whole.dtype, whole.shape, whole.offset
        if dtype.kind not in "biuf":
            raise DataError(
                f"{path}: dtype {dtype} is not numeric; expected integer, float or bool"
            )
        if not whole.flags.c_contiguous:  # Fortran order: rows are not contiguous on disk
            return shape, lambda a, b: np.array(whole[a:b]), None
        row_bytes = dtype.itemsize * math.prod(shape[1:])
        del whole  # map one window per batch instead, so RSS does not grow with the file

        def read(a: int, b: int) -> np.ndarray:
            window = np.memmap(path, dtype, "r", offset + a * row_bytes, (b - a, *shape[1:]))
            return np.array(window)  # a copy; the window is unmapped when dropped

        return shape, read, None
    if path.name.endswith(".gz") or "idx" in path.name:
        from aezoo.data.mnist import read_idx  # numpy only

        images = read_idx(path)  # (n, 28, 28) uint8
        return images.shape, lambda a, b: images[a:b], 1.0 / 255.0
    if path.suffix.lower() in (".csv", ".parquet", ".npz"):
        return _open_user_source(str(path), model, batch_size)
    raise DataError(
        f"{path}: unsupported source; expected a .npy, .npz, .csv or .parquet file, an MNIST "
        f"IDX file (*-idx3-ubyte or *-idx3-ubyte.gz), a folder of images, a directory "
        f"written by datasets' save_to_disk, hf:NAME, or a directory holding {_IDX_IMAGES[0]}"
    )


# -- public ------------------------------------------------------------------------
def extract_features(
    model: OnnxModel | str | os.PathLike[str],
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    batch_size: int = 1024,
    operation: ExtractOperation = "encode",
    progress: bool = True,
    scale: float | None = None,
    threads: int = 0,
) -> ExtractReport:
    """Stream a dataset file through a model and write its features to ``dest``.

    Args:
        model: a loaded :class:`OnnxModel`, an artifact directory or a registry
            reference ``name[@version|@alias]``.
        source: a ``.npy`` array ``(n, n_features)`` or ``(n, *image_shape)`` of any
            integer, float or bool dtype, memory-mapped and used as it is (times
            ``scale``: uint8 is NOT rescaled); or an IDX image file (``.gz`` or raw),
            whose uint8 pixels are scaled by 1/255 unless ``scale`` is given (IDX
            only); or a directory of MNIST IDX files (its test images are used); or
            any source a model can be trained on, streamed in bounded memory
            (:func:`aezoo.data.sources.iter_batches`): a ``.csv``/``.parquet`` table (the
            model's own columns), an ``.npz`` (``X``), a folder of images (decoded at the
            model's image size and mode, every split subfolder in order), a
            ``save_to_disk`` directory or ``hf:NAME[:CONFIG]``.
        dest: the ``.npy`` file to write, float32 ``(n, n_components)`` for encode or
            ``(n, n_features)`` for denoise. Written to a hidden temporary file next
            to it, fsynced and renamed into place: ``dest`` is never half-written,
            and a failed run leaves an existing ``dest`` as it was.
        batch_size: rows per model call; memory is a few batches whatever ``n``.
        operation: ``"encode"`` (codes), ``"denoise"`` (``decode(encode(x))``) or
            ``"score"`` (anomaly scores, :mod:`aezoo.models.score`, written ``(n, 1)``).
        progress: a tqdm progress bar over rows, on stderr.
        scale: multiply inputs by this (> 0) first; ``1/N`` divides by N exactly.
            ``None``: 1 for ``.npy``, 1/255 for IDX.
        threads: onnxruntime intra-op threads when ``model`` is a reference (0 =
            onnxruntime's default, one per core).

    Returns:
        An :class:`ExtractReport`.

    Raises:
        DataError: source missing, unreadable or not numeric; dest not a ``.npy``
            path or its directory missing; a read or write failed (disk full).
        InputError: rows of the wrong shape, no rows, NaN/Inf, or values outside the
            model's ``config.input.value_range``; the message names the file, the rows,
            the range found and the range expected, and suggests 1/255 for 8-bit data.
        ConfigError: bad ``operation``, ``batch_size`` or ``scale``.
        OperationNotSupportedError: the model does not offer ``operation``.
        ModelNotFoundError, ArtifactError: ``model`` cannot be loaded.
    """
    t0 = time.perf_counter()
    source, dest = Path(source) if not str(source).startswith("hf:") else source, Path(dest)
    m = _load(model, threads)
    width = _check_args(m, operation, batch_size, scale)
    if dest.suffix != ".npy" or dest.is_dir():
        raise DataError(f"{dest}: dest must be a .npy file path")
    if not dest.parent.is_dir():
        raise DataError(f"{dest}: directory {dest.parent} does not exist")
    if source.exists() and dest.exists() and dest.resolve() == source.resolve():
        raise DataError(f"{dest}: dest is the source; write the features elsewhere")
    shape, read, default_scale = _open_source(source, m, batch_size)
    _check_rows(m, shape, str(source))
    n = shape[0]
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        header = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, width))
        offset = header.offset
        del header  # header written, file sized; rows go in with plain writes (no dirty mapping)
        with open(tmp, "r+b") as f, tqdm(total=n, unit="rows", disable=not progress) as bar:

            def write(start: int, out: np.ndarray) -> None:
                f.seek(offset + start * width * 4)
                f.write(np.ascontiguousarray(out, dtype=np.float32).tobytes())

            if scale is None:
                scale = default_scale
            _stream(m, operation, n, read, write, batch_size, scale, str(source), bar.update)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except OSError as e:  # disk full, permissions, the source vanishing mid-run
        raise DataError(f"extracting {source} to {dest} failed: {e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    seconds = time.perf_counter() - t0
    return ExtractReport(n, width, seconds, n / seconds, dest)


def run_in_batches(
    model: OnnxModel,
    X: Any,
    operation: ExtractOperation = "encode",
    batch_size: int = 1024,
    scale: float | None = None,
) -> np.ndarray:
    """``model.encode(X)`` (or ``denoise``) one batch at a time, for an in-memory array.

    Args:
        model: a loaded model.
        X: array-like ``(n, n_features)`` or ``(n, *image_shape)``, in the model's value
            range once multiplied by ``scale``.
        operation, batch_size, scale: as in :func:`extract_features`.

    Returns:
        float32 ``(n, n_components)`` for encode, ``(n, n_features)`` for denoise.

    Raises:
        InputError, ConfigError, OperationNotSupportedError: as :func:`extract_features`.
    """
    width = _check_args(model, operation, batch_size, scale)
    X = np.asarray(X)
    _check_rows(model, X.shape, "X")
    out = np.empty((X.shape[0], width), dtype=np.float32)

    def write(start: int, z: np.ndarray) -> None:
        out[start : start + len(z)] = z

    _stream(model, operation, X.shape[0], lambda a, b: X[a:b], write, batch_size, scale, "X")
    return out


__all__ = ["ExtractReport", "extract_features", "run_in_batches"]
