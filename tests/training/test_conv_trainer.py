"""The conv-ae trainer: reconstruction, the denoising/dropout baselines, ACAI, resume, recipes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aezoo.data.lines import render_lines
from aezoo.models.conv import ConvAEConfig, ConvAutoEncoder
from aezoo.training import loop
from aezoo.training.acai import ACAIConfig
from aezoo.training.conv import ConvAETrainConfig, ConvAETrainer, reconstruction_loss
from aezoo.training.recipes import read_recipe
from tests.training.helpers import killed_after

torch.set_num_threads(1)
TINY = ConvAEConfig(image_shape=[8, 8], depth=4, scales=2, latent_channels=4)
RECIPES = ("ae-lines", "denoising-lines", "dropout-lines", "acai-lines")


def _lines8(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Lines-like 8x8 images in [-1, 1]: the 32x32 lines averaged over 4x4 blocks."""
    angles = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    X = render_lines(angles).reshape(n, 8, 4, 8, 4).mean(axis=(2, 4)).reshape(n, 64)
    return X.astype(np.float32), angles


def _data(n: int = 384) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {"train": _lines8(n, 0), "val": _lines8(64, 1)}


def _cfg(**kw) -> ConvAETrainConfig:
    base = {"model": TINY, "n_train": 384, "epochs": 2, "batch_size": 32, "lr": 3e-3}
    return ConvAETrainConfig(**{**base, **kw})


def test_training_reduces_the_reconstruction_error(tmp_path: Path) -> None:
    data = _data()
    trainer = ConvAETrainer(_cfg(epochs=6), data, tmp_path, show_progress=False)
    X_val = torch.from_numpy(data["val"][0])
    with torch.no_grad():
        before = float(F.mse_loss(trainer.model.eval()(X_val), X_val))
    model = trainer.fit()
    with torch.no_grad():
        after = float(F.mse_loss(model(X_val), X_val))
    history = trainer.state["history"]
    assert [r["stage"] for r in history] == ["reconstruct"] * 6
    assert after < 0.3 * before
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    # val_mse: the clean path, the same 64 rows through the same weights: the same bits
    assert history[-1]["val_mse"] == after
    assert "critic_loss" not in history[-1] and trainer.acai is None
    assert not model.training


@torch.no_grad()
def test_noise_and_dropout_enter_only_the_training_loss() -> None:
    torch.manual_seed(0)
    model = ConvAutoEncoder(TINY)
    x = torch.from_numpy(_lines8(16, 2)[0])

    def loss(**kw) -> float:
        return float(reconstruction_loss(model, x, _cfg(**kw), torch.Generator().manual_seed(7)))

    # reconstruction_loss's own operations on the same tensors and draws: the same bits
    clean = float(F.mse_loss(model.reconstruct(model.encode(x)), x))
    assert loss() == clean
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(7))
    want = F.mse_loss(model.reconstruct(model.encode(x + 1.0 * noise)), x)  # clean target
    assert loss(input_noise_std=1.0) == float(want)

    model.config = TINY.model_copy(update={"latent_dropout": 0.5})
    z = model.encode(x)
    keep = torch.rand(z.shape, generator=torch.Generator().manual_seed(7)) >= 0.5
    want = F.mse_loss(model.reconstruct(z * keep / 0.5), x)
    assert loss() == float(want) and loss() != pytest.approx(clean)
    # the model's own operations stay deterministic, in either mode: bit for bit
    for mode in (True, False):
        model.train(mode)
        torch.testing.assert_close(model.encode(x), z, rtol=0, atol=0)
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


def test_acai_steps_the_critic_checkpoints_and_resumes(tmp_path: Path) -> None:
    cfg = _cfg(acai=ACAIConfig(enabled=True, critic_lr=1e-3))
    full = ConvAETrainer(cfg, _data(), tmp_path / "full", show_progress=False)
    start = {k: v.clone() for k, v in full.acai.critic.state_dict().items()}
    full.fit()
    moved = [k for k, v in full.acai.critic.net.encoder.state_dict().items()
             if not torch.equal(v, start[f"net.encoder.{k}"])]  # fmt: skip
    assert len(moved) == len(full.acai.critic.net.encoder.state_dict())  # every encoder tensor
    assert all(
        np.isfinite(r["critic_loss"]) and r["critic_loss"] > 0 for r in full.state["history"]
    )

    with killed_after(1), pytest.raises(KeyboardInterrupt):
        ConvAETrainer(cfg, _data(), tmp_path / "cut", show_progress=False).fit()
    saved = loop.load_checkpoint(tmp_path / "cut")
    assert saved["progress"]["epoch"] == 1 and "acai" in saved
    resumed = ConvAETrainer(cfg, _data(), tmp_path / "cut", resume=True, show_progress=False)
    assert resumed.acai.opt.state_dict()["state"]  # critic's Adam moments restored
    resumed.fit()
    # a resumed run repeats the full run's operations in the same process: the same bits,
    # so a lost RNG or Adam state shows
    exact = {"rtol": 0, "atol": 0}
    for k, v in full.acai.critic.state_dict().items():
        torch.testing.assert_close(resumed.acai.critic.state_dict()[k], v, msg=k, **exact)
    for k, v in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[k], v, msg=k, **exact)
    for key in ("loss", "critic_loss", "val_mse"):
        got = [r[key] for r in resumed.state["history"]]
        assert got == [r[key] for r in full.state["history"]], key


def test_recipes_are_the_paper_settings_on_one_budget() -> None:
    cfgs = {name: ConvAETrainConfig.model_validate(read_recipe(name)) for name in RECIPES}
    paper = ConvAEConfig()  # the lines model: 32x32, depth 16, 4 scales, latent 2x2x16
    for name, cfg in cfgs.items():
        assert (cfg.family, cfg.name, cfg.dataset, cfg.batch_size) == ("conv-ae", name, "lines", 64)
        for key in ("image_shape", "depth", "scales", "latent_channels", "value_range"):
            assert getattr(cfg.model, key) == getattr(paper, key), (name, key)
    shared = {
        (c.n_train, c.epochs, c.lr, c.seed, c.model.init_gain, c.acai.critic_lr)
        for c in cfgs.values()
    }
    assert len(shared) == 1  # the four runs differ only in their regulariser
    ae, den, drop, acai = (cfgs[n] for n in RECIPES)
    assert (ae.input_noise_std, ae.model.latent_dropout, ae.acai.enabled) == (0.0, 0.0, False)
    assert (den.input_noise_std, den.model.latent_dropout, den.acai.enabled) == (1.0, 0.0, False)
    assert (drop.input_noise_std, drop.model.latent_dropout, drop.acai.enabled) == (0.0, 0.5, False)
    assert (acai.acai.enabled, acai.acai.lam, acai.acai.gamma) == (True, 0.5, 0.2)
    assert (acai.input_noise_std, acai.model.latent_dropout) == (0.0, 0.0)
    with pytest.raises(ValueError, match="input_noise"):
        ConvAETrainConfig(input_noise_std=-1.0)
