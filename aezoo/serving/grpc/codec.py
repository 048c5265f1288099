"""``ModelInferRequest`` to checked arrays and results to ``ModelInferResponse``.

Source: the Open Inference Protocol gRPC specification (kserve/open-inference-protocol,
``specification/protocol/inference_grpc.md``: tensor contents, ``raw_input_contents`` and
``raw_output_contents`` hold row-major little-endian bytes, one entry per tensor in order,
exclusive with the typed ``*_contents``; BYTES elements in raw form are a 4-byte
little-endian length and the bytes; FP16 has no typed field, so it is raw only).

aezoo's model in the protocol is :mod:`aezoo.serving.oip_model`: one input ``inputs``
(FP32, FP64 or raw FP16, converted to float32; for an image model also BYTES, shape
``[batch]``, one encoded image (PNG, JPEG, ...) per element, in ``contents.bytes_contents``
or raw with each element's 4-byte little-endian length before it, triton#3748), outputs ``codes``, ``reconstructions``,
``probabilities`` (FP32) and ``labels`` (BYTES). Outputs are answered in
``raw_output_contents`` (as Triton does, which its client expects) unless the request's or
the output's ``binary_data`` parameter is ``false``: then in typed contents.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from typing import Any

import numpy as np

from aezoo.errors import InputError
from aezoo.runtime.images import MAX_IMAGE_PIXELS, image_rows
from aezoo.runtime.model import OnnxModel
from aezoo.serving.grpc import messages as pb
from aezoo.serving.oip_model import (
    INPUT,
    OUTPUTS,
    InferRequest,
    check_batch_size,
    output_names,
    output_tensor,
    raw_tensor,
    split_bytes_tensor,
    tensor_shape,
)

# datatype -> (dtype of raw bytes, typed contents field or None when raw only)
_INPUT_TYPES: dict[str, tuple[str, str | None]] = {
    "FP32": ("<f4", "fp32_contents"),
    "FP64": ("<f8", "fp64_contents"),
    "FP16": ("<f2", None),
}


WIRE_BYTES: ContextVar[int | None] = ContextVar("aezoo_grpc_wire_bytes", default=None)
"""The serialized size of the message the current gRPC call is handling, set by the service
as it parses the call's bytes (same task), so that the body budget need not re-measure it."""


def wire_size(request: Any) -> int:
    """Bytes ``request`` took on the wire: :data:`WIRE_BYTES` when the service set it, else
    ``request.ByteSize()``, which protobuf's upb backend computes by serializing the whole
    message again (0.7 ms and a 3.2 MB copy for a 1,024 x 784 float32 request)."""
    size = WIRE_BYTES.get()
    return request.ByteSize() if size is None else size


class GrpcRequestError(InputError):
    """The message does not follow the protocol (answered ``INVALID_ARGUMENT``)."""


def param(params: Any, key: str) -> Any:
    """The value of parameter ``key`` of a ``map<string, InferParameter>``, or None."""
    if key not in params:
        return None
    p = params[key]
    choice = p.WhichOneof("parameter_choice")
    return getattr(p, choice) if choice else None


def parse_request(
    req: Any, model: OnnxModel, max_batch_size: int, max_image_pixels: int = MAX_IMAGE_PIXELS
) -> InferRequest:
    """A ``ModelInferRequest`` as a checked ``(batch, n_features)`` float32 batch.

    Raises:
        GrpcRequestError: wrong input name or count, unsupported datatype, a shape that does
            not match the element count, raw and typed contents mixed, FP16 typed.
        BatchTooLargeError: more than ``max_batch_size`` samples.
        InputError: NaN/Inf, value range, feature count (``OnnxModel.check_inputs``); an
            encoded image that is unreadable or above ``max_image_pixels`` pixels.
    """
    if len(req.inputs) != 1:
        raise GrpcRequestError(
            f"model {model.name!r} takes exactly one input, {INPUT!r}; got {len(req.inputs)}"
        )
    tensor = req.inputs[0]
    if tensor.name != INPUT:
        raise GrpcRequestError(f"input is named {tensor.name!r}; this model's input is {INPUT!r}")
    if tensor.datatype == "BYTES":
        x = _images(req, tensor, model, max_batch_size, max_image_pixels)
        return _checked(req, model, x)
    if tensor.datatype not in _INPUT_TYPES:
        raise GrpcRequestError(
            f"datatype {tensor.datatype!r} is not supported; send FP32 (or FP64, or FP16 as raw)"
        )
    raw_dtype, field = _INPUT_TYPES[tensor.datatype]
    shape = list(tensor.shape)
    if not shape or any(d < 0 for d in shape):
        raise GrpcRequestError(f"shape must be non-negative integers, got {shape}")
    count = math.prod(shape)
    check_batch_size(shape[0], max_batch_size)
    has_typed = tensor.HasField("contents") and any(
        len(getattr(tensor.contents, f)) for f in ("fp32_contents", "fp64_contents", "bytes_contents",
                                                   "int_contents", "int64_contents")
    )  # fmt: skip
    raw = _raw_entry(req, has_typed)
    if raw is not None:
        itemsize = np.dtype(raw_dtype).itemsize
        if len(raw) != count * itemsize:
            raise GrpcRequestError(
                f"raw_input_contents[0] holds {len(raw)} bytes; {tensor.datatype} shape {shape} "
                f"needs {count * itemsize}"
            )
        flat = np.frombuffer(raw, dtype=raw_dtype)
    else:
        if field is None:
            raise GrpcRequestError("FP16 has no typed contents; send it in raw_input_contents")
        values = getattr(tensor.contents, field)
        if len(values) != count:
            raise GrpcRequestError(
                f"contents.{field} holds {len(values)} numbers; shape {shape} needs {count}"
            )
        flat = np.asarray(values, dtype=raw_dtype)
    with np.errstate(over="ignore"):
        x = flat.astype(np.float32, copy=False).reshape(shape)
    return _checked(req, model, x)


