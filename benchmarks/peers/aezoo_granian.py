"""aezoo's own app served by granian instead of uvicorn (``serving_peers.py --servers
aezoo,granian``): the same routes, engine, batcher, body caps and budget, queue limits,
metrics and API key, on granian's Rust HTTP server (one worker, one runtime thread,
access log off). Benchmark only: granian is no dependency of aezoo.

What does not carry over from ``aezoo serve``: the limits aezoo adds to uvicorn's
protocol (:mod:`aezoo.serving.http.protocol`: header and body read timeouts, the
connection cap that answers 429, the arrival stamp that counts event-loop waits towards
``max_queue_time_ms``, and the in-flight set that lets a lone request run inline).
Granian's ``backpressure`` caps concurrent requests per worker by making the excess wait,
not by answering 429.

Usage (runs until killed)::

    python benchmarks/peers/aezoo_granian.py --port 8000 [--models sda-mnist]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

MODELS_ENV = "AEZOO_GRANIAN_MODELS"


def make_app() -> Any:
    """The app ``aezoo serve`` runs, models loaded and warmed up (granian's factory)."""
    from aezoo.serving.engine import Engine
    from aezoo.serving.http.app import create_app
    from aezoo.serving.settings import ServeSettings

    settings = ServeSettings(models=os.environ[MODELS_ENV].split(","))
    engine = Engine(settings)
    pool = engine.new_pool()
    pool.load(settings.models)
    engine.set_pool(pool)
    return create_app(engine=engine)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--models", default="sda-mnist", help="comma-separated registry refs")
    args = p.parse_args()
    os.environ[MODELS_ENV] = args.models
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    Server(
        "aezoo_granian:make_app",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=1,
        runtime_threads=1,
        loop=Loops.auto,
        log_access=False,
        factory=True,
        working_dir=Path(__file__).resolve().parent,
    ).serve()


if __name__ == "__main__":
    main()
