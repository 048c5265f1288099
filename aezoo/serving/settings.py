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
    )


class RaySettings(BaseModel):
    """How ``aezoo serve --engine ray`` deploys the app on Ray Serve (validated here)."""

    model_config = ConfigDict(extra="forbid")

    address: str | None = None  # cluster to join ("auto", "HOST:PORT"); None = a local one
    replicas: int = Field(1, ge=1)  # fixed replica count (ignored with autoscaling)
    min_replicas: int | None = Field(None, ge=0)  # autoscaling when both bounds are set
    max_replicas: int | None = Field(None, ge=1)
    target_ongoing_requests: float = Field(32, gt=0)  # per replica, for the autoscaler
    max_ongoing_requests: int = Field(1024, ge=1)  # per replica; the app's own limits act first
    cpus_per_replica: float = Field(1, gt=0)  # Ray CPUs reserved per replica


def _autoscale(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition(":")
    if not (sep and lo.isdigit() and hi.isdigit() and int(hi) >= max(1, int(lo))):
        raise argparse.ArgumentTypeError(
            f"expected MIN:MAX with 0 <= MIN <= MAX, MAX >= 1; got {text!r}"
        )
    return int(lo), int(hi)


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """``--engine`` and the Ray Serve flags of ``aezoo serve`` (no Ray import)."""
    d = RaySettings()
    p.add_argument(
        "--engine",
        choices=["uvicorn", "ray"],
        default="uvicorn",
        help="uvicorn: one process (default); ray: Ray Serve replicas (needs the [ray] extra)",
    )
    g = p.add_argument_group("--engine ray")
    g.add_argument("--address", help="Ray cluster to join (auto, HOST:PORT); default a local one")
    g.add_argument(
        "--replicas", type=int, default=d.replicas, help="replicas (default %(default)s)"
    )
    g.add_argument(
        "--autoscale",
        type=_autoscale,
        metavar="MIN:MAX",
        help="let Ray Serve scale replicas between MIN and MAX instead of --replicas",
    )
    g.add_argument(
        "--target-ongoing-requests",
        type=float,
        default=d.target_ongoing_requests,
        help="autoscaling target of requests in flight per replica (default %(default)s)",
    )
    g.add_argument(
        "--cpus-per-replica",
        type=float,
        default=d.cpus_per_replica,
        help="Ray CPUs per replica, also its onnxruntime threads (default %(default)s)",
    )


def ray_settings_from_args(args: argparse.Namespace) -> RaySettings:
    """Validated Ray settings from parsed flags (raises pydantic.ValidationError)."""
    lo, hi = args.autoscale or (None, None)
    return RaySettings(
        address=args.address,
        replicas=args.replicas,
        min_replicas=lo,
        max_replicas=hi,
        target_ongoing_requests=args.target_ongoing_requests,
        cpus_per_replica=args.cpus_per_replica,
    )
