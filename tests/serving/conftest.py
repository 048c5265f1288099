"""Fixtures for the serving tests: two tiny real artifacts, in-process apps, a real server.

Building the artifacts needs torch (tests may import it; ``aezoo.serving`` must not).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from aezoo.runtime.model import OnnxModel
from aezoo.serving.http.app import ServeSettings, create_app
from tests.conftest import REPO_ROOT, stop_process

N = 784  # n_features of the sda_mnist_tiny variant
MAX_BATCH, MAX_BODY = 64, 2_000_000  # limits of the test apps and the test server
ZERO = [0.0] * N


def npy_bytes(a: np.ndarray, version: tuple[int, int] | None = None) -> bytes:
    """``a`` as a ``.npy`` body (``numpy.save``; ``version`` forces a format version)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(a), version=version)
    return buf.getvalue()


def _row(first: Any) -> list[Any]:
    return [first, *ZERO[1:]]


# (id, method, path, JSON body or raw bytes, status, error type, substrings of the message)
BAD_CASES: list[tuple[str, str, str, Any, int, str, tuple[str, ...]]] = [
    (
        "wrong-row-length",
        "POST",
        "sda-tiny/encode",
        {"inputs": [[0.0] * 783]},
        422,
        "invalid_input",
        ("783", "784"),
    ),
    (
        "wrong-image-shape",
        "POST",
        "sda-tiny/encode",
        {"inputs": [[[0.0] * 28] * 27]},
        422,
        "invalid_input",
        ("(1, 27, 28)", "28, 28"),
    ),
    (
        "nan",
        "POST",
        "sda-tiny/encode",
        b'{"inputs": [[0.0, NaN' + b", 0.0" * 782 + b"]]}",
        422,
        "invalid_input",
        ("NaN", "feature 1"),
    ),
    (
        "infinity",
        "POST",
        "sda-tiny/denoise",
        b'{"inputs": [[-Infinity' + b", 0.0" * 783 + b"]]}",
        422,
        "invalid_input",
        ("Inf",),
    ),
    (
        "string-number",
        "POST",
        "sda-tiny/encode",
        {"inputs": [_row("0.5")]},
        422,
        "validation_error",
        ("inputs[0][0]", "must be a number", '"0.5"'),
    ),
    (
        "boolean",
        "POST",
        "sda-tiny/encode",
        {"inputs": [ZERO, _row(True)]},
        422,
        "validation_error",
        ("inputs[1][0]", "boolean true"),
    ),
    (
        "null",
        "POST",
        "sda-tiny/encode",
        {"inputs": [_row(None)]},
        422,
        "validation_error",
        ("inputs[0][0]", "null"),
    ),
    (
        "nested-object",
        "POST",
        "sda-tiny/encode",
        {"inputs": [_row({"v": 0.5})]},
        422,
        "validation_error",
        ("inputs[0][0]", "object"),
    ),
    (
        "ragged-rows",
        "POST",
        "sda-tiny/encode",
        {"inputs": [ZERO, [0.0] * 783]},
        422,
        "invalid_input",
        ("ragged", "inputs[1] has 783 values"),
    ),
    ("empty-batch", "POST", "sda-tiny/encode", {"inputs": []}, 422, "invalid_input", ("empty",)),
    (
        "batch-too-large",
        "POST",
        "sda-tiny/encode",
        {"inputs": [ZERO] * (MAX_BATCH + 1)},
        413,
        "batch_too_large",
        (f"max_batch_size={MAX_BATCH}", f"{MAX_BATCH + 1} samples"),
    ),
    (
        "missing-field",
        "POST",
        "sda-tiny/encode",
        {"input": [ZERO]},
        422,
        "validation_error",
        ("missing required field 'inputs'", "unexpected field 'input'"),
    ),
    (
        "malformed-json",
        "POST",
        "sda-tiny/encode",
        b'{"inputs": [[0.0, 0.1',
        400,
        "malformed_json",
        ("not valid JSON", "line 1"),
    ),
    ("empty-body", "POST", "sda-tiny/encode", b"", 400, "malformed_json", ("empty",)),
    ("not-an-object", "POST", "sda-tiny/encode", [ZERO], 422, "validation_error", ("JSON object",)),
    (
        "body-too-large",
        "POST",
        "sda-tiny/encode",
        b" " * (MAX_BODY + 1),
        413,
        "body_too_large",
        ("above the limit", f"{MAX_BATCH} samples x {N} numbers", f"max_batch_size={MAX_BATCH}"),
    ),
    (
        "unknown-model",
        "POST",
        "no-such-model/encode",
        {"inputs": [ZERO]},
        404,
        "model_not_found",
        ("'no-such-model'", "sda-tiny, sda-tiny-nohead"),
    ),
    (
        "unknown-model-card",
        "GET",
        "no-such-model",
        None,
        404,
        "model_not_found",
        ("'no-such-model'", "sda-tiny"),
    ),
    (
        "operation-not-offered",
        "POST",
        "sda-tiny-nohead/classify",
        {"inputs": [ZERO]},
        404,
        "operation_not_supported",
        ("'classify'", "encode, denoise, interpolate"),
    ),
    (
        "above-value-range",
        "POST",
        "sda-tiny/classify",
        {"inputs": [_row(1.5)]},
        422,
        "invalid_input",
        ("[0, 1]", "max 1.5"),
    ),
    (
        "below-value-range",
        "POST",
        "sda-tiny/encode",
        {"inputs": [[[-0.25] * 28] * 28]},
        422,
        "invalid_input",
        ("[0, 1]", "min -0.25"),
    ),
    (
        "steps-not-int",
        "POST",
        "sda-tiny/interpolate",
        {"a": ZERO, "b": ZERO, "steps": 2.5},
        422,
        "validation_error",
        ("steps must be an integer in [2, 1024]", "2.5"),
    ),
    (
        "steps-string",
        "POST",
        "sda-tiny/interpolate",
        {"a": ZERO, "b": ZERO, "steps": "8"},
        422,
        "validation_error",
        ("steps must be an integer", '"8"'),
    ),
    (
        "steps-too-small",
        "POST",
        "sda-tiny/interpolate",
        {"a": ZERO, "b": ZERO, "steps": 1},
        422,
        "validation_error",
        ("[2, 1024]", "got number 1"),
    ),
    (
        "steps-too-large",
        "POST",
        "sda-tiny/interpolate",
        {"a": ZERO, "b": ZERO, "steps": 1025},
        422,
        "validation_error",
        ("[2, 1024]", "1025"),
    ),
    (
        "interpolate-batch",
        "POST",
        "sda-tiny/interpolate",
        {"a": [ZERO, ZERO], "b": ZERO},
        422,
        "invalid_input",
        ("one sample",),
    ),
    (
        "unknown-operation",
        "POST",
        "sda-tiny/reconstruct",
        {"inputs": [ZERO]},
        404,
        "not_found",
        ("/v1/models/sda-tiny/reconstruct",),
    ),
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bad_case" in metafunc.fixturenames:
        metafunc.parametrize("bad_case", BAD_CASES, ids=[c[0] for c in BAD_CASES])


def send(client: httpx.Client | TestClient, case: tuple[Any, ...]) -> httpx.Response:
    """Send one BAD_CASES request (raw bytes as they are, anything else as JSON)."""
    _, method, path, body, *_ = case
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body)
    headers = {"content-type": "application/json"} if content is not None else {}
    return client.request(method, f"/v1/models/{path}", content=content, headers=headers)


