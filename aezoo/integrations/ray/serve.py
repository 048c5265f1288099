"""``aezoo serve --engine ray``: the same FastAPI app, as Ray Serve replicas.

Each replica is one copy of :func:`aezoo.serving.http.app.create_app` over its own
:class:`~aezoo.runtime.model.OnnxModel` s, built inside the replica by Serve's ingress
builder (``serve.ingress(build)``): the same routes (v1, OIP v2, health, metrics), the
same validation, limits and error bodies, and the same per-model batching, because the
runtime's batcher runs inside each replica exactly as under uvicorn. ``@serve.batch``
is not used: it would be a second batching path beside the runtime's, with its own
limits and none of the app's overload answers (429 + ``Retry-After``), and each route
would need rewriting around it. Ray Serve adds what one process lacks: replicas placed
across a cluster, its HTTP proxy routing to them, restarts and autoscaling
(``--autoscale MIN:MAX``, on requests in flight per replica).

Models are resolved and verified on the driver, then shipped once through Ray's object
store (:mod:`aezoo.runtime.bundle`); every replica unpacks and re-verifies them, so all
replicas serve the version the command named, whatever their machines' registries hold.

Per-replica state: ``/metrics`` answers from the replica that took the request (each
has its own counters); for the whole deployment, scrape Ray's metrics export, which
carries Serve's per-deployment request counts and latencies. ``/health/ready`` answers
200 once a replica has loaded its models; Serve only routes to replicas whose
construction (model loading included) finished. Replicas serve the versions resolved
at start and do not follow alias moves (``--poll-interval``) nor load new names
(``--watch``); redeploy to move. The connection guards of the uvicorn server
(``--max-connections``, header and body timeouts) and its arrival stamp live in its HTTP
protocol and do not apply behind Ray Serve's proxy; the app's own limits (body size,
in-flight bytes, queue, 429s) do, and ``--max-queue-time-ms`` counts the time in the
model's queue only.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from typing import Any

import ray
from pydantic import ValidationError
from ray import serve

from aezoo.errors import AezooError
from aezoo.integrations.ray.settings import RaySettings, ray_settings_from_args
from aezoo.runtime.bundle import pack_artifact, unpack_artifact
from aezoo.runtime.loading import load_models
from aezoo.runtime.model import OnnxModel, providers_for
from aezoo.serving.settings import ServeSettings, settings_from_args

APP_NAME = "aezoo"
_LOG_LEVELS = {"debug": "DEBUG", "info": "INFO", "warning": "WARNING", "error": "ERROR"}


def build_application(
    settings: ServeSettings, ray_settings: RaySettings, bundles: list[Any]
) -> Any:
    """The Serve application: one deployment whose replicas each run ``create_app``.

    Args:
        settings: the app's settings (limits, threads), as for uvicorn.
        ray_settings: replicas or autoscaling bounds, CPUs per replica.
        bundles: ``ray.put`` :class:`~aezoo.runtime.bundle.ArtifactBundle` s, one per model.

    Returns:
        A bound ``ray.serve.Application`` for ``serve.run``.
    """
    threads = settings.threads or max(1, int(ray_settings.cpus_per_replica))

    def build() -> Any:  # runs in each replica, once
        from aezoo.serving.http.app import create_app

        models: dict[str, OnnxModel] = {}
        for bundle in ray.get(bundles):
            path = unpack_artifact(bundle)
            model = OnnxModel(
                path, providers=providers_for(settings.device), intra_op_threads=threads
            )
            models[model.name] = model
        return create_app(models, settings)

    class AezooReplica:
        """A Serve replica; its HTTP routes are the app that ``build`` returns."""

    scaling: dict[str, Any] = {"num_replicas": ray_settings.replicas}
    if ray_settings.min_replicas is not None and ray_settings.max_replicas is not None:
        scaling = {
            "autoscaling_config": {
                "min_replicas": ray_settings.min_replicas,
                "initial_replicas": max(1, ray_settings.min_replicas),
                "max_replicas": ray_settings.max_replicas,
                "target_ongoing_requests": ray_settings.target_ongoing_requests,
            }
        }
    deployment = serve.deployment(
        serve.ingress(build)(AezooReplica),
        name=APP_NAME,
        max_ongoing_requests=ray_settings.max_ongoing_requests,
        ray_actor_options={"num_cpus": ray_settings.cpus_per_replica},
        **scaling,
    )
    return deployment.bind()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _serve_http(host: str, port: int) -> tuple[str, int]:
    """Where Serve's proxies listen: on a cluster where Serve already ran, its first
    HTTP options stand (``serve.start`` cannot change them), so ask its controller."""
    try:
        from ray.serve.context import _get_global_client  # no public accessor in Ray 2.x

        options = _get_global_client().http_config
        return options.host, int(options.port)
    except Exception:  # an older or newer Ray: trust what was asked for
        return host, port


def serve_with_ray(
    settings: ServeSettings, ray_settings: RaySettings, log_level: str = "info"
) -> None:
    """Deploy the app on Ray Serve and block until SIGINT or SIGTERM, then tear it down.

    Models load here first (a bad reference fails before any cluster starts). A local
    cluster started here is stopped on exit; on a joined cluster (``address``) only the
    ``aezoo`` application is deleted.

    Raises:
        ConfigError, ModelNotFoundError, ArtifactError: the models could not be loaded.
    """
    from aezoo.serving.server import _url, ready_message

    models = load_models(settings.models, settings.threads)
    key = settings.api_key.get_secret_value() if settings.api_key else None
    level = _LOG_LEVELS[log_level]
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=ray_settings.address,
            include_dashboard=False,
            logging_level=logging.getLevelName(level),
        )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    port = settings.port or _free_port(settings.host)
    try:
        bundles = [ray.put(pack_artifact(m.path)) for m in models.values()]
        logs = {"log_level": level, "enable_access_log": log_level == "debug"}
        serve.start(http_options={"host": settings.host, "port": port}, logging_config=logs)
        serve.run(
            build_application(settings, ray_settings, bundles),
            name=APP_NAME,
            route_prefix="/",
            logging_config=logs,
        )
        host, port = _serve_http(settings.host, port)
        how = (
            f"{ray_settings.min_replicas}-{ray_settings.max_replicas} replicas (autoscaling)"
            if ray_settings.min_replicas is not None
            else f"{ray_settings.replicas} replica{'s' * (ray_settings.replicas > 1)}"
        )
        print(
            f"{ready_message(_url(host, port), models, key)}\n  engine: Ray Serve, {how}",
            flush=True,
        )
        while not stop.wait(1.0):
            pass
    finally:
        if ray_settings.address is not None or not started:
            serve.delete(APP_NAME)  # a shared cluster: remove only what this command deployed
        if started:
            ray.shutdown()  # a local cluster goes with it, replicas and proxy included


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``aezoo serve --engine ray`` from parsed flags; one line and exit status 1 on a known error."""
    try:
        settings, ray_settings = settings_from_args(args), ray_settings_from_args(args)
    except ValidationError as e:
        parser.error(str(e))
    try:
        serve_with_ray(settings, ray_settings, args.log_level)
    except AezooError as e:
        print(f"aezoo: cannot serve: {e}", file=sys.stderr)
        return 1
    return 0


__all__ = ["APP_NAME", "build_application", "run", "serve_with_ray"]
