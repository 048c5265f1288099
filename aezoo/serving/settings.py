"""Serving settings and the command-line flags that set them (no FastAPI import here,
so the ``aezoo`` CLI can build its parser without the ``[serve]`` extra)."""

from __future__ import annotations

import argparse
import os

from pydantic import BaseModel, ConfigDict, Field, SecretStr

API_KEY_ENV = "AEZOO_API_KEY"
DEFAULT_MAX_QUEUE_TIME_MS = 100.0
"""The server's default queue-time deadline, chosen from the overload measurement in
``benchmarks/RESULTS.md`` (256 concurrent single-sample clients, default flags)."""


class ServeSettings(BaseModel):
    """Settings of one server; validated where they are set (unknown keys rejected).

    Memory is bounded by these settings whatever clients send: at most
    ``max_inflight_body_bytes`` of request bodies are held at once (more -> 429), a JSON
    body may not be longer than ``max_batch_size`` samples of the model can take (about
    ``JSON_BYTES_PER_NUMBER`` bytes per number) nor hold more numbers, and each model queues
    at most ``max_queue`` samples.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    host: str = "127.0.0.1"  # "0.0.0.0" to listen on every interface (containers)
    port: int = Field(8000, ge=0, le=65535)  # 0 picks a free port
    grpc_port: int | None = Field(None, ge=0, le=65535)  # OIP over gRPC; None = off
    models: list[str] = Field(default_factory=list)  # refs or paths; empty = whole registry
    # -- batching (per model) --
    max_batch_size: int = Field(1024, ge=1, le=65536)  # samples per request and per run
    max_queue_delay_ms: float = Field(2.0, ge=0, le=60_000)  # wait for more requests (ms)
    max_queue: int = Field(8192, ge=1)  # samples queued per model; more -> 429
    # longest wait before running (event loop, then the model's queue), ms; -> 429; 0 = none
    max_queue_time_ms: float = Field(DEFAULT_MAX_QUEUE_TIME_MS, ge=0, le=3_600_000)
    # -- memory and connections --
    max_body_bytes: int = Field(64 * 2**20, ge=1)  # hard cap on one request body; more -> 413
    max_inflight_body_bytes: int = Field(256 * 2**20, ge=1)  # all bodies held; more -> 429
    max_connections: int = Field(1024, ge=1)  # open connections; more -> 429 and close
    max_image_pixels: int = Field(16 * 2**20, ge=1)  # width x height of one image body; more -> 422
    header_timeout_s: float = Field(10.0, gt=0)  # request line + headers must arrive within
    body_timeout_s: float = Field(60.0, gt=0)  # the whole body must arrive within
    keep_alive_s: float = Field(5.0, gt=0)  # idle keep-alive connections are closed after
    # -- runtime --
    threads: int = Field(0, ge=0)  # onnxruntime intra-op threads per session; 0 = physical cores
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$")  # onnxruntime execution provider
    poll_interval_s: float = Field(2.0, ge=0)  # registry poll for alias moves; 0 = never
    watch: bool = False  # also load names registered after start (needs poll_interval_s > 0)
    # -- safety --
    api_key: SecretStr | None = None  # Bearer token required on every route but /health/*
    cors_origins: list[str] = Field(default_factory=list)  # CORS off unless origins are named
    # -- gallery --
    ui: bool = True  # the gallery and playground at /; False = the API only (--no-ui)


# (group, flag, settings field, help); the type and default come from the field
FLAGS: list[tuple[str, str, str, str]] = [
    ("", "--host", "host", "interface to bind (default %(default)s; 0.0.0.0 in containers)"),
    ("", "--port", "port", "TCP port (default %(default)s; 0 = any free port)"),
    ("batching (per model)", "--max-batch-size", "max_batch_size",
     "most samples in one request and in one merged run; more -> HTTP 413 (default %(default)s)"),
    ("batching (per model)", "--max-queue-delay-ms", "max_queue_delay_ms",
     "longest wait for more requests to merge, while others are in flight (default %(default)s)"),
    ("batching (per model)", "--max-queue", "max_queue",
     "most samples queued per model; more -> HTTP 429 with Retry-After (default %(default)s)"),
    ("batching (per model)", "--max-queue-time-ms", "max_queue_time_ms",
     "longest a request may wait before it runs, in ms: on the event loop before its route "
     "runs, then in the model's queue (receiving and parsing its body do not count); a "
     "request that waited that long is not run and gets HTTP 429 with Retry-After; "
     "0 = no limit (default %(default)s)"),
    ("limits", "--max-body-bytes", "max_body_bytes",
     "largest request body in bytes; more -> HTTP 413 (default %(default)s; a JSON body is "
     "also capped by what --max-batch-size samples can take)"),
    ("limits", "--max-inflight-body-bytes", "max_inflight_body_bytes",
     "request body bytes held at once by the whole server; more -> HTTP 429 (default %(default)s)"),
    ("limits", "--max-connections", "max_connections",
     "open connections; a connection beyond it gets HTTP 429 and is closed (default %(default)s)"),
    ("limits", "--max-image-pixels", "max_image_pixels",
     "largest width x height of an image body (image models); more -> HTTP 422, read from "
     "the image's header before decoding (default %(default)s)"),
    ("limits", "--header-timeout", "header_timeout_s",
     "seconds for a request's line and headers to arrive; slower clients are dropped (default %(default)s)"),
    ("limits", "--body-timeout", "body_timeout_s",
     "seconds for a request's whole body to arrive; slower clients are dropped (default %(default)s)"),
    ("limits", "--keep-alive", "keep_alive_s",
     "seconds an idle keep-alive connection stays open (default %(default)s)"),
    ("runtime", "--threads", "threads",
     "onnxruntime intra-op threads per session (default 0 = one per physical core)"),
    ("runtime", "--device", "device",
     "onnxruntime execution provider: cuda needs aezoo[gpu] (onnxruntime-gpu) and a GPU; "
     "auto = cuda where available (default %(default)s)"),
    ("runtime", "--poll-interval", "poll_interval_s",
     "seconds between registry checks for alias moves (NAME@alias) and, with --watch, new "
     "names; 0 = never (default %(default)s)"),
]  # fmt: skip
FLAG_OF = {field: flag for _, flag, field, _ in FLAGS}
FLAG_OF |= {
    "models": "MODEL",
    "cors_origins": "--cors-origin",
    "api_key": "--api-key",
    "watch": "--watch",
    "grpc_port": "--grpc-port",
}


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``aezoo serve`` / ``python -m aezoo.serving.server``."""
    d = ServeSettings()
    p.add_argument(
        "refs",
        nargs="*",
        metavar="MODEL",
        help="registry reference name[@version|@alias] or artifact directory; "
        "none = every registered and bundled model. name and name@alias follow the alias: "
        "a new version is loaded, warmed up and swapped in without failing a request",
    )
    groups: dict[str, argparse._ActionsContainer] = {"": p}
    for group, flag, field, text in FLAGS:
        g = groups.setdefault(group, p.add_argument_group(group))
        default = getattr(d, field)
        extra = {"choices": ["auto", "cpu", "cuda"]} if field == "device" else {}
        g.add_argument(flag, dest=field, type=type(default), default=default, help=text, **extra)
    groups["runtime"].add_argument(
        "--watch",
        action="store_true",
        help="also serve model names registered after start: each is loaded, verified and "
        "warmed up within --poll-interval seconds, at the version it then resolves to "
        "(pinned, like a bare name); without it a new name stays 404 until restart",
    )
    p.add_argument(
        "--grpc-port",
        dest="grpc_port",
        type=int,
        default=None,
        help="also serve the Open Inference Protocol over gRPC on this port (same host, "
        "models, limits and key; 0 = any free port; needs the [grpc] extra); off by default",
    )
    g = groups.setdefault("safety", p.add_argument_group("safety"))
    g.add_argument(
        "--api-key",
        default=None,
        help="require 'Authorization: Bearer KEY' on every route but /health/* and /v2/health/* "
        f"(default: ${API_KEY_ENV} if set, else no key)",
    )
    g.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow browser calls from ORIGIN (repeatable; '*' = any); CORS is off without it",
    )
    p.add_argument(
        "--no-ui",
        dest="ui",
        action="store_false",
        help="no gallery and playground at / (the HTTP API only)",
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def settings_from_args(args: argparse.Namespace) -> ServeSettings:
    """Validated settings from parsed flags (raises pydantic.ValidationError)."""
    key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV) or None
    values = {field: getattr(args, field) for _, _, field, _ in FLAGS}
    return ServeSettings(
        **values,
        models=args.refs,
        api_key=key,
        cors_origins=args.cors_origin,
        ui=args.ui,
        watch=getattr(args, "watch", False),
        grpc_port=getattr(args, "grpc_port", None),
    )


def describe_validation_error(e: Exception) -> str:
    """One line for a pydantic ValidationError of :class:`ServeSettings`, in flag terms,
    e.g. ``--port must be less than or equal to 65535, got 99999``."""
    errors = e.errors() if hasattr(e, "errors") else []
    if not errors:
        return str(e).splitlines()[0]
    parts = []
    for err in errors:
        field = str(err["loc"][0]) if err["loc"] else "settings"
        flag = FLAG_OF.get(field, "--" + field.replace("_", "-"))
        msg = err["msg"].replace("Input should be", "must be").replace("String should", "must")
        parts.append(f"{flag} {msg}, got {err.get('input')!r}")
    return "; ".join(parts)
