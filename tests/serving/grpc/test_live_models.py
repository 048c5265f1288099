"""Image inputs and anomaly scores over gRPC with ``tritonclient.grpc``, against a real
``python -m aezoo.serving.server --grpc-port 0`` process on loopback serving an image model,
the tiny whole-image denoiser and a calibrated SdA:

- an image model's ``inputs`` as a BYTES tensor of encoded images: raw (Triton's client
  sends each element with its 4-byte little-endian length, triton#3748) and typed
  ``bytes_contents`` give the codes the model computes in process;
- a denoiser's ``image`` tensor (UINT8 raw, FP32 typed) with sigma as a parameter or an
  input gives the image the model denoises in process;
- ``scores`` (FP32) and ``is_outlier`` (BOOL) equal ``model.score``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aezoo.runtime.images import image_rows
from aezoo.runtime.model import OnnxModel
from tests.serving.grpc.conftest import GrpcServer, grpc_server
from tests.serving.http.test_image_bodies import SPEC, image_model  # noqa: F401  (fixture)
from tests.serving.http.test_score import calibrated  # noqa: F401  (fixture)
from tests.tolerance import sda_atol, sum_atol

pytestmark = pytest.mark.integration
grpcclient = pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] not installed")
from tritonclient.grpc import service_pb2  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

Image = pytest.importorskip("PIL.Image")
IMAGES, DENOISER, SCORED = "rgb-tiny", "tiny-denoiser", "sda-tiny"


@pytest.fixture(scope="module")
def server(
    image_model: OnnxModel,  # noqa: F811
    calibrated: OnnxModel,  # noqa: F811
    denoiser_artifact: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GrpcServer]:
    home = tmp_path_factory.mktemp("grpc-live-home")
    log = tmp_path_factory.mktemp("grpc-live") / "server.log"
    args = [str(image_model.path), str(denoiser_artifact), str(calibrated.path),
            "--threads", "1", "--log-level", "warning"]  # fmt: skip
    with grpc_server(args, home, log) as s:
        yield s


def _png(seed: int, size: tuple[int, int] = (8, 8)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _codes_atol() -> float:
    # conv_ae_tiny: at most 3x3x3 = 27-term convolutions of [0, 1] pixels and the dense code
    # layer; bounded generously by a 784-term sum of terms up to 1, chained over 3 layers
    return sum_atol(np.float32, SPEC.n_features, float(SPEC.n_features), depth=3)


def test_bytes_images_raw_and_typed(triton: Any, stub: Any, image_model: OnnxModel) -> None:  # noqa: F811
    files = [_png(0), _png(1), _png(2, (12, 5))]  # any size: resized as the spec says
    want = OnnxModel(image_model.path, intra_op_threads=1).compute(
        "encode", image_rows(files, SPEC)
    )
    tensor = grpcclient.InferInput("inputs", [len(files)], "BYTES")
    tensor.set_data_from_numpy(np.array(files, dtype=np.object_))  # raw, length-prefixed
    raw = triton.infer(IMAGES, [tensor], outputs=[grpcclient.InferRequestedOutput("codes")])
    np.testing.assert_allclose(raw.as_numpy("codes"), want, rtol=0, atol=_codes_atol())

    req = service_pb2.ModelInferRequest(model_name=IMAGES)
    typed = req.inputs.add(name="inputs", datatype="BYTES", shape=[len(files)])
    typed.contents.bytes_contents.extend(files)
    answer = stub.ModelInfer(req)
    got = np.frombuffer(answer.raw_output_contents[0], "<f4").reshape(answer.outputs[0].shape)
    np.testing.assert_array_equal(got, raw.as_numpy("codes"))


def test_bad_bytes_images_are_invalid_argument(triton: Any) -> None:
    tensor = grpcclient.InferInput("inputs", [2], "BYTES")
    tensor.set_data_from_numpy(np.array([_png(0), b"not an image"], dtype=np.object_))
    with pytest.raises(InferenceServerException) as e:
        triton.infer(IMAGES, [tensor])
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT" and "image 1" in e.value.message()
    tensor = grpcclient.InferInput("inputs", [1], "BYTES")  # a model of arrays, not images
    tensor.set_data_from_numpy(np.array([_png(0)], dtype=np.object_))
    with pytest.raises(InferenceServerException) as e:
        triton.infer(SCORED, [tensor])
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT" and "image models" in e.value.message()


def _noisy(h: int, w: int, channels: int = 1) -> np.ndarray:
    shape = (h, w) if channels == 1 else (h, w, channels)
    return np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)


def test_denoiser_uint8_raw_with_sigma_parameter(triton: Any, denoiser_artifact: Path) -> None:
    meta = triton.get_model_metadata(DENOISER)
    assert [i.name for i in meta.inputs] == ["image", "sigma"]
    assert [o.name for o in meta.outputs] == ["denoised"]
    noisy = _noisy(12, 17, 3)
    want = OnnxModel(denoiser_artifact, intra_op_threads=1).denoise_image(noisy, 20)
    tensor = grpcclient.InferInput("image", list(noisy.shape), "UINT8")
    tensor.set_data_from_numpy(noisy)
    answer = triton.infer(DENOISER, [tensor], parameters={"sigma": 20})
    got = answer.as_numpy("denoised")
    assert got.dtype == np.uint8 and got.shape == noisy.shape
    # uint8 answers: a float difference at a .5 boundary may round one level apart
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_denoiser_fp32_typed_with_sigma_input(stub: Any, denoiser_artifact: Path) -> None:
    image = _noisy(9, 11).astype(np.float32) / 255
    want = OnnxModel(denoiser_artifact, intra_op_threads=1).denoise_image(image, 30)
    req = service_pb2.ModelInferRequest(model_name=DENOISER, id="d1")
    req.parameters["binary_data"].bool_param = False  # typed answer
    t = req.inputs.add(name="image", datatype="FP32", shape=list(image.shape))
    t.contents.fp32_contents.extend(image.ravel().tolist())
    req.inputs.add(name="sigma", datatype="FP32", shape=[1]).contents.fp32_contents.append(30)
    answer = stub.ModelInfer(req)
    out = answer.outputs[0]
    assert (answer.id, out.name, out.datatype, list(out.shape)) == (
        "d1",
        "denoised",
        "FP32",
        [9, 11],
    )
    assert not answer.raw_output_contents
    got = np.asarray(out.contents.fp32_contents, np.float32).reshape(9, 11)
    np.testing.assert_allclose(got, want, rtol=0, atol=sum_atol(np.float32, 9, 9.0, depth=2))


def test_denoiser_sigma_out_of_range_is_invalid_argument(triton: Any) -> None:
    tensor = grpcclient.InferInput("image", [8, 8], "UINT8")
    tensor.set_data_from_numpy(_noisy(8, 8))
    with pytest.raises(InferenceServerException) as e:
        triton.infer(DENOISER, [tensor], parameters={"sigma": 99})
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT" and "55" in e.value.message()
    with pytest.raises(InferenceServerException) as e:  # no sigma at all
        triton.infer(DENOISER, [tensor])
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT" and "sigma" in e.value.message()


def test_scores_and_is_outlier_equal_model_score(triton: Any, calibrated: OnnxModel) -> None:  # noqa: F811
    # the calibration rows: at fpr 0.05 the threshold leaves the top 14 of 300 above it
    x = np.random.default_rng(5).random((300, 784), dtype=np.float32)
    want = OnnxModel(calibrated.path, intra_op_threads=1).score(x)
    tensor = grpcclient.InferInput("inputs", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    outputs = [grpcclient.InferRequestedOutput(n) for n in ("scores", "is_outlier")]
    answer = triton.infer(SCORED, [tensor], outputs=outputs)
    scores, flags = answer.as_numpy("scores"), answer.as_numpy("is_outlier")
    assert scores.dtype == np.float32 and scores.shape == (300,)
    assert flags.dtype == np.bool_ and flags.shape == (300,)
    # a score is a 784-term sum of squared reconstruction errors (each in [0, 1]); each
    # reconstruction may differ by the denoise path's bound, so a term by twice that
    recon = sda_atol("tiny", "denoise")
    atol = 2 * 784 * recon + sum_atol(np.float32, 784, 784.0)
    np.testing.assert_allclose(scores, want["scores"], rtol=0, atol=atol)
    margin = np.abs(want["scores"] - calibrated.calibration.threshold) > atol  # type: ignore[union-attr]
    np.testing.assert_array_equal(flags[margin], want["is_outlier"][margin])
    assert flags.sum() == want["is_outlier"].sum() == 14
