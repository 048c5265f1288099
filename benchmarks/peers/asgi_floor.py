"""The bare-ASGI floor of ``benchmarks/serving_peers.py``: what one HTTP request costs on
aezoo's server stack with no model, no validation and no aezoo code at all.

A Starlette app on uvicorn with the settings ``aezoo serve`` runs under: uvloop, the
httptools HTTP parser, one worker process, access log off, keep-alive 5 s. Its one route,
``POST /v1/models/sda-mnist/encode``, reads the request body and answers a fixed ``.npy``
of ``(1, CODES)`` float32 zeros (``Content-Type: application/x-npy``): with ``--codes 200``
exactly the bytes of aezoo's one-sample sda-mnist encode answer (928). aezoo's req/s over
this server's, measured in the same run, is the share of the stack's ceiling aezoo reaches.

Usage (runs until killed)::

    python benchmarks/peers/asgi_floor.py --port 8000 [--codes 200]
"""

from __future__ import annotations

import argparse
import io

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROUTE = "/v1/models/sda-mnist/encode"


def answer_bytes(codes: int) -> bytes:
    """``numpy.save`` bytes of a ``(1, codes)`` float32 zero array."""
    buf = io.BytesIO()
    np.save(buf, np.zeros((1, codes), np.float32), allow_pickle=False)
    return buf.getvalue()


def build_app(codes: int = 200) -> Starlette:
    """The floor app: read the body, answer the fixed ``.npy``."""
    body = answer_bytes(codes)

    async def encode(request: Request) -> Response:
        await request.body()
        return Response(body, media_type="application/x-npy")

    return Starlette(routes=[Route(ROUTE, encode, methods=["POST"])])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--codes", type=int, default=200, help="columns of the fixed answer")
    args = p.parse_args()
    import uvicorn

    uvicorn.run(
        build_app(args.codes),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        workers=1,
        access_log=False,
        log_level="warning",
        timeout_keep_alive=5,
    )


if __name__ == "__main__":
    main()
