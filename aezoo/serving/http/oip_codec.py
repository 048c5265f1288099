"""Open Inference Protocol (v2) request and response bodies, JSON and binary.

Sources: the Open Inference Protocol REST specification (kserve/open-inference-protocol,
``specification/protocol/inference_rest.md``: inference request/response objects, tensor
metadata, ``{"error": ...}`` bodies) and Triton's binary tensor data extension
(``docs/protocol/extension_binary_data.md``: ``Inference-Header-Content-Length`` gives the
JSON header's length, each binary tensor's ``binary_data_size`` parameter its byte count,
tensors follow the header in order, little-endian, row-major; outputs are binary when
their ``binary_data`` parameter, or else the request's ``binary_data_output``, is true;
BYTES elements are a 4-byte little-endian length and the bytes).

Each aezoo model is one OIP model with one input, ``inputs`` (FP32, or FP64 converted;
shape ``[batch, n_features]`` or ``[batch, *input.shape]``), and outputs chosen by the
request's ``outputs`` list: ``codes`` (encode), ``reconstructions`` (denoise),
``probabilities`` and ``labels`` (classify; labels are BYTES class names), ``scores``
(FP32 ``[batch]``, anomaly scores; models with a scorer graph) and ``is_outlier`` (BOOL
``[batch]``, ``scores > threshold``; calibrated models only); an image model's
``inputs`` may instead be a BYTES tensor of encoded images (:func:`parse_infer`). No list means
``codes`` (computing every output would run every graph; the protocol leaves the default
to the server). Interpolation is left to v1's ``/interpolate``.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np
import orjson
import simdjson

from aezoo.errors import InputError
from aezoo.runtime.images import MAX_IMAGE_PIXELS, image_rows
from aezoo.runtime.model import OnnxModel
from aezoo.serving.http.codecs import check_batch_size
from aezoo.serving.oip_model import (  # noqa: F401  (INPUT, DATATYPES: this module's API)
    DATATYPES,
    INPUT,
    OUTPUTS,
    InferRequest,
    output_names,
    output_tensor,
    raw_tensor,
    split_bytes_tensor,
    tensor_metadata,
    tensor_shape,
)


class OipRequestError(InputError):
    """The body does not follow the inference request schema (answered 400)."""


def _plain(value: Any) -> Any:
    """A small simdjson value (request metadata) as plain Python."""
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def _fail(message: str) -> OipRequestError:
    return OipRequestError(message)


def parse_infer(
    body: bytes,
    header_length: str | None,
    model: OnnxModel,
    max_batch_size: int,
    max_image_pixels: int = MAX_IMAGE_PIXELS,
) -> InferRequest:
    """An inference request body (JSON, or JSON header + binary tensors) as checked arrays.

    An image model's input may also be a BYTES tensor of shape ``[batch]`` holding encoded
    images (PNG, JPEG, ...): in binary form each element is a 4-byte little-endian length
    and the file's bytes (Triton's BYTES layout); in JSON, ``data`` lists the files as
    base64 strings. Each becomes one row as the model's input spec says.

    Raises:
        OipRequestError: not the schema (names the field), sizes that do not add up.
        BatchTooLargeError: more than ``max_batch_size`` samples.
        InputError: shape, NaN/Inf or value range (``OnnxModel.check_inputs``).
    """
    if header_length is None:
        header, blob = None, b""
    else:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise _fail(
                f"Inference-Header-Content-Length {header_length!r} must be a byte count <= the body's {len(body)}"
            )
        n = int(header_length)
        header, blob = body[:n], memoryview(body)[n:]
    parser = simdjson.Parser()
    try:
        doc = parser.parse(header if header is not None else body)
    except (ValueError, RuntimeError) as e:  # simdjson: RuntimeError for DEPTH_ERROR etc.
        raise _fail(f"request body is not valid JSON: {e}") from None
    if not isinstance(doc, simdjson.Object):
        raise _fail("request body must be a JSON object with 'inputs'")
    meta = {k: _plain(doc[k]) for k in doc if k != "inputs"}
    inputs = doc.get("inputs")
    if not isinstance(inputs, simdjson.Array) or len(inputs) != 1:
        raise _fail(f"'inputs' must list exactly one tensor, named {INPUT!r}")
    tensor = inputs[0]
    if not isinstance(tensor, simdjson.Object):
        raise _fail("'inputs[0]' must be an object with name, shape, datatype and data")
    spec = {k: tensor[k] for k in ("name", "datatype") if k in tensor}
    shape = tensor.get("shape")
    params = (
        tensor["parameters"].as_dict()
        if isinstance(tensor.get("parameters"), simdjson.Object)
        else {}
    )
    shape = shape.as_list() if isinstance(shape, simdjson.Array) else shape
    if spec.get("datatype") == "BYTES" and spec.get("name") == INPUT:
        x = _image_tensor(tensor, shape, params, blob, header is not None, model, max_image_pixels)
    else:
        x = _tensor(tensor, spec, shape, params, blob, header is not None)
    del tensor, inputs, doc
    x = model.check_inputs(x)
    check_batch_size(x.shape[0], max_batch_size)
    outputs = _outputs(meta, model)
    ops = list(dict.fromkeys(OUTPUTS[name][0] for name, _ in outputs))
    rid = meta.get("id")
    return InferRequest(x, outputs, None if rid is None else str(rid), ops)


def _tensor(
    tensor: Any,
    spec: dict[str, Any],
    shape: Any,
    params: dict[str, Any],
    blob: memoryview | bytes,
    binary_mode: bool,
) -> np.ndarray:
    if spec.get("name") != INPUT:
        raise _fail(f"input is named {spec.get('name')!r}; this model's input is {INPUT!r}")
    dtype = DATATYPES.get(spec.get("datatype"))  # type: ignore[arg-type]
    if dtype is None:
        raise _fail(f"datatype {spec.get('datatype')!r} is not supported; send FP32 (or FP64)")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(type(d) is int and d >= 0 for d in shape)
    ):
        raise _fail(f"shape must be a list of non-negative integers, got {shape!r}")
    count = math.prod(shape)  # Python ints: no overflow
    if "binary_data_size" in params:
        size = params["binary_data_size"]
        if not binary_mode:
            raise _fail("binary_data_size given but no Inference-Header-Content-Length header")
        itemsize = np.dtype(dtype).itemsize
        if type(size) is not int or size != len(blob) or size != count * itemsize:
            raise _fail(
                f"binary_data_size {size!r} must equal the {len(blob)} bytes after the header "
                f"and shape {shape} x {itemsize} bytes = {count * itemsize}"
            )
        flat = np.frombuffer(blob, dtype=np.dtype(dtype).newbyteorder("<"))
    else:
        if len(blob):
            raise _fail(f"{len(blob)} bytes follow the header but no input has binary_data_size")
        data = tensor.get("data")
        try:
            flat = np.frombuffer(data.as_buffer(of_type="d"), dtype=np.float64)
        except (AttributeError, TypeError, ValueError, RuntimeError):
            raise _fail("'data' must be an array of numbers (row-major, may be nested)") from None
        if flat.size != count:
            raise _fail(f"'data' holds {flat.size} numbers; shape {shape} needs {count}")
    with np.errstate(over="ignore"):  # FP32 binary stays a view of the body (as .npy does)
        return flat.astype(np.float32, copy=False).reshape(shape)


def _image_tensor(
    tensor: Any,
    shape: Any,
    params: dict[str, Any],
    blob: memoryview | bytes,
    binary_mode: bool,
    model: OnnxModel,
    max_pixels: int,
) -> np.ndarray:
    """A BYTES tensor of encoded images as ``(batch, n_features)`` float32 rows."""
    spec = model.config.input.image
    if spec is None:
        raise _fail(f"model {model.name!r} takes FP32 arrays; BYTES (encoded images) is for "
                    "image models")  # fmt: skip
    if not (isinstance(shape, list) and len(shape) == 1 and type(shape[0]) is int):
        raise _fail(f"a BYTES input of images has shape [batch], got {shape!r}")
    if "binary_data_size" in params:
        if not binary_mode or params["binary_data_size"] != len(blob):
            raise _fail(f"binary_data_size {params['binary_data_size']!r} must equal the "
                        f"{len(blob)} bytes after the header")  # fmt: skip
        files = split_bytes_tensor(blob)
    else:
        if len(blob):
            raise _fail(f"{len(blob)} bytes follow the header but no input has binary_data_size")
        data = _plain(tensor.get("data"))
        if not isinstance(data, list) or not all(isinstance(d, str) for d in data):
            raise _fail("'data' of a BYTES input in JSON lists the images as base64 strings")
        try:
            files = [base64.b64decode(d, validate=True) for d in data]
        except ValueError:
            raise _fail("'data' of a BYTES input holds a string that is not base64") from None
    if len(files) != shape[0]:
        raise _fail(f"shape {shape} needs {shape[0]} images, the tensor holds {len(files)}")
    if not files:
        raise _fail("a BYTES input of images holds no image")
    return image_rows(files, spec, max_pixels, "image")


def _outputs(meta: dict[str, Any], model: OnnxModel) -> list[tuple[str, bool]]:
    params = meta.get("parameters") or {}
    if not isinstance(params, dict):
        raise _fail("'parameters' must be an object")
    default_binary = params.get("binary_data_output") is True
    requested = meta.get("outputs")
    if requested is None:
        return [("codes", default_binary)]
    names = output_names(model)
    if not isinstance(requested, list) or not requested:
        raise _fail("'outputs' must be a non-empty list of {\"name\": ...} objects")
    out = []
    for item in requested:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in names:
            raise _fail(
                f"output {name!r} is not offered by model {model.name!r}; outputs: {', '.join(names)}"
            )
        binary = ((item.get("parameters") or {}).get("binary_data", default_binary)) is True
        out.append((name, binary))
    return out


def build_response(
    model: OnnxModel, req: InferRequest, results: dict[str, np.ndarray]
) -> tuple[bytes, dict[str, str]]:
    """The inference response body and its headers (``Inference-Header-Content-Length``
    when any output is binary)."""
    outputs, blobs = [], []
    for name, binary in req.outputs:
        datatype, value = output_tensor(model, name, results)
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": tensor_shape(value)}
        if binary:
            blob = raw_tensor(value)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = value if isinstance(value, list) else value.ravel()
        outputs.append(entry)
    payload: dict[str, Any] = {
        "model_name": model.name,
        "model_version": model.version,
        "outputs": outputs,
    }
    if req.id is not None:
        payload["id"] = req.id
    head = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return head, {"content-type": "application/json"}
    headers = {
        "content-type": "application/octet-stream",
        "inference-header-content-length": str(len(head)),
    }
    return b"".join([head, *blobs]), headers


def error_body(message: str) -> bytes:
    """The protocol's error object ``{"error": message}``."""
    return json.dumps({"error": message}).encode()
