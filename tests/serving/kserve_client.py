"""KServe's OIP clients (REST and gRPC), run in a process of their own.

kserve and tritonclient.grpc each register ``inference.*`` messages in protobuf's default
descriptor pool; one process cannot import both (``duplicate symbol``), and the suite uses
tritonclient.grpc. :func:`kserve_codes` runs this file as a script instead.

Script usage: ``python -m tests.serving.kserve_client rest|grpc URL MODEL BINARY X.npy OUT.npy``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

_ROOT = Path(__file__).resolve().parents[2]


def kserve_codes(
    mode: str, url: str, model: str, x: np.ndarray, tmp: Path, binary: bool = True
) -> np.ndarray:
    """The first output KServe's ``mode`` client gets for ``x``; skips without kserve."""
    if importlib.util.find_spec("kserve") is None:
        pytest.skip("the KServe SDK (aezoo[dev]) is not installed")
    np.save(tmp / "x.npy", x)
    # as a module from the repository root: run by path, tests/serving/http would shadow http
    cmd = [sys.executable, "-m", "tests.serving.kserve_client", mode, url, model, str(int(binary)), str(tmp / "x.npy"),
           str(tmp / "out.npy")]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=_ROOT)
    assert done.returncode == 0, done.stderr
    return np.load(tmp / "out.npy")


async def _run(mode: str, url: str, model: str, binary: bool, x: np.ndarray) -> np.ndarray:
    from kserve import (
        InferenceGRPCClient,
        InferenceRESTClient,
        InferInput,
        InferRequest,
        RESTConfig,
    )

    tensor = InferInput(name="inputs", shape=list(x.shape), datatype="FP32")
    tensor.set_data_from_numpy(x, binary_data=binary)
    request = InferRequest(model_name=model, infer_inputs=[tensor])
    if mode == "grpc":
        grpc_client = InferenceGRPCClient(url, timeout=60)
        try:
            response = await grpc_client.infer(request)
            assert await grpc_client.is_model_ready(model) and await grpc_client.is_server_live()
        finally:
            await grpc_client.close()
    else:
        rest_client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=120))
        try:
            response = await rest_client.infer(url, request, model_name=model)
            assert await rest_client.is_model_ready(url, model)
        finally:
            await rest_client.close()
    return response.outputs[0].as_numpy()


if __name__ == "__main__":
    mode, url, model, binary, src, out = sys.argv[1:7]
    np.save(out, asyncio.run(_run(mode, url, model, binary == "1", np.load(src))))
