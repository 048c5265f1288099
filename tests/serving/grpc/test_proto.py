"""The checked-in descriptor is what the proto compiles to, and its names and field
numbers are the protocol's (tritonclient's own messages, a superset, parse ours)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from aezoo.serving.grpc import messages as pb
from tests.conftest import REPO_ROOT


def test_checked_in_descriptor_matches_the_proto() -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (aezoo[dev]) not installed")
    spec = importlib.util.spec_from_file_location("regen_grpc", REPO_ROOT / ".ci" / "regen_grpc.py")
    assert spec and spec.loader
    regen = importlib.util.module_from_spec(spec)
    sys.modules["regen_grpc"] = regen
    spec.loader.exec_module(regen)
    assert regen.compile_descriptor() == Path(pb.DESCRIPTOR_PATH).read_bytes(), (
        "aezoo/serving/grpc/grpc_predict_v2.desc is stale: run python .ci/regen_grpc.py"
    )


def test_messages_are_wire_compatible_with_tritons() -> None:
    service_pb2 = pytest.importorskip("tritonclient.grpc.service_pb2")
    theirs = service_pb2.ModelInferRequest(model_name="m", model_version="2", id="r")
    t = theirs.inputs.add(name="inputs", datatype="FP32", shape=[1, 2])
    t.contents.fp32_contents.extend([0.5, 0.25])
    theirs.outputs.add(name="codes").parameters["binary_data"].bool_param = False
    theirs.raw_input_contents.append(b"\x00" * 8)
    ours = pb.ModelInferRequest.FromString(theirs.SerializeToString())
    assert (ours.model_name, ours.model_version, ours.id) == ("m", "2", "r")
    assert list(ours.inputs[0].shape) == [1, 2] and ours.inputs[0].datatype == "FP32"
    assert np.allclose(ours.inputs[0].contents.fp32_contents, [0.5, 0.25])
    assert ours.outputs[0].parameters["binary_data"].bool_param is False
    assert ours.raw_input_contents[0] == b"\x00" * 8
    answer = pb.ModelInferResponse(model_name="m")
    answer.outputs.add(name="codes", datatype="FP32", shape=[1, 2])
    answer.raw_output_contents.append(b"\x01" * 8)
    back = service_pb2.ModelInferResponse.FromString(answer.SerializeToString())
    assert back.outputs[0].name == "codes" and back.raw_output_contents[0] == b"\x01" * 8
