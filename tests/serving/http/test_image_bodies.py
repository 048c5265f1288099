"""image/png and image/jpeg bodies on the v1 routes of an image model."""

from __future__ import annotations

import base64
import io
import json
import struct
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from aezoo.runtime.images import image_row
from aezoo.runtime.model import OnnxModel
from aezoo.serving.http.app import ServeSettings, create_app
from aezoo.spec import ImageInput, InputSpec

SPEC = ImageInput(height=8, width=8, mode="RGB")


@pytest.fixture(scope="module")
def image_model(tmp_path_factory: pytest.TempPathFactory) -> OnnxModel:
    torch = pytest.importorskip("torch")
    from aezoo.export.torch_io import build_artifact
    from aezoo.models import create_variant

    torch.manual_seed(0)
    model = create_variant("conv_ae_tiny", channels=3, value_range=(0.0, 1.0))
    spec = InputSpec(
        n_features=SPEC.n_features, shape=SPEC.shape, value_range=(0.0, 1.0), image=SPEC
    )
    root = tmp_path_factory.mktemp("image-model")
    return OnnxModel(build_artifact(model, root / "rgb", name="rgb-tiny", input_spec=spec))


@pytest.fixture
def client(image_model: OnnxModel, models: dict[str, OnnxModel]) -> Iterator[TestClient]:
    settings = ServeSettings(max_batch_size=64, max_image_pixels=10_000)
    with TestClient(create_app({**models, "rgb-tiny": image_model}, settings)) as c:
        yield c


def _png(size: tuple[int, int] = (8, 8), seed: int = 0, fmt: str = "PNG") -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


def test_png_and_jpeg_bodies_answer_what_the_model_computes(
    client: TestClient, image_model: OnnxModel
) -> None:
    for fmt, media in (("PNG", "image/png"), ("JPEG", "image/jpeg")):
        body = _png(fmt=fmt)
        got = client.post(
            "/v1/models/rgb-tiny/encode", content=body, headers={"content-type": media}
        )
        assert got.status_code == 200, got.text
        want = image_model.encode(image_row(body, SPEC))
        np.testing.assert_array_equal(np.asarray(got.json()["codes"], np.float32), want)


def _multipart(images: list[bytes]) -> tuple[bytes, str]:
    boundary = "aezoo-test-boundary"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{i}.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode() + img + b"\r\n"
        for i, img in enumerate(images)
    )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_multipart_bodies_are_a_batch_in_part_order(
    client: TestClient, image_model: OnnxModel
) -> None:
    images = [_png(seed=i) for i in range(3)]
    body, ctype = _multipart(images)
    r = client.post("/v1/models/rgb-tiny/encode", content=body, headers={"content-type": ctype})
    assert r.status_code == 200, r.text
    want = image_model.encode(np.concatenate([image_row(b, SPEC) for b in images]))
    np.testing.assert_array_equal(np.asarray(r.json()["codes"], np.float32), want)

    pair, ctype = _multipart(images[:2])
    r = client.post(
        "/v1/models/rgb-tiny/interpolate?steps=3", content=pair, headers={"content-type": ctype}
    )
    assert r.status_code == 200, r.text
    a, b = (image_row(x, SPEC) for x in images[:2])
    want = image_model.interpolate(a[0], b[0], steps=3)
    np.testing.assert_array_equal(np.asarray(r.json()["outputs"], np.float32), want)

    body, ctype = _multipart([images[0], b"broken"])
    r = client.post("/v1/models/rgb-tiny/encode", content=body, headers={"content-type": ctype})
    assert r.status_code == 422 and "part 1" in r.json()["error"]["message"]
    body, ctype = _multipart(images * 22)  # 66 images > max_batch_size 64
    r = client.post("/v1/models/rgb-tiny/encode", content=body, headers={"content-type": ctype})
    assert r.status_code == 413 and "64" in r.json()["error"]["message"]
    r = client.post(
        "/v1/models/rgb-tiny/encode",
        content=b"--x\r\n",
        headers={"content-type": "multipart/form-data"},
    )
    assert r.status_code == 422 and "boundary" in r.json()["error"]["message"]


