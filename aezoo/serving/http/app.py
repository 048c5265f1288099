"""The HTTP service: a FastAPI app over a :class:`~aezoo.runtime.pool.ModelPool`.

The app owns transport, validation, limits, metrics and health; the runtime owns the
onnxruntime sessions and each model's dynamic batcher (the LitServe/BentoML split, TEI's
queue/batcher/backend parts). The routes live beside this module: v1 in
:mod:`aezoo.serving.http.v1`, the limits in :mod:`aezoo.serving.limits`, codecs in
:mod:`aezoo.serving.http.codecs`, shared state in :mod:`aezoo.serving.engine`.

Every error answers ``{"error": {"type", "message"[, "details"]}}`` with the status from
:data:`aezoo.serving.schemas.ERROR_TABLE` (a 5xx message holds no absolute path of the
server: :func:`~aezoo.serving.redact.without_paths`); FastAPI's own 404/405/422 bodies are replaced by
the same shape (405 keeps its ``Allow`` header, 429 carries ``Retry-After``).
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from aezoo._version import __version__
from aezoo.errors import AezooError
from aezoo.runtime.model import OnnxModel
from aezoo.runtime.pool import ModelPool
from aezoo.serving import schemas as s
from aezoo.serving.engine import Engine
from aezoo.serving.http.fastpath import FastRoutes
from aezoo.serving.http.gallery import add_gallery
from aezoo.serving.http.guard import ApiKeyMiddleware
from aezoo.serving.http.oip import add_oip_routes
from aezoo.serving.http.openapi import install_openapi
from aezoo.serving.http.v1 import add_v1_routes
from aezoo.serving.redact import without_paths
from aezoo.serving.settings import ServeSettings

log = logging.getLogger("aezoo.serving")

__all__ = ["ServeSettings", "create_app", "error_response"]


def error_response(
    status: int, kind: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The uniform error body ``{"error": {"type", "message"[, "details"]}}``."""
    body: dict[str, Any] = {"type": kind, "message": message}
    if details is not None:
        body["details"] = jsonable_encoder(details)
    return JSONResponse({"error": body}, status_code=status, headers=headers)


_DESCRIPTION = (
    "Encode, denoise, classify and interpolate with aezoo autoencoders (ONNX Runtime). "
    "Each model's input spec and operations are at `GET /v1/models`. Samples are JSON "
    "numbers, flat (n_features) or nested in the input shape; strings, booleans and null "
    "are rejected, never coerced. `Content-Type: application/x-npy` sends numpy.save bytes "
    "instead, and `Accept: application/x-npy` answers in them. Inference routes are listed "
    "once per served model, with that model's request schema: a body valid under it is a "
    "valid request.\n\n"
    'Every error is `{"error": {"type", "message", "details"?}}`:\n\n'
    "| status | type | when |\n|---|---|---|\n"
    + "\n".join(f"| {status} | `{kind}` | {when} |" for _, status, kind, when in s.ERROR_TABLE)
    + "\n| 401 | `unauthorized` | missing or wrong API key (when the server has one) |"
    + "\n| 404 | `not_found` | no such route |\n| 405 | `method_not_allowed` | wrong HTTP method |"
)


