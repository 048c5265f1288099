"""The ``inference.GRPCInferenceService`` handlers over the shared :class:`Engine`.

The contract is HTTP's (README, "gRPC"), in gRPC status codes:

============================================  =========================================
HTTP                                          gRPC
============================================  =========================================
400/422 bad input, 413 batch too large        ``INVALID_ARGUMENT`` (message names it)
404 unknown model or version                  ``NOT_FOUND``
429 overload (queue, queue time, body budget)  ``RESOURCE_EXHAUSTED``, ``retry-after`` in
                                              trailing metadata (seconds)
401 missing or wrong API key                  ``UNAUTHENTICATED``
503 model not ready / being swapped           ``UNAVAILABLE``
deadline passed before the model ran          ``DEADLINE_EXCEEDED`` (not run)
anything else                                 ``INTERNAL`` (no server paths)
============================================  =========================================

The API key is read from the ``authorization: Bearer KEY`` metadata on every RPC but
ServerLive and ServerReady (HTTP's ``/v2/health/*`` are exempt too). ModelInfer calls are
counted as HTTP's requests are (:mod:`aezoo.serving.metrics`): ``aezoo_requests_total``
and ``aezoo_request_duration_seconds`` with ``protocol="grpc"`` and the HTTP-equivalent
status (refusals too, a message that does not parse as 400 of model ``_unknown``),
``aezoo_request_samples`` and ``aezoo_rejections_total`` with the same reasons.

A deadline is honoured twice: a request whose deadline passed while it was parsed is not
submitted, and the model's batcher leaves out of its run a request whose deadline passed
while it waited in the queue (:class:`~aezoo.runtime.batcher.DeadlineExceededError`).
Image models take a BYTES ``inputs`` tensor of encoded images and whole-image denoisers an
``image`` tensor (:mod:`aezoo.serving.grpc.photo`), as on OIP REST.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from aezoo._version import __version__
from aezoo.errors import AezooError, ModelNotFoundError
from aezoo.runtime.batcher import DeadlineExceededError
from aezoo.runtime.pool import Served
from aezoo.serving import schemas as s
from aezoo.serving.engine import INLINE_BINARY_BYTES, INLINE_BYTES, Engine
from aezoo.serving.grpc import codec
from aezoo.serving.grpc import messages as pb
from aezoo.serving.grpc.photo import infer_photo
from aezoo.serving.oip_model import photo_metadata, tensor_metadata
from aezoo.serving.redact import without_paths

log = logging.getLogger("aezoo.serving")
EXTENSIONS: list[str] = []

_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    413: grpc.StatusCode.INVALID_ARGUMENT,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    404: grpc.StatusCode.NOT_FOUND,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def _status_of(exc: BaseException) -> tuple[int, grpc.StatusCode, str]:
    """(HTTP-equivalent status, gRPC code, message) of an exception."""
    if isinstance(exc, codec.GrpcRequestError):
        return 400, grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, AezooError):
        status = s.error_status(exc)[0]
        message = str(exc) if status < 500 else without_paths(str(exc))
        return status, _CODES.get(status, grpc.StatusCode.INTERNAL), message
    return (
        500,
        grpc.StatusCode.INTERNAL,
        f"internal error ({type(exc).__name__}); see the server log",
    )


class InferenceService:
    """The six RPCs; ``api_key`` None = no key required."""

    def __init__(self, engine: Engine, api_key: str | None) -> None:
        self.engine = engine
        self._bearer = f"Bearer {api_key}".encode() if api_key else None
        self.draining = False  # shutting down: new ModelInfer calls are UNAVAILABLE
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def _check_key(self, context: grpc.aio.ServicerContext) -> None:
        if self._bearer is None:
            return
        sent = dict(context.invocation_metadata() or ()).get("authorization", "")
        if not hmac.compare_digest(str(sent).encode(), self._bearer):
            self.engine.metrics.rejections.labels("unauthorized").inc()
            raise _Abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or wrong API key: send metadata 'authorization: Bearer <key>'",
                401,
            )

    def _served(self, name: str, version: str) -> Served:
        if not name:
            raise codec.GrpcRequestError("model name is empty")
        served = self.engine.served(name)
        if version and version != served.version:
            raise ModelNotFoundError(
                f"model {name!r} has no version {version!r} being served "
                f"(serving version {served.version})"
            )
        return served

    async def server_live(self, request: Any, context: Any) -> Any:
        return pb.ServerLiveResponse(live=True)

    async def server_ready(self, request: Any, context: Any) -> Any:
        pool = self.engine.pool
        return pb.ServerReadyResponse(ready=pool is not None and all(m.ready for m in pool.all()))

    async def model_ready(self, request: Any, context: Any) -> Any:
        self._check_key(context)
        served = self._served(request.name, request.version)
        return pb.ModelReadyResponse(ready=served.ready)

    async def server_metadata(self, request: Any, context: Any) -> Any:
        self._check_key(context)
        return pb.ServerMetadataResponse(name="aezoo", version=__version__, extensions=EXTENSIONS)

    async def model_metadata(self, request: Any, context: Any) -> Any:
        self._check_key(context)
        served = self._served(request.name, request.version)
        model = served.model
        meta = (
            photo_metadata(model) if model.config.denoiser is not None else tensor_metadata(model)
        )
        resp = pb.ModelMetadataResponse(
            name=request.name, versions=[served.version], platform="onnxruntime_onnx"
        )
        for key in ("inputs", "outputs"):
            for t in meta[key]:
                getattr(resp, key).add(name=t["name"], datatype=t["datatype"], shape=t["shape"])
        return resp

    async def model_infer(self, request: Any, context: Any) -> Any:
        engine = self.engine
        name = request.model_name
        start, status = time.perf_counter(), 500
        remaining = context.time_remaining()
        deadline = None if remaining is None else start + remaining
        pool = engine.pool
        label = name if pool is not None and name in pool.names() else "_unknown"
        self._inflight += 1
        self._idle.clear()
        try:
            if self.draining:
                raise _Abort(
                    grpc.StatusCode.UNAVAILABLE, "the server is shutting down; retry elsewhere", 503
                )
            self._check_key(context)
            served = self._served(name, request.model_version)
            if served.model.config.denoiser is not None:
                resp = await infer_photo(engine, name, served, request, deadline)
            else:
                resp = await self._infer_rows(name, served, request, label, deadline)
            status = 200
            return resp
        except _Abort as e:
            status = e.status
            raise
        except asyncio.CancelledError:  # the deadline passed (grpc cancels) or the client left
            status = 504 if deadline is not None and time.perf_counter() >= deadline else 499
            raise
        except Exception as e:
            status = _status_of(e)[0]
            engine.metrics.count_refusal(status, e)
            raise
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._idle.set()
            metrics = engine.metrics  # cached children: labels() costs microseconds a call
            metrics.child(metrics.requests, label, "infer", str(status), "grpc").inc()
            metrics.child(metrics.latency, label, "infer", "grpc").observe(
                time.perf_counter() - start
            )

    async def _infer_rows(
        self, name: str, served: Served, request: Any, label: str, deadline: float | None
    ) -> Any:
        """ModelInfer on a row model: parse, the batch operations the outputs need, answer."""
        engine, st = self.engine, self.engine.settings
        size = codec.wire_size(request)
        with served.batcher.expect(), engine.budget.hold(size):
            images = served.model.config.input.image is not None and _is_bytes(request)
            # raw tensors are viewed, not parsed number by number: as REST's binary bodies,
            # up to INLINE_BINARY_BYTES on the event loop (a worker's two hand-offs cost more)
            inline = INLINE_BINARY_BYTES if request.raw_input_contents else INLINE_BYTES
            req = await engine.offload(
                size > inline or images, codec.parse_request, request, served.model,
                st.max_batch_size, st.max_image_pixels,
            )  # fmt: skip
            if deadline is not None and time.perf_counter() >= deadline:
                engine.metrics.rejections.labels("deadline").inc()
                raise DeadlineExceededError("the deadline passed while the request was parsed; "
                                            "it was not run", time.perf_counter() - deadline)  # fmt: skip
            runs = [engine.infer(name, served, op, req.x, 0.0, "infer", deadline) for op in req.ops]
            # one operation (the common case) is awaited directly: gather makes a task of each
            answers = [await runs[0]] if len(runs) == 1 else await asyncio.gather(*runs)
            results = {op: r.output for op, (r, _) in zip(req.ops, answers, strict=True)}
            served = answers[-1][1]
            if "score" in results:
                engine.metrics.observe_scores(label, results["score"], served.model.calibration)
            resp = await engine.offload(
                _answer_is_big(req, results), codec.build_response, served.model, req, results
            )
        metrics = engine.metrics
        metrics.child(metrics.request_samples, label, "infer", "grpc").observe(req.x.shape[0])
        return resp

    async def drained(self, timeout_s: float) -> bool:
        """Wait until no ModelInfer call is in flight (at most ``timeout_s``); True if none is."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler registering every RPC under :data:`messages.SERVICE`."""
        rpcs = {
            "ServerLive": (self.server_live, pb.ServerLiveRequest),
            "ServerReady": (self.server_ready, pb.ServerReadyRequest),
            "ModelReady": (self.model_ready, pb.ModelReadyRequest),
            "ServerMetadata": (self.server_metadata, pb.ServerMetadataRequest),
            "ModelMetadata": (self.model_metadata, pb.ModelMetadataRequest),
            "ModelInfer": (self.model_infer, pb.ModelInferRequest),
        }
        return grpc.method_handlers_generic_handler(
            pb.SERVICE,
            {
                rpc: grpc.unary_unary_rpc_method_handler(
                    _guarded(fn, cls, self.engine, rpc),  # parses: a bad message is
                    response_serializer=lambda m: m.SerializeToString(),  # INVALID_ARGUMENT
                )
                for rpc, (fn, cls) in rpcs.items()
            },
        )


