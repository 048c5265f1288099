"""One answer whatever the road: 1,000 MNIST test images through every way aezoo runs a model.

``aezoo.load`` (the reference), the HTTP server, ``aezoo extract``, Ray Data's
``map_batches`` with :class:`Extractor`, ``aezoo extract --engine ray`` and
``aezoo serve --engine ray`` must give the same codes: equal within 1e-6, the bound
for a batch split that changes onnxruntime's summation order (measured: bit for bit).
Slow: real server processes and a real Ray cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest

import aezoo
from aezoo.extract.ray_data import Extractor
from tests.conftest import run_cli
from tests.serving.conftest import running_server

TOLERANCE = 1e-6


def _over_http(url: str, X: np.ndarray) -> np.ndarray:
    r = httpx.post(f"{url}/v1/models/sda-mnist/encode", json={"inputs": X.tolist()}, timeout=120)
    assert r.status_code == 200, r.text[:300]
    return np.asarray(r.json()["codes"], dtype=np.float32)


@pytest.mark.slow
def test_every_road_gives_the_same_codes(
    ray_cluster: str, mnist_1000: np.ndarray, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq
    import ray

    X = mnist_1000
    env = {**os.environ, "AEZOO_HOME": str(tmp_path / "home")}  # sda-mnist = the bundled one
    np.save(tmp_path / "x.npy", X)
    reference = aezoo.load("sda-mnist").encode(X)

    def http() -> np.ndarray:
        args = ["sda-mnist", "--log-level", "warning"]
        with running_server(args, env, tmp_path / "uvicorn.txt") as server:
            return _over_http(server.url, X)

    def extract() -> np.ndarray:
        out = run_cli("extract", "sda-mnist", str(tmp_path / "x.npy"), str(tmp_path / "z.npy"),
                      "--batch-size", "300", "--quiet", env=env)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return np.load(tmp_path / "z.npy")

    def ray_data() -> np.ndarray:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ds = ray.data.from_numpy(X).map_batches(
            Extractor,
            fn_constructor_kwargs={"model": "sda-mnist"},
            compute=ray.data.ActorPoolStrategy(size=2),
            batch_size=256,
        )
        return np.stack([row["codes"] for row in ds.take_all()])

    def extract_ray() -> np.ndarray:
        dest = tmp_path / "codes"
        out = run_cli("extract", "sda-mnist", str(tmp_path / "x.npy"), str(dest), "--engine", "ray",
                      "--address", ray_cluster, "--actors", "2", "--batch-size", "128", "--quiet",
                      env=env)  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        table = pq.read_table(dest)
        assert table.column("id").to_pylist() == list(range(len(X)))
        return np.stack(table.column("codes").to_numpy(zero_copy_only=False))

    def ray_serve() -> np.ndarray:
        args = ["sda-mnist", "--address", ray_cluster, "--replicas", "2", "--log-level", "warning"]
        command = ("-m", "aezoo", "serve", "--engine", "ray")
        with running_server(args, env, tmp_path / "serve.txt", command=command, wait=240) as s:
            return _over_http(s.url, X)

    roads: dict[str, Callable[[], np.ndarray]] = {
        "HTTP server": http,
        "aezoo extract": extract,
        "Ray Data Extractor": ray_data,
        "aezoo extract --engine ray": extract_ray,
        "Ray Serve": ray_serve,
    }
    worst = {}
    for name, road in roads.items():
        codes = road()
        assert codes.shape == reference.shape == (1000, 200), name
        worst[name] = float(np.abs(codes - reference).max())
    print("max |codes - aezoo.load(...).encode(X)| per road:", worst)
    assert all(v <= TOLERANCE for v in worst.values()), worst