def create_app(
    models: dict[str, OnnxModel] | ModelPool | list[str] | None = None,
    settings: ServeSettings | None = None,
    engine: Engine | None = None,
) -> FastAPI:
    """Build the app.

    Args:
        models: a loaded :class:`ModelPool`; or models by name (warmed up and served at
            once, never swapped); or registry refs / artifact paths loaded in a background
            thread at startup (``/health/ready`` answers 503 until done); ``None`` uses
            ``settings.models`` (empty: every model in the registry).
        settings: limits, batching, threads; default :class:`ServeSettings()`.
        engine: an :class:`Engine` whose pool is loaded already (``models`` is then ignored;
            the server builds one so that loading fails before the socket listens).

    Returns:
        The FastAPI app (routes in ARCHITECTURE.md, Serving); its requests pass the CORS
        and API key layers when the settings ask for them (:class:`AezooApp`).
    """
    settings = engine.settings if engine else settings or ServeSettings()
    refs: list[str] | None = None
    if engine is not None:
        pass
    elif isinstance(models, ModelPool):
        engine = Engine(settings)
        engine.set_pool(models)
    elif isinstance(models, dict):
        engine = Engine(settings)
        pool = engine.new_pool()
        for model in models.values():
            pool.add(model)
        engine.set_pool(pool)
    else:
        engine = Engine(settings)
        refs = list(models) if models is not None else list(settings.models)

    def _load() -> None:
        assert engine is not None
        try:
            pool = engine.new_pool()
            pool.load(refs)
            engine.set_pool(pool)
            pool.watch(settings.poll_interval_s, new_names=settings.watch)
        except Exception as e:  # reported on /health/ready
            log.exception("loading models failed")
            engine.status, engine.error = "failed", without_paths(f"{type(e).__name__}: {e}")

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        if engine.status == "loading":
            threading.Thread(target=_load, name="aezoo-load", daemon=True).start()
        yield
        for other in engine.before_close:  # the gRPC drain: its calls still need the models
            await other
        if engine.pool is not None:
            engine.pool.close()

    local_docs = _swagger_assets()
    app = AezooApp(
        title="aezoo",
        version=__version__,
        lifespan=lifespan,
        description=_DESCRIPTION,
        docs_url=None if local_docs else "/docs",
    )
    if local_docs:
        _mount_local_docs(app, local_docs)
    app.state.engine = engine
    _add_error_handlers(app)
    _add_info_routes(app, engine)
    first = engine.pool.all()[0].model if engine.pool and engine.pool.all() else None
    fast = {**add_v1_routes(app, engine, first), **add_oip_routes(app, engine)}
    add_gallery(app, lambda name: engine.served(name).model, ui=settings.ui)  # / (unless --no-ui)
    install_openapi(app, engine)  # per-model bodies and every status, at /openapi.json
    # aezoo's own layers, outermost first: CORS, the API key, the inference fast path; then
    # FastAPI itself (its router, handlers and its own per-request layers) for the rest
    entry: Any = FastRoutes(
        partial(FastAPI.__call__, app), routes=fast, on_error=app.exception_handlers
    )
    if settings.api_key is not None:
        reject = engine.metrics.rejections.labels("unauthorized").inc
        entry = ApiKeyMiddleware(entry, key=settings.api_key.get_secret_value(), on_reject=reject)
    if settings.cors_origins:  # outermost: preflight requests carry no API key
        from starlette.middleware.cors import CORSMiddleware

        entry = CORSMiddleware(
            entry,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "accept"],
            expose_headers=[
                "x-queue-time-ms",
                "x-compute-time-ms",
                "x-batch-size",
                "x-model-version",
                "x-class-names",
                "retry-after",
            ],
        )
    app.entry = entry
    return app


class AezooApp(FastAPI):
    """FastAPI whose HTTP requests enter through aezoo's own ASGI layers (``entry``: CORS,
    the API key, the inference fast path of :mod:`aezoo.serving.http.fastpath`), ahead of
    FastAPI's per-request work; lifespan events take FastAPI's own way.

    Measured on one-sample encodes (``benchmarks/serving_peers.py --profile``), the layers
    FastAPI and Starlette put around every request (its OpenTelemetry check, which reads
    the global providers per request, the body-limit wrapper, the server-error wrapper)
    cost the inference routes time and gave them nothing: their errors are answered by
    the fast path with the app's own handlers. FastAPI's native OpenTelemetry (active only
    where an OpenTelemetry provider is configured) therefore does not trace the inference
    routes; aezoo's Prometheus metrics (``/metrics``) count and time every one of them.
    """

    entry: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.entry is not None and scope["type"] == "http":
            await self.entry(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AezooError)
    async def _aezoo_error(request: Request, exc: AezooError) -> JSONResponse:
        status, kind = s.error_status(exc)
        retry = getattr(exc, "retry_after_s", None)
        headers = {"retry-after": str(retry)} if status == 429 and retry else None
        message = str(exc)
        if status >= 500:  # the server's fault: the log keeps the paths, the client never sees them
            log.error("%s %s answered %d: %s", request.method, request.url.path, status, message)
            message = without_paths(message)
        return error_response(status, kind, message, getattr(exc, "details", None), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:3])
        return error_response(422, "validation_error", message, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = f"{exc.detail}: {request.method} {request.url.path} (the API is listed at /docs)"
        if request.url.path.startswith("/v2"):  # the protocol's error shape
            body = {"error": message}
            return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
        return error_response(exc.status_code, kind, message, headers=exc.headers)


def _add_info_routes(app: FastAPI, engine: Engine) -> None:
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
        """Ready: every served model passed its warm-up forward pass (``models`` lists them,
        ``versions`` says which version each serves)."""
        if engine.pool is not None:
            served = [m for m in engine.pool.all() if m.ready]
            return {
                "status": "ready",
                "models": [m.name for m in served],
                "versions": {m.name: m.version for m in served},
            }
        body = {"status": engine.status, "models": [], "error": engine.error}
        return JSONResponse(body, status_code=503)

    @app.get("/v1/models", response_model=s.ModelList, tags=["models"])
    async def list_models() -> dict[str, Any]:
        """Every served model with its input spec and operations."""
        keep = set(s.ModelInfo.model_fields)
        cards = [engine.card(m) for m in engine.pool.all()] if engine.pool else []
        return {"models": [{k: v for k, v in c.items() if k in keep} for c in cards]}

    @app.get(
        "/v1/models/{name}",
        response_model=s.ModelCard,
        tags=["models"],
        responses={404: {"model": s.ErrorResponse}, 503: {"model": s.ErrorResponse}},
    )
    async def model_card(name: str) -> dict[str, Any]:
        """One model's card: spec, operations, training metrics and README."""
        return engine.card(engine.served(name))

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(engine.metrics.registry), media_type=CONTENT_TYPE_LATEST)


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
