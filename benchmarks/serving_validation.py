"""Cost of strict request validation for a full-size batch, against two baselines.

One 1024 x 784 encode body (~16 MB of JSON), best of ``--repeat`` runs, one process:
  json+numpy    json.loads + np.asarray: no validation at all (the floor)
  pydantic lax  a plain ``list[list[float]]`` pydantic model: coerces "0.5" and true
                to floats, i.e. what a naive FastAPI body would do
  aezoo strict  aezoo.serving.schemas.parse_request + to_array: strict, fail-fast,
                NaN/Inf kept for the runtime to name (what the server runs)
  HTTP encode   the whole request through the app in-process (bundled sda-mnist)
Ratios are against json+numpy.

Usage:
  python benchmarks/serving_validation.py
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient
from pydantic import BaseModel

import aezoo
from aezoo.serving import schemas
from aezoo.serving.http.app import create_app


class LaxBatch(BaseModel):
    inputs: list[list[float]]


def best_of(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rows", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    x = np.random.default_rng(0).random((args.rows, 784), dtype=np.float32)
    body = json.dumps({"inputs": x.tolist()}).encode()
    model = aezoo.load("sda-mnist")
    client = TestClient(create_app({"sda-mnist": model}))
    arms = {
        "json+numpy": lambda: np.asarray(json.loads(body)["inputs"], dtype=np.float32),
        "pydantic lax": lambda: np.asarray(
            LaxBatch.model_validate_json(body).inputs, dtype=np.float32
        ),
        "aezoo strict": lambda: schemas.to_array(
            schemas.parse_request(body, schemas.BatchRequest).inputs, "inputs"
        ),
        "HTTP encode": lambda: client.post(
            "/v1/models/sda-mnist/encode", content=body
        ).raise_for_status(),
    }
    times = {name: best_of(fn, args.repeat) for name, fn in arms.items()}
    print(f"\n{args.rows} x 784 body ({len(body) / 1e6:.1f} MB), best of {args.repeat}\n")
    print("| arm | ms | x json+numpy |\n|---|---|---|")
    for name, t in times.items():
        print(f"| {name} | {1000 * t:.0f} | {t / times['json+numpy']:.2f} |")


if __name__ == "__main__":
    main()
