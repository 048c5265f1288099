"""Seeded mutations of valid ModelInfer messages never crash the server, never get
INTERNAL/UNKNOWN, and do not grow its memory (RSS bounded, psutil).

Mutations: byte-level (flips, deletions, insertions, cuts of the serialized message) and
field-level (shape, datatype, names, raw/typed contents, outputs, parameters, versions)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest

from tests.serving.grpc.conftest import GrpcServer, grpc_server

pytestmark = pytest.mark.integration
service_pb2 = pytest.importorskip("tritonclient.grpc.service_pb2")
psutil = pytest.importorskip("psutil")
METHOD = "/inference.GRPCInferenceService/ModelInfer"
ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    home = tmp_path_factory.mktemp("grpc-fuzz-home")
    log = tmp_path_factory.mktemp("grpc-fuzz") / "server.log"
    with grpc_server(["sda-mnist", "--log-level", "error", "--threads", "1"], home, log) as s:
        yield s


def _valid(rng: random.Random) -> Any:
    n = rng.choice([1, 2, 3])
    x = np.random.default_rng(rng.randrange(2**32)).random((n, 784), dtype=np.float32)
    req = service_pb2.ModelInferRequest(model_name="sda-mnist", id=str(rng.random()))
    t = req.inputs.add(name="inputs", datatype="FP32", shape=[n, 784])
    if rng.random() < 0.5:
        req.raw_input_contents.append(x.tobytes())
    else:
        t.contents.fp32_contents.extend(x.ravel().tolist())
    for name in rng.sample(
        ["codes", "reconstructions", "probabilities", "labels"], rng.randint(0, 2)
    ):
        req.outputs.add(name=name)
    return req


def _field_mutation(req: Any, rng: random.Random) -> None:
    t = req.inputs[0]
    choice = rng.randrange(12)
    if choice == 0:
        t.shape[rng.randrange(len(t.shape))] = rng.choice([0, -1, 7, 2**40, 784 * 3])
    elif choice == 1:
        t.datatype = rng.choice(["FP16", "FP64", "INT8", "BYTES", "", "fp32"])
    elif choice == 2:
        t.name = rng.choice(["", "x", "inputs\x00"])
    elif choice == 3:
        t.shape.append(rng.choice([1, 0, 3]))
    elif choice == 4:
        req.raw_input_contents.append(b"\x00" * rng.randrange(16))
    elif choice == 5:
        t.contents.fp64_contents.extend([float("nan")] * rng.randrange(4))
    elif choice == 6:
        req.outputs.add(name=rng.choice(["scores", "", "codes"]))
    elif choice == 7:
        req.model_version = rng.choice(["1", "2", "", "latest"])
    elif choice == 8:
        req.inputs.add(name="inputs", datatype="FP32", shape=[1])
    elif choice == 9:
        req.parameters["binary_data"].bool_param = rng.random() < 0.5
    elif choice == 10:
        del req.inputs[:]
    else:
        if req.raw_input_contents:
            raw = bytearray(req.raw_input_contents[0])
            raw[rng.randrange(len(raw))] = 0xFF  # NaN/Inf bit patterns
            req.raw_input_contents[0] = bytes(raw)


def _byte_mutation(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op, i = rng.randrange(4), rng.randrange(max(1, len(b)))
        if op == 0 and b:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            del b[i : i + rng.randint(1, 8)]
        elif op == 2:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:
            b = b[:i]
    return bytes(b)


def _fuzz(server: GrpcServer, count: int, seed: int) -> None:
    rng = random.Random(seed)
    proc = psutil.Process(server.http.process.pid)
    seen: dict[grpc.StatusCode, int] = {}
    with grpc.insecure_channel(server.address) as channel:
        call = channel.unary_unary(METHOD)  # bytes in, bytes out: any message can be sent
        rss_warm = 0
        for i in range(count):
            req = _valid(rng)
            if rng.random() < 0.5:
                _field_mutation(req, rng)
                data = req.SerializeToString()
            else:
                data = _byte_mutation(req.SerializeToString(), rng)
            try:
                call(data, timeout=30)
                code = grpc.StatusCode.OK
            except grpc.RpcError as e:
                code = e.code()
                assert code in ALLOWED, (i, code, e.details())
            seen[code] = seen.get(code, 0) + 1
            if i == min(1000, count // 4):
                rss_warm = proc.memory_info().rss
        assert server.http.process.poll() is None
        growth = proc.memory_info().rss - rss_warm
    assert seen.get(grpc.StatusCode.OK, 0) > 0 and seen.get(grpc.StatusCode.INVALID_ARGUMENT, 0) > 0
    # after warm-up (arenas, caches), 10,000 small requests must not grow the heap: a leak of
    # one 6 KB request each would be 60 MB
    assert growth < 32 * 2**20, f"RSS grew {growth / 2**20:.1f} MiB over {count} mutations"


def test_fuzz_quick(server: GrpcServer) -> None:
    _fuzz(server, 400, seed=1)


@pytest.mark.slow
def test_fuzz_10000_mutations_rss_bounded(server: GrpcServer) -> None:
    _fuzz(server, 10_000, seed=2)
