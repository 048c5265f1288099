"""Open Inference Protocol v2 conformance against a real server process with real clients:
tritonclient.http (binary tensors on, its default, and off) and the KServe Python SDK's
REST client; both must get the numbers v1 JSON gives for the same inputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from aezoo.data.mnist import load_mnist
from tests.serving.conftest import LiveServer, running_server
from tests.serving.kserve_client import kserve_codes

pytestmark = pytest.mark.integration
httpclient = pytest.importorskip(
    "tritonclient.http", reason="tritonclient[http] (aezoo[dev]) not installed"
)
MODEL = "sda-mnist"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("oip-home")  # empty registry: the bundled sda-mnist serves
    log = tmp_path_factory.mktemp("oip") / "server.log"
    with running_server([MODEL, "--log-level", "warning"], {"AEZOO_HOME": str(home)}, log) as s:
        yield s


@pytest.fixture(scope="module")
def images(mnist_dir: Path) -> np.ndarray:
    """The first 1,000 MNIST test images, (1000, 784) float32 in [0, 1]."""
    return load_mnist("test", mnist_dir)[0][:1000]


@pytest.fixture(scope="module")
def v1(server: LiveServer, images: np.ndarray) -> dict[str, np.ndarray]:
    """v1 JSON answers for the same images (JSON float32 values parse back to the same bits)."""
    return _v1(server, images)


def _v1(server: LiveServer, x: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for op, key in (("encode", "codes"), ("classify", "probabilities")):
        r = httpx.post(
            f"{server.url}/v1/models/{MODEL}/{op}", json={"inputs": x.tolist()}, timeout=120
        )
        assert r.status_code == 200, r.text
        out[key] = np.asarray(r.json()[key], dtype=np.float32)
        if op == "classify":
            out["labels"] = np.asarray(r.json()["labels"])
    return out


@pytest.fixture
def triton(server: LiveServer) -> Iterator[object]:
    client = httpclient.InferenceServerClient(
        server.url.removeprefix("http://"), network_timeout=120
    )
    yield client
    client.close()


def _infer(
    client: object, x: np.ndarray, outputs: list[str], binary: bool, datatype: str = "FP32"
) -> object:
    tensor = httpclient.InferInput("inputs", list(x.shape), datatype)
    tensor.set_data_from_numpy(x, binary_data=binary)
    wanted = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in outputs]
    return client.infer(MODEL, [tensor], outputs=wanted or None)  # type: ignore[attr-defined]


def test_server_and_model_metadata(triton: object) -> None:
    assert triton.is_server_live() and triton.is_server_ready()  # type: ignore[attr-defined]
    assert triton.is_model_ready(MODEL)  # type: ignore[attr-defined]
    meta = triton.get_server_metadata()  # type: ignore[attr-defined]
    assert meta["name"] == "aezoo" and "binary_tensor_data" in meta["extensions"]
    model = triton.get_model_metadata(MODEL)  # type: ignore[attr-defined]
    assert model["inputs"] == [{"name": "inputs", "datatype": "FP32", "shape": [-1, 784]}]
    assert [o["name"] for o in model["outputs"]] == [
        "codes",
        "reconstructions",
        "probabilities",
        "labels",
        "scores",  # the bundled model is calibrated: is_outlier too
        "is_outlier",
    ]
    kinds = {o["name"]: (o["datatype"], o["shape"]) for o in model["outputs"]}
    assert kinds["scores"] == ("FP32", [-1]) and kinds["is_outlier"] == ("BOOL", [-1])
    version = model["versions"][0]
    assert triton.is_model_ready(MODEL, model_version=version)  # type: ignore[attr-defined]
    assert not triton.is_model_ready(MODEL, model_version="999")  # type: ignore[attr-defined]


def test_binary_codes_equal_v1_json_for_1000_images(
    triton: object, images: np.ndarray, v1: dict[str, np.ndarray]
) -> None:
    result = _infer(triton, images, [], binary=True)  # no outputs listed: codes, binary
    codes = result.as_numpy("codes")  # type: ignore[attr-defined]
    assert codes.shape == (1000, 200) and codes.dtype == np.float32
    np.testing.assert_array_equal(codes, v1["codes"])


@pytest.mark.parametrize("binary", [True, False])
def test_all_outputs_json_and_binary(
    server: LiveServer, triton: object, images: np.ndarray, binary: bool
) -> None:
    x = images[:64]
    result = _infer(triton, x, ["codes", "probabilities", "labels", "reconstructions"], binary)
    # v1 at the same batch size: the same sums in the same order, so the same bits
    same = _v1(server, x)
    np.testing.assert_array_equal(result.as_numpy("codes"), same["codes"])  # type: ignore[attr-defined]
    np.testing.assert_array_equal(result.as_numpy("probabilities"), same["probabilities"])  # type: ignore[attr-defined]
    labels = [b.decode() if isinstance(b, bytes) else str(b) for b in result.as_numpy("labels")]  # type: ignore[attr-defined]
    assert labels == same["labels"].tolist()
    assert result.as_numpy("reconstructions").shape == (64, 784)  # type: ignore[attr-defined]


def test_fp64_and_image_shape_are_accepted(
    server: LiveServer, triton: object, images: np.ndarray
) -> None:
    x = images[:8].astype(np.float64).reshape(8, 28, 28)
    result = _infer(triton, x, ["codes"], binary=True, datatype="FP64")
    # k / 255 in float64 casts back to the float32 it came from: v1 at batch 8, the same bits
    np.testing.assert_array_equal(result.as_numpy("codes"), _v1(server, images[:8])["codes"])  # type: ignore[attr-defined]


def test_errors_are_oip_error_bodies(
    server: LiveServer, triton: object, images: np.ndarray
) -> None:
    from tritonclient.utils import InferenceServerException

    tensor = httpclient.InferInput("pixels", [1, 784], "FP32")
    tensor.set_data_from_numpy(images[:1])
    with pytest.raises(InferenceServerException, match="'inputs'"):
        triton.infer(MODEL, [tensor])  # type: ignore[attr-defined]
    r = httpx.post(
        f"{server.url}/v2/models/{MODEL}/infer",
        json={
            "inputs": [
                {"name": "inputs", "shape": [1, 784], "datatype": "FP32", "data": [2.0] * 784}
            ]
        },
    )
    assert r.status_code == 400 and "values must lie in [0, 1]" in r.json()["error"]
    r = httpx.post(f"{server.url}/v2/models/{MODEL}/versions/999/infer", json={})
    assert r.status_code == 404 and "version '999'" in r.json()["error"]
    r = httpx.post(
        f"{server.url}/v2/models/{MODEL}/infer",
        content=b"x" * 40_000_000,
        headers={"inference-header-content-length": "10"},
    )
    assert r.status_code == 413 and "above the limit" in r.json()["error"]
    r = httpx.post(
        f"{server.url}/v2/models/{MODEL}/infer", content=b"{}", headers={"content-type": "text/csv"}
    )
    assert r.status_code == 415 and set(r.json()) == {"error"}


@pytest.mark.parametrize("binary", [False, True])
def test_kserve_rest_client(
    server: LiveServer, images: np.ndarray, binary: bool, tmp_path: Path
) -> None:
    x = images[:100]
    codes = kserve_codes("rest", server.url, MODEL, x, tmp_path, binary)
    # v1 at the same batch size of 100: the same computation, the same bits
    np.testing.assert_array_equal(codes.reshape(100, 200), _v1(server, x)["codes"])
