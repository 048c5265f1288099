"""The denoiser's trainer and its patch-dictionary initialisation (tiny configs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aezoo.errors import DataError
from aezoo.models.denoiser import CSCDenoiserConfig
from aezoo.training.denoiser import DenoiserTrainConfig, train_denoiser, training_batch
from aezoo.training.patch_dictionary import learn_patch_dictionary, sample_patches
from tests.denoising_data import make_denoising_dir, smooth_image

TINY = CSCDenoiserConfig(n_filters=8, kernel_size=3, n_iterations=2)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_denoising_dir(tmp_path_factory.mktemp("denoising"))


def _images(n: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [smooth_image(rng, 40, 50) for _ in range(n)]


@pytest.mark.parametrize("kind", ["sdl", "vdl", "random"])
def test_dictionaries_are_unit_norm_with_a_dc_atom_first(kind: str) -> None:
    patches = sample_patches(_images(), 5, 2000, seed=0)
    assert patches.shape == (2000, 25) and patches.min() >= 0 and patches.max() <= 1
    atoms = learn_patch_dictionary(patches, 12, kind, steps=20, seed=0)
    assert atoms.shape == (12, 25)
    torch.testing.assert_close(atoms.norm(dim=1), torch.ones(12), atol=1e-5, rtol=0)
    torch.testing.assert_close(atoms[0], torch.full((25,), 0.2), atol=1e-6, rtol=0)


def test_sdl_and_vdl_learn_different_dictionaries_from_the_same_start() -> None:
    patches = sample_patches(_images(), 5, 2000, seed=0)
    sdl = learn_patch_dictionary(patches, 12, "sdl", steps=30, seed=0)
    vdl = learn_patch_dictionary(patches, 12, "vdl", steps=30, seed=0)
    rnd = learn_patch_dictionary(patches, 12, "random", seed=0)
    assert not torch.allclose(sdl, vdl, atol=1e-3)
    assert not torch.allclose(sdl, rnd, atol=1e-3)
    with pytest.raises(ValueError, match="kind"):
        learn_patch_dictionary(patches, 12, "ksvd")  # type: ignore[arg-type]


def test_training_batches_are_seeded_and_noise_follows_sigma() -> None:
    cfg = DenoiserTrainConfig(model=TINY, batch_size=64, crop=16, sigma_range=(20.0, 30.0))
    imgs = _images()
    a = training_batch(imgs, cfg, np.random.default_rng(3))
    b = training_batch(imgs, cfg, np.random.default_rng(3))
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    clean, noisy, sigma = a
    assert clean.shape == noisy.shape == (64, 1, 16, 16) and sigma.shape == (64,)
    assert sigma.min() >= 20 and sigma.max() <= 30
    resid_std = float((noisy - clean).std() * 255)
    assert 20 <= resid_std <= 30  # 16,384 draws: the std is within a few % of ~25
    black = [np.zeros((40, 50), np.uint8)]
    _, noisy_black, _ = training_batch(black, cfg, np.random.default_rng(0))
    assert (noisy_black < 0).float().mean() > 0.4  # about half below 0: not clipped


def test_training_lowers_the_loss_and_checkpoints_resume(data_dir: Path, tmp_path: Path) -> None:
    cfg = DenoiserTrainConfig(
        model=TINY,
        steps=40,
        batch_size=8,
        crop=24,
        lr=5e-3,
        dict_patches=500,
        dict_steps=10,
        val_images=2,
        log_every=10,
        checkpoint_every=20,
    )
    model, record = train_denoiser(cfg, data_dir, tmp_path / "run", show_progress=False)
    h = record["history"]
    assert [r["step"] for r in h] == [0, 10, 20, 30, 40]
    assert h[-1]["loss"] < h[1]["loss"]
    assert h[-1]["val_psnr"] > h[0]["val_psnr"]
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert "threads" in record["device"]  # trained on the CPU (device="cpu", the default)
    assert next(model.parameters()).device.type == "cpu"
    # the same command again resumes at the end: no step is repeated
    again, rec2 = train_denoiser(cfg, data_dir, tmp_path / "run", show_progress=False)
    assert rec2["history"] == h
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v)


def test_a_folder_without_train400_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="train400"):
        train_denoiser(DenoiserTrainConfig(model=TINY), tmp_path, tmp_path / "run")
