"""Request bodies to checked arrays, and arrays to answers: JSON, ``application/x-npy``
and, for image models, ``image/png`` and ``image/jpeg`` bodies (one image each).

JSON stays strict. A batch body goes first through a fast path that never builds a
Python object per number: its bytes, less digits, number signs, brackets, commas and
whitespace, must be exactly ``{"inputs":}`` (so there is no string, boolean, null, object,
NaN or extra field anywhere), then simdjson (a validating parser: RFC 8259 numbers only)
parses it and copies the numbers straight into a float64 buffer. The nesting is checked
against the model's layout (``(batch, n_features)`` or ``(batch, *input.shape)``) by
counting brackets and row lengths. Anything else, valid or not, takes the full path
(:func:`aezoo.serving.schemas.parse_request`: pydantic strict mode), which gives every
error its precise message; both paths accept exactly the same bodies.

``.npy`` bodies (``numpy.save``'s format, version 1.0 or 2.0) are read without pickle:
the header is parsed first (at most ``NPY_HEADER_BYTES``), the dtype must be float32 or
float64 and the data length must equal what the header's shape needs before anything is
allocated; the array then views the body's bytes. A header exactly as ``numpy.save``
writes it for little-endian float32/float64 is read by a regular expression; any other
header goes through numpy's own reader (``ast.literal_eval``: 9% of the server's busy
time on one-sample ``.npy`` requests in ``benchmarks/serving_peers.py --profile``).
"""

from __future__ import annotations

import functools
import io
import json
import math
import re
import struct
from typing import Any

import numpy as np
import orjson
import simdjson

from aezoo.errors import InputError
from aezoo.runtime.images import IMAGE_MEDIA_TYPES
from aezoo.runtime.model import MAX_INTERPOLATION_STEPS, OnnxModel
from aezoo.serving import schemas as s
from aezoo.serving.limits import NPY_HEADER_BYTES
from aezoo.serving.oip_model import check_batch_size

JSON = "application/json"
NPY = "application/x-npy"
MULTIPART = "multipart/form-data"
_NUMERIC = b"0123456789.eE+-,[] \t\r\n"
_BATCH_RESIDUE = b'{"inputs":}'


def media_type(content_type: str | None) -> str:
    """``JSON``, ``NPY``, an image type (``image/png``, ``image/jpeg``) or ``MULTIPART``
    (several images) for a request's ``Content-Type`` (none = JSON).

    Raises:
        UnsupportedMediaTypeError: any other media type.
    """
    if not content_type:
        return JSON
    base = content_type.split(";", 1)[0].strip().lower()
    if base in (JSON, NPY, MULTIPART, *IMAGE_MEDIA_TYPES):
        return base
    raise s.UnsupportedMediaTypeError(
        f"Content-Type {base!r} is not supported; send application/json, "
        "application/x-npy (numpy.save's format), or to an image model image/png, image/jpeg "
        "or multipart/form-data (one image per part)"
    )


def wants_png(accept: str | None) -> bool:
    """Whether the ``Accept`` header asks for ``image/png``."""
    return bool(accept) and "image/png" in accept.lower()  # type: ignore[union-attr]


def check_encoding(content_encoding: str | None) -> None:
    """Refuse compressed bodies (``Content-Encoding`` other than identity): they would be
    parsed as garbage, and inflating them would escape the body caps.

    Raises:
        UnsupportedMediaTypeError: gzip, deflate or any other coding.
    """
    if content_encoding and content_encoding.strip().lower() != "identity":
        raise s.UnsupportedMediaTypeError(
            f"Content-Encoding {content_encoding!r} is not supported; send the body uncompressed"
        )


def wants_npy(accept: str | None) -> bool:
    """Whether the ``Accept`` header asks for ``application/x-npy``."""
    return bool(accept) and NPY in accept.lower()  # type: ignore[union-attr]


# -- JSON ------------------------------------------------------------------------------


