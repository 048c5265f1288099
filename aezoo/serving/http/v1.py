"""aezoo's v1 inference routes: ``POST /v1/models/{name}/{encode|denoise|classify|interpolate|score}``.

Per request: look the model up, pick the codec from ``Content-Type`` (JSON, or
``application/x-npy``; anything else 415), reserve and read the body under the model's
cap (413 beyond it, 429 when the server's body budget is spent), decode and check it,
submit it to the model's batcher (429 when its queue is full), and answer in JSON or, when
``Accept`` asks for it, ``.npy``. Each answer carries ``x-queue-time-ms``,
``x-compute-time-ms``, ``x-batch-size`` (samples in the merged run) and ``x-model-version``.

``.npy`` specifics: classify answers the probabilities ``(batch, n_classes)`` and puts the
class names, in column order, in the ``X-Class-Names`` header (a JSON list); the label of
a row is ``class_names[argmax(row)]``. Score answers the scores ``(batch,)`` and, when the
model is calibrated, the threshold in ``X-Threshold`` (JSON answers carry ``is_outlier`` and
``p_values`` too; an uncalibrated model answers ``threshold: null`` and no ``is_outlier``).
Interpolate takes a and b stacked,
``(2, n_features)`` or ``(2, *input.shape)``, with ``?steps=N`` (default 8).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel

from aezoo.errors import AezooError, InputError
from aezoo.runtime.calibration import judge
from aezoo.runtime.images import png_bytes
from aezoo.runtime.model import BatchOp, OnnxModel
from aezoo.serving import schemas as s
from aezoo.serving.engine import INLINE_BINARY_BYTES, INLINE_BYTES, Engine, timing_headers
from aezoo.serving.http import codecs
from aezoo.serving.http.image_codecs import IMAGE_BODY_TYPES, image_batch
from aezoo.serving.http.photo import denoise_photo
from aezoo.serving.http.protocol import alone, arrived_at
from aezoo.serving.limits import ClientDisconnect, body_cap, check_json_numbers

log = logging.getLogger("aezoo.serving")

# op -> (request schema, response schema, batch op or None, summary)
OPERATIONS: dict[str, tuple[type[BaseModel], type[BaseModel], BatchOp | None, str]] = {
    "encode": (s.BatchRequest, s.EncodeResponse, "encode", "Codes z = encoder(x)."),
    "denoise": (s.BatchRequest, s.DenoiseResponse, "denoise", "decoder(encoder(x))."),
    "classify": (
        s.BatchRequest,
        s.ClassifyResponse,
        "predict_proba",
        "Class names and probabilities.",
    ),
    "score": (
        s.BatchRequest,
        s.ScoreResponse,
        "score",
        "Anomaly scores; threshold, p-values and is_outlier when calibrated.",
    ),
    "interpolate": (
        s.InterpolateRequest,
        s.InterpolateResponse,
        None,
        "Decode codes mixed linearly from encode(a) to encode(b).",
    ),
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": s.ErrorResponse, "description": text}
    for code, text in {
        400: "Malformed JSON.",
        401: "Missing or wrong API key (when the server has one).",
        404: "Unknown model, or an operation the model does not offer.",
        413: "Body above the model's limit, or batch above max_batch_size.",
        406: "Accept: image/png on a model or an answer that is not one image.",
        415: "Content-Type not JSON, .npy, or (image models) image/png or image/jpeg.",
        422: "Invalid input: schema, non-numbers, shape, NaN/Inf, value range, steps.",
        429: "Overloaded: queue full, queue-time deadline passed, body budget or connections at "
        "their limit; see Retry-After.",
        503: "Models not loaded yet.",
    }.items()
}


def decode_batch(body: bytes, model: OnnxModel, npy: bool, op: str, engine: Engine) -> np.ndarray:
    """A request body as a checked ``(batch, n_features)`` float32 array."""
    st = engine.settings
    if npy:
        return codecs.npy_batch(body, model, st.max_batch_size)
    check_json_numbers(body, model, op, st)
    return codecs.json_batch(body, model, st.max_batch_size)


def image_pair(
    body: bytes, ctype: str, model: OnnxModel, st: Any, steps: str | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Two images of a multipart interpolate body (a, then b) and the ``?steps=`` count."""
    try:
        pair = image_batch(body, ctype, model, st.max_image_pixels, 2)
    except s.BatchTooLargeError:
        raise InputError("interpolate takes two images (a, b), got more than two") from None
    if pair.shape[0] != 2:
        raise InputError(f"interpolate takes two images (a, b), got {pair.shape[0]}")
    return pair[0], pair[1], codecs.steps_param(steps)


