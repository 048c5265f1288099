"""Whole photographs through a real server process on loopback (``python -m
aezoo.serving.server``) serving the tiny denoiser (tests/denoiser_fixture.py): PNG in, PNG
out; npy and JSON arrays; bad images, bombs and bad sigmas get 4xx with the JSON error body;
a 2,000 x 2,000 image stays within a stated memory bound."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import orjson
import psutil
import pytest
from PIL import Image

from aezoo.runtime.model import OnnxModel
from tests.serving.conftest import LiveServer, npy_bytes, running_server

NAME = "tiny-denoiser"
MAX_PIXELS = 5_000_000  # --max-image-pixels of the test server: 2,000 x 2,000 fits
URL = f"/v1/models/{NAME}/denoise"


@pytest.fixture(scope="module")
def server(
    denoiser_artifact: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    args = [
        str(denoiser_artifact),
        *("--max-image-pixels", str(MAX_PIXELS), "--threads", "1", "--log-level", "warning"),
    ]
    log = tmp_path_factory.mktemp("photo-server") / "stdout.txt"
    with running_server(args, {}, log) as live:
        yield live


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


def _noisy(h: int, w: int, channels: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(clean, noisy) uint8 images: a smooth pattern, Gaussian noise of sigma 25, clipped."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    clean = 128 + 70 * np.sin(6 * yy) * np.cos(4 * xx)
    if channels == 3:
        clean = np.stack([clean, clean[::-1], 255 - clean], axis=2)
    noisy = clean + np.random.default_rng(seed).normal(0, 25, clean.shape)
    return clean, np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _error(r: httpx.Response, status: int, *words: str) -> None:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) >= {"type", "message"}
    for w in words:
        assert w in err["message"], err["message"]


@pytest.mark.parametrize("channels", [1, 3])
def test_png_in_png_out_same_size_and_cleaner(http: httpx.Client, channels: int) -> None:
    clean, noisy = _noisy(61, 87, channels)
    r = http.post(
        URL, params={"sigma": 25}, content=_png(noisy), headers={"content-type": "image/png"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert "x-compute-time-ms" in r.headers
    out = np.asarray(Image.open(io.BytesIO(r.content)))
    assert out.shape == noisy.shape and out.dtype == np.uint8
    err = lambda a: np.mean((a.astype(float) - clean) ** 2)  # noqa: E731
    assert err(out) < 0.6 * err(noisy)


def test_png_answer_is_the_python_api_exactly(http: httpx.Client, denoiser_artifact: Path) -> None:
    _, noisy = _noisy(300, 280)  # more than one 256-pixel tile
    r = http.post(
        URL, params={"sigma": 30}, content=_png(noisy), headers={"content-type": "image/png"}
    )
    want = OnnxModel(denoiser_artifact).denoise_image(noisy, 30)
    got = np.asarray(Image.open(io.BytesIO(r.content)))
    # same graph, same tiles: at most a rounding flip between runtimes' float summation order
    assert np.abs(got.astype(int) - want).max() <= 1


def test_npy_uint8_and_float_and_json(http: httpx.Client, denoiser_artifact: Path) -> None:
    _, noisy = _noisy(20, 24)
    model = OnnxModel(denoiser_artifact)
    r = http.post(URL, params={"sigma": 25}, content=npy_bytes(noisy),
                  headers={"content-type": "application/x-npy"})  # fmt: skip
    out = np.load(io.BytesIO(r.content))
    assert (
        out.dtype == np.uint8
        and np.abs(out.astype(int) - model.denoise_image(noisy, 25)).max() <= 1
    )
    unit = noisy.astype(np.float32) / 255
    r = http.post(URL, params={"sigma": 25}, json={"inputs": unit.tolist()})
    assert r.headers["content-type"] == "application/json"
    np.testing.assert_allclose(r.json()["outputs"], model.denoise_image(unit, 25), atol=1e-5)
    r = http.post(URL, params={"sigma": 25}, json={"inputs": unit.tolist()},
                  headers={"accept": "application/x-npy"})  # fmt: skip
    assert np.load(io.BytesIO(r.content)).shape == (20, 24)


def _bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height grey pixels, with a few bytes of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("body", "ctype", "words"),
    [
        (b"\x89PNG\r\n\x1a\nnot really", "image/png", ("not a readable image",)),
        (_png(_noisy(40, 40)[1])[:800], "image/png", ("not a readable image",)),
        (b"\xff\xd8\xff\xe0garbage", "image/jpeg", ("not a readable image",)),
        (_bomb_png(60_000, 60_000), "image/png", ()),  # Pillow's own bomb guard or ours
        (_bomb_png(3000, 2000), "image/png", ("6,000,000", f"{MAX_PIXELS:,}")),
        (npy_bytes(np.zeros((8, 8, 4), np.uint8)), "application/x-npy", ("(H, W) or (H, W, 3)",)),
        (npy_bytes(np.zeros((8, 8), np.int16)), "application/x-npy", ("uint8",)),
    ],
    ids=[
        "corrupt-png",
        "truncated-png",
        "corrupt-jpeg",
        "bomb",
        "over-max-pixels",
        "4-channels",
        "int16",
    ],
)
def test_bad_images_get_4xx_json(
    http: httpx.Client, body: bytes, ctype: str, words: tuple[str, ...]
) -> None:
    r = http.post(URL, params={"sigma": 25}, content=body, headers={"content-type": ctype})
    _error(r, 422, *words)
    assert r.json()["error"]["type"] == "invalid_input"


@pytest.mark.parametrize("sigma", ["4", "56", "nan", "abc", None])
def test_sigma_outside_the_range_is_422_naming_it(http: httpx.Client, sigma: str | None) -> None:
    params = {} if sigma is None else {"sigma": sigma}
    r = http.post(URL, params=params, content=_png(np.zeros((8, 8), np.uint8)),
                  headers={"content-type": "image/png"})  # fmt: skip
    _error(r, 422, "[5, 55]")


def test_multipart_is_415(http: httpx.Client) -> None:
    r = http.post(
        URL, params={"sigma": 25}, files={"a": ("a.png", _png(np.zeros((8, 8), np.uint8)))}
    )
    _error(r, 415, "one image per request")


def _hwm_bytes(pid: int) -> int:
    """Peak resident set size (VmHWM) of process ``pid``, in bytes (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


# a 2,000 x 2,000 grey image: 4 MB of pixels. The bound: the PNG body (~4 MB of noise), the
# decoded and denoised uint8 pixels and the PNG answer (3 bytes a pixel: 12 MB), Pillow's
# and numpy's working copies (another ~12 MB), tile buffers (a few MB): 48 MiB over the
# server's peak before. One untiled float32 pass would need ~8 float32 planes = 128 MB.
MEMORY_BOUND = 48 * 2**20


def test_a_2000x2000_image_within_the_memory_bound(http: httpx.Client, server: LiveServer) -> None:
    pid = server.process.pid
    assert psutil.pid_exists(pid)
    _, small = _noisy(300, 300)
    http.post(URL, params={"sigma": 25}, content=_png(small), headers={"content-type": "image/png"})
    before = _hwm_bytes(pid)
    _, noisy = _noisy(2000, 2000, seed=1)
    r = http.post(
        URL, params={"sigma": 25}, content=_png(noisy), headers={"content-type": "image/png"}
    )
    assert r.status_code == 200, r.text
    out = np.asarray(Image.open(io.BytesIO(r.content)))
    assert out.shape == (2000, 2000)
    grew = _hwm_bytes(pid) - before
    print(f"peak RSS growth for a 2000x2000 image: {grew / 2**20:.1f} MiB")
    assert grew <= MEMORY_BOUND, f"{grew / 2**20:.1f} MiB"


OIP = f"/v2/models/{NAME}/infer"


def test_oip_metadata_names_the_image_tensor(http: httpx.Client) -> None:
    meta = http.get(f"/v2/models/{NAME}").json()
    assert [i["name"] for i in meta["inputs"]] == ["image", "sigma"]
    assert meta["inputs"][1]["parameters"]["range"] == [5.0, 55.0]
    assert meta["outputs"][0]["name"] == "denoised"


def test_oip_json_and_binary_image_tensors(http: httpx.Client, denoiser_artifact: Path) -> None:
    _, noisy = _noisy(12, 17, 3)
    want = OnnxModel(denoiser_artifact).denoise_image(noisy, 20)
    body = {
        "id": "p1",
        "parameters": {"sigma": 20},
        "inputs": [
            {"name": "image", "datatype": "UINT8", "shape": [12, 17, 3], "data": noisy.tolist()}
        ],
    }
    r = http.post(OIP, json=body)
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["datatype"] == "UINT8" and out["shape"] == [12, 17, 3] and r.json()["id"] == "p1"
    assert np.abs(np.asarray(out["data"]).reshape(12, 17, 3) - want).max() <= 1
    unit = noisy[:, :, 0].astype(np.float32) / 255
    head = orjson.dumps({
        "parameters": {"binary_data_output": True},
        "inputs": [
            {"name": "image", "datatype": "FP32", "shape": [12, 17], "parameters": {"binary_data_size": unit.nbytes}},
            {"name": "sigma", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 4}},
        ],
    })  # fmt: skip
    r = http.post(OIP, content=head + unit.tobytes() + np.float32(20).tobytes(),
                  headers={"content-type": "application/octet-stream",
                           "inference-header-content-length": str(len(head))})  # fmt: skip
    assert r.status_code == 200, r.text
    n = int(r.headers["inference-header-content-length"])
    got = np.frombuffer(r.content[n:], "<f4").reshape(12, 17)
    np.testing.assert_allclose(got, OnnxModel(denoiser_artifact).denoise_image(unit, 20), atol=1e-5)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"inputs": [{"name": "image", "datatype": "UINT8", "shape": [4, 4], "data": [0] * 16}]}, "sigma is required"),
        ({"parameters": {"sigma": 99}, "inputs": [{"name": "image", "datatype": "UINT8", "shape": [4, 4], "data": [0] * 16}]}, "[5, 55]"),
        ({"parameters": {"sigma": 9}, "inputs": [{"name": "image", "datatype": "UINT8", "shape": [4, 4, 2], "data": [0] * 32}]}, "[H, W, 3]"),
        ({"parameters": {"sigma": 9}, "inputs": [{"name": "image", "datatype": "INT8", "shape": [4, 4], "data": [0] * 16}]}, "UINT8, FP32"),
        ({"parameters": {"sigma": 9}, "inputs": [{"name": "image", "datatype": "UINT8", "shape": [3000, 2000], "data": [0]}]}, "holds 1 numbers"),
    ],
    ids=["no-sigma", "sigma-range", "4-d", "int8", "short-data"],
)  # fmt: skip
def test_oip_bad_requests_are_400(http: httpx.Client, body: dict, words: str) -> None:
    r = http.post(OIP, json=body)
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]