def _fast_json_batch(body: bytes, model: OnnxModel) -> np.ndarray | None:
    """The fast path (module docstring): a (batch, n_features) float32 array, or ``None``
    when the body is not a plain, well-shaped batch of numbers."""
    if body.translate(None, _NUMERIC) != _BATCH_RESIDUE:
        return None
    spec = model.config.input
    n, shape = spec.n_features, tuple(spec.shape or ())
    parser = simdjson.Parser()
    try:
        inputs = parser.parse(body)["inputs"]
        batch = len(inputs)
        flat = np.frombuffer(inputs.as_buffer(of_type="d"), dtype=np.float64)
        if batch == 0 or flat.size != batch * n:
            return None
        opens = body.count(b"[")
        if opens == 1 + batch:  # flat samples: no array inside any sample
            if any(len(sample) != n for sample in inputs):
                return None
        elif len(shape) == 2 and opens == 1 + batch * (1 + shape[0]):
            rows, cols = shape
            for sample in inputs:
                if len(sample) != rows or any(len(row) != cols for row in sample):
                    return None
        else:
            return None
        del inputs
    except (ValueError, TypeError, RuntimeError, AttributeError, KeyError, IndexError):
        return None
    with np.errstate(over="ignore"):  # beyond float32 -> inf; check_inputs names it
        return flat.astype(np.float32).reshape(batch, n)


def json_batch(body: bytes, model: OnnxModel, max_batch_size: int) -> np.ndarray:
    """A strict JSON ``{"inputs": [...]}`` body as a checked ``(batch, n_features)`` float32.

    Raises:
        MalformedJSONError, RequestValidationFailed: not JSON, or not the schema.
        BatchTooLargeError: more than ``max_batch_size`` samples.
        InputError: shape, ragged rows, NaN/Inf, value range (see ``check_inputs``).
    """
    x = _fast_json_batch(body, model)
    if x is None:
        req = s.parse_request(body, s.BatchRequest)
        check_batch_size(len(req.inputs), max_batch_size)
        x = s.to_array(req.inputs, "inputs")
    check_batch_size(x.shape[0], max_batch_size)
    return model.check_inputs(x)


def json_interpolate(body: bytes, model: OnnxModel) -> tuple[np.ndarray, np.ndarray, int]:
    """``{"a", "b", "steps"}`` as two checked samples and the step count."""
    req = s.parse_request(body, s.InterpolateRequest)
    return s.to_array(req.a, "a"), s.to_array(req.b, "b"), req.steps


# -- npy -------------------------------------------------------------------------------


# The header numpy.save writes (numpy.lib.format, NEP 1): keys in this order, spaces and
# a newline as padding. Only little-endian float32/float64, the common case, is matched.
_NPY_HEADER = re.compile(
    rb"\{'descr': '<f([48])', 'fortran_order': (False|True), "
    rb"'shape': \(((?:[0-9]+, )*[0-9]+,?)?\), \} *\n"
)
_NPY_PREFIX = {b"\x93NUMPY\x01\x00": ("<H", 10), b"\x93NUMPY\x02\x00": ("<I", 12)}


def _npy_header_fast(body: bytes) -> tuple[tuple[int, ...], bool, np.dtype, int] | None:
    """``(shape, fortran_order, dtype, data offset)`` of a header as numpy.save writes it
    (see ``_NPY_HEADER``), or ``None`` for any other header (numpy's reader decides)."""
    prefix = _NPY_PREFIX.get(body[:8])
    if prefix is None or len(body) < prefix[1]:
        return None
    fmt, start = prefix
    (length,) = struct.unpack_from(fmt, body, 8)
    if length > NPY_HEADER_BYTES:
        return None
    m = _NPY_HEADER.fullmatch(body, start, start + length)
    if m is None:
        return None
    dims = m.group(3)
    shape = tuple(int(d) for d in dims.split(b",") if d.strip()) if dims else ()
    dtype = np.dtype(np.float32 if m.group(1) == b"4" else np.float64)
    return shape, m.group(2) == b"True", dtype, start + length


def _npy_header(body: bytes, what: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """``(shape, fortran_order, dtype, data offset)`` by numpy's own header reader.

    Raises:
        InputError: not ``.npy``, another format version, or a header numpy refuses
            (over ``NPY_HEADER_BYTES``, not the three keys, not literals).
    """
    f = io.BytesIO(body[:NPY_HEADER_BYTES])
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, NPY_HEADER_BYTES)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, NPY_HEADER_BYTES)
        else:
            raise ValueError(f"format version {version} (1.0 and 2.0 are read)")
    except Exception as e:  # untrusted header: numpy's literal_eval raises
        # ValueError, SyntaxError, tokenize.TokenError, RecursionError, ... on bad input
        raise InputError(f"{what} is not a readable .npy array: {type(e).__name__}: {e}") from None
    return tuple(shape), bool(fortran), dtype, f.tell()


