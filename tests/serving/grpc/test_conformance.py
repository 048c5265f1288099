"""OIP over gRPC with the real clients (tritonclient.grpc, KServe's InferenceGRPCClient)
against a real server process serving every bundled model: every output equals the REST
answer and the in-process one; raw and typed requests agree; each error status is provoked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import aezoo
from tests.serving.grpc.conftest import GrpcServer, grpc_server
from tests.serving.kserve_client import kserve_codes
from tests.tolerance import sum_atol

pytestmark = pytest.mark.integration
grpcclient = pytest.importorskip(
    "tritonclient.grpc", reason="tritonclient[grpc] (aezoo[dev]) not installed"
)
from tritonclient.grpc import service_pb2  # noqa: E402  (Triton's messages: a superset)
from tritonclient.utils import InferenceServerException  # noqa: E402

# OIP output -> (v1 route, its JSON key)
OUTPUT_OPS = {
    "codes": ("encode", "codes"),
    "reconstructions": ("denoise", "outputs"),
    "probabilities": ("classify", "probabilities"),
    "scores": ("score", "scores"),
    "is_outlier": ("score", "is_outlier"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    home = tmp_path_factory.mktemp("grpc-home")  # empty registry: every bundled model serves
    log = tmp_path_factory.mktemp("grpc") / "server.log"
    with grpc_server(["--log-level", "warning", "--threads", "1"], home, log) as s:
        yield s


@pytest.fixture(scope="module")
def names(server: GrpcServer) -> list[str]:
    listing = httpx.get(f"{server.http.url}/v1/models", timeout=30).json()
    models = listing["models"] if isinstance(listing, dict) else listing
    # whole-image denoisers take photographs, not OIP row tensors (tests/serving/test_photo_server.py)
    names = sorted(m["name"] for m in models)
    return [
        n
        for n in names
        if httpx.get(f"{server.http.url}/v1/models/{n}", timeout=30).json().get("denoiser") is None
    ]


def _batch(client: Any, name: str, n: int = 8) -> np.ndarray:
    meta = client.get_model_metadata(name, as_json=True)
    width = int(meta["inputs"][0]["shape"][1])
    return np.random.default_rng(0).random((n, width), dtype=np.float32)


def _infer(client: Any, name: str, x: np.ndarray, outputs: list[str], **kw: Any) -> Any:
    tensor = grpcclient.InferInput("inputs", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    wanted = [grpcclient.InferRequestedOutput(o) for o in outputs]
    return client.infer(name, [tensor], outputs=wanted, **kw)


def test_health_and_metadata(triton: Any, names: list[str]) -> None:
    assert triton.is_server_live() and triton.is_server_ready()
    assert triton.get_server_metadata(as_json=True)["name"] == "aezoo"
    assert len(names) >= 5  # the bundled models
    for name in names:
        assert triton.is_model_ready(name)
        meta = triton.get_model_metadata(name, as_json=True)
        assert meta["name"] == name and meta["platform"] == "onnxruntime_onnx"
        assert meta["inputs"][0]["name"] == "inputs" and meta["inputs"][0]["datatype"] == "FP32"
        assert {o["name"] for o in meta["outputs"]} & {"codes", "reconstructions"}


def test_every_model_and_output_equals_rest_and_in_process(
    server: GrpcServer, triton: Any, names: list[str]
) -> None:
    for name in names:
        meta = triton.get_model_metadata(name, as_json=True)
        outputs = [o["name"] for o in meta["outputs"]]
        x = _batch(triton, name)
        answer = _infer(triton, name, x, outputs)
        model = aezoo.load(name)
        width = x.shape[1]
        for out in outputs:
            got = answer.as_numpy(out)
            if out == "labels":
                rest = httpx.post(
                    f"{server.http.url}/v1/models/{name}/classify",
                    json={"inputs": x.tolist()},
                    timeout=60,
                ).json()["labels"]
                assert [v.decode() for v in got] == rest, name
                continue
            op, key = OUTPUT_OPS[out]
            rest = httpx.post(
                f"{server.http.url}/v1/models/{name}/{op}", json={"inputs": x.tolist()}, timeout=60
            ).json()
            if out == "is_outlier":  # calibrated models: the flags of the same scores
                assert got.dtype == bool and got.tolist() == rest[key], name
                continue
            want_rest = np.asarray(rest[key], dtype=np.float32)
            local = {
                "encode": model.encode,
                "denoise": model.denoise,
                "score": lambda v, m=model: m.score(v)["scores"],
            }.get(op)
            want_local = local(x) if local else model.predict_proba(x)
            # same graph and batch: only the batcher's batch composition may differ, which
            # changes onnxruntime's blocking: a reduction of `width` float32 terms per layer
            atol = sum_atol(np.float32, width, abs_sum=float(width), depth=8)
            assert got.shape == want_rest.shape, (name, out)
            np.testing.assert_allclose(got, want_rest, rtol=0, atol=atol, err_msg=f"{name}/{out}")
            np.testing.assert_allclose(got, want_local, rtol=0, atol=atol, err_msg=f"{name}/{out}")


def _raw_and_typed(triton: Any, name: str, x: np.ndarray) -> tuple[Any, Any]:
    stub = triton._client_stub  # the client's own stub: the request message as built here
    base = {"model_name": name, "outputs": [{"name": "codes"}]}
    shape = list(x.shape)
    typed = service_pb2.ModelInferRequest(**base)
    t = typed.inputs.add(name="inputs", datatype="FP32", shape=shape)
    t.contents.fp32_contents.extend(x.ravel().tolist())
    raw = service_pb2.ModelInferRequest(**base)
    raw.inputs.add(name="inputs", datatype="FP32", shape=shape)
    raw.raw_input_contents.append(x.astype("<f4").tobytes())
    return stub.ModelInfer(typed), stub.ModelInfer(raw)


def test_raw_and_typed_requests_give_the_same_answer(triton: Any) -> None:
    x = _batch(triton, "sda-mnist", 4)
    typed, raw = _raw_and_typed(triton, "sda-mnist", x)
    assert typed.raw_output_contents[0] == raw.raw_output_contents[0]
    codes = np.frombuffer(raw.raw_output_contents[0], dtype="<f4").reshape(4, -1)
    assert codes.shape == (4, list(raw.outputs[0].shape)[1])


def test_typed_output_when_binary_data_is_false(triton: Any) -> None:
    x = _batch(triton, "sda-mnist", 2)
    req = service_pb2.ModelInferRequest(model_name="sda-mnist")
    req.parameters["binary_data"].bool_param = False
    req.inputs.add(name="inputs", datatype="FP32", shape=list(x.shape))
    req.raw_input_contents.append(x.tobytes())
    typed = triton._client_stub.ModelInfer(req)
    assert not typed.raw_output_contents
    raw = _raw_and_typed(triton, "sda-mnist", x)[1]
    want = np.frombuffer(raw.raw_output_contents[0], dtype="<f4")
    np.testing.assert_array_equal(np.asarray(typed.outputs[0].contents.fp32_contents, "f4"), want)


def test_fp16_raw_and_model_version(triton: Any) -> None:
    x = _batch(triton, "sda-mnist", 2)
    meta = triton.get_model_metadata("sda-mnist", as_json=True)
    version = meta["versions"][0]
    tensor = grpcclient.InferInput("inputs", list(x.shape), "FP16")
    tensor.set_data_from_numpy(x.astype(np.float16))
    half = triton.infer("sda-mnist", [tensor], model_version=version).as_numpy("codes")
    full = _infer(triton, "sda-mnist", x.astype(np.float16).astype(np.float32), ["codes"])
    np.testing.assert_array_equal(half, full.as_numpy("codes"))
    with pytest.raises(InferenceServerException) as e:
        triton.infer("sda-mnist", [tensor], model_version="999")
    assert e.value.status() == "StatusCode.NOT_FOUND" and "999" in e.value.message()


@pytest.mark.parametrize(
    ("mutate", "code", "word"),
    [
        (lambda r: setattr(r, "model_name", "no-such-model"), "NOT_FOUND", "no-such-model"),
        (lambda r: setattr(r.inputs[0], "name", "pixels"), "INVALID_ARGUMENT", "pixels"),
        (lambda r: setattr(r.inputs[0], "datatype", "INT8"), "INVALID_ARGUMENT", "INT8"),
        (lambda r: r.inputs[0].shape.__setitem__(0, 3), "INVALID_ARGUMENT", "needs"),
        (lambda r: r.outputs.add(name="contributions"), "INVALID_ARGUMENT", "contributions"),
        (lambda r: r.inputs[0].contents.fp32_contents.append(1.0), "INVALID_ARGUMENT", "exclusive"),
        (lambda r: r.raw_input_contents.__setitem__(0, np.full((2, 784), np.nan, "f4").tobytes()),
         "INVALID_ARGUMENT", "NaN"),
        (lambda r: setattr(r.inputs[0], "datatype", "FP16") or r.raw_input_contents.pop(),
         "INVALID_ARGUMENT", "FP16"),
    ],
)  # fmt: skip
def test_error_statuses(triton: Any, mutate: Any, code: str, word: str) -> None:
    import grpc

    x = np.zeros((2, 784), np.float32)
    req = service_pb2.ModelInferRequest(model_name="sda-mnist")
    req.inputs.add(name="inputs", datatype="FP32", shape=[2, 784])
    req.raw_input_contents.append(x.tobytes())
    mutate(req)
    with pytest.raises(grpc.RpcError) as e:
        triton._client_stub.ModelInfer(req)
    assert e.value.code().name == code, e.value.details()
    assert word in e.value.details()


def test_standard_health_service_and_metrics(server: GrpcServer, triton: Any) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(server.address) as channel:
        check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert check.status == health_pb2.HealthCheckResponse.SERVING
    _infer(triton, "sda-mnist", _batch(triton, "sda-mnist", 1), ["codes"])
    text = httpx.get(f"{server.http.url}/metrics", timeout=30).text
    assert '{model="sda-mnist",operation="infer",protocol="grpc",status="200"}' in text


def test_kserve_grpc_client(server: GrpcServer, triton: Any, tmp_path: Path) -> None:
    x = _batch(triton, "sda-mnist", 4)
    codes = kserve_codes("grpc", server.address, "sda-mnist", x, tmp_path)
    want = _infer(triton, "sda-mnist", x, ["codes"]).as_numpy("codes")
    np.testing.assert_array_equal(codes.reshape(want.shape), want)
