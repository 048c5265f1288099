"""The HTTP service: a FastAPI app over loaded :class:`~aezoo.runtime.model.OnnxModel` s.

The app owns transport, validation, limits, metrics and health; it calls the
runtime's public methods only (``encode``, ``denoise``, ``predict_proba``,
``interpolate``) and never touches sessions or graphs (the LitServe/BentoML
split). Per request: read the body under ``max_body_bytes``, then in a worker
thread decode + strictly validate it (:func:`aezoo.serving.schemas.parse_request`),
run the model and serialise the answer, so the event loop stays free for
other requests and health checks.

Every error answers ``{"error": {"type", "message"[, "details"]}}`` with the
status from :data:`aezoo.serving.schemas.ERROR_TABLE`; FastAPI's own 404/405/422
bodies are replaced by the same shape.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pydantic_core
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from aezoo._version import __version__
from aezoo.errors import AezooError, ModelNotFoundError, OperationNotSupportedError
from aezoo.registry.artifact import CARD, TRAINING
from aezoo.runtime.loading import load_models
from aezoo.runtime.model import OnnxModel
from aezoo.serving import schemas as s
from aezoo.serving.gallery import add_gallery
from aezoo.serving.settings import ServeSettings

log = logging.getLogger("aezoo.serving")


def error_response(status: int, kind: str, message: str, details: Any = None) -> JSONResponse:
    """The uniform error body ``{"error": {"type", "message"[, "details"]}}``."""
    body: dict[str, Any] = {"type": kind, "message": message}
    if details is not None:
        body["details"] = jsonable_encoder(details)
    return JSONResponse({"error": body}, status_code=status)


class _Metrics:
    """Prometheus metrics in a registry of their own (several apps per process never clash)."""

    def __init__(self, max_batch_size: int) -> None:
        self.registry = CollectorRegistry()
        labels = ["model", "operation"]
        self.requests = Counter(
            "aezoo_requests",
            "Inference requests by outcome.",
            [*labels, "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aezoo_request_duration_seconds",
            "Inference request latency, body read to response.",
            labels,
            registry=self.registry,
        )
        buckets = [b for b in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024) if b < max_batch_size]
        self.batch = Histogram(
            "aezoo_batch_size",
            "Samples per inference request (rows for interpolate).",
            labels,
            buckets=[*buckets, max_batch_size],
            registry=self.registry,
        )


class _State:
    """What the app serves; swapped in whole once loading ends."""

    def __init__(self) -> None:
        self.status = "loading"
        self.error: str | None = None
        self.models: dict[str, OnnxModel] = {}
        self.cards: dict[str, dict[str, Any]] = {}

    def set_models(self, models: dict[str, OnnxModel]) -> None:
        self.cards = {name: _card(m) for name, m in models.items()}
        self.models, self.status = dict(models), "ready"

    def get(self, name: str) -> OnnxModel:
        if self.status != "ready":
            why = f": {self.error}" if self.error else ""
            raise s.NotReadyError(f"models are not ready ({self.status}{why})")
        if name not in self.models:
            raise ModelNotFoundError(
                f"no model named {name!r} is served here; "
                f"available models: {', '.join(self.models)}"
            )
        return self.models[name]


def _card(m: OnnxModel) -> dict[str, Any]:
    info = s.ModelInfo(
        name=m.name,
        version=m.version,
        family=m.config.family,
        operations=m.operations,
        input=m.config.input,
        n_components=m.config.n_components,
        class_names=m.config.class_names,
    ).model_dump(mode="json")
    training = m.path / TRAINING
    metrics = json.loads(training.read_text()).get("metrics") if training.is_file() else None
    card = (m.path / CARD).read_text() if (m.path / CARD).is_file() else ""
    return {**info, "metrics": metrics, "card": card}


# -- operations: validated request -> JSON-able payload (run in a worker thread) ----------


def _batch(req: s.BatchRequest, settings: ServeSettings) -> np.ndarray:
    n = len(req.inputs)  # emptiness, shape and values are the runtime's to judge
    if n > settings.max_batch_size:
        raise s.BatchTooLargeError(
            f"batch of {n} samples exceeds max_batch_size={settings.max_batch_size}; "
            f"split it into requests of at most {settings.max_batch_size} samples"
        )
    return s.to_array(req.inputs, "inputs")


def _encode(m: OnnxModel, req: Any, st: ServeSettings) -> dict[str, Any]:
    return {"codes": m.encode(_batch(req, st)).tolist()}


def _denoise(m: OnnxModel, req: Any, st: ServeSettings) -> dict[str, Any]:
    return {"outputs": m.denoise(_batch(req, st)).tolist()}


def _classify(m: OnnxModel, req: Any, st: ServeSettings) -> dict[str, Any]:
    proba = m.predict_proba(_batch(req, st))
    names = m.config.class_names or [str(i) for i in range(proba.shape[1])]
    return {"labels": [names[i] for i in proba.argmax(axis=1)], "probabilities": proba.tolist()}


def _interpolate(m: OnnxModel, req: Any, st: ServeSettings) -> dict[str, Any]:
    a, b = s.to_array(req.a, "a"), s.to_array(req.b, "b")
    return {"outputs": m.interpolate(a, b, steps=req.steps).tolist()}


_Op = Callable[[OnnxModel, Any, ServeSettings], dict[str, Any]]
OPERATIONS: dict[str, tuple[type[BaseModel], type[BaseModel], _Op, str]] = {
    "encode": (s.BatchRequest, s.EncodeResponse, _encode, "Codes z = encoder(x)."),
    "denoise": (s.BatchRequest, s.DenoiseResponse, _denoise, "decoder(encoder(x))."),
    "classify": (s.BatchRequest, s.ClassifyResponse, _classify, "Class names and probabilities."),
    "interpolate": (
        s.InterpolateRequest,
        s.InterpolateResponse,
        _interpolate,
        "Decode codes mixed linearly from encode(a) to encode(b).",
    ),
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": s.ErrorResponse, "description": text}
    for code, text in {
        400: "Malformed JSON.",
        404: "Unknown model, or an operation the model does not offer.",
        413: "Body above max_body_bytes or batch above max_batch_size.",
        422: "Invalid input: schema, non-numbers, shape, NaN/Inf, value range, steps.",
        503: "Models not loaded yet.",
    }.items()
}


_DESCRIPTION = (
    "Encode, denoise, classify and interpolate with aezoo autoencoders (ONNX Runtime). "
    "Each model's input spec and operations are at `GET /v1/models`. Samples are JSON "
    "numbers, flat (n_features) or nested in the input shape; strings, booleans and null "
    'are rejected, never coerced.\n\nEvery error is `{"error": {"type", "message", '
    '"details"?}}`:\n\n| status | type | when |\n|---|---|---|\n'
    + "\n".join(f"| {status} | `{kind}` | {when} |" for _, status, kind, when in s.ERROR_TABLE)
    + "\n| 404 | `not_found` | no such route |\n| 405 | `method_not_allowed` | wrong HTTP method |"
)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise s.BodyTooLargeError(f"request body is {declared} bytes, above max_body_bytes={limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise s.BodyTooLargeError(f"request body is above max_body_bytes={limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    models: dict[str, OnnxModel] | list[str] | None = None, settings: ServeSettings | None = None
) -> FastAPI:
    """Build the app.

    Args:
        models: loaded models by name (ready at once), or registry refs / artifact paths
            loaded in a background thread at startup (``/health/ready`` answers 503 until
            done); ``None`` uses ``settings.models`` (empty: every model in the registry).
        settings: limits and threads; default :class:`ServeSettings()`.

    Returns:
        The FastAPI app (routes in ARCHITECTURE.md, Serving).
    """
    settings = settings or ServeSettings()
    state, metrics = _State(), _Metrics(settings.max_batch_size)
    refs: list[str] | None = None
    if isinstance(models, dict):
        state.set_models(models)
    else:
        refs = list(models) if models is not None else list(settings.models)

    def _load() -> None:
        try:
            state.set_models(load_models(refs, settings.threads))
        except Exception as e:  # reported on /health/ready
            log.exception("loading models failed")
            state.status, state.error = "failed", f"{type(e).__name__}: {e}"

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        if state.status == "loading":
            threading.Thread(target=_load, name="aezoo-load", daemon=True).start()
        yield

    local_docs = _swagger_assets()
    app = FastAPI(
        title="aezoo",
        version=__version__,
        lifespan=lifespan,
        description=_DESCRIPTION,
        docs_url=None if local_docs else "/docs",
    )
    if local_docs:
        _mount_local_docs(app, local_docs)
    app.state.serving, app.state.metrics, app.state.settings = state, metrics, settings

    @app.exception_handler(AezooError)
    async def _aezoo_error(request: Request, exc: AezooError) -> JSONResponse:
        status, kind = s.error_status(exc)
        return error_response(status, kind, str(exc), getattr(exc, "details", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:3])
        return error_response(422, "validation_error", message, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = f"{exc.detail}: {request.method} {request.url.path} (the API is listed at /docs)"
        return error_response(exc.status_code, kind, message)

    @app.get("/health/live", response_model=s.LiveResponse, tags=["health"])
    async def live() -> dict[str, str]:
        """The process answers."""
        return {"status": "live"}

    @app.get(
        "/health/ready",
        response_model=s.ReadyResponse,
        response_model_exclude_none=True,
        tags=["health"],
        responses={503: {"model": s.ReadyResponse, "description": "Loading or failed."}},
    )
    async def ready() -> Any:
        """Models are loaded and requests will be served."""
        if state.status == "ready":
            return {"status": "ready", "models": list(state.models)}
        body = {"status": state.status, "models": [], "error": state.error}
        return JSONResponse(body, status_code=503)

    @app.get("/v1/models", response_model=s.ModelList, tags=["models"])
    async def list_models() -> dict[str, Any]:
        """Every served model with its input spec and operations."""
        keep = set(s.ModelInfo.model_fields)
        return {"models": [{k: v for k, v in c.items() if k in keep} for c in state.cards.values()]}

    @app.get(
        "/v1/models/{name}",
        response_model=s.ModelCard,
        tags=["models"],
        responses={k: v for k, v in _ERRORS.items() if k in (404, 503)},
    )
    async def model_card(name: str) -> dict[str, Any]:
        """One model's card: spec, operations, training metrics and README."""
        state.get(name)
        return state.cards[name]

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    first = next(iter(state.models.values()), None)
    for op, (request_model, response_model, fn, summary) in OPERATIONS.items():
        app.add_api_route(
            f"/v1/models/{{name}}/{op}",
            _endpoint(op, request_model, fn, state, metrics, settings),
            methods=["POST"],
            response_model=response_model,
            summary=summary,
            tags=["inference"],
            responses=_ERRORS,
            openapi_extra=_request_body(request_model, first),
        )
    add_gallery(app, state.get, ui=settings.ui)  # / and /ui (unless --no-ui); model files
    return app