def _answer_is_big(req: codec.InferRequest, results: dict[str, Any]) -> bool:
    """Whether building the answer is worth a worker thread: raw outputs are copies (up to
    INLINE_BINARY_BYTES inline), typed ones a protobuf field per number."""
    if any(binary for _, binary in req.outputs):
        return sum(r.nbytes for r in results.values()) > INLINE_BINARY_BYTES
    return sum(r.size for r in results.values()) > INLINE_BYTES // 4


def _is_bytes(request: Any) -> bool:
    """The request's first input is a BYTES tensor (encoded images)."""
    return bool(request.inputs) and request.inputs[0].datatype == "BYTES"


def _guarded(
    fn: Callable[[Any, Any], Awaitable[Any]], cls: Any, engine: Engine, rpc: str
) -> Callable[[bytes, Any], Awaitable[Any]]:
    """``fn`` on the request bytes parsed as ``cls``, with every exception turned into its
    gRPC status (and rejections counted); bytes that are not a ``cls`` message are
    ``INVALID_ARGUMENT`` (grpcio's own deserializer hook would answer ``INTERNAL``)."""

    async def call(data: bytes, context: grpc.aio.ServicerContext) -> Any:
        try:
            request = cls.FromString(data)
        except DecodeError:
            if rpc == "ModelInfer":
                engine.metrics.requests.labels("_unknown", "infer", "400", "grpc").inc()
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the request is not a valid {cls.DESCRIPTOR.full_name} message",
            )
        codec.WIRE_BYTES.set(len(data))  # this call's task only
        try:
            return await fn(request, context)
        except _Abort as e:
            await context.abort(e.code, str(e))
        except Exception as e:
            status, code, message = _status_of(e)
            if status >= 500:
                log.exception("gRPC %s failed", rpc)
            if status == 429:
                retry = getattr(e, "retry_after_s", None) or 1
                context.set_trailing_metadata((("retry-after", str(retry)),))
            await context.abort(code, message)

    return call