def check_error(response: httpx.Response, case: tuple[Any, ...]) -> None:
    """Assert status, the uniform error body, its type and the words of its message."""
    name, *_, status, kind, words = case
    assert response.status_code == status, (name, response.text[:500])
    error = response.json()["error"]
    assert error["type"] == kind, (name, error)
    for word in words:
        assert word in error["message"], (name, word, error["message"])


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real artifacts of the tiny SdA: with a classifier head, and without one."""
    torch = pytest.importorskip("torch")
    from aezoo.export.torch_io import build_artifact
    from aezoo.models import create_variant

    root = tmp_path_factory.mktemp("serving-artifacts")
    torch.manual_seed(0)
    with_head = create_variant("sda_mnist_tiny")
    no_head = create_variant("sda_mnist_tiny", n_classes=None)
    return {
        "sda-tiny": build_artifact(
            with_head, root / "tiny", name="sda-tiny", training={"metrics": {"test_error": 0.9}}
        ),
        "sda-tiny-nohead": build_artifact(no_head, root / "nohead", name="sda-tiny-nohead"),
    }


@pytest.fixture(scope="session")
def models(artifacts: dict[str, Path]) -> dict[str, OnnxModel]:
    return {name: OnnxModel(path) for name, path in artifacts.items()}


@pytest.fixture
def settings() -> ServeSettings:
    return ServeSettings(max_batch_size=MAX_BATCH, max_body_bytes=MAX_BODY)


@pytest.fixture
def client(models: dict[str, OnnxModel], settings: ServeSettings) -> Iterator[TestClient]:
    with TestClient(create_app(models, settings)) as c:
        yield c


@pytest.fixture
def samples() -> np.ndarray:
    """Four fixed samples in [0, 1], shape (4, 784) float32."""
    return np.random.default_rng(0).random((4, N), dtype=np.float32)


@pytest.fixture(scope="session")
def aezoo_home(artifacts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AEZOO_HOME whose registry holds version 1 of both artifacts."""
    from aezoo.registry import LocalStore

    home = tmp_path_factory.mktemp("aezoo-home")
    store = LocalStore(root=home / "registry", bundled=None)
    for name, path in artifacts.items():
        store.add(path, name)
    return home


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    ready_line: str