def read_npy(body: bytes, what: str = "body", uint8: bool = False) -> np.ndarray:
    """A ``.npy`` body as a float array viewing ``body`` (no pickle, no copy); with
    ``uint8``, a uint8 array is accepted too and returned as uint8 (whole photographs).

    Raises:
        InputError: not ``.npy``, a header over ``NPY_HEADER_BYTES``, a dtype other than
            float32/float64 (or uint8), or data shorter/longer than the header's shape needs.
    """
    shape, fortran, dtype, offset = _npy_header_fast(body) or _npy_header(body, what)
    if uint8 and dtype == np.uint8:
        count = math.prod(shape)
        if len(body) - offset != count:
            raise InputError(f"{what}: .npy header says shape {tuple(shape)} but "
                             f"{len(body) - offset} data bytes follow")  # fmt: skip
        return np.frombuffer(body, np.uint8, count, offset).reshape(
            shape, order="F" if fortran else "C"
        )
    if dtype.kind != "f" or dtype.itemsize not in (4, 8):
        want = "float32, float64 or uint8" if uint8 else "float32 or float64"
        raise InputError(f"{what}: .npy dtype must be {want}, got {dtype}")
    # exact (Python ints): an int64 product can wrap, e.g. shape (2**62 + 196, 4) -> 784
    count = math.prod(shape)
    if len(body) - offset != count * dtype.itemsize:
        raise InputError(
            f"{what}: .npy header says shape {tuple(shape)} ({count * dtype.itemsize} bytes of "
            f"{dtype}) but {len(body) - offset} data bytes follow"
        )
    arr = np.frombuffer(body, dtype=dtype, count=count, offset=offset)
    arr = arr.reshape(shape, order="F" if fortran else "C")
    if arr.dtype != np.float32 or not arr.dtype.isnative:
        with np.errstate(over="ignore"):
            arr = arr.astype(np.float32)
    return arr


def npy_batch(body: bytes, model: OnnxModel, max_batch_size: int) -> np.ndarray:
    """An ``.npy`` batch (or one sample) as a checked ``(batch, n_features)`` float32."""
    x = model.check_inputs(read_npy(body))
    check_batch_size(x.shape[0], max_batch_size)
    return x


def npy_interpolate(body: bytes, model: OnnxModel, steps: str | None) -> tuple[Any, Any, int]:
    """An ``.npy`` of shape ``(2, n_features)`` or ``(2, *input.shape)`` (a and b) and the
    ``steps`` query parameter (default 8)."""
    pair = model.check_inputs(read_npy(body))
    if pair.shape[0] != 2:
        raise InputError(f"an .npy interpolate body holds a and b: 2 samples, got {pair.shape[0]}")
    return pair[0], pair[1], steps_param(steps)


def steps_param(steps: str | None) -> int:
    """The ``?steps=`` query parameter of interpolate (default 8).

    Raises:
        InputError: not an integer in ``[2, MAX_INTERPOLATION_STEPS]``.
    """
    try:
        n = int(steps) if steps is not None else 8
    except ValueError:
        n = 0
    if not 2 <= n <= MAX_INTERPOLATION_STEPS:
        raise InputError(
            f"steps must be an integer in [2, {MAX_INTERPOLATION_STEPS}], got {steps!r}"
        )
    return n


# -- answers ---------------------------------------------------------------------------


def npy_bytes(arr: np.ndarray) -> bytes:
    """``numpy.save``'s bytes of ``arr`` (no pickle), byte for byte.

    A C-ordered numeric array takes a header cached per ``(shape, dtype)`` (built by
    numpy's own ``write_array_header_1_0``) and its data: numpy's writer formats the
    header anew per call, 15 us of a one-sample answer's 20.
    """
    arr = np.ascontiguousarray(arr)
    if arr.dtype.kind in "fiub" and arr.ndim <= 8:
        return _npy_answer_header(arr.shape, arr.dtype.str) + arr.tobytes()
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


@functools.lru_cache(maxsize=4096)
def _npy_answer_header(shape: tuple[int, ...], descr: str) -> bytes:
    """The ``.npy`` 1.0 header ``numpy.save`` writes for a C-ordered array."""
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def json_bytes(payload: dict[str, Any]) -> bytes:
    """JSON of a payload whose arrays are numpy; float32 values are written in their
    shortest round-trip form, so parsing them back to float32 gives the same bits."""
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


def class_names_header(names: list[str]) -> str:
    """``X-Class-Names`` of an ``.npy`` classify answer: the JSON list of class names in
    column order (ASCII-escaped)."""
    return json.dumps(names, ensure_ascii=True, separators=(",", ":"))
