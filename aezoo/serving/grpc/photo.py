"""ModelInfer on a whole-image denoiser (``config.denoiser``), as OIP REST answers it
(:mod:`aezoo.serving.http.oip_photo`), in the gRPC message's fields.

Source: the Open Inference Protocol gRPC specification (kserve/open-inference-protocol,
``specification/protocol/inference_grpc.md``: typed contents, ``raw_input_contents`` one
entry per input in order, exclusive with typed contents, ``raw_output_contents``):

- input ``image``: ``UINT8`` (0-255; typed ``uint_contents``), ``FP32`` or ``FP64``
  (``uint8 / 255`` scale, values outside [0, 1] allowed; ``fp32_contents``,
  ``fp64_contents``), shape ``[H, W]`` (grayscale) or ``[H, W, 3]`` (colour, denoised per
  channel), at most ``max_image_pixels`` pixels;
- the noise level: an input ``sigma``, ``FP32`` shape ``[1]``, or the request parameter
  ``sigma`` (double or int64), on the 0-255 scale inside the model's ``sigma_range``;
- output ``denoised``: ``UINT8`` for a UINT8 image, else ``FP32``, the image's shape; in
  ``raw_output_contents`` unless the request's or the output's ``binary_data`` parameter
  is false.

The message, then the float32 copy, the result and the answer (4 bytes a value each) and
the tile buffers count in the in-flight budget (``max_inflight_body_bytes``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from aezoo.runtime.model import OnnxModel
from aezoo.runtime.pool import Served
from aezoo.runtime.tiling import block_bytes, check_sigma
from aezoo.serving.engine import Engine
from aezoo.serving.grpc import messages as pb
from aezoo.serving.grpc.codec import GrpcRequestError, param, wire_size
from aezoo.serving.oip_model import DENOISED, IMAGE, PHOTO_TYPES, SIGMA

_TYPED = {"UINT8": "uint_contents", "FP32": "fp32_contents", "FP64": "fp64_contents"}


@dataclass
class PhotoRequest:
    """A parsed denoiser ModelInfer request."""

    image: np.ndarray  # (H, W) or (H, W, 3), uint8 or float32
    sigma: float  # 0-255 scale, inside the model's sigma_range
    raw: bool  # answer in raw_output_contents
    id: str


def _array(req: Any, i: int, tensor: Any) -> np.ndarray:
    """Input ``i`` as an array of its datatype and shape (raw or typed)."""
    name, shape = tensor.name, list(tensor.shape)
    dtype = PHOTO_TYPES.get(tensor.datatype)
    if dtype is None:
        raise GrpcRequestError(f"input {name!r}: datatype {tensor.datatype!r}; send UINT8, FP32 "
                               "or FP64")  # fmt: skip
    if any(d < 0 for d in shape):
        raise GrpcRequestError(f"input {name!r}: shape must be non-negative integers, got {shape}")
    count = math.prod(shape)
    if req.raw_input_contents:
        if len(req.raw_input_contents) != len(req.inputs):
            raise GrpcRequestError(f"raw_input_contents holds {len(req.raw_input_contents)} "
                                   f"entries for {len(req.inputs)} inputs")  # fmt: skip
        raw = req.raw_input_contents[i]
        if len(raw) != count * dtype.itemsize:
            raise GrpcRequestError(f"raw_input_contents[{i}] holds {len(raw)} bytes; "
                                   f"{tensor.datatype} shape {shape} needs {count * dtype.itemsize}")  # fmt: skip
        return np.frombuffer(raw, dtype=dtype).reshape(shape)
    values = getattr(tensor.contents, _TYPED[tensor.datatype])
    if len(values) != count:
        raise GrpcRequestError(f"input {name!r}: contents.{_TYPED[tensor.datatype]} holds "
                               f"{len(values)} numbers; shape {shape} needs {count}")  # fmt: skip
    if dtype == np.uint8:
        flat = np.asarray(values, dtype=np.int64)
        if flat.size and (flat.min() < 0 or flat.max() > 255):
            raise GrpcRequestError(f"input {name!r}: UINT8 values must lie in 0..255")
        return flat.astype(np.uint8).reshape(shape)
    return np.asarray(values, dtype=dtype).reshape(shape)


def parse_photo(req: Any, model: OnnxModel, max_pixels: int) -> PhotoRequest:
    """A denoiser ``ModelInferRequest`` (module docstring) as a checked image and sigma.

    Raises:
        GrpcRequestError: unknown input or output, datatype, sizes that do not add up, more
            than ``max_pixels`` pixels, sigma missing.
        InputError: sigma outside the model's ``sigma_range``.
    """
    spec = model.config.denoiser
    assert spec is not None
    tensors: dict[str, np.ndarray] = {}
    for i, tensor in enumerate(req.inputs):
        if tensor.name not in (IMAGE, SIGMA) or tensor.name in tensors:
            raise GrpcRequestError(f"inputs of a denoiser are {IMAGE!r} and optionally {SIGMA!r}, "
                                   f"once each; got {tensor.name!r}")  # fmt: skip
        tensors[tensor.name] = _array(req, i, tensor)
    image = tensors.get(IMAGE)
    if image is None:
        raise GrpcRequestError(f"no input {IMAGE!r}: send the image as UINT8 or FP32 [H, W] "
                               "or [H, W, 3]")  # fmt: skip
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise GrpcRequestError(f"input {IMAGE!r} has shape {list(image.shape)}; expected "
                               "[H, W] or [H, W, 3]")  # fmt: skip
    if image.shape[0] * image.shape[1] > max_pixels:
        raise GrpcRequestError(f"input {IMAGE!r} has {image.shape[0] * image.shape[1]:,} "
                               f"pixels, above the limit of {max_pixels:,}")  # fmt: skip
    raw_sigma = (
        float(tensors[SIGMA].ravel()[0])
        if SIGMA in tensors and tensors[SIGMA].size == 1
        else param(req.parameters, SIGMA)
    )
    if raw_sigma is None or isinstance(raw_sigma, (bool, str)):
        lo, hi = spec.sigma_range
        raise GrpcRequestError(f"sigma is required: an input {SIGMA!r} FP32 [1] or the "
                               f"parameter 'sigma', in [{lo:g}, {hi:g}] (0-255 scale)")  # fmt: skip
    sigma = check_sigma(spec, raw_sigma)
    raw = param(req.parameters, "binary_data") is not False
    for out in req.outputs:
        if out.name != DENOISED:
            raise GrpcRequestError(f"output {out.name!r} is not offered by model "
                                   f"{model.name!r}; outputs: {DENOISED}")  # fmt: skip
        binary = param(out.parameters, "binary_data")
        raw = raw if binary is None else binary is not False
    if image.dtype != np.uint8:
        image = image.astype(np.float32)
    return PhotoRequest(image, sigma, raw, req.id)


def photo_response(model: OnnxModel, req: PhotoRequest, out: np.ndarray) -> Any:
    """The ``ModelInferResponse`` with ``denoised`` in the image's datatype."""
    uint8 = req.image.dtype == np.uint8
    arr = np.ascontiguousarray(out, dtype=np.uint8 if uint8 else "<f4")
    resp = pb.ModelInferResponse(model_name=model.name, model_version=model.version, id=req.id)
    tensor = resp.outputs.add(name=DENOISED, datatype="UINT8" if uint8 else "FP32")
    tensor.shape[:] = arr.shape
    if req.raw:
        resp.raw_output_contents.append(arr.tobytes())
    elif uint8:
        tensor.contents.uint_contents.extend(arr.ravel().tolist())
    else:
        tensor.contents.fp32_contents.extend(arr.ravel().tolist())
    return resp


async def infer_photo(
    engine: Engine, name: str, served: Served, request: Any, deadline: float | None
) -> Any:
    """Serve one ModelInfer call on a whole-image denoiser (module docstring).

    Raises:
        GrpcRequestError, InputError: a bad request; OverloadedError: the budget or the
            queue is full; DeadlineExceededError: the deadline passed before the run.
    """
    st = engine.settings
    with served.batcher.expect(), engine.budget.hold(wire_size(request)):
        req = await engine.offload(True, parse_photo, request, served.model, st.max_image_pixels)
        with engine.budget.hold(
            3 * 4 * req.image.size + block_bytes(req.image.size), "decoding the image"
        ):
            image, sigma = req.image, req.sigma
            result, served = await engine.run_task(
                name, served, lambda m: m.denoise_image(image, sigma), 1, 0.0, deadline
            )
            resp = await engine.offload(True, photo_response, served.model, req, result.output)
    engine.metrics.request_samples.labels(name, "infer", "grpc").observe(1)
    return resp
