"""What an aezoo model is in the Open Inference Protocol, whatever the transport (REST or gRPC).

Source: the Open Inference Protocol specification (kserve/open-inference-protocol,
``specification/protocol/inference_rest.md`` and ``inference_grpc.md``: model metadata,
tensor metadata, BYTES element layout). Each aezoo model is one OIP model with one input,
``inputs`` (FP32; FP64 accepted and converted), and the outputs below, chosen per request;
with none requested, ``codes``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aezoo.errors import InputError
from aezoo.runtime.model import BatchOp, OnnxModel
from aezoo.serving import schemas as s

INPUT = "inputs"
IMAGE, SIGMA, DENOISED = "image", "sigma", "denoised"  # a whole-image denoiser's tensors
PHOTO_TYPES: dict[str, np.dtype] = {
    "UINT8": np.dtype(np.uint8),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
DATATYPES: dict[str, type[np.floating]] = {"FP32": np.float32, "FP64": np.float64}
# output name -> (batch operation, the model operation that offers it)
OUTPUTS: dict[str, tuple[BatchOp, str]] = {
    "codes": ("encode", "encode"),
    "reconstructions": ("denoise", "denoise"),
    "probabilities": ("predict_proba", "classify"),
    "labels": ("predict_proba", "classify"),
    "scores": ("score", "score"),
    "is_outlier": ("score", "score"),
}


@dataclass
class InferRequest:
    """A parsed inference request: the checked batch and the outputs to answer."""

    x: np.ndarray  # (batch, n_features) float32, checked by the model
    outputs: list[tuple[str, bool]]  # (output name, answer as binary/raw)
    id: str | None = None
    ops: list[BatchOp] = field(default_factory=list)


def output_names(model: OnnxModel) -> list[str]:
    """Outputs ``model`` can compute, in metadata order."""
    offered = model.operations
    return [
        name
        for name, (_, op) in OUTPUTS.items()
        if op in offered and (name != "is_outlier" or model.calibration is not None)
    ]


def tensor_metadata(model: OnnxModel) -> dict[str, list[dict[str, Any]]]:
    """The model metadata's ``inputs`` and ``outputs`` (variable batch = -1)."""
    cfg = model.config
    widths = {
        "codes": cfg.n_components,
        "reconstructions": cfg.input.n_features,
        "probabilities": len(cfg.class_names or []),
    }
    kinds = {"labels": "BYTES", "is_outlier": "BOOL", "scores": "FP32"}
    outputs = [
        {"name": n, "datatype": kinds[n], "shape": [-1]}
        if n in kinds
        else {"name": n, "datatype": "FP32", "shape": [-1, widths[n]]}
        for n in output_names(model)
    ]
    return {
        "inputs": [{"name": INPUT, "datatype": "FP32", "shape": [-1, cfg.input.n_features]}],
        "outputs": outputs,
    }


def labels_of(model: OnnxModel, probabilities: np.ndarray) -> list[str]:
    """Class names of the most probable class per row of ``probabilities`` (batch, classes)."""
    names = model.config.class_names or []
    return [names[i] for i in probabilities.argmax(axis=1)]


def output_tensor(
    model: OnnxModel, name: str, results: dict[str, np.ndarray]
) -> tuple[str, np.ndarray | list[str]]:
    """Datatype and value of output ``name`` from the batch operations' ``results``:
    ``BYTES`` class names (a list), ``BOOL`` ``is_outlier`` (needs a calibrated model), or
    ``FP32`` little-endian C-contiguous arrays. Both transports serialise only these."""
    op = OUTPUTS[name][0]
    if name == "labels":
        return "BYTES", labels_of(model, results[op])
    if name == "is_outlier":
        return "BOOL", np.ascontiguousarray(model.calibration.is_outlier(results[op]))  # type: ignore[union-attr]
    return "FP32", np.ascontiguousarray(results[op], dtype="<f4")


def tensor_shape(value: np.ndarray | list[str]) -> list[int]:
    """The protocol ``shape`` of an :func:`output_tensor` value."""
    return [len(value)] if isinstance(value, list) else list(value.shape)


def raw_tensor(value: np.ndarray | list[str]) -> bytes:
    """An :func:`output_tensor` value in the protocol's raw layout (BOOL: one byte each)."""
    return bytes_tensor(value) if isinstance(value, list) else value.tobytes()


def bytes_tensor(items: list[str]) -> bytes:
    """BYTES elements in the protocol's raw layout: 4-byte little-endian length, then UTF-8."""
    return b"".join(struct.pack("<I", len(b)) + b for b in (x.encode() for x in items))


def split_bytes_tensor(blob: bytes | memoryview) -> list[bytes]:
    """Raw BYTES elements (4-byte little-endian length, then the bytes; triton#3748) as a list.

    Raises:
        InputError: an element cut inside its length or its bytes.
    """
    items, view, pos = [], memoryview(blob), 0
    while pos < len(view):
        if pos + 4 > len(view):
            raise InputError(f"BYTES element {len(items)} cut inside its 4-byte length")
        (n,) = struct.unpack_from("<I", view, pos)
        if pos + 4 + n > len(view):
            raise InputError(f"BYTES element {len(items)} says {n} bytes; fewer follow")
        items.append(bytes(view[pos + 4 : pos + 4 + n]))
        pos += 4 + n
    return items


def photo_metadata(model: OnnxModel) -> dict[str, list[dict[str, Any]]]:
    """Model metadata ``inputs``/``outputs`` of a whole-image denoiser (-1: any size;
    ``[H, W, 3]`` too): ``image`` UINT8 (or FP32/FP64 on the 0-1 scale), ``sigma`` FP32
    ``[1]`` in the model's range (0-255 scale), output ``denoised`` in the image's datatype."""
    lo, hi = model.config.denoiser.sigma_range  # type: ignore[union-attr]
    return {
        "inputs": [
            {"name": IMAGE, "datatype": "UINT8", "shape": [-1, -1]},
            {"name": SIGMA, "datatype": "FP32", "shape": [1], "parameters": {"range": [lo, hi]}},
        ],
        "outputs": [{"name": DENOISED, "datatype": "UINT8", "shape": [-1, -1]}],
    }


def check_batch_size(n: int, max_batch_size: int) -> None:
    """Raises :class:`~aezoo.serving.schemas.BatchTooLargeError` above ``max_batch_size``."""
    if n > max_batch_size:
        raise s.BatchTooLargeError(
            f"batch of {n} samples exceeds max_batch_size={max_batch_size}; "
            f"split it into requests of at most {max_batch_size} samples"
        )
