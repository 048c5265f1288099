"""The denoiser's artifact: ONNX graph on the DenoiserSpec contract, torch/onnxruntime
parity on non-square images, card, samples, registry (tiny config, synthetic images)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from aezoo.export.denoiser import export_denoiser_onnx, load_denoiser
from aezoo.models.denoiser import CSCDenoiser, CSCDenoiserConfig
from aezoo.registry.artifact import DENOISER
from aezoo.registry.format import read_config
from aezoo.registry.store import LocalStore
from aezoo.registry.verify import check_denoiser_graph, check_graphs, verify_artifact
from aezoo.training.denoiser import DenoiserTrainConfig
from aezoo.training.denoiser_pipeline import run_denoiser
from tests.denoising_data import make_denoising_dir
from tests.tolerance import sum_atol

TINY = CSCDenoiserConfig(n_filters=8, kernel_size=3, n_iterations=2)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LocalStore]:
    root = tmp_path_factory.mktemp("denoiser-artifact")
    data = make_denoising_dir(root / "data")
    store = LocalStore(root=root / "registry", bundled=None)
    cfg = DenoiserTrainConfig(
        name="tiny-denoiser",
        model=TINY,
        steps=20,
        batch_size=8,
        crop=24,
        lr=5e-3,
        dict_patches=500,
        dict_steps=10,
        val_images=2,
        log_every=10,
    )
    artifact, version = run_denoiser(cfg, data, root / "run", store=store, show_progress=False)
    assert version is not None and version.name == "tiny-denoiser"
    return artifact, store


def test_the_artifact_is_complete_and_on_the_contract(built: tuple[Path, LocalStore]) -> None:
    artifact, store = built
    verify_artifact(artifact)
    config = read_config(artifact)
    check_graphs(artifact, config)
    sess = ort.InferenceSession(str(artifact / DENOISER), providers=["CPUExecutionProvider"])
    check_denoiser_graph(artifact, sess)
    assert config.operations == ["denoise"] and config.input.n_features == 1
    d = config.denoiser
    assert d is not None and d.halo == TINY.halo and d.min_size == TINY.min_size
    assert tuple(d.sigma_range) == (5.0, 55.0)
    assert store.resolve("tiny-denoiser").path.is_dir()


def test_onnx_matches_torch_on_a_non_square_batch(built: tuple[Path, LocalStore]) -> None:
    artifact, _ = built
    model = load_denoiser(artifact)
    sess = ort.InferenceSession(str(artifact / DENOISER), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    noisy = (rng.random((2, 1, 33, 71)) + rng.normal(0, 0.1, (2, 1, 33, 71))).astype(np.float32)
    sigma = np.array([15.0, 50.0], np.float32)
    got = sess.run(["denoised"], {"noisy": noisy, "sigma": sigma})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(noisy), torch.from_numpy(sigma)).numpy()
    assert got.shape == noisy.shape
    # 2T + 2 = 6 chained convolutions of k*k*K = 72 terms of magnitude <= ~2
    atol = sum_atol(np.float32, 72, abs_sum=72 * 2.0, depth=6)
    np.testing.assert_allclose(got, want, atol=atol, rtol=0)


def test_card_samples_and_record(built: tuple[Path, LocalStore]) -> None:
    artifact, _ = built
    card = (artifact / "README.md").read_text()
    assert "denoise_image" in card and "| 25 |" in card and "28.57" in card
    assert "{'" not in card  # no raw dicts in the card's tables
    record = json.loads((artifact / "training.json").read_text())
    assert set(record["metrics"]) == {
        f"bsd68_{m}_sigma{s}" for s in (15, 25, 50) for m in ("psnr_db", "ssim")
    }
    table = record["bsd68"]["by_sigma"]
    assert set(table) == {"15", "25", "50"}
    assert all(np.isfinite(r["psnr"]) and 0 < r["ssim"] <= 1 for r in table.values())
    assert record["history"][-1]["step"] == 20 and record["train_seconds"] > 0
    samples = json.loads((artifact / "samples.json").read_text())
    assert samples["inputs"] == [] and len(samples["images"]) == 3  # the gallery's photo format
    arr = np.asarray([im["pixels"] for im in samples["images"]])
    assert arr.shape[1:] == (64, 64) and arr.min() >= 0 and arr.max() <= 255
    for fig in ("training_curve.png", "filters.png", "denoised.png"):
        assert (artifact / "figures" / fig).read_bytes()[:4] == b"\x89PNG"


def test_export_records_parity_on_non_square_images(tmp_path: Path) -> None:
    torch.manual_seed(0)
    rec = export_denoiser_onnx(CSCDenoiser(TINY), tmp_path / "d.onnx")
    errs = rec["parity_max_abs_error"][DENOISER]
    assert set(errs) == {"1x37x53", "3x64x48"}
    assert max(errs.values()) <= rec["parity_atol"]
