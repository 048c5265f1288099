"""gRPC ModelInfer answers ``scores`` (FP32) and ``is_outlier`` (BOOL) like v1 ``/score``:
the response built by the gRPC codec from the same batch results, raw and typed."""

from __future__ import annotations

import numpy as np
import pytest

from aezoo.runtime.model import OnnxModel
from aezoo.serving.oip_model import InferRequest
from tests.serving.http.test_score import calibrated  # noqa: F401  (the fixture)

codec = pytest.importorskip("aezoo.serving.grpc.codec", reason="needs the [grpc] extra")


@pytest.mark.parametrize("raw", [True, False])
def test_scores_and_is_outlier_match_model_score(calibrated: OnnxModel, raw: bool) -> None:  # noqa: F811
    # the calibration rows themselves: at fpr 0.05 the conformal threshold leaves the top
    # 14 of 300 above it, so both flag values occur
    x = np.random.default_rng(5).random((300, 784), dtype=np.float32)
    want = calibrated.score(x)
    req = InferRequest(x=x, outputs=[("scores", raw), ("is_outlier", raw)], ops=["score"])
    resp = codec.build_response(calibrated, req, {"score": calibrated.compute("score", x)})
    scores, flags = resp.outputs
    assert (scores.datatype, list(scores.shape)) == ("FP32", [300])
    assert (flags.datatype, list(flags.shape)) == ("BOOL", [300])
    if raw:
        got_scores = np.frombuffer(resp.raw_output_contents[0], "<f4")
        got_flags = np.frombuffer(resp.raw_output_contents[1], np.uint8).astype(bool)
    else:
        got_scores = np.asarray(scores.contents.fp32_contents, np.float32)
        got_flags = np.asarray(flags.contents.bool_contents, bool)
    np.testing.assert_array_equal(got_scores, want["scores"])
    np.testing.assert_array_equal(got_flags, want["is_outlier"])
    assert got_flags.sum() == 14
