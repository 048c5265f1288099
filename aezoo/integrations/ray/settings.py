"""Flags and settings of ``aezoo serve --engine ray`` (no Ray import here, so the ``aezoo``
CLI builds its parser without the ``[ray]`` extra). The app's own settings stay in
:mod:`aezoo.serving.settings`; these say how Ray Serve deploys it."""

from __future__ import annotations

import argparse

from pydantic import BaseModel, ConfigDict, Field


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


__all__ = ["RaySettings", "add_engine_arguments", "ray_settings_from_args"]
