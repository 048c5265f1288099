"""Run the HTTP service with uvicorn.

Usage::

    python -m aezoo.serving.server [REF ...] [--host 127.0.0.1] [--port 8000]
        [--max-batch-size 1024] [--max-body-bytes 67108864] [--threads 0]
        [--log-level info]

``REF`` is a registry reference (``name``, ``name@3``, ``name@production``) or
an artifact directory; with none, every model in the local registry
(``$AEZOO_HOME``) is served. Models are loaded before the socket opens, so a
bad ref fails at once with exit status 1; once listening, one line on stdout
says where and gives a ready-to-paste ``curl`` call.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from aezoo.errors import AezooError
from aezoo.runtime.loading import load_models
from aezoo.runtime.model import OnnxModel
from aezoo.serving.app import create_app
from aezoo.serving.settings import ServeSettings, add_serve_arguments, settings_from_args


def ready_message(base_url: str, models: dict[str, OnnxModel]) -> str:
    """The line printed once listening, with a curl call encoding one blank sample."""
    name, model = next(iter(models.items()))
    spec = model.config.input
    blank = min(max(0.0, spec.value_range[0]), spec.value_range[1])
    op = "encode" if "encode" in model.operations else model.operations[0]
    row = f"[{blank!r}] * {spec.n_features}"
    body = f"python3 -c \"import json; print(json.dumps({{'inputs': [{row}]}}))\""
    curl = f"curl -s -H 'Content-Type: application/json' -d @- {base_url}/v1/models/{name}/{op}"
    return (
        f"aezoo: serving {', '.join(models)} at {base_url} (API docs {base_url}/docs)\n"
        f"  try: {body} | {curl}"
    )


def _url(host: str, port: int) -> str:
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    refs: list[str] | None = None,
    host: str | None = None,
    port: int | None = None,
    settings: ServeSettings | None = None,
    log_level: str = "info",
) -> None:
    """Load models and serve them over HTTP until interrupted (SIGINT/SIGTERM).

    Args:
        refs: models to serve (see :func:`load_models`); ``None`` uses ``settings.models``.
        host, port: override ``settings.host`` / ``settings.port`` (port 0 picks a free one).
        settings: limits and threads; default :class:`ServeSettings()`.
        log_level: uvicorn's log level.

    Raises:
        pydantic.ValidationError: an override is invalid (e.g. port 70000).
        ConfigError, ModelNotFoundError, ArtifactError: models could not be loaded.
    """
    import uvicorn

    overrides = {"models": refs, "host": host, "port": port}
    settings = ServeSettings.model_validate(
        {
            **(settings or ServeSettings()).model_dump(),
            **{k: v for k, v in overrides.items() if v is not None},
        }
    )
    models = load_models(settings.models, settings.threads)
    app = create_app(models, settings)

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
            await super().startup(sockets)
            if self.started and self.servers and self.servers[0].sockets:
                bound = self.servers[0].sockets[0].getsockname()[1]
                print(ready_message(_url(settings.host, bound), models), flush=True)

    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level)
    _Server(config).run()


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Serve from parsed flags; one line and exit status 1 on a known error."""
    try:
        settings = settings_from_args(args)
    except ValidationError as e:
        parser.error(str(e))
    try:
        serve(settings=settings, log_level=args.log_level)
    except AezooError as e:
        print(f"aezoo: cannot serve: {e}", file=sys.stderr)
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