def test_openapi_documents_the_photo_routes(http: httpx.Client) -> None:
    doc = http.get("/openapi.json").json()
    v1 = doc["paths"][URL]["post"]
    assert {"image/png", "image/jpeg", "application/x-npy", "application/json"} <= set(
        v1["requestBody"]["content"]
    )
    sigma = next(p for p in v1["parameters"] if p["name"] == "sigma")
    assert sigma["required"] and sigma["schema"] == {
        "type": "number",
        "minimum": 5.0,
        "maximum": 55.0,
    }
    assert "image/png" in v1["responses"]["200"]["content"]
    v2 = doc["paths"][OIP]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert v2["properties"]["inputs"]["items"]["properties"]["name"] == {"const": "image"}
    assert v2["properties"]["parameters"]["properties"]["sigma"]["maximum"] == 55.0


def test_decoded_pixels_count_in_the_inflight_budget(
    denoiser_artifact: Path, tmp_path: Path
) -> None:
    # 8 MB budget: a 2,000 x 2,000 grey PNG of zeros is a few KB of body, but 4 MB of pixels
    # decoded (x3 with the result and the answer) plus the tile buffers do not fit: 429
    args = [
        str(denoiser_artifact),
        "--max-inflight-body-bytes",
        "8000000",
        "--log-level",
        "warning",
    ]
    with (
        running_server(args, {}, tmp_path / "log.txt") as live,
        httpx.Client(base_url=live.url, timeout=60) as c,
    ):
        body = _png(np.zeros((2000, 2000), np.uint8))
        assert len(body) < 100_000
        r = c.post(URL, params={"sigma": 25}, content=body, headers={"content-type": "image/png"})
        _error(r, 429, "decoding the image", "max_inflight_body_bytes=8,000,000")
        assert "retry-after" in r.headers
        small = c.post(URL, params={"sigma": 25}, content=_png(np.zeros((100, 100), np.uint8)),
                       headers={"content-type": "image/png"})  # fmt: skip
        assert small.status_code == 200
