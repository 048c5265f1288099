"""The body budget charges a gRPC call the bytes it took on the wire, measured once."""

from __future__ import annotations

import numpy as np

from aezoo.serving.grpc import codec
from aezoo.serving.grpc import messages as pb


def _request() -> pb.ModelInferRequest:
    req = pb.ModelInferRequest(model_name="m")
    req.inputs.add(name="inputs", datatype="FP32", shape=[4, 784])
    req.raw_input_contents.append(np.ones((4, 784), np.float32).tobytes())
    return req


def test_wire_size_is_the_parsed_bytes_length_else_protobufs_own_count() -> None:
    req = _request()
    data = req.SerializeToString()
    assert codec.wire_size(req) == req.ByteSize() == len(data)  # unset: protobuf measures
    token = codec.WIRE_BYTES.set(len(data) + 5)
    try:
        assert codec.wire_size(req) == len(data) + 5  # set by the service: not re-measured
    finally:
        codec.WIRE_BYTES.reset(token)
    assert codec.wire_size(req) == len(data)
