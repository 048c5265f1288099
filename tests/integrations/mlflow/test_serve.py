"""``mlflow models serve -m models:/...@production --env-manager local`` on loopback answers
``/invocations`` with the same codes as ``aezoo.load`` (slow: a server process per model)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import stop_process
from tests.integrations.mlflow.conftest import NEEDS_MLFLOW, Store
from tests.tolerance import sum_atol

pytest.importorskip("mlflow", reason=NEEDS_MLFLOW)

import aezoo
from aezoo.integrations.mlflow import publish

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("name", ["sda-mnist", "drsae-mnist"])
def test_mlflow_models_serve_answers_like_aezoo_load(
    mlflow_store: Store, tmp_path: Path, name: str
) -> None:
    publish(name, tracking_uri=mlflow_store.uri, alias="production")
    port = _free_port()
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    path = f"{mlflow_bin.parent}{os.pathsep}{os.environ.get('PATH', '')}"  # its uvicorn
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_store.uri, "PATH": path}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(mlflow_bin), "models", "serve", "-m", f"models:/{name}@production",
         "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "mlflow models serve did not start in 120 s"
            time.sleep(0.5)
        local = aezoo.load(name)
        x = np.random.default_rng(1).random((3, 784), dtype=np.float32)
        atol = sum_atol(np.float32, 784)
        for op, want in [("encode", local.encode(x)), ("denoise", local.denoise(x)),
                         ("classify", local.classify(x))]:  # fmt: skip
            r = httpx.post(
                f"{url}/invocations",
                json={"inputs": x.tolist(), "params": {"operation": op}},
                timeout=60,
            )
            assert r.status_code == 200, r.text
            got = np.asarray(r.json()["predictions"])
            assert got.shape == want.shape, op
            np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=op)
        bad = httpx.post(
            f"{url}/invocations",
            json={"inputs": x.tolist(), "params": {"operation": "nope"}},
            timeout=60,
        )
        assert bad.status_code >= 400 and "does not offer operation 'nope'" in bad.text
    finally:
        stop_process(proc)
        log.close()
    assert proc.poll() is not None
