"""Serving settings and the command-line flags that set them (no FastAPI import here,
so the ``aezoo`` CLI can build its parser without the ``[serve]`` extra)."""

from __future__ import annotations

import argparse
import os

from pydantic import BaseModel, ConfigDict, Field, SecretStr

API_KEY_ENV = "AEZOO_API_KEY"


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
    models: list[str] = Field(default_factory=list)  # refs or paths; empty = whole registry
    # -- batching (per model) --
    max_batch_size: int = Field(1024, ge=1, le=65536)  # samples per request and per run
    max_queue_delay_ms: float = Field(2.0, ge=0, le=60_000)  # wait for more requests (ms)
    max_queue: int = Field(8192, ge=1)  # samples queued per model; more -> 429
    # -- memory and connections --
    max_body_bytes: int = Field(64 * 2**20, ge=1)  # hard cap on one request body; more -> 413
    max_inflight_body_bytes: int = Field(256 * 2**20, ge=1)  # all bodies held; more -> 429
    max_connections: int = Field(1024, ge=1)  # open connections; more -> 429 and close
    header_timeout_s: float = Field(10.0, gt=0)  # request line + headers must arrive within
    body_timeout_s: float = Field(60.0, gt=0)  # the whole body must arrive within
    keep_alive_s: float = Field(5.0, gt=0)  # idle keep-alive connections are closed after
    # -- runtime --
    threads: int = Field(0, ge=0)  # onnxruntime intra-op threads per session; 0 = physical cores
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$")  # onnxruntime execution provider
    poll_interval_s: float = Field(2.0, ge=0)  # registry poll for alias moves; 0 = never
    # -- safety --
    api_key: SecretStr | None = None  # Bearer token required on every route but /health/*
    cors_origins: list[str] = Field(default_factory=list)  # CORS off unless origins are named


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
    p.add_argument(
        "--host",
        default=d.host,
        help="interface to bind (default %(default)s; 0.0.0.0 in containers)",
    )
    p.add_argument(
        "--port", type=int, default=d.port, help="TCP port (default %(default)s; 0 = any free port)"
    )
    g = p.add_argument_group("batching (per model)")
    g.add_argument(
        "--max-batch-size",
        type=int,
        default=d.max_batch_size,
        help="most samples in one request and in one merged run; more -> HTTP 413 (default %(default)s)",
    )
    g.add_argument(
        "--max-queue-delay-ms",
        type=float,
        default=d.max_queue_delay_ms,
        help="longest wait for more requests to merge, while others are in flight (default %(default)s)",
    )
    g.add_argument(
        "--max-queue",
        type=int,
        default=d.max_queue,
        help="most samples queued per model; more -> HTTP 429 with Retry-After (default %(default)s)",
    )
    g = p.add_argument_group("limits")
    g.add_argument(
        "--max-body-bytes",
        type=int,
        default=d.max_body_bytes,
        help="largest request body in bytes; more -> HTTP 413 (default %(default)s; a JSON body "
        "is also capped by what --max-batch-size samples can take)",
    )
    g.add_argument(
        "--max-inflight-body-bytes",
        type=int,
        default=d.max_inflight_body_bytes,
        help="request body bytes held at once by the whole server; more -> HTTP 429 (default %(default)s)",
    )
    g.add_argument(
        "--max-connections",
        type=int,
        default=d.max_connections,
        help="open connections; a connection beyond it gets HTTP 429 and is closed (default %(default)s)",
    )
    g.add_argument(
        "--header-timeout",
        type=float,
        default=d.header_timeout_s,
        help="seconds for a request's line and headers to arrive; slower clients are dropped (default %(default)s)",
    )
    g.add_argument(
        "--body-timeout",
        type=float,
        default=d.body_timeout_s,
        help="seconds for a request's whole body to arrive; slower clients are dropped (default %(default)s)",
    )
    g.add_argument(
        "--keep-alive",
        type=float,
        default=d.keep_alive_s,
        help="seconds an idle keep-alive connection stays open (default %(default)s)",
    )
    g = p.add_argument_group("runtime")
    g.add_argument(
        "--threads",
        type=int,
        default=d.threads,
        help="onnxruntime intra-op threads per session (default 0 = one per physical core)",
    )
    g.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default=d.device,
        help="onnxruntime execution provider: cuda needs aezoo[gpu] (onnxruntime-gpu) and a GPU; "
        "auto = cuda where available (default %(default)s)",
    )
    g.add_argument(
        "--poll-interval",
        type=float,
        default=d.poll_interval_s,
        help="seconds between registry checks for alias moves; 0 = never (default %(default)s)",
    )
    g = p.add_argument_group("safety")
    g.add_argument(
        "--api-key",
        default=None,
        help=f"require 'Authorization: Bearer KEY' on every route but /health/* and /v2/health/* "
        f"(default: ${API_KEY_ENV} if set, else no key)",
    )
    g.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow browser calls from ORIGIN (repeatable; '*' = any); CORS is off without it",
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def settings_from_args(args: argparse.Namespace) -> ServeSettings:
    """Validated settings from parsed flags (raises pydantic.ValidationError)."""
    key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV) or None
    return ServeSettings(
        host=args.host,
        port=args.port,
        models=args.refs,
        max_batch_size=args.max_batch_size,
        max_queue_delay_ms=args.max_queue_delay_ms,
        max_queue=args.max_queue,
        max_body_bytes=args.max_body_bytes,
        max_inflight_body_bytes=args.max_inflight_body_bytes,
        max_connections=args.max_connections,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        keep_alive_s=args.keep_alive,
        threads=args.threads,
        device=args.device,
        poll_interval_s=args.poll_interval,
        api_key=key,
        cors_origins=args.cors_origin,
    )


FLAG_OF = {
    "max_queue_delay_ms": "--max-queue-delay-ms",
    "header_timeout_s": "--header-timeout",
    "body_timeout_s": "--body-timeout",
    "keep_alive_s": "--keep-alive",
    "poll_interval_s": "--poll-interval",
    "cors_origins": "--cors-origin",
    "models": "MODEL",
}


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