def _swagger_assets() -> str | None:
    """Directory of the Swagger UI 5 files packaged by fastapi-offline, or None (CDN page)."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    static = Path(fastapi_offline.__file__).parent / "static"
    return str(static) if (static / "swagger-ui-bundle.js").is_file() else None


def _mount_local_docs(app: FastAPI, assets: str) -> None:
    """Serve /docs from local files, so the page works on machines without internet access."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="aezoo API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon.png",
        )


def _endpoint(
    op: str,
    request_model: type[BaseModel],
    fn: _Op,
    state: _State,
    metrics: _Metrics,
    settings: ServeSettings,
) -> Callable[..., Any]:
    def work(model: OnnxModel, body: bytes) -> bytes:
        try:
            req: Any = s.parse_request(body, request_model)
            payload = fn(model, req, settings)
            content = pydantic_core.to_json(payload)
        except AezooError:
            raise
        except Exception as e:
            log.exception("%s on %s failed", op, model.name)
            raise s.InternalError(
                f"{op} on model {model.name!r} failed unexpectedly ({type(e).__name__}); "
                "see the server log"
            ) from e
        rows = req.steps if isinstance(req, s.InterpolateRequest) else len(req.inputs)
        metrics.batch.labels(model.name, op).observe(rows)
        return content

    async def endpoint(name: str, request: Request) -> Response:
        start, status = time.perf_counter(), 500
        label = name if name in state.models else "_unknown"  # bounded label set
        try:
            model = state.get(name)
            if op not in model.operations:
                raise OperationNotSupportedError(
                    f"model {name!r} does not offer {op!r}; it offers {', '.join(model.operations)}"
                )
            body = await _read_body(request, settings.max_body_bytes)
            content = await run_in_threadpool(work, model, body)
            status = 200
            return Response(content, media_type="application/json")
        except Exception as e:
            status = s.error_status(e)[0]
            raise
        finally:
            metrics.requests.labels(label, op, str(status)).inc()
            metrics.latency.labels(label, op).observe(time.perf_counter() - start)

    endpoint.__name__ = op
    endpoint.__doc__ = OPERATIONS[op][3]
    return endpoint


def _request_body(model: type[BaseModel], first: OnnxModel | None) -> dict[str, Any]:
    """OpenAPI request body for a model parsed by hand, with a valid example for ``first``."""
    n = first.config.input.n_features if first else 784
    lo, hi = first.config.input.value_range if first else (0.0, 1.0)
    zero = min(max(0.0, lo), hi)
    example: dict[str, Any] = (
        {"a": [zero] * n, "b": [hi] * n, "steps": 8}
        if model is s.InterpolateRequest
        else {"inputs": [[zero] * n]}
    )
    content = {"application/json": {"schema": model.model_json_schema(), "example": example}}
    return {"requestBody": {"required": True, "content": content}}
