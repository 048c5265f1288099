"""A real TorchServe on loopback serves the archive of ``aezoo export-torchserve``.

Needs Java 17 and TorchServe in this Python environment (``pip install
'aezoo[torchserve]'``; Debian: ``apt-get install -y openjdk-17-jre-headless``).
TorchServe starts with the flags of README.md's ``torchserve`` line (read from it, so
the README's command is the one tested: without ``--disable-token-auth`` every call gets
400) and no model; the archive is registered through its management API, and answers to concurrent requests of real MNIST test images, batched by
TorchServe, must equal ``aezoo.load(...)``'s.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

import aezoo
from aezoo.data.mnist import load_mnist
from tests.cli.test_readme_commands import readme_commands
from tests.serving.conftest import npy_bytes
from tests.tolerance import sda_atol, sum_atol

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TORCHSERVE = Path(sys.executable).with_name("torchserve")
NPY = "application/x-npy"


def readme_flags() -> list[str]:
    """The flags of README.md's ``torchserve`` line, less its model store and models."""
    line = next(c for c in readme_commands() if c.startswith("torchserve "))
    argv, flags = shlex.split(line)[1:], []
    while argv:
        arg = argv.pop(0)
        if arg in ("--model-store", "--models"):
            argv.pop(0)
        else:
            flags.append(arg)
    return flags


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def torchserve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``(inference URL, management URL)`` of a TorchServe holding no model yet."""
    if shutil.which("java") is None:
        pytest.skip("TorchServe needs Java 17 on PATH (apt-get install -y openjdk-17-jre-headless)")
    if not TORCHSERVE.exists():
        pytest.skip(f"no torchserve beside {sys.executable} (pip install 'aezoo[torchserve]')")
    from aezoo.integrations.torchserve.archive import ArchiveSettings, build_archive

    root = tmp_path_factory.mktemp("torchserve")
    store = root / "model-store"
    # A long batch delay so that concurrent requests really are batched together.
    build_archive(
        "sda-mnist", store, ArchiveSettings(batch_size=8, max_batch_delay_ms=50, workers=1)
    )
    infer, manage, metrics, worker = _free_ports(4)
    config = root / "config.properties"
    config.write_text(
        f"inference_address=http://127.0.0.1:{infer}\n"
        f"management_address=http://127.0.0.1:{manage}\n"
        f"metrics_address=http://127.0.0.1:{metrics}\n"
        "enable_model_api=true\n"
        "install_py_dep_per_model=false\n"
        # Workers talk over /tmp/.ts.sock.<port> (Java ignores TMPDIR): a port of our own
        # keeps this server apart from any other TorchServe on the machine.
        f"initial_worker_port={worker}\n"
    )
    (root / "tmp").mkdir()  # TorchServe's pid file lives in TMPDIR: one server per TMPDIR
    log = (root / "torchserve.out").open("wb")
    proc = subprocess.Popen(
        [
            *(str(TORCHSERVE), *readme_flags(), "--foreground"),
            *("--model-store", str(store), "--ts-config", str(config)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        env={
            **os.environ,
            "TMPDIR": str(root / "tmp"),
            "LOG_LOCATION": str(root / "logs"),
            "METRICS_LOCATION": str(root / "logs"),
        },
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                ping = httpx.get(f"http://127.0.0.1:{infer}/ping", timeout=2)
                if ping.status_code == 200:
                    break
                if ping.status_code == 400:  # token authorization on (0.12's default): 400
                    pytest.fail(f"/ping answers 400 with README's flags {readme_flags()}")
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"TorchServe did not start:\n{(root / 'torchserve.out').read_text()[-3000:]}"
                )
            time.sleep(1)
        yield f"http://127.0.0.1:{infer}", f"http://127.0.0.1:{manage}"
    finally:  # the launcher, its Java frontend and the Python workers share one group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_registered_archive_serves_what_aezoo_load_computes(
    torchserve: tuple[str, str], mnist_dir: Path
) -> None:
    infer, manage = torchserve
    r = httpx.post(
        f"{manage}/models",
        params={"url": "sda-mnist.mar", "initial_workers": 1, "synchronous": "true"},
        timeout=180,
    )
    assert r.status_code == 200, r.text
    x, _ = load_mnist("test", mnist_dir)
    x = x[:96]
    model = aezoo.load("sda-mnist")
    version = json.loads(httpx.get(f"{manage}/models/sda-mnist", timeout=10).text)[0][
        "modelVersion"
    ]
    url = f"{infer}/predictions/sda-mnist"

    def call(i: int) -> tuple[int, str, np.ndarray, np.ndarray]:
        rows = x[i * 8 : (i + 1) * 8]
        op = ("encode", "denoise", "classify")[i % 3]
        if i % 2:
            r = httpx.post(
                f"{url}/{version}/{op}",
                json={"inputs": rows.reshape(-1, 28, 28).tolist()},
                timeout=60,
            )
            body = r.json()
            got = np.asarray(body.get("probabilities", body.get("codes", body.get("outputs"))))
        else:
            headers = {"Content-Type": NPY, "Accept": NPY}
            r = httpx.post(
                f"{url}/{version}/{op}", content=npy_bytes(rows), headers=headers, timeout=60
            )
            got = np.load(io.BytesIO(r.content))
        return r.status_code, op, rows, got

    with ThreadPoolExecutor(12) as pool:  # 12 concurrent requests: TorchServe batches them
        results = list(pool.map(call, range(12)))
    path = {"encode": "encode", "denoise": "denoise", "classify": "predict_proba"}
    for status, op, rows, got in results:
        assert status == 200, (op, got)
        want = {"encode": model.encode, "denoise": model.denoise, "classify": model.predict_proba}[
            op
        ](rows)
        # TorchServe's batches are not ours: the same sums, blocked otherwise
        np.testing.assert_allclose(got, want, rtol=0, atol=sda_atol("sda-mnist", path[op]))

    # score: the bundled model's calibration travels in the .mar (threshold, flags, p-values)
    scored = httpx.post(f"{url}/{version}/score", json={"inputs": x[:16].tolist()}, timeout=60)
    assert scored.status_code == 200, scored.text
    body, want = scored.json(), model.score(x[:16])
    # the same scorer graph; TorchServe may merge this request with none other (sent alone):
    # only the order of the final sum over 784 non-negative terms may differ
    np.testing.assert_allclose(
        body["scores"], want["scores"], rtol=sum_atol(np.float32, 784), atol=0
    )
    assert body["threshold"] == want["threshold"] is not None
    assert body["is_outlier"] == want["is_outlier"].tolist()
    np.testing.assert_allclose(body["p_values"], want["p_values"], rtol=0, atol=1e-12)

    default = httpx.post(url, json={"inputs": x[:2].tolist()}, timeout=60)  # no operation: encode
    np.testing.assert_allclose(
        default.json()["codes"], model.encode(x[:2]), atol=sda_atol("sda-mnist", "encode")
    )
    bad = httpx.post(
        url,
        content=npy_bytes(np.full((1, 784), np.nan, np.float32)),
        headers={"Content-Type": NPY},
        timeout=60,
    )
    assert bad.status_code == 422
    assert (
        bad.json()["error"]["type"] == "invalid_input" and "NaN" in bad.json()["error"]["message"]
    )