def answer(
    op: str, out: np.ndarray, model: OnnxModel, npy: bool, png: bool = False
) -> tuple[bytes, str, dict[str, str]]:
    """``(content, media type, extra headers)`` of an operation's output rows; ``png``: a
    denoised single image as ``image/png`` (image models; 406 for others or a batch)."""
    if png:
        spec = model.config.input.image
        if spec is None or out.shape[0] != 1:
            raise s.NotAcceptableError(
                "image/png answers one denoised image of an image model; "
                "ask for application/json or application/x-npy"
            )
        return png_bytes(out[0], spec), "image/png", {}
    if op == "classify":
        names = model.config.class_names or [str(i) for i in range(out.shape[1])]
        if npy:
            return (
                codecs.npy_bytes(out),
                codecs.NPY,
                {"x-class-names": codecs.class_names_header(names)},
            )
        labels = [names[i] for i in out.argmax(axis=1)]
        return codecs.json_bytes({"labels": labels, "probabilities": out}), codecs.JSON, {}
    if op == "score":
        cal = model.calibration
        if npy:  # scores only: p-values and flags are for the JSON answer
            headers = {"x-threshold": repr(cal.threshold)} if cal is not None else {}
            return codecs.npy_bytes(out), codecs.NPY, headers
        return codecs.json_bytes(judge(out, cal)), codecs.JSON, {}
    if npy:
        return codecs.npy_bytes(out), codecs.NPY, {}
    key = "codes" if op == "encode" else "outputs"
    return codecs.json_bytes({key: out}), codecs.JSON, {}


def _answer_is_big(out: np.ndarray, npy: bool) -> bool:
    """Whether writing ``out`` is worth a worker thread (JSON per number, .npy a copy)."""
    return out.nbytes > INLINE_BINARY_BYTES if npy else out.size > INLINE_BYTES // 4


def add_v1_routes(
    app: FastAPI, engine: Engine, example: OnnxModel | None
) -> dict[tuple[str, ...], Callable[..., Any]]:
    """Mount the four inference routes; ``example`` fills the OpenAPI examples and limits.

    Returns the fast-path routes (:mod:`aezoo.serving.http.fastpath`) of the same endpoints.
    """
    endpoints = {op: _endpoint(op, spec[2], engine) for op, spec in OPERATIONS.items()}
    for op, (request_model, response_model, _, summary) in OPERATIONS.items():
        app.add_api_route(
            f"/v1/models/{{name}}/{op}",
            endpoints[op],
            methods=["POST"],
            response_model=response_model,
            summary=summary,
            description=limits_text(engine, op),
            tags=["inference"],
            responses=ERROR_RESPONSES,
            openapi_extra=_request_body(request_model, example, engine),
        )
    return {("v1", "models", "{name}", op): fn for op, fn in endpoints.items()}


