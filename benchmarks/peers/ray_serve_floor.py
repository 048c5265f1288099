"""Ray Serve's own cost per HTTP request: a FastAPI deployment that reads the request
body and answers fixed codes, with no model and no validation.

``benchmarks/capacity.py`` drives it beside ``aezoo serve --engine ray`` in the same run,
so the table shows how much of a replica's request time is Ray Serve's (its HTTP proxy,
the proxy-to-replica call that carries the body, the answer's way back) and how much is
aezoo's. Same shape as aezoo's replica: one replica, 1 CPU, route
``POST /v1/models/sda-mnist/encode`` answering ``{"codes": [[0.0] * 200]}``.

Usage (runs until killed)::

    python benchmarks/peers/ray_serve_floor.py --port 8000
"""

# No ``from __future__ import annotations``: FastAPI must see ``Request`` itself, not a
# string, through Ray's class-based view.
import argparse
import signal
import threading

import ray
from fastapi import FastAPI, Request
from ray import serve

app = FastAPI()
CODES = {"codes": [[0.0] * 200]}


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 1})
@serve.ingress(app)
class Floor:
    @app.post("/v1/models/sda-mnist/encode")
    async def encode(self, request: Request) -> dict[str, list[list[float]]]:
        await request.body()  # what any real deployment must do: the body crosses to the replica
        return CODES


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    args = p.parse_args()
    ray.init(include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": args.host, "port": args.port})
    serve.run(Floor.bind(), name="floor", route_prefix="/")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    main()
