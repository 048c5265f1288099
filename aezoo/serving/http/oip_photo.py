"""Open Inference Protocol (v2) ``infer`` for whole-image denoisers (``config.denoiser``).

Such a model has one image tensor input and one output (sources as in
:mod:`aezoo.serving.http.oip_codec`: the OIP REST inference request/response objects and
Triton's binary tensor data extension):

- input ``image``: ``UINT8`` (0-255) or ``FP32``/``FP64`` (``uint8 / 255`` scale, values
  outside [0, 1] allowed), shape ``[H, W]`` (grayscale) or ``[H, W, 3]`` (colour, denoised
  per channel), JSON ``data`` (row-major, may be nested) or binary (``binary_data_size``);
- the noise level: the request parameter ``sigma`` (``"parameters": {"sigma": 25}``) or a
  second input ``sigma``, ``FP32`` shape ``[1]``; on the 0-255 scale, inside the model's
  ``sigma_range`` (else 400 naming the range; the protocol answers invalid input with 400);
- output ``denoised``: the input's datatype and shape; binary when the request's
  ``binary_data_output`` parameter (or the output's ``binary_data``) is true.

``H x W`` is bounded by ``max_image_pixels``; the decoded tensor counts in the in-flight
budget as on v1 (:mod:`aezoo.serving.http.photo`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from fastapi import Request
from fastapi.responses import Response

from aezoo.runtime.model import OnnxModel
from aezoo.runtime.tiling import block_bytes, check_sigma
from aezoo.serving.engine import Engine, Served, timing_headers
from aezoo.serving.http.oip_codec import OipRequestError
from aezoo.serving.http.photo import run_photo
from aezoo.serving.oip_model import DENOISED, IMAGE, PHOTO_TYPES, SIGMA, photo_metadata


@dataclass
class PhotoRequest:
    """A parsed denoiser inference request."""

    image: np.ndarray  # (H, W) or (H, W, 3), uint8 or float32
    datatype: str  # of the input, and so of the output
    sigma: float
    binary: bool
    id: str | None


def _fail(message: str) -> OipRequestError:
    return OipRequestError(message)


def _array(tensor: dict[str, Any], blob: memoryview, pos: int) -> tuple[np.ndarray, int]:
    """One input tensor as an array and the blob offset after it."""
    name, shape = tensor.get("name"), tensor.get("shape")
    dtype = PHOTO_TYPES.get(tensor.get("datatype"))  # type: ignore[arg-type]
    if dtype is None:
        raise _fail(
            f"input {name!r}: datatype {tensor.get('datatype')!r}; send UINT8, FP32 or FP64"
        )
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise _fail(f"input {name!r}: shape must be a list of non-negative integers, got {shape!r}")
    count = math.prod(shape)
    params = tensor.get("parameters") or {}
    if "binary_data_size" in params:
        size = params["binary_data_size"]
        if type(size) is not int or size != count * dtype.itemsize or pos + size > len(blob):
            raise _fail(f"input {name!r}: binary_data_size {size!r} must be shape {shape} x "
                        f"{dtype.itemsize} bytes and fit in the bytes after the header")  # fmt: skip
        return np.frombuffer(blob[pos : pos + size], dtype=dtype).reshape(shape), pos + size
    try:
        flat = np.asarray(tensor.get("data"), dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise _fail(f"input {name!r}: 'data' must be an array of numbers") from None
    if flat.size != count:
        raise _fail(
            f"input {name!r}: 'data' holds {flat.size} numbers; shape {shape} needs {count}"
        )
    if dtype == np.uint8 and (flat.min(initial=0) < 0 or flat.max(initial=0) > 255):
        raise _fail(f"input {name!r}: UINT8 data must lie in 0..255")
    return flat.astype(dtype).reshape(shape), pos


def parse_photo_infer(body: bytes, header_length: str | None, model: OnnxModel,
                      max_pixels: int) -> PhotoRequest:  # fmt: skip
    """A denoiser inference request (module docstring).

    Raises:
        OipRequestError: not the schema, sizes that do not add up, more than ``max_pixels``.
        InputError: sigma missing or outside the model's range.
    """
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise _fail(f"Inference-Header-Content-Length {header_length!r} must be a byte "
                        f"count <= the body's {len(body)}")  # fmt: skip
        head, blob = body[: int(header_length)], memoryview(body)[int(header_length) :]
    else:
        head, blob = body, memoryview(b"")
    try:
        doc = json.loads(head)
    except ValueError as e:
        raise _fail(f"request body is not valid JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list):
        raise _fail("request body must be a JSON object with 'inputs'")
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise _fail("'parameters' must be an object")
    tensors, pos = {}, 0
    for t in doc["inputs"]:
        if not isinstance(t, dict) or t.get("name") not in (IMAGE, SIGMA):
            raise _fail(f"inputs of a denoiser are {IMAGE!r} and optionally {SIGMA!r}")
        tensors[t["name"]], pos = _array(t, blob, pos)
    if pos != len(blob):
        raise _fail(f"{len(blob) - pos} bytes after the header belong to no input")
    if IMAGE not in tensors:
        raise _fail(f"no input {IMAGE!r}: send the image as UINT8 or FP32 [H, W] or [H, W, 3]")
    image = tensors[IMAGE]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise _fail(f"input {IMAGE!r} has shape {list(image.shape)}; expected [H, W] or [H, W, 3]")
    if image.shape[0] * image.shape[1] > max_pixels:
        raise _fail(f"input {IMAGE!r} has {image.shape[0] * image.shape[1]:,} pixels, above "
                    f"the limit of {max_pixels:,}")  # fmt: skip
    spec = model.config.denoiser
    assert spec is not None
    raw = (
        tensors[SIGMA].ravel()[0]
        if SIGMA in tensors and tensors[SIGMA].size == 1
        else params.get("sigma")
    )
    if raw is None or isinstance(raw, bool):
        lo, hi = spec.sigma_range
        raise _fail(f"sigma is required: the parameter 'sigma' or an input 'sigma' FP32 [1], "
                    f"in [{lo:g}, {hi:g}] (0-255 scale)")  # fmt: skip
    sigma = check_sigma(spec, raw)
    datatype = next(t["datatype"] for t in doc["inputs"] if t["name"] == IMAGE)
    if image.dtype != np.uint8:
        image = image.astype(np.float32)
    outs = doc.get("outputs") or [{}]
    binary = (outs[0].get("parameters") or {}).get(
        "binary_data", params.get("binary_data_output") is True
    ) is True if isinstance(outs[0], dict) else False  # fmt: skip
    rid = doc.get("id")
    return PhotoRequest(image, datatype, sigma, binary, None if rid is None else str(rid))


def photo_response(
    model: OnnxModel, req: PhotoRequest, out: np.ndarray
) -> tuple[bytes, dict[str, str]]:
    """The response body and headers: ``denoised`` in the input's datatype."""
    dtype = np.uint8 if req.datatype == "UINT8" else np.float32
    arr = np.ascontiguousarray(out, dtype=dtype)
    entry: dict[str, Any] = {
        "name": DENOISED,
        "datatype": "UINT8" if dtype == np.uint8 else "FP32",
        "shape": list(arr.shape),
    }
    if req.binary:
        entry["parameters"] = {"binary_data_size": arr.nbytes}
    else:
        entry["data"] = arr.ravel()
    payload: dict[str, Any] = {"model_name": model.name, "model_version": model.version,
                               "outputs": [entry]}  # fmt: skip
    if req.id is not None:
        payload["id"] = req.id
    head = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    if not req.binary:
        return head, {"content-type": "application/json"}
    return head + arr.tobytes(), {
        "content-type": "application/octet-stream",
        "inference-header-content-length": str(len(head)),
    }


async def infer_photo(
    engine: Engine, name: str, served: Served, request: Request, start: float
) -> Response:
    """Serve one v2 infer request on a whole-image denoiser."""
    st = engine.settings
    header_length = request.headers.get("inference-header-content-length")
    parsed: list[PhotoRequest] = []

    def decode(body: bytes) -> tuple[np.ndarray, float]:
        parsed.append(parse_photo_infer(body, header_length, served.model, st.max_image_pixels))
        return parsed[0].image, parsed[0].sigma

    # a JSON number (>= 2 bytes) becomes an 8-byte float (4x); binary is viewed; then the
    # float32/uint8 image, the result and the answer (<= 1x each)
    (content, headers), result, served = await run_photo(
        engine, name, served, request, start, "infer",
        lambda body: 7 * len(body) + block_bytes(len(body)), decode,
        lambda model, out: photo_response(model, parsed[0], out),
    )  # fmt: skip
    return Response(content, headers={**headers, **timing_headers(result, served)})


__all__ = [
    "PhotoRequest",
    "infer_photo",
    "parse_photo_infer",
    "photo_metadata",
    "photo_response",
]
