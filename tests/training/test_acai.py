"""ACAI regulariser: mixing, critic, gradients, and the option in the shared trainer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aezoo.models.acai import Critic
from aezoo.models.sda import SdAConfig, StackedDenoisingAutoencoder
from aezoo.training import loop
from aezoo.training.acai import ACAIConfig, ACAIRegularizer
from aezoo.training.recipes import read_recipe
from aezoo.training.sda import SdATrainConfig, SdATrainer
from tests.training.helpers import killed_after

torch.set_num_threads(1)
TINY = SdAConfig(hidden_sizes=[16, 8])


def _reg(**kw: float) -> ACAIRegularizer:
    torch.manual_seed(0)
    return ACAIRegularizer(StackedDenoisingAutoencoder(TINY), ACAIConfig(enabled=True, **kw))


def test_mix_shapes_and_alpha_range() -> None:
    reg = _reg()
    z = torch.randn(64, 8)
    z_mix, alpha = reg.mix(z, torch.Generator().manual_seed(0))
    assert z_mix.shape == (64, 8) and alpha.shape == (64,)
    assert alpha.min() >= 0.0 and alpha.max() <= 0.5 and alpha.max() > 0.4
    expected = alpha[:, None] * z + (1 - alpha[:, None]) * z.flip(0)
    torch.testing.assert_close(z_mix, expected, rtol=0, atol=0)  # the same two products


def test_critic_is_a_fresh_encoder_averaged_to_a_scalar() -> None:
    model = StackedDenoisingAutoencoder(TINY)
    critic = Critic(model)
    assert critic(torch.rand(5, 784)).shape == (5,)
    assert (
        critic.net.layers[0].encoder.weight.data_ptr() != model.layers[0].encoder.weight.data_ptr()
    )


def test_critic_steps_reduce_the_critic_loss() -> None:
    reg = _reg(critic_lr=1e-2)
    x = torch.rand(32, 784)
    with torch.no_grad():
        x_hat = reg.model(x)

    def loss() -> float:
        return float(reg.critic_loss(x, x_hat, torch.Generator().manual_seed(0)).detach())

    before = loss()
    for _ in range(20):
        reg.critic_step(x, x_hat, torch.Generator().manual_seed(0))
    assert loss() < 0.5 * before


def test_autoencoder_term_reaches_the_autoencoder_only() -> None:
    reg = _reg()
    term = reg.autoencoder_term(torch.rand(16, 784), torch.Generator().manual_seed(0))
    assert term.ndim == 0 and float(term.detach()) >= 0
    term.backward()
    assert all(p.grad is None for p in reg.critic.parameters())
    grads = [p.grad for p in reg.model.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    assert all(p.requires_grad for p in reg.critic.parameters())  # restored for its own step


def _data(n: int = 96) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    X = (rng.random((n, 784)) < 0.2).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    return {"train": (X, y), "val": (X[:32], y[:32])}


def test_default_recipe_leaves_acai_off(tmp_path: Path) -> None:
    cfg = SdATrainConfig(**read_recipe("sda-mnist"))
    assert cfg.acai == ACAIConfig() and not cfg.acai.enabled
    small = SdATrainConfig(model=TINY, pretrain_epochs=1, finetune_epochs=0, batch_size=48)
    trainer = SdATrainer(small, _data(), tmp_path, show_progress=False)
    assert trainer.acai is None
    trainer.fit()
    assert "acai" not in loop.load_checkpoint(tmp_path)
    assert "critic_loss" not in trainer.state["history"][0]
    with pytest.raises(ValueError, match="lamda"):
        ACAIConfig(lamda=1.0)  # type: ignore[call-arg]


def test_sda_with_acai_trains_checkpoints_and_resumes(tmp_path: Path) -> None:
    cfg = SdATrainConfig(
        model=TINY,
        pretrain_epochs=2,
        finetune_epochs=0,
        batch_size=48,
        acai=ACAIConfig(enabled=True, critic_lr=1e-3),
    )
    full = SdATrainer(cfg, _data(), tmp_path / "full", show_progress=False)
    full.fit()
    assert all(np.isfinite(r["critic_loss"]) for r in full.state["history"])

    with killed_after(1), pytest.raises(KeyboardInterrupt):  # killed after the first epoch
        SdATrainer(cfg, _data(), tmp_path / "cut", show_progress=False).fit()
    saved = loop.load_checkpoint(tmp_path / "cut")["acai"]
    resumed = SdATrainer(cfg, _data(), tmp_path / "cut", resume=True, show_progress=False)
    # a checkpoint restores tensors bit for bit, and a resumed run repeats the full run's
    # operations in the same process: the same bits, so a lost RNG or Adam state shows
    exact = {"rtol": 0, "atol": 0}
    for k, v in saved["critic"].items():
        torch.testing.assert_close(resumed.acai.critic.state_dict()[k], v, msg=k, **exact)
    assert resumed.acai.opt.state_dict()["state"]  # Adam moments restored, not fresh
    resumed.fit()
    for k, v in full.acai.critic.state_dict().items():
        torch.testing.assert_close(resumed.acai.critic.state_dict()[k], v, msg=k, **exact)
    for k, v in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[k], v, msg=k, **exact)


@pytest.mark.parametrize("family", ["drsae", "lista"])
def test_acai_is_an_option_of_every_family_that_decodes(family: str, tmp_path: Path) -> None:
    """DrSAE and LISTA take ``acai`` like SdA and conv-ae: the critic trains alongside."""
    from aezoo.models.drsae import DrSAEConfig
    from aezoo.models.lista import LISTAConfig
    from aezoo.training.drsae import DrSAETrainConfig, DrSAETrainer
    from aezoo.training.lista import LISTATrainConfig, LISTATrainer

    rng = np.random.default_rng(0)
    X = rng.random((96, 784)).astype(np.float32)
    y = rng.integers(0, 10, 96)
    data = {"train": (X, y), "val": (X[:32], y[:32])}
    acai = ACAIConfig(enabled=True, critic_lr=1e-3)
    if family == "drsae":
        model = DrSAEConfig(n_components=16, n_steps=2)
        cfg, cls = (
            DrSAETrainConfig(
                model=model,
                unsupervised_epochs=1,
                discriminative_epochs=1,
                batch_size=32,
                acai=acai,
            ),
            DrSAETrainer,
        )
    else:
        model = LISTAConfig(n_components=16, n_iterations=1, fista_step=0.5, fista_max_steps=20)
        cfg, cls = LISTATrainConfig(model=model, epochs=1, batch_size=32, acai=acai), LISTATrainer
    trainer = cls(cfg, data, tmp_path, show_progress=False)
    before = {k: v.clone() for k, v in trainer.acai.critic.state_dict().items()}
    trainer.fit()
    assert all(np.isfinite(r["critic_loss"]) for r in trainer.state["history"])
    after = trainer.acai.critic.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
