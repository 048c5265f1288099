"""Run the HTTP service with uvicorn.

Usage::

    python -m aezoo.serving.server [REF ...] [--host 127.0.0.1] [--port 8000] [flags]

``REF`` is a registry reference (``name``, ``name@3``, ``name@production``) or an artifact
directory; with none, every model in the local registry (``$AEZOO_HOME``) is served.
Start-up is ordered so that every known failure is one line on stderr and exit status 1,
before anything is listening: settings are validated, the socket is bound (a busy port or
a port out of range says so), then models are loaded, verified and warmed up. Once
listening, one line on stdout says where and gives a ready-to-paste ``curl`` call.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import shlex
import socket
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from aezoo.errors import AezooError, ConfigError, missing_extra
from aezoo.runtime.model import OnnxModel
from aezoo.serving.engine import Engine
from aezoo.serving.http.app import create_app
from aezoo.serving.settings import (
    API_KEY_ENV,
    ServeSettings,
    add_serve_arguments,
    describe_validation_error,
    settings_from_args,
)


def auth_header(api_key: str | None) -> str:
    """The curl ``-H`` argument that carries ``api_key``, shell-quoted; empty without a key.

    A key from ``$AEZOO_API_KEY`` is never printed: the example names the variable (double
    quotes, so the shell expands it). A key given with ``--api-key`` is printed as given: it
    is on the server's command line already, and the example stays ready to paste.
    """
    if api_key is None:
        return ""
    if os.environ.get(API_KEY_ENV) == api_key:
        return f'-H "Authorization: Bearer ${API_KEY_ENV}" '
    return f"-H {shlex.quote(f'Authorization: Bearer {api_key}')} "


def ready_message(base_url: str, models: dict[str, OnnxModel], api_key: str | None = None) -> str:
    """The line printed once listening, with a curl call encoding one blank sample.

    Args:
        base_url: where the server listens (``http://127.0.0.1:8000``).
        models: the served models by name; the example calls the first.
        api_key: the server's key, if any: the example then sends it (:func:`auth_header`).
    """
    name, model = next(iter(models.items()))
    spec = model.config.input
    blank = min(max(0.0, spec.value_range[0]), spec.value_range[1])
    op = "encode" if "encode" in model.operations else model.operations[0]
    row = f"[{blank!r}] * {spec.n_features}"
    body = f"python3 -c \"import json; print(json.dumps({{'inputs': [{row}]}}))\""
    curl = (
        f"curl -s {auth_header(api_key)}-H 'Content-Type: application/json' -d @- "
        f"{base_url}/v1/models/{name}/{op}"
    )
    return (
        f"aezoo: serving {', '.join(models)} at {base_url} (API docs {base_url}/docs)\n"
        f"  try: {body} | {curl}"
    )


def _url(host: str, port: int) -> str:
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 = any free one).

    Raises:
        ConfigError: the address is in use, not allowed, or not an address of this machine.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except (OSError, OverflowError) as e:
        raise ConfigError(f"cannot listen on {host}:{port}: {e}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (another server?); "
                "pick another with --port, or --port 0 for any free port"
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


def configure_logging(level: str) -> None:
    """aezoo's own log lines (swaps, failed loads, dropped clients) beside uvicorn's."""
    log = logging.getLogger("aezoo")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        log.addHandler(handler)
    log.setLevel(level.upper())


def serve(
    refs: list[str] | None = None,
    host: str | None = None,
    port: int | None = None,
    settings: ServeSettings | None = None,
    log_level: str = "info",
) -> None:
    """Bind, load models and serve them over HTTP (and gRPC with ``settings.grpc_port``)
    until interrupted (SIGINT/SIGTERM); shutdown drains in-flight calls of both.

    Args:
        refs: models to serve (see :meth:`ModelPool.load`); ``None`` uses ``settings.models``.
        host, port: override ``settings.host`` / ``settings.port`` (port 0 picks a free one).
        settings: limits, batching, threads; default :class:`ServeSettings()`.
        log_level: uvicorn's log level.

    Raises:
        pydantic.ValidationError: an override is invalid (e.g. port 70000).
        ConfigError: the port is busy, or the models could not be loaded.
        ModelNotFoundError, ArtifactError: unknown ref, broken artifact.
    """
    import uvicorn

    from aezoo.serving.http.protocol import guarded_protocol

    overrides = {"models": refs, "host": host, "port": port}
    settings = ServeSettings.model_validate(
        {
            **(settings or ServeSettings()).model_dump(),
            **{k: v for k, v in overrides.items() if v is not None},
        }
    )
    if settings.watch and settings.poll_interval_s <= 0:
        raise ConfigError("--watch needs --poll-interval above 0 (the registry is never polled)")
    configure_logging(log_level)
    sock = bind(settings.host, settings.port)
    try:
        engine = Engine(settings)
        pool = engine.new_pool()
        pool.load(settings.models)  # verified and warmed up before anything listens
        engine.set_pool(pool)
        app = create_app(settings=settings, engine=engine)
    except BaseException:
        sock.close()
        raise
    pool.watch(settings.poll_interval_s, new_names=settings.watch)
    models = {m.name: m.model for m in pool.all()}
    key = settings.api_key.get_secret_value() if settings.api_key else None
    reject = engine.metrics.rejections.labels("connections").inc

    grpc_failed: list[ConfigError] = []

    class _Server(uvicorn.Server):
        grpc: Any = None  # the GrpcEndpoint, once started

        async def startup(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
            await super().startup(sockets)
            if not self.started:
                return
            bound = sock.getsockname()[1]
            print(ready_message(_url(settings.host, bound), models, key), flush=True)
            if settings.grpc_port is not None:
                from aezoo.serving.grpc.endpoint import start

                try:
                    self.grpc = await start(engine, settings.host, settings.grpc_port, key)
                except ConfigError as e:
                    grpc_failed.append(e)
                    self.should_exit = True
                    return
                where = _url(settings.host, self.grpc.port).replace("http://", "")
                print(f"aezoo: gRPC (Open Inference Protocol) at {where}", flush=True)

        async def shutdown(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
            # gRPC health says NOT_SERVING at once and new calls are refused; in-flight gRPC
            # calls finish (up to the same grace as HTTP) while HTTP drains beside them
            if self.grpc is None:
                await super().shutdown(sockets)
                return
            await self.grpc.begin_shutdown()
            stopping = asyncio.ensure_future(self.grpc.stop(config.timeout_graceful_shutdown))
            engine.before_close.append(stopping)  # the app closes the models after the drain
            try:
                await super().shutdown(sockets)
            finally:
                await stopping

    config = uvicorn.Config(
        app,
        log_level=log_level,
        http=guarded_protocol(settings, reject),
        timeout_keep_alive=int(max(1, settings.keep_alive_s)),
        timeout_graceful_shutdown=10,
    )
    try:
        _Server(config).run(sockets=[sock])
    finally:
        pool.close()
        sock.close()
    if grpc_failed:
        raise grpc_failed[0]


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Serve from parsed flags; one line on stderr and exit status 1 on a known error."""
    try:
        settings = settings_from_args(args)
    except ValidationError as e:
        print(f"aezoo serve: error: {describe_validation_error(e)}", file=sys.stderr)
        return 2
    if settings.grpc_port is not None:
        try:
            import aezoo.serving.grpc.endpoint  # noqa: F401
        except ModuleNotFoundError as e:
            missing = missing_extra(e, "--grpc-port")
            if missing is None:
                raise
            print(f"aezoo serve: error: {missing}", file=sys.stderr)
            return 2
    try:
        serve(settings=settings, log_level=args.log_level)
    except AezooError as e:
        print(f"aezoo serve: cannot serve: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m aezoo.serving.server``; returns the exit status."""
    p = argparse.ArgumentParser(
        prog="python -m aezoo.serving.server", description="Serve aezoo models over HTTP."
    )
    add_serve_arguments(p)
    return run(p.parse_args(argv), p)


if __name__ == "__main__":
    sys.exit(main())
