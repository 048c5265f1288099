"""The bundled ``lista-denoiser-bsd``: a complete artifact on the denoiser contract that
makes real BSD68 crops (its own samples.json) cleaner at sigma 15, 25 and 50."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest

import aezoo
from aezoo.evaluation.denoising import noisy_image, psnr255
from aezoo.registry.artifact import DENOISER
from aezoo.registry.format import read_config
from aezoo.registry.store import BUNDLED_DIR
from aezoo.registry.verify import check_graphs, verify_artifact

ROOT = BUNDLED_DIR / "lista-denoiser-bsd"
pytestmark = pytest.mark.skipif(not ROOT.is_dir(), reason="lista-denoiser-bsd is not bundled")


def _crops() -> list[np.ndarray]:
    samples = json.loads((ROOT / "samples.json").read_text())
    return [np.asarray(im["pixels"], np.float64) for im in samples["images"]]


def test_the_bundled_denoiser_is_verified_small_and_on_the_contract() -> None:
    verify_artifact(ROOT)
    config = read_config(ROOT)
    check_graphs(ROOT, config)
    assert config.denoiser is not None and tuple(config.denoiser.sigma_range) == (5.0, 55.0)
    size = sum(f.stat().st_size for f in ROOT.rglob("*") if f.is_file())
    assert size < 2_000_000, size


@pytest.mark.parametrize(("sigma", "gain_db"), [(15.0, 3.0), (25.0, 5.0), (50.0, 7.0)])
def test_it_denoises_real_bsd68_crops(sigma: float, gain_db: float) -> None:
    sess = ort.InferenceSession(str(ROOT / DENOISER), providers=["CPUExecutionProvider"])
    for i, clean in enumerate(_crops()):
        noisy = noisy_image(clean, sigma, i, seed=7)
        x = (noisy / 255.0).astype(np.float32)[None, None]
        out = sess.run(["denoised"], {"noisy": x, "sigma": np.array([sigma], np.float32)})[0]
        assert psnr255(clean, out[0, 0] * 255.0) > psnr255(clean, noisy) + gain_db


def test_it_denoises_a_bsd68_crop_through_aezoo_load() -> None:
    model = aezoo.load("lista-denoiser-bsd")
    clean = _crops()[0]
    noisy = noisy_image(clean, 25.0, 0, seed=7)
    out = np.asarray(model.denoise_image(noisy / 255.0, sigma=25.0), dtype=np.float64) * 255.0
    assert psnr255(clean, out) > psnr255(clean, noisy) + 5.0
