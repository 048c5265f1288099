"""Mutated request bodies never get a 5xx: every answer to a damaged JSON, ``.npy`` or
OIP body is a 2xx or a 4xx with a JSON error body.

Seeded byte-level mutations (flipped, deleted, inserted and duplicated bytes, cuts) of
valid requests to every inference route, and odd content types. Found before this test
existed: a ``.npy`` header cut inside its dict made numpy's reader raise
``tokenize.TokenError`` and the server answered 500.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import N, npy_bytes

TOKENS = [
    b"[",
    b"]",
    b",",
    b"-",
    b"1e999",
    b"null",
    b'"x"',
    b"{",
    b"}",
    b"\x00",
    b"NaN",
    b"(",
    b")",
]
CONTENT_TYPES = ["text/plain", "application/x-npy", "application/json", "application/octet-stream"]


def _seeds(x: np.ndarray) -> list[tuple[str, bytes, dict[str, str]]]:
    head = json.dumps(
        {
            "inputs": [
                {"name": "inputs", "shape": list(x.shape), "datatype": "FP32",
                 "parameters": {"binary_data_size": x.nbytes}}
            ],
            "outputs": [{"name": "codes", "parameters": {"binary_data": True}}],
        }
    ).encode()  # fmt: skip
    oip_json = {
        "inputs": [{"name": "inputs", "shape": list(x.shape), "datatype": "FP32",
                    "data": x.ravel().tolist()}],
        "outputs": [{"name": "labels"}, {"name": "probabilities"}],
    }  # fmt: skip
    js, npy = {"content-type": "application/json"}, {"content-type": "application/x-npy"}
    oip = {
        "content-type": "application/octet-stream",
        "inference-header-content-length": str(len(head)),
    }
    return [
        ("/v1/models/sda-tiny/encode", json.dumps({"inputs": x.tolist()}).encode(), js),
        ("/v1/models/sda-tiny/classify", npy_bytes(x), {**npy, "accept": "application/x-npy"}),
        ("/v1/models/sda-tiny/denoise", npy_bytes(x.reshape(-1, 28, 28)), npy),
        (
            "/v1/models/sda-tiny/interpolate",
            json.dumps({"a": x[0].tolist(), "b": x[1].tolist(), "steps": 4}).encode(),
            js,
        ),
        ("/v1/models/sda-tiny/interpolate?steps=3", npy_bytes(x[:2]), npy),
        ("/v2/models/sda-tiny/infer", head + x.tobytes(), oip),
        ("/v2/models/sda-tiny/infer", json.dumps(oip_json).encode(), js),
    ]


def _mutate(body: bytes, rng: random.Random) -> bytes:
    b = bytearray(body)
    for _ in range(rng.randint(1, 4)):
        if not b:
            break
        i, k = rng.randrange(len(b)), rng.random()
        if k < 0.3:
            b[i] = rng.randrange(256)
        elif k < 0.5:
            del b[i : i + rng.randint(1, 50)]
        elif k < 0.7:
            b[i:i] = rng.choice(TOKENS)
        elif k < 0.8:
            b = b[: rng.randrange(len(b) + 1)]
        else:
            b[i:i] = b[i : i + rng.randint(1, 200)]
    return bytes(b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mutated_bodies_never_get_a_5xx(client: TestClient, seed: int) -> None:
    rng = random.Random(seed)
    x = np.random.default_rng(seed).random((3, N), dtype=np.float32)
    seeds = _seeds(x)
    statuses: dict[int, int] = {}
    for _ in range(600):
        path, body, headers = rng.choice(seeds)
        headers = dict(headers)
        body = _mutate(body, rng)
        if rng.random() < 0.1:
            headers["content-type"] = rng.choice(CONTENT_TYPES)
        r = client.post(path, content=body, headers=headers)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, (path, headers, body[:120], r.text[:300])
        if r.status_code >= 400:
            assert "error" in r.json(), r.text[:300]
    assert statuses.get(200, 0) > 0 and sum(v for k, v in statuses.items() if k >= 400) > 300


DEEP = 100_000  # nesting far beyond any parser's depth limit


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/models/sda-tiny/infer", b'{"inputs": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
        ("/v1/models/sda-tiny/encode", b'{"inputs": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
        ("/v1/models/sda-tiny/encode", b'{"inputs": ' + b'{"a":' * 900 + b"1" + b"}" * 901),
        (
            "/v1/models/sda-tiny/interpolate",
            b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b', "b": [1], "steps": 3}',
        ),
    ],
    ids=["oip-arrays", "v1-arrays", "v1-objects", "v1-interpolate"],
)
def test_deeply_nested_json_is_a_4xx(client: TestClient, path: str, body: bytes) -> None:
    """simdjson refuses documents over its depth limit with a RuntimeError (the OIP route
    answered 500 before it was caught); every route answers 4xx with a JSON error."""
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text[:300]
    assert "error" in r.json()
