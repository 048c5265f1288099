"""Serving settings and the command-line flags that set them (no FastAPI import here,
so the ``aezoo`` CLI can build its parser without the ``[serve]`` extra)."""

from __future__ import annotations

import argparse

from pydantic import BaseModel, ConfigDict, Field


class ServeSettings(BaseModel):
    """Settings of one server; validated where they are set (unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    host: str = "127.0.0.1"  # "0.0.0.0" to listen on every interface (containers)
    port: int = Field(8000, ge=0, le=65535)  # 0 picks a free port
    max_batch_size: int = Field(1024, ge=1)  # samples per request; more -> 413
    max_body_bytes: int = Field(64 * 2**20, ge=1)  # request body bytes; more -> 413
    models: list[str] = Field(default_factory=list)  # refs or paths; empty = whole registry
    threads: int = Field(0, ge=0)  # onnxruntime intra-op threads per session; 0 = its default
    ui: bool = True  # the gallery and playground at /; False = the API only (--no-ui)


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``aezoo serve`` / ``python -m aezoo.serving.server``."""
    d = ServeSettings()
    p.add_argument(
        "refs",
        nargs="*",
        metavar="MODEL",
        help="registry reference name[@version|@alias] or artifact directory; "
        "none = every registered and bundled model",
    )
    p.add_argument(
        "--host",
        default=d.host,
        help="interface to bind (default %(default)s; 0.0.0.0 in containers)",
    )
    p.add_argument(
        "--port", type=int, default=d.port, help="TCP port (default %(default)s; 0 = any free port)"
    )
    p.add_argument(
        "--max-batch-size",
        type=int,
        default=d.max_batch_size,
        help="most samples one request may send; more -> HTTP 413 (default %(default)s)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=d.max_body_bytes,
        help="largest request body in bytes; more -> HTTP 413 (default %(default)s)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=d.threads,
        help="onnxruntime intra-op threads per session (default 0 = onnxruntime decides)",
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
    return ServeSettings(
        host=args.host,
        port=args.port,
        max_batch_size=args.max_batch_size,
        max_body_bytes=args.max_body_bytes,
        models=args.refs,
        threads=args.threads,
        ui=args.ui,
    )
