"""``POST /v1/models/{name}/denoise`` on a whole-image denoiser (``config.denoiser``): one
photograph of any size in, the same size out (:meth:`aezoo.runtime.model.OnnxModel.denoise_image`).

The v1 denoise route hands requests for such a model here. ``?sigma=`` is required: the
noise standard deviation on the 0-255 scale, inside the model's ``sigma_range`` (else 422
naming the range). Bodies:

- ``image/png`` or ``image/jpeg``: grayscale ``(H, W)`` or colour ``(H, W, 3)``, denoised per
  channel; more than ``max_image_pixels`` pixels (read from the header, before decoding),
  a corrupt file or a decompression bomb: 422 ``invalid_input``.
- ``application/x-npy``: an ``(H, W)`` or ``(H, W, 3)`` array, uint8 (0-255) or float32/64
  on the 0-1 scale (``uint8 / 255``; values outside are allowed, noise leaves the range).
- ``application/json``: ``{"inputs": [[...], ...]}``, the same array as nested lists, 0-1.

Answer: ``image/png`` for an image body, ``application/x-npy`` for a ``.npy`` body (same
dtype), ``{"outputs": ...}`` JSON for a JSON body; ``Accept: application/x-npy`` or
``Accept: image/png`` choose instead. Timing headers as for every v1 answer.

Memory: the body counts in the server's in-flight budget (``max_inflight_body_bytes``) while
it is read, and so does what decoding makes of it: :data:`BYTES_PER_PIXEL` bytes per pixel
and channel (the decoded pixels, the denoised ones, the answer) plus the tile buffers
(:func:`block_bytes`), reserved from the image header before decoding; 429 when they do not fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from fastapi import Request
from fastapi.responses import Response

from aezoo.errors import InputError
from aezoo.runtime.batcher import BatchResult
from aezoo.runtime.model import OnnxModel
from aezoo.runtime.photos import decode_photo, photo_png, probe_photo
from aezoo.runtime.tiling import block_bytes, check_sigma
from aezoo.serving import schemas as s
from aezoo.serving.engine import Engine, Served, timing_headers
from aezoo.serving.http import codecs
from aezoo.serving.http.protocol import arrived_at

T = TypeVar("T")
# decoded uint8 pixels + denoised uint8 pixels + the encoded answer (at most about the raw size)
BYTES_PER_PIXEL = 3


def sigma_param(model: OnnxModel, raw: str | None) -> float:
    """``?sigma=`` as a float inside the model's range.

    Raises:
        InputError: missing, not a number, or outside ``config.denoiser.sigma_range``.
    """
    spec = model.config.denoiser
    assert spec is not None
    lo, hi = spec.sigma_range
    if raw is None or not raw.strip():
        raise InputError(
            f"?sigma= is required: the noise standard deviation on the 0-255 scale, "
            f"in [{lo:g}, {hi:g}] for model {model.name!r}"
        )
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"?sigma={raw!r} is not a number; send one in [{lo:g}, {hi:g}]") from None
    return check_sigma(spec, value)


def decoded_bytes(body: bytes, kind: str, max_pixels: int) -> int:
    """Bytes a body becomes while it is denoised (see the module docstring).

    Raises:
        InputError: an image body that is unreadable or above ``max_pixels`` (header only).
    """
    if kind in ("image/png", "image/jpeg"):
        h, w, c = probe_photo(body, max_pixels)
        return BYTES_PER_PIXEL * h * w * c + block_bytes(h * w)
    # arrays: the float32 copy, the result and the answer, each at most 4 bytes a value
    # (JSON answers more, but JSON bodies are capped far lower by max_body_bytes)
    # (a body of n bytes holds at most n pixels)
    return 3 * len(body) * (4 if kind == codecs.NPY else 1) + block_bytes(len(body))


def decode_photo_body(body: bytes, kind: str, max_pixels: int) -> np.ndarray:
    """The image of a denoise body: uint8 or float32 ``(H, W)`` / ``(H, W, 3)``.

    Raises:
        InputError: unreadable, more than ``max_pixels`` pixels, wrong shape.
    """
    if kind in ("image/png", "image/jpeg"):
        return decode_photo(body, max_pixels)
    if kind == codecs.NPY:
        arr = codecs.read_npy(body, uint8=True)
    else:
        arr = s.to_array(s.parse_request(body, s.BatchRequest).inputs, "inputs")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise InputError(f"image array has shape {arr.shape}; expected (H, W) or (H, W, 3)")
    if math.prod(arr.shape[:2]) > max_pixels:
        raise InputError(
            f"image is {arr.shape[1]}x{arr.shape[0]} pixels, above the limit of {max_pixels:,}"
        )
    return arr


def answer_photo(out: np.ndarray, kind: str, accept: str | None) -> tuple[bytes, str]:
    """``(content, media type)`` of a denoised image, as the module docstring says."""
    if codecs.wants_npy(accept):
        return codecs.npy_bytes(out), codecs.NPY
    if codecs.wants_png(accept) or kind in ("image/png", "image/jpeg"):
        return photo_png(out), "image/png"
    if kind == codecs.NPY:
        return codecs.npy_bytes(out), codecs.NPY
    return codecs.json_bytes({"outputs": out}), codecs.JSON


async def denoise_photo(
    engine: Engine, name: str, served: Served, request: Request, start: float
) -> Response:
    """Serve one denoise request on a whole-image denoiser (module docstring).

    Raises:
        AezooError subclasses mapped by :data:`aezoo.serving.schemas.ERROR_TABLE` (4xx for
        every bad body or parameter; 429 when the memory budget or the queue is full).
    """
    st, model = engine.settings, served.model
    kind = codecs.media_type(request.headers.get("content-type"))
    if kind == codecs.MULTIPART:
        raise s.UnsupportedMediaTypeError(
            "a whole-image denoiser takes one image per request: image/png, image/jpeg, "
            "application/x-npy or application/json, not multipart/form-data"
        )
    codecs.check_encoding(request.headers.get("content-encoding"))
    sigma = sigma_param(model, request.query_params.get("sigma"))  # before reading the body
    accept = request.headers.get("accept")
    (content, media), result, served = await run_photo(
        engine, name, served, request, start, "denoise",
        lambda body: decoded_bytes(body, kind, st.max_image_pixels),
        lambda body: (decode_photo_body(body, kind, st.max_image_pixels), sigma),
        lambda model, out: answer_photo(out, kind, accept),
    )  # fmt: skip
    return Response(content, media_type=media, headers=timing_headers(result, served))


async def run_photo(
    engine: Engine,
    name: str,
    served: Served,
    request: Request,
    start: float,
    op: str,
    need: Callable[[bytes], int],
    decode: Callable[[bytes], tuple[np.ndarray, float]],
    answer: Callable[[OnnxModel, np.ndarray], T],
) -> tuple[T, BatchResult, Served]:
    """The steps every protocol's whole-image denoise shares: refuse a late request unread,
    read the body under ``max_body_bytes`` and the in-flight budget, hold ``need(body)``
    more bytes of that budget, ``decode(body)`` to ``(image, sigma)`` in a worker thread,
    denoise in the model's batcher (alone, one task), ``answer(model, output)``.

    Raises:
        whatever the steps raise (AezooError subclasses: 413, 429, 4xx from the callbacks).
    """
    st = engine.settings
    waited = start - arrived_at(request.scope, start)
    engine.check_wait(name, served, op, waited)  # late already: refused unread
    cap, why = st.max_body_bytes, f"max_body_bytes={st.max_body_bytes}"
    with served.batcher.expect():
        async with engine.budget.read(request, cap, why) as body:
            held = await engine.offload(True, need, body)
            with engine.budget.hold(held, "decoding the image"):
                image, sigma = await engine.offload(True, decode, body)
                del body
                result, served = await engine.run_task(
                    name, served, lambda m: m.denoise_image(image, sigma), 1, waited
                )
                out = await engine.offload(True, answer, served.model, result.output)
    return out, result, served


__all__ = [
    "answer_photo",
    "decode_photo_body",
    "decoded_bytes",
    "denoise_photo",
    "run_photo",
    "sigma_param",
]