def test_denoise_answers_a_png_when_asked(client: TestClient, image_model: OnnxModel) -> None:
    body = _png((20, 12), seed=1)  # resized to 8x8 by the server, as by image_row
    r = client.post(
        "/v1/models/rgb-tiny/denoise",
        content=body,
        headers={"content-type": "image/png", "accept": "image/png"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    out = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), np.float32)
    want = image_model.denoise(image_row(body, SPEC))[0].reshape(3, 8, 8).transpose(1, 2, 0)
    np.testing.assert_allclose(out / 255, want, atol=0.5 / 255 + 1e-6)  # 8-bit rounding


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "words"),
    [
        ("sda-tiny/encode", _png(), {"content-type": "image/png"}, 415, "takes arrays"),
        ("rgb-tiny/interpolate", _png(), {"content-type": "image/png"}, 415, "two inputs"),
        ("rgb-tiny/encode", b"GIF89a-nonsense", {"content-type": "image/png"}, 422, "readable"),
        ("rgb-tiny/encode", _png((200, 100)), {"content-type": "image/png"}, 422, "20,000"),
    ],
)
def test_bad_image_requests_get_a_4xx_naming_the_problem(
    client: TestClient, path: str, body: bytes, headers: dict, status: int, words: str
) -> None:
    r = client.post(f"/v1/models/{path}", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]


def test_png_answer_only_for_image_models(client: TestClient, models: dict) -> None:
    x = np.zeros((1, 784), np.float32).tolist()
    r = client.post(
        "/v1/models/sda-tiny/denoise", json={"inputs": x}, headers={"accept": "image/png"}
    )
    assert r.status_code == 406 and "image model" in r.json()["error"]["message"]


def test_oip_takes_encoded_images_as_a_bytes_input(
    client: TestClient, image_model: OnnxModel
) -> None:
    images = [_png(seed=i) for i in range(2)]
    want = image_model.encode(np.concatenate([image_row(b, SPEC) for b in images]))
    as_json = {
        "inputs": [
            {
                "name": "inputs",
                "datatype": "BYTES",
                "shape": [2],
                "data": [base64.b64encode(b).decode() for b in images],
            }
        ]
    }
    r = client.post("/v2/models/rgb-tiny/infer", json=as_json)
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    np.testing.assert_array_equal(np.asarray(out["data"], np.float32).reshape(out["shape"]), want)
    # binary form: each element a 4-byte little-endian length, then the file (Triton's layout)
    blob = b"".join(struct.pack("<I", len(b)) + b for b in images)
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "inputs",
                    "datatype": "BYTES",
                    "shape": [2],
                    "parameters": {"binary_data_size": len(blob)},
                }
            ]
        }
    ).encode()
    r = client.post(
        "/v2/models/rgb-tiny/infer",
        content=header + blob,
        headers={
            "inference-header-content-length": str(len(header)),
            "content-type": "application/octet-stream",
        },
    )
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    np.testing.assert_array_equal(np.asarray(out["data"], np.float32).reshape(out["shape"]), want)
    bad = {"inputs": [{**as_json["inputs"][0], "data": ["%%%"]}]}
    r = client.post("/v2/models/rgb-tiny/infer", json=bad)
    assert r.status_code == 400 and "base64" in r.json()["error"]
    r = client.post("/v2/models/sda-tiny/infer", json=as_json)
    assert r.status_code == 400 and "image models" in r.json()["error"]


def test_openapi_lists_image_bodies_for_the_image_model_only(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    image = paths["/v1/models/rgb-tiny/encode"]["post"]["requestBody"]["content"]
    assert {"image/png", "image/jpeg", "multipart/form-data"} <= set(image)
    pair = paths["/v1/models/rgb-tiny/interpolate"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in pair and "image/png" not in pair
    arrays = paths["/v1/models/sda-tiny/encode"]["post"]["requestBody"]["content"]
    assert "image/png" not in arrays
