"""Open Inference Protocol (KServe v2) REST routes, mounted beside v1 on the same app.

``GET /v2`` (server metadata; extensions: ``binary_tensor_data``), ``/v2/health/live``,
``/v2/health/ready``, ``/v2/models/{name}[/versions/{v}]`` (model metadata),
``.../ready`` and ``POST .../infer`` (whole-image denoisers: an image tensor in and out,
:mod:`aezoo.serving.http.oip_photo`). Versions are registry versions: a request for a
version other than the one serving gets 404. Bodies are parsed by
:mod:`aezoo.serving.http.oip_codec`; everything else is shared with v1: the body caps and
budget (:mod:`aezoo.serving.limits`), each model's batcher (``Engine.infer``), the
overload contract (429 with ``Retry-After``), metrics and the API key (``/v2/health/*``
exempt). Errors answer the protocol's ``{"error": "<message>"}`` with the v1 status,
except that invalid input is 400 rather than 422 (the protocol's convention).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from aezoo._version import __version__
from aezoo.errors import AezooError, ModelNotFoundError
from aezoo.runtime.pool import Served
from aezoo.serving import schemas as s
from aezoo.serving.engine import INLINE_BINARY_BYTES, INLINE_BYTES, Engine, timing_headers
from aezoo.serving.http.codecs import check_encoding
from aezoo.serving.http.oip_codec import build_response, error_body, parse_infer, tensor_metadata
from aezoo.serving.http.oip_photo import infer_photo, photo_metadata
from aezoo.serving.http.protocol import alone, arrived_at
from aezoo.serving.limits import ClientDisconnect, body_cap, check_json_numbers
from aezoo.serving.redact import without_paths

log = logging.getLogger("aezoo.serving")
EXTENSIONS = ["binary_tensor_data"]
_BODY_TYPES = ("", "application/json", "application/octet-stream")


def oip_error(exc: BaseException) -> Response:
    """``{"error": message}`` with the status of :data:`~aezoo.serving.schemas.ERROR_TABLE`
    (422 becomes 400), ``Retry-After`` on 429."""
    status = s.error_status(exc)[0] if isinstance(exc, AezooError) else 500
    status = 400 if status == 422 else status
    retry = getattr(exc, "retry_after_s", None)
    headers = {"retry-after": str(retry)} if status == 429 and retry else None
    message = (
        str(exc)
        if isinstance(exc, AezooError)
        else f"internal error ({type(exc).__name__}); see the server log"
    )
    if status >= 500:
        message = without_paths(message)  # no absolute path of the server's file system
    return Response(error_body(message), status, headers=headers, media_type="application/json")


def _served(engine: Engine, name: str, version: str | None) -> Served:
    served = engine.served(name)
    if version is not None and version != served.version:
        raise ModelNotFoundError(
            f"model {name!r} has no version {version!r} being served (serving version {served.version})"
        )
    return served


def add_oip_routes(app: FastAPI, engine: Engine) -> dict[tuple[str, ...], Any]:
    """Mount the v2 routes on ``app``; returns the fast-path routes of ``infer``."""

    @app.get("/v2", tags=["oip-v2"])
    async def server_metadata() -> dict[str, Any]:
        """Server metadata: name, version and protocol extensions."""
        return {"name": "aezoo", "version": __version__, "extensions": EXTENSIONS}

    @app.get("/v2/health/live", tags=["oip-v2"])
    async def server_live() -> dict[str, bool]:
        """The process answers."""
        return {"live": True}

    @app.get("/v2/health/ready", tags=["oip-v2"])
    async def server_ready() -> Response:
        """Every served model passed its warm-up forward pass."""
        ready = engine.pool is not None and all(m.ready for m in engine.pool.all())
        return JSONResponse({"ready": ready}, 200 if ready else 503)

    async def metadata(name: str, version: str | None = None) -> Response:
        try:
            served = _served(engine, name, version)
        except AezooError as e:
            return oip_error(e)
        body = {
            "name": name,
            "versions": [served.version],
            "platform": "onnxruntime_onnx",
            **(
                photo_metadata(served.model)
                if served.model.config.denoiser is not None
                else tensor_metadata(served.model)
            ),
        }
        return JSONResponse(body)

    async def model_ready(name: str, version: str | None = None) -> Response:
        try:
            served = _served(engine, name, version)
        except AezooError as e:
            return oip_error(e)
        return JSONResponse({"name": name, "ready": served.ready}, 200 if served.ready else 503)

    infer = _infer_endpoint(engine)
    for suffix in ("", "/versions/{version}"):
        base = f"/v2/models/{{name}}{suffix}"
        app.add_api_route(
            base, metadata, methods=["GET"], tags=["oip-v2"], summary="Model metadata"
        )
        app.add_api_route(
            f"{base}/ready", model_ready, methods=["GET"], tags=["oip-v2"], summary="Model ready"
        )
        app.add_api_route(
            f"{base}/infer",
            infer,
            methods=["POST"],
            tags=["oip-v2"],
            summary="Inference (JSON or binary tensors)",
        )
    return {
        ("v2", "models", "{name}", "infer"): infer,
        ("v2", "models", "{name}", "versions", "{version}", "infer"): infer,
    }


def _answer_is_big(req: Any, results: dict[str, Any]) -> bool:
    """Whether building the answer is worth a worker thread: JSON outputs are written
    number by number, binary ones copied."""
    if all(binary for _, binary in req.outputs):
        return sum(r.nbytes for r in results.values()) > INLINE_BINARY_BYTES
    return sum(r.size for r in results.values()) > INLINE_BYTES // 4


def _infer_endpoint(engine: Engine) -> Any:
    metrics, st = engine.metrics, engine.settings

    async def infer(name: str, request: Request, version: str | None = None) -> Response:
        """Inference: JSON, or a JSON header and binary tensors (Inference-Header-Content-Length)."""
        start, status = time.perf_counter(), 500
        label = name if engine.pool is not None and name in engine.pool.names() else "_unknown"
        try:
            served = _served(engine, name, version)
            ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if ctype not in _BODY_TYPES:
                raise s.UnsupportedMediaTypeError(
                    f"Content-Type {ctype!r} is not supported; send application/json, or "
                    "application/octet-stream with Inference-Header-Content-Length"
                )
            check_encoding(request.headers.get("content-encoding"))
            if served.model.config.denoiser is not None:  # whole images: oip_photo.py
                response = await infer_photo(engine, name, served, request, start)
                status = 200
                return response
            header_length = request.headers.get("inference-header-content-length")
            images = served.model.config.input.image is not None  # may send encoded images
            cap, why = (
                (st.max_body_bytes, f"max_body_bytes={st.max_body_bytes}")
                if images
                else body_cap(served.model, "encode", header_length is not None, st)
            )
            waited = start - arrived_at(request.scope, start)  # on the event loop
            engine.check_wait(name, served, "infer", waited)  # late already: refused unread
            with served.batcher.expect():
                async with engine.budget.read(request, cap, why) as body:
                    binary = header_length is not None  # tensors viewed, not parsed
                    big = len(body) > (INLINE_BINARY_BYTES if binary else INLINE_BYTES)
                    if header_length is None:
                        check_json_numbers(body, served.model, "encode", st)
                    req = await engine.offload(
                        big or images, parse_infer, body, header_length, served.model,
                        st.max_batch_size, st.max_image_pixels,
                    )  # fmt: skip
                    answers = (  # one output: awaited here, no task of its own
                        [await engine.infer(name, served, req.ops[0], req.x, waited, "infer",
                                            alone=alone(request.scope))]
                        if len(req.ops) == 1
                        else await asyncio.gather(
                            *(engine.infer(name, served, op, req.x, waited, "infer")
                              for op in req.ops)
                        )
                    )  # fmt: skip
                    results = {
                        op: result.output for op, (result, _) in zip(req.ops, answers, strict=True)
                    }
                    last, served = answers[-1]
                    content, headers = await engine.offload(
                        _answer_is_big(req, results), build_response, served.model, req, results
                    )
            if "score" in results:
                metrics.observe_scores(label, results["score"], served.model.calibration)
            metrics.child(metrics.request_samples, label, "infer", "http").observe(req.x.shape[0])
            status = 200
            return Response(content, headers={**headers, **timing_headers(last, served)})
        except ClientDisconnect:
            status = 499
            return Response(status_code=499)
        except Exception as e:
            if not isinstance(e, AezooError):
                log.exception("v2 infer on %s failed", name)
            response = oip_error(e)
            status = response.status_code
            metrics.count_refusal(status, e)
            return response
        finally:
            metrics.child(metrics.requests, label, "infer", str(status), "http").inc()
            metrics.child(metrics.latency, label, "infer", "http").observe(
                time.perf_counter() - start
            )

    return infer