def _checked(req: Any, model: OnnxModel, x: np.ndarray) -> InferRequest:
    x = model.check_inputs(x)
    outputs = _outputs(req, model)
    ops = list(dict.fromkeys(OUTPUTS[name][0] for name, _ in outputs))
    return InferRequest(x=x, outputs=outputs, id=req.id or None, ops=ops)


def _raw_entry(req: Any, has_typed: bool) -> bytes | None:
    """The one input's raw bytes, or None when the request sends typed contents.

    Raises:
        GrpcRequestError: raw and typed contents both sent, or not one raw entry.
    """
    if not req.raw_input_contents:
        return None
    if has_typed:
        raise GrpcRequestError("raw_input_contents and typed contents are exclusive; send one")
    if len(req.raw_input_contents) != 1:
        raise GrpcRequestError(
            f"raw_input_contents holds {len(req.raw_input_contents)} entries for 1 input"
        )
    return bytes(req.raw_input_contents[0])


def _images(
    req: Any, tensor: Any, model: OnnxModel, max_batch_size: int, max_pixels: int
) -> np.ndarray:
    """A BYTES tensor of encoded images as ``(batch, n_features)`` float32 rows."""
    spec = model.config.input.image
    if spec is None:
        raise GrpcRequestError(
            f"model {model.name!r} takes FP32 arrays; BYTES (encoded images) is for image models"
        )
    shape = list(tensor.shape)
    if len(shape) != 1 or shape[0] < 0:
        raise GrpcRequestError(f"a BYTES input of images has shape [batch], got {shape}")
    check_batch_size(shape[0], max_batch_size)
    typed = list(tensor.contents.bytes_contents) if tensor.HasField("contents") else []
    raw = _raw_entry(req, bool(typed))
    files = typed if raw is None else split_bytes_tensor(raw)
    if len(files) != shape[0]:
        raise GrpcRequestError(
            f"shape {shape} needs {shape[0]} images, the tensor holds {len(files)}"
        )
    if not files:
        raise GrpcRequestError("a BYTES input of images holds no image")
    return image_rows(files, spec, max_pixels, "image")


def _outputs(req: Any, model: OnnxModel) -> list[tuple[str, bool]]:
    raw_default = param(req.parameters, "binary_data") is not False
    if not req.outputs:
        return [("codes", raw_default)]
    names = output_names(model)
    out = []
    for item in req.outputs:
        if item.name not in names:
            raise GrpcRequestError(
                f"output {item.name!r} is not offered by model {model.name!r}; "
                f"outputs: {', '.join(names)}"
            )
        binary = param(item.parameters, "binary_data")
        out.append((item.name, raw_default if binary is None else binary is not False))
    return out


def build_response(model: OnnxModel, req: InferRequest, results: dict[str, np.ndarray]) -> Any:
    """The ``ModelInferResponse``: FP32 outputs, BYTES ``labels`` and BOOL ``is_outlier``
    (:func:`~aezoo.serving.oip_model.output_tensor`), raw or typed as asked.

    When any output is raw, every output is raw (the protocol requires
    ``raw_output_contents`` to hold one entry per output when it is used).
    """
    resp = pb.ModelInferResponse(model_name=model.name, model_version=model.version)
    if req.id:
        resp.id = req.id
    raw = any(binary for _, binary in req.outputs)
    for name, _ in req.outputs:
        datatype, value = output_tensor(model, name, results)
        out = resp.outputs.add(name=name)
        out.datatype, out.shape[:] = datatype, tensor_shape(value)
        if raw:
            resp.raw_output_contents.append(raw_tensor(value))
        elif isinstance(value, list):  # BYTES
            out.contents.bytes_contents.extend(s.encode() for s in value)
        elif datatype == "BOOL":
            out.contents.bool_contents.extend(value.tolist())
        else:
            out.contents.fp32_contents.extend(value.ravel().tolist())
    return resp
