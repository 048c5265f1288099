"""OnnxModel.denoise_image on the tiny denoiser (tests/denoiser_fixture.py): tiling equals one
pass, dtypes and scales come back as they went in, sigma and shape errors are named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aezoo.errors import InputError, OperationNotSupportedError
from aezoo.runtime.model import OnnxModel
from aezoo.runtime.tiling import DEFAULT_MAX_PIXELS, DEFAULT_TILE
from tests.tolerance import layers_atol

SIGMA = 25.0
# the fixture's graph on inputs |x| <= 2: box conv (9 terms, sum |w x| <= 2), detail conv
# (9 terms, <= 2 * 16/9 < 4), delta conv (9 terms, <= 2), the final add (2 terms, <= 4)
ATOL = layers_atol(np.float32, [(9, 2.0), (9, 4.0), (9, 2.0), (2, 4.0)])


@pytest.fixture(scope="module")
def model(denoiser_artifact: Path) -> OnnxModel:
    return OnnxModel(denoiser_artifact, intra_op_threads=1)


def _smooth(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth image in [0.2, 0.8] with Gaussian noise of sigma 25/255 (not clipped)."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    clean = 0.5 + 0.3 * np.sin(6 * yy) * np.cos(4 * xx)
    rng = np.random.default_rng(seed)
    return (clean + rng.normal(0, SIGMA / 255, clean.shape)).astype(np.float32), clean


@pytest.mark.parametrize(("h", "w", "tile"), [(37, 53, 8), (64, 64, 16), (5, 129, 7), (3, 3, 1)])
def test_tiled_equals_one_pass(model: OnnxModel, h: int, w: int, tile: int) -> None:
    noisy, _ = _smooth(h, w)
    one = model.denoise_image(noisy, SIGMA, tile=max(h, w))
    tiled = model.denoise_image(noisy, SIGMA, tile=tile)
    # each pixel: a 3x3 conv chain, at most ~20 float32 terms of magnitude <= 2
    np.testing.assert_allclose(tiled, one, rtol=0, atol=ATOL)
    # a border pixel and a corner: the graph's own border handling, no seam
    assert abs(tiled[0, w // 2] - one[0, w // 2]) <= ATOL
    assert abs(tiled[-1, -1] - one[-1, -1]) <= ATOL


def test_one_pass_is_the_graph_on_the_image_itself(model: OnnxModel) -> None:
    noisy, _ = _smooth(20, 31)
    sess = model._sessions["denoiser"]
    sig = np.array([SIGMA], np.float32)
    graph = sess.run(["denoised"], {"noisy": noisy[None, None], "sigma": sig})[0][0, 0]
    want = np.clip(graph, 0.0, 1.0)  # the runtime clips floats to the image's range
    for tile in (None, 7):  # the default (one pass: under the budget) and tiles
        got = model.denoise_image(noisy, SIGMA, tile=tile)
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


def test_float_outputs_are_clipped_to_the_images_range(model: OnnxModel) -> None:
    """A near-white noisy image: the graph overshoots 1.0 (a clean photograph never does),
    the runtime's answer stays in [0, scale] and equals the graph's elsewhere."""
    rng = np.random.default_rng(3)
    noisy = (0.97 + rng.normal(0, SIGMA / 255, (24, 24))).astype(np.float32)
    sess = model._sessions["denoiser"]
    sig = np.array([SIGMA], np.float32)
    graph = sess.run(["denoised"], {"noisy": noisy[None, None], "sigma": sig})[0][0, 0]
    assert graph.max() > 1.0  # else this test would not test the clip
    got = model.denoise_image(noisy, SIGMA)
    assert got.max() <= 1.0 and got.min() >= 0.0
    np.testing.assert_allclose(got, np.clip(graph, 0.0, 1.0), rtol=0, atol=ATOL)
    got255 = model.denoise_image(noisy * 255, SIGMA, scale=255.0)
    assert got255.dtype == np.float32 and got255.max() <= 255.0
    np.testing.assert_allclose(got255, np.clip(graph, 0.0, 1.0) * 255, rtol=0, atol=ATOL * 255)


def test_default_is_one_pass_under_the_budget_and_tiles_over_it(model: OnnxModel) -> None:
    sess = model._sessions["denoiser"]
    shapes: list[tuple[int, ...]] = []
    real_run = sess.run

    def spy(outputs, feeds):  # type: ignore[no-untyped-def]
        shapes.append(feeds["noisy"].shape)
        return real_run(outputs, feeds)

    sess_run, sess.run = sess.run, spy
    try:
        side = int(DEFAULT_MAX_PIXELS**0.5)
        small, _ = _smooth(side, side)  # exactly the budget: one pass
        model.denoise_image(small, SIGMA)
        assert shapes == [(1, 1, side, side)]
        shapes.clear()
        big, _ = _smooth(side + 1, side)  # one row over: 256-pixel tiles with their halo
        tiled = model.denoise_image(big, SIGMA)
        assert len(shapes) == 3 * 2 and max(s[2] for s in shapes) <= DEFAULT_TILE + 2 * 2
    finally:
        sess.run = sess_run
    one = model.denoise_image(big, SIGMA, tile=side + 1)
    np.testing.assert_allclose(tiled, one, rtol=0, atol=ATOL)


def test_it_denoises(model: OnnxModel) -> None:
    noisy, clean = _smooth(96, 96)
    out = model.denoise_image(noisy, SIGMA, tile=32)
    assert np.mean((out - clean) ** 2) < 0.6 * np.mean((noisy - clean) ** 2)


def test_dtypes_and_scales_come_back(model: OnnxModel) -> None:
    noisy, _ = _smooth(40, 30)
    unit = model.denoise_image(noisy, SIGMA)
    as255 = model.denoise_image(noisy * 255, SIGMA, scale=255.0)
    assert as255.dtype == np.float32
    np.testing.assert_allclose(as255 / 255, unit, rtol=0, atol=1e-5)
    u8 = np.clip(np.rint(noisy * 255), 0, 255).astype(np.uint8)
    out8 = model.denoise_image(u8, SIGMA)
    assert out8.dtype == np.uint8 and out8.shape == u8.shape
    ref = model.denoise_image(u8.astype(np.float32) / 255, SIGMA)
    want = np.clip(np.rint(ref * 255), 0, 255)
    assert np.abs(out8.astype(int) - want).max() <= 1  # rounding of values at .5


def test_colour_is_denoised_per_channel(model: OnnxModel) -> None:
    noisy, _ = _smooth(24, 40)
    rgb = np.stack([noisy, noisy[::-1], 1 - noisy], axis=2)
    out = model.denoise_image(rgb, SIGMA, tile=9)
    for c in range(3):
        np.testing.assert_allclose(
            out[:, :, c], model.denoise_image(rgb[:, :, c], SIGMA), rtol=0, atol=ATOL
        )


@pytest.mark.parametrize("sigma", [4.9, 55.1, float("nan")])
def test_sigma_outside_the_range_is_named(model: OnnxModel, sigma: float) -> None:
    with pytest.raises(InputError, match=r"\[5, 55\]"):
        model.denoise_image(np.zeros((8, 8), np.float32), sigma)


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (np.zeros((2, 8), np.float32), "at least 3"),
        (np.zeros((8, 8, 4), np.float32), r"\(H, W\) or \(H, W, 3\)"),
        (np.zeros((8, 8), np.int32), "uint8 or float"),
        (np.full((8, 8), np.inf, np.float32), "NaN or Inf"),
    ],
)
def test_bad_images_are_named(model: OnnxModel, image: np.ndarray, words: str) -> None:
    with pytest.raises(InputError, match=words):
        model.denoise_image(image, SIGMA)


def test_other_models_refuse(tiny_artifact: Path) -> None:
    with pytest.raises(OperationNotSupportedError, match="not a whole-image denoiser"):
        OnnxModel(tiny_artifact).denoise_image(np.zeros((8, 8), np.float32), SIGMA)


def test_row_operations_on_a_denoiser_point_to_denoise_image(model: OnnxModel) -> None:
    with pytest.raises(OperationNotSupportedError, match=r"denoise_image\(image, sigma\)"):
        model.denoise(np.zeros((1, 1), np.float32))
