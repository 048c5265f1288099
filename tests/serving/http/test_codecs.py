"""Request codecs and safety switches in-process: .npy in and out, the JSON fast path
against the strict parser, 415, 405 with Allow, API key, CORS, limits in OpenAPI."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from aezoo.errors import InputError
from aezoo.runtime.model import OnnxModel
from aezoo.serving.http import codecs
from aezoo.serving.http.app import ServeSettings, create_app
from tests.serving.conftest import MAX_BATCH, MAX_BODY, N, npy_bytes

NPY = "application/x-npy"


def post_npy(client: TestClient, path: str, body: bytes, accept: str = NPY, **kw: object):
    headers = {"content-type": NPY, "accept": accept}
    return client.post(f"/v1/models/{path}", content=body, headers=headers, **kw)


@pytest.mark.parametrize(
    ("op", "key"), [("encode", "codes"), ("denoise", "outputs"), ("classify", "probabilities")]
)
def test_npy_round_trips_exactly_against_json(
    client: TestClient, samples: np.ndarray, op: str, key: str
) -> None:
    as_json = client.post(f"/v1/models/sda-tiny/{op}", json={"inputs": samples.tolist()})
    as_npy = post_npy(client, f"sda-tiny/{op}", npy_bytes(samples))
    assert as_json.status_code == as_npy.status_code == 200
    assert as_npy.headers["content-type"] == NPY
    got = np.load(io.BytesIO(as_npy.content), allow_pickle=False)
    assert got.dtype == np.float32
    # JSON numbers are float32's shortest round-trip form: parsed back, the same bits
    assert np.array_equal(np.asarray(as_json.json()[key], dtype=np.float32), got)
    if op == "classify":
        names = json.loads(as_npy.headers["x-class-names"])
        assert [names[i] for i in got.argmax(axis=1)] == as_json.json()["labels"]


def test_npy_forms(client: TestClient, samples: np.ndarray) -> None:
    want = np.load(io.BytesIO(post_npy(client, "sda-tiny/encode", npy_bytes(samples)).content))
    for form in (samples.astype(np.float64), samples.reshape(4, 28, 28), samples.astype(">f4")):
        got = post_npy(client, "sda-tiny/encode", npy_bytes(form))
        assert got.status_code == 200, got.text
        assert np.array_equal(np.load(io.BytesIO(got.content)), want)
    one = post_npy(client, "sda-tiny/encode", npy_bytes(samples[0]), accept="application/json")
    assert one.headers["content-type"] == "application/json"
    assert np.array_equal(np.asarray(one.json()["codes"], dtype=np.float32), want[:1])
    rows = post_npy(client, "sda-tiny/interpolate?steps=5", npy_bytes(samples[:2]))
    assert np.load(io.BytesIO(rows.content)).shape == (5, N)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            npy_bytes(np.zeros((2, N), dtype=np.int64)),
            ("dtype must be float32 or float64", "int64"),
        ),
        (npy_bytes(np.array([{"a": 1}], dtype=object)), ("dtype",)),
        (
            npy_bytes(np.zeros((2, N), dtype=np.float32))[:-4],
            ("shape (2, 784)", "data bytes follow"),
        ),
        (b"not an npy file at all", ("not a readable .npy",)),
        (npy_bytes(np.zeros((2, 7), dtype=np.float32)), ("shape (2, 7)",)),
        (npy_bytes(np.full((1, N), np.nan, dtype=np.float32)), ("NaN",)),
    ],
)
def test_bad_npy_is_422(client: TestClient, body: bytes, words: tuple[str, ...]) -> None:
    r = post_npy(client, "sda-tiny/encode", body)
    assert r.status_code == 422, r.text
    for word in words:
        assert word in r.json()["error"]["message"]


def test_npy_too_many_samples(client: TestClient) -> None:
    r = post_npy(client, "sda-tiny/encode", npy_bytes(np.zeros((MAX_BATCH + 1, N), np.float32)))
    assert r.status_code == 413 and r.json()["error"]["type"] in (
        "batch_too_large",
        "body_too_large",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": [[0.5] * N, [0.25] * N]},
        {"inputs": [[[0.5] * 28] * 28]},
        {"inputs": [[0, 1] * (N // 2)]},
        {"inputs": [[1e-3] * N]},
    ],
)
def test_fast_json_path_equals_strict_parser(models: dict[str, OnnxModel], body: dict) -> None:
    raw = json.dumps(body).encode()
    fast = codecs._fast_json_batch(raw, models["sda-tiny"])
    assert fast is not None
    from aezoo.serving import schemas

    slow = schemas.to_array(schemas.parse_request(raw, schemas.BatchRequest).inputs, "inputs")
    assert np.array_equal(fast, slow.reshape(fast.shape))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"inputs": [[true' + b", 0" * (N - 1) + b"]]}",
        b'{"inputs": [[1, [2]' + b", 0" * (N - 2) + b"]]}",  # nesting hidden by flattening
        b'{"inputs": [[NaN' + b", 0" * (N - 1) + b"]]}",
        b'{"inputs": [[01' + b", 0" * (N - 1) + b"]]}",
        b'{"inputs": [[0' + b", 0" * (N - 1) + b']], "x": 1}',
        b'{"inputs": [[0' + b", 0" * (N - 2) + b"]]}",
    ],
)
def test_fast_json_path_leaves_the_rest_to_the_strict_parser(
    models: dict[str, OnnxModel], client: TestClient, raw: bytes
) -> None:
    assert codecs._fast_json_batch(raw, models["sda-tiny"]) is None
    r = client.post(
        "/v1/models/sda-tiny/encode", content=raw, headers={"content-type": "application/json"}
    )
    assert r.status_code in (400, 422), r.text


def test_unsupported_media_type(client: TestClient) -> None:
    r = client.post(
        "/v1/models/sda-tiny/encode",
        content=b"inputs=1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415 and r.json()["error"]["type"] == "unsupported_media_type"
    assert "application/x-npy" in r.json()["error"]["message"]


def test_compressed_bodies_are_refused(client: TestClient) -> None:
    import gzip

    body = gzip.compress(json.dumps({"inputs": [[0.0] * N]}).encode())
    for path in ("/v1/models/sda-tiny/encode", "/v2/models/sda-tiny/infer"):
        r = client.post(path, content=body, headers={"content-encoding": "gzip"})
        assert r.status_code == 415 and "Content-Encoding 'gzip'" in r.text


def test_method_not_allowed_says_allow(client: TestClient) -> None:
    r = client.get("/v1/models/sda-tiny/encode")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json()["error"]["type"] == "method_not_allowed"


def test_answers_carry_timing(client: TestClient) -> None:
    r = client.post("/v1/models/sda-tiny/encode", json={"inputs": [[0.0] * N]})
    assert float(r.headers["x-queue-time-ms"]) >= 0 and float(r.headers["x-compute-time-ms"]) > 0
    assert r.headers["x-batch-size"] == "1" and r.headers["x-model-version"] == "1"
    text = client.get("/metrics").text
    for name in (
        "aezoo_queue_seconds_count",
        "aezoo_compute_seconds_count",
        "aezoo_queue_depth_samples",
        "aezoo_model_loads_total",
        "aezoo_model_info",
    ):
        assert name in text, name


def test_api_key(models: dict[str, OnnxModel]) -> None:
    settings = ServeSettings(api_key="s3cret", max_batch_size=MAX_BATCH, max_body_bytes=MAX_BODY)
    with TestClient(create_app(models, settings)) as c:
        assert (
            c.get("/health/live").status_code == 200 and c.get("/health/ready").status_code == 200
        )
        missing = c.get("/v1/models")
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith(
            "Bearer"
        )
        assert missing.json()["error"]["type"] == "unauthorized"
        assert c.get("/v1/models", headers={"authorization": "Bearer wrong"}).status_code == 401
        ok = c.post(
            "/v1/models/sda-tiny/encode",
            json={"inputs": [[0.0] * N]},
            headers={"authorization": "Bearer s3cret"},
        )
        assert ok.status_code == 200
        assert (
            'aezoo_rejections_total{reason="unauthorized"} 2.0'
            in c.get("/metrics", headers={"authorization": "Bearer s3cret"}).text
        )
        # the gallery page and its static files load without the key (a browser cannot add
        # the header to a page load; the page then asks for it), the data behind it does not
        for public in ("/", "/ui/js/api.js", "/ui/gallery.css"):
            assert c.get(public).status_code == 200, public
        for private in ("/v1/models/sda-tiny/files", "/ui/../v1/models", "/docs", "/metrics"):
            assert c.get(private).status_code in (401, 404), private
        assert c.get("/v1/models/sda-tiny/files").status_code == 401


def test_cors_is_off_unless_origins_are_named(
    models: dict[str, OnnxModel], client: TestClient
) -> None:
    origin = {"origin": "http://example.test"}
    assert "access-control-allow-origin" not in client.get("/v1/models", headers=origin).headers
    settings = ServeSettings(cors_origins=["http://example.test"])
    with TestClient(create_app(models, settings)) as c:
        r = c.get("/v1/models", headers=origin)
        assert r.headers["access-control-allow-origin"] == "http://example.test"


def test_openapi_states_the_limits(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/v1/models/sda-tiny/encode"]["post"]
    inputs = op["requestBody"]["content"]["application/json"]["schema"]["properties"]["inputs"]
    for form in inputs["anyOf"]:
        assert form["minItems"] == 1 and form["maxItems"] == MAX_BATCH
    assert NPY in op["requestBody"]["content"]
    assert f"max_body_bytes={MAX_BODY}" in op["description"]
    assert "sda-tiny: n_features=784, shape=[28, 28]" in op["description"]
    assert {"401", "413", "415", "429"} <= set(op["responses"])


@pytest.mark.parametrize("version", [(1, 0), (2, 0)])
@pytest.mark.parametrize(
    "a",
    [
        np.zeros((1, N), np.float32),
        np.arange(N, dtype=np.float32),
        np.ones((3, 28, 28), np.float64),
        np.asfortranarray(np.arange(5 * N, dtype=np.float32).reshape(5, N)),
        np.zeros((0, N), np.float32),
        np.ones((), np.float64),
    ],
    ids=["one-row", "1-d", "images-f8", "fortran", "empty", "scalar"],
)
def test_npy_header_fast_path_equals_numpy_reader(a: np.ndarray, version) -> None:
    body = npy_bytes(a, version)
    fast = codecs._npy_header_fast(body)
    assert fast is not None  # numpy.save's own header: the fast path reads it
    assert fast == codecs._npy_header(body, "body")
    assert np.array_equal(codecs.read_npy(body), a.astype(np.float32))


@pytest.mark.parametrize(
    ("header", "refused"),
    [
        (b"{'descr': '>f4', 'fortran_order': False, 'shape': (1, 784), }", None),  # big-endian
        (b"{'shape': (1, 784), 'fortran_order': False, 'descr': '<f4', }", None),  # key order
        (b"{'descr': '<i8', 'fortran_order': False, 'shape': (1, 392), }", "dtype must be"),
        (b"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 784), 'x': 1, }", "readable"),
        (b"{'descr': '<f4', 'fortran_order': 0, 'shape': (1, 784), }", "readable"),
        (b"{'descr': '<f4', 'fortran_order': False, 'shape': (1, -784), }", "data bytes follow"),
        (
            b"{'descr': '>f4', 'fortran_order': False, 'shape': (4611686018427388100, 4), }",
            "data bytes follow",
        ),  # its int64 product wraps to 784: the count must be exact
    ],
)
def test_other_npy_headers_go_to_numpy_reader(header: bytes, refused: str | None) -> None:
    padded = header + b" " * (-(len(header) + 11) % 64) + b"\n"
    body = b"\x93NUMPY\x01\x00" + len(padded).to_bytes(2, "little") + padded
    body += np.zeros(784, np.float32).tobytes()
    assert codecs._npy_header_fast(body) is None
    if refused is None:  # what numpy's reader accepts is still read
        assert codecs.read_npy(body).shape == (1, 784)
    else:
        with pytest.raises(InputError, match=refused):
            codecs.read_npy(body)


@pytest.mark.parametrize("route", ["encode", "classify", "interpolate?steps=3"])
@pytest.mark.parametrize("cut", [40, 60, 68])  # the dict spans bytes 10-70
def test_truncated_npy_header_is_422_not_500(client: TestClient, route: str, cut: int) -> None:
    """numpy's header reader raises tokenize.TokenError (not a ValueError) on a header
    cut mid-dict; found by fuzzing a real server, which answered 500."""
    body = npy_bytes(np.zeros((2, N), np.float32))
    broken = body[:cut] + b" " * (len(body) - cut)  # same length, header cut short
    assert codecs._npy_header_fast(broken) is None
    r = post_npy(client, f"sda-tiny/{route}", broken)
    assert r.status_code == 422, r.text
    assert "not a readable .npy array" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "a",
    [
        np.zeros((1, 200), np.float32),
        np.arange(12, dtype=np.float64).reshape(3, 4),
        np.ones((1024, 3), np.float32),
        np.zeros((5,), np.float32),
        np.zeros((2, 3), np.float32).T,  # Fortran-ordered: answered C-ordered, as before
        np.arange(6, dtype=np.int64).reshape(2, 3)[:, ::2],  # not contiguous
        np.zeros((1, 3), ">f4"),
        np.array([True, False]),
        np.array(["a", "bc"]),  # not numeric: numpy's own writer
    ],
)
def test_npy_answer_is_numpy_save_byte_for_byte(a: np.ndarray) -> None:
    # the cached-header writer gives exactly numpy.save's bytes of the C-ordered array,
    # called twice (the second from the cache)
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    assert codecs.npy_bytes(a) == buf.getvalue()
    assert codecs.npy_bytes(a) == buf.getvalue()