@contextlib.contextmanager
def running_server(
    args: list[str],
    env_extra: dict[str, str],
    log: Path,
    command: tuple[str, ...] = ("-m", "aezoo.serving.server"),
    wait: float = 60,
) -> Iterator[LiveServer]:
    """A real ``python -m aezoo.serving.server ARGS`` on 127.0.0.1 and a free port (port 0).

    ``command`` replaces ``-m aezoo.serving.server`` (``-m aezoo serve --engine ray``).
    Waits at most ``wait`` s for the ready line and /health/ready; terminated (then
    killed) on exit. Unless ``args`` set ``--max-queue-time-ms``, the queue-time deadline is
    off (0): on a busy 2-core CI machine a server process can be descheduled for longer than
    the default 100 ms, and a test of something else would get a 429 for it
    (``test_queue_time.py`` tests the deadline with servers of its own).
    """
    if "--max-queue-time-ms" not in args:
        args = [*args, "--max-queue-time-ms", "0"]
    env = {**os.environ, **env_extra, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    cmd = [
        sys.executable,
        *command,
        *args,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
    try:
        deadline, url, text = time.monotonic() + wait, None, ""
        while time.monotonic() < deadline:
            text = log.read_text()
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{text}")
            match = re.search(r"at (http://127\.0\.0\.1:\d+)", text)
            if match:
                url = match.group(1)
                try:
                    if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        else:
            pytest.fail(f"server not ready within {wait:.0f} s:\n{text}")
        assert url is not None
        line = next(ln for ln in text.splitlines() if "curl" in ln)
        yield LiveServer(url, proc, line.strip())
    finally:
        stop_process(proc, timeout=wait)


@pytest.fixture(scope="module")
def live_server(
    aezoo_home: Path, artifacts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The server with one model by registry name (AEZOO_HOME), one by artifact path."""
    args = [
        "sda-tiny",
        str(artifacts["sda-tiny-nohead"]),
        *("--max-batch-size", str(MAX_BATCH), "--max-body-bytes", str(MAX_BODY)),
        *("--threads", "1", "--log-level", "warning"),
    ]
    log = tmp_path_factory.mktemp("server") / "stdout.txt"
    with running_server(args, {"AEZOO_HOME": str(aezoo_home)}, log) as server:
        yield server