def _endpoint(op: str, batch_op: BatchOp | None, engine: Engine) -> Callable[..., Any]:
    metrics, st = engine.metrics, engine.settings

    async def endpoint(name: str, request: Request) -> Response:
        start, status = time.perf_counter(), 500
        label = name if engine.pool is not None and name in engine.pool.names() else "_unknown"
        try:
            served = engine.served(name, op)
            model = served.model
            if model.config.denoiser is not None:  # whole photographs: serving/http/photo.py
                response = await denoise_photo(engine, name, served, request, start)
                status = 200
                return response
            ctype = request.headers.get("content-type") or ""
            kind = codecs.media_type(ctype)
            npy, image = kind == codecs.NPY, kind in IMAGE_BODY_TYPES
            codecs.check_encoding(request.headers.get("content-encoding"))
            out_npy = codecs.wants_npy(request.headers.get("accept"))
            if image and batch_op is None and kind != codecs.MULTIPART:
                raise s.UnsupportedMediaTypeError(
                    "interpolate takes two inputs: send JSON, .npy, or two images as "
                    "multipart/form-data, not one image"
                )
            cap, why = (
                (st.max_body_bytes, f"max_body_bytes={st.max_body_bytes}")
                if image
                else body_cap(model, op, npy, st)
            )
            waited = start - arrived_at(request.scope, start)  # on the event loop
            engine.check_wait(name, served, op, waited)  # late already: refused unread
            with served.batcher.expect():
                async with engine.budget.read(request, cap, why) as body:
                    big = len(body) > (INLINE_BINARY_BYTES if npy else INLINE_BYTES)
                    if batch_op is None:
                        a, b, steps = (
                            await engine.offload(True, image_pair, body, ctype, model, st,
                                                 request.query_params.get("steps"))
                            if image
                            else codecs.npy_interpolate(
                                body, model, request.query_params.get("steps")
                            )
                            if npy
                            else codecs.json_interpolate(body, model)
                        )  # fmt: skip
                        result, served = await engine.run_task(
                            name, served, lambda m: m.interpolate(a, b, steps=steps), steps, waited
                        )
                        samples = 2
                    else:
                        x = await (
                            engine.offload(True, image_batch, body, ctype, model,
                                           st.max_image_pixels, st.max_batch_size)
                            if image
                            else engine.offload(big, decode_batch, body, model, npy, op, engine)
                        )  # fmt: skip
                        samples = x.shape[0]
                        result, served = await engine.infer(
                            name, served, batch_op, x, waited, alone=alone(request.scope)
                        )
                        if op == "score":
                            metrics.observe_scores(label, result.output, served.model.calibration)
                    png = op == "denoise" and codecs.wants_png(request.headers.get("accept"))
                    content, media, headers = await engine.offload(
                        png or _answer_is_big(result.output, out_npy),
                        answer, op, result.output, served.model, out_npy, png,
                    )  # fmt: skip
            metrics.child(metrics.request_samples, label, op, "http").observe(samples)
            status = 200
            return Response(
                content, media_type=media, headers={**headers, **timing_headers(result, served)}
            )
        except ClientDisconnect:
            status = 499  # gone (or dropped by the body timeout): nobody to answer
            return Response(status_code=499)
        except Exception as e:
            if not isinstance(e, AezooError):
                log.exception("%s on %s failed", op, name)
                status = 500
                raise s.InternalError(
                    f"{op} on model {name!r} failed unexpectedly ({type(e).__name__}); "
                    "see the server log"
                ) from e
            status = s.error_status(e)[0]
            metrics.count_refusal(status, e)
            raise
        finally:
            metrics.child(metrics.requests, label, op, str(status), "http").inc()
            metrics.child(metrics.latency, label, op, "http").observe(time.perf_counter() - start)

    endpoint.__name__ = op
    endpoint.__doc__ = OPERATIONS[op][3]
    return endpoint


def limits_text(engine: Engine, op: str) -> str:
    """The limits this route enforces, stated in the OpenAPI description."""
    st = engine.settings
    rows = "2 samples (a and b)" if op == "interpolate" else f"1 to {st.max_batch_size} samples"
    lines = [
        f"Limits enforced: {rows} per request; body at most max_body_bytes={st.max_body_bytes} "
        f"and at most what those samples need (JSON: 32 bytes per number + 64 KiB; npy: float64 "
        f"+ 4 KiB); {st.max_queue} samples queued per model and "
        f"{st.max_queue_time_ms:g} ms in the queue (then 429 with Retry-After).",
        "Content-Type: application/json (default) or application/x-npy; "
        "Accept: application/x-npy answers in .npy.",
    ]
    if engine.pool is not None:
        per_model = "; ".join(
            f"{m.name}: n_features={m.model.config.input.n_features}"
            + (f", shape={m.model.config.input.shape}" if m.model.config.input.shape else "")
            + f", values in {list(m.model.config.input.value_range)}"
            for m in engine.pool.all()
        )
        lines.append(f"Row length per model: {per_model}.")
    return "\n\n".join(lines)


def _request_body(
    model: type[BaseModel], first: OnnxModel | None, engine: Engine
) -> dict[str, Any]:
    """OpenAPI request body (parsed by hand) with its limits and a valid example for ``first``."""
    n = first.config.input.n_features if first else 784
    lo, hi = first.config.input.value_range if first else (0.0, 1.0)
    zero = min(max(0.0, lo), hi)
    schema = model.model_json_schema()
    if model is s.InterpolateRequest:
        example: dict[str, Any] = {"a": [zero] * n, "b": [hi] * n, "steps": 8}
    else:
        example = {"inputs": [[zero] * n]}
        schema["properties"]["inputs"].update(minItems=1, maxItems=engine.settings.max_batch_size)
    npy = {"schema": {"type": "string", "format": "binary", "description": "numpy.save bytes"}}
    content = {"application/json": {"schema": schema, "example": example}, codecs.NPY: npy}
    return {"requestBody": {"required": True, "content": content}}
