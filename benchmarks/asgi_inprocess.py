"""Server-side CPU of one request, in process: aezoo's ASGI app against the bare-ASGI floor.

``benchmarks/serving_peers.py`` measures req/s over loopback with ``hey``, where the load
generator, the kernel's socket path and the server share the machine's cores, so a cut of
20 us in aezoo's code moves its number by less than the run-to-run noise. This script
drives the ASGI apps directly (no socket, no HTTP parser, no load generator): it builds the
same ``scope``/``receive``/``send`` uvicorn would, calls the app ``--requests`` times one
after the other on a uvloop event loop, and reports the thread CPU time per request
(``time.thread_time``; microseconds) for:

* ``floor``: ``benchmarks/peers/asgi_floor.py``'s Starlette app (read the body, answer a
  fixed ``.npy``);
* ``aezoo v1`` and ``aezoo OIP``: ``aezoo.serving.http.app.create_app`` serving the bundled
  ``sda-mnist``, one-sample ``.npy`` encode and OIP v2 binary-tensor encode, each request
  marked as the server's only one in flight (as uvicorn's protocol would at 1 client, so
  the model runs inline on the loop);
* ``model``: ``OnnxModel.encode`` on the same sample (the part that is the model).

The ratio ``floor / aezoo`` bounds what aezoo can reach against the floor at 1 client
over HTTP, where both also pay the same socket and parser costs. ``--profile FILE`` writes a
cProfile of the aezoo v1 requests and prints its top functions.

    python benchmarks/asgi_inprocess.py                  # 3 rounds of 3,000 requests
    python benchmarks/asgi_inprocess.py --profile v1.prof
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

N_FEATURES = 784


def npy_body(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, x, allow_pickle=False)
    return buf.getvalue()


class Request:
    """One ASGI HTTP request, replayable: ``scope``, ``receive``, ``send``."""

    def __init__(self, path: str, body: bytes, headers: dict[str, str], state: dict[str, Any]):
        self.body = body
        self.raw_headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        self.raw_headers.append((b"content-length", str(len(body)).encode()))
        self.path, self.state = path, state
        self.status = 0

    def scope(self) -> dict[str, Any]:
        return {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": "POST", "scheme": "http", "path": self.path,
            "raw_path": self.path.encode(), "query_string": b"", "root_path": "",
            "headers": list(self.raw_headers), "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000), "state": dict(self.state),
        }  # fmt: skip

    async def __call__(self, app: Any) -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]

        await app(self.scope(), receive, send)


async def cpu_per_request(
    app: Any, request: Request, n: int, prof: cProfile.Profile | None
) -> float:
    """Thread CPU microseconds per request over ``n`` requests (after 200 warm-up ones)."""
    for _ in range(200):
        await request(app)
    if request.status != 200:
        raise SystemExit(f"{request.path}: answered {request.status}, not 200")
    if prof is not None:
        prof.enable()
    t0 = time.thread_time()
    for _ in range(n):
        await request(app)
    cpu = time.thread_time() - t0
    if prof is not None:
        prof.disable()
    return cpu / n * 1e6


async def run(args: argparse.Namespace) -> dict[str, list[float]]:
    import aezoo
    from aezoo.serving.http.app import create_app
    from aezoo.serving.http.protocol import IN_FLIGHT
    from aezoo.serving.settings import ServeSettings

    from asgi_floor import ROUTE, build_app
    from peer_servers import oip_binary_body

    model = aezoo.load(args.model)
    x = np.random.default_rng(0).random((1, N_FEATURES), dtype=np.float32)
    app = create_app({args.model: model}, ServeSettings(threads=args.threads))
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    one: set[Any] = {object()}  # uvicorn's in-flight task set with this request alone
    state = {IN_FLIGHT: one}
    npy_headers = {"content-type": "application/x-npy", "accept": "application/x-npy"}
    body, head = oip_binary_body(x)
    oip_headers = {"content-type": "application/octet-stream",
                   "inference-header-content-length": str(head)}  # fmt: skip
    arms = {
        "floor": (build_app(), Request(ROUTE, npy_body(x), npy_headers, {})),
        "aezoo v1": (app, Request(f"/v1/models/{args.model}/encode", npy_body(x), npy_headers, state)),
        "aezoo OIP": (app, Request(f"/v2/models/{args.model}/infer", body, oip_headers, state)),
    }  # fmt: skip
    prof = cProfile.Profile() if args.profile else None
    results: dict[str, list[float]] = {k: [] for k in [*arms, "model"]}
    for _ in range(args.rounds):
        for name, (target, request) in arms.items():
            p = prof if name == "aezoo v1" else None
            results[name].append(await cpu_per_request(target, request, args.requests, p))
        t0 = time.thread_time()
        for _ in range(args.requests):
            model.encode(x)
        results["model"].append((time.thread_time() - t0) / args.requests * 1e6)
    await lifespan.__aexit__(None, None, None)
    if prof is not None:
        prof.dump_stats(args.profile)
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="sda-mnist", help="a registry ref (default: sda-mnist)")
    ap.add_argument("--requests", type=int, default=3000, help="requests per arm and round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (median reported)")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    ap.add_argument("--profile", type=Path, help="cProfile the aezoo v1 requests into this file")
    args = ap.parse_args(argv)
    import uvloop

    results = uvloop.run(run(args))
    floor = statistics.median(results["floor"])
    print(f"\n{args.requests} requests x {args.rounds} rounds, one after the other, in process; "
          f"load average {Path('/proc/loadavg').read_text().split()[:3]}")  # fmt: skip
    print("\n| arm | CPU us per request (median; min-max) | floor / arm |")
    print("|---|---|---|")
    for name, values in results.items():
        med = statistics.median(values)
        ratio = f"{floor / med:.2f}x" if name != "model" else "-"
        print(f"| {name} | {med:.1f} ({min(values):.1f}-{max(values):.1f}) | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
