"""The terms that make ACAI what it is (Berthelot et al., arXiv:1807.07543, §3), each pinned
by a test that fails without it: the critic's two terms ``||d(x_hat_a) - a||^2`` and
``||d(gamma x + (1 - gamma) x_hat)||^2``, the autoencoder's ``lambda ||d(x_hat_a)||^2``, and
the trainer adding that term to every reconstruction step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from aezoo.models.sda import SdAConfig, StackedDenoisingAutoencoder
from aezoo.training.acai import ACAIConfig, ACAIRegularizer
from aezoo.training.sda import SdATrainConfig, SdATrainer

torch.set_num_threads(1)
TINY = SdAConfig(hidden_sizes=[16, 8])


class MeanCritic(nn.Module):
    """A critic whose answer is known: the mean of the image, times 3."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 3 * x.mean(dim=1)


def regulariser(lam: float, gamma: float) -> tuple[ACAIRegularizer, torch.Tensor]:
    torch.manual_seed(0)
    reg = ACAIRegularizer(
        StackedDenoisingAutoencoder(TINY), ACAIConfig(enabled=True, lam=lam, gamma=gamma)
    )
    reg.critic = MeanCritic()
    return reg, torch.rand(12, 784)


def mixed(reg: ACAIRegularizer, x: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x_hat_alpha and alpha by hand: alpha = U(0, 1) folded at 0.5, from the same draw."""
    u = torch.rand(len(x), generator=torch.Generator().manual_seed(seed))
    alpha = torch.minimum(u, 1 - u)
    z = reg.model.encode(x)
    return reg.model.decode(alpha[:, None] * z + (1 - alpha[:, None]) * z.flip(0)), alpha


@pytest.mark.parametrize(("lam", "gamma"), [(0.5, 0.2), (1.3, 0.65)])
def test_critic_loss_has_both_terms_with_gamma(lam: float, gamma: float) -> None:
    reg, x = regulariser(lam, gamma)
    with torch.no_grad():
        x_hat = reg.model(x)
        x_mix, alpha = mixed(reg, x, seed=4)
        d = reg.critic
        fake = (d(x_mix) - alpha).pow(2).mean()
        real = d(gamma * x + (1 - gamma) * x_hat).pow(2).mean()
    got = reg.critic_loss(x, x_hat, torch.Generator().manual_seed(4))
    # critic_loss's own operations on the same tensors and draws: the same bits
    torch.testing.assert_close(got, fake + real, rtol=0, atol=0)
    assert float(fake) > 0 and float(real) > 0


@pytest.mark.parametrize("lam", [0.5, 1.7])
def test_autoencoder_term_is_lambda_times_the_critic_squared(lam: float) -> None:
    reg, x = regulariser(lam, 0.2)
    x_mix, _ = mixed(reg, x, seed=9)
    by_hand = lam * reg.critic(x_mix).pow(2).mean()
    got = reg.autoencoder_term(x, torch.Generator().manual_seed(9))
    torch.testing.assert_close(got, by_hand, rtol=0, atol=0)  # the same operations and draws
    (g,) = torch.autograd.grad(got, [reg.model.layers[0].encoder.weight])
    assert float(g.abs().sum()) > 0  # it trains the autoencoder


def test_the_trainer_adds_the_weighted_term_to_each_step(tmp_path: Path) -> None:
    """One step from the same start, lambda 0 vs 2: the autoencoder moves differently, and
    the logged loss differs by lambda * d(x_hat_a)^2 > 0."""
    rng = np.random.default_rng(0)
    X = (rng.random((32, 784)) < 0.2).astype(np.float32)
    data = {"train": (X, np.zeros(32, np.int64)), "val": (X[:8], np.zeros(8, np.int64))}

    def one_step(lam: float) -> SdATrainer:
        acai = ACAIConfig(enabled=True, lam=lam, critic_lr=1e-3)
        cfg = SdATrainConfig(
            model=TINY, pretrain_epochs=1, finetune_epochs=0, batch_size=32, acai=acai
        )
        trainer = SdATrainer(cfg, data, tmp_path / str(lam), show_progress=False)
        trainer.fit()
        return trainer

    off, on = one_step(0.0), one_step(2.0)
    moved = [
        k for k, v in off.model.state_dict().items() if not torch.equal(v, on.model.state_dict()[k])
    ]
    assert moved  # the adversarial term changed the update
    assert on.state["history"][0]["loss"] > off.state["history"][0]["loss"]


def test_the_critic_has_its_own_adam_at_critic_lr() -> None:
    model = StackedDenoisingAutoencoder(TINY)
    reg = ACAIRegularizer(model, ACAIConfig(enabled=True, critic_lr=3e-5))
    assert isinstance(reg.opt, torch.optim.Adam) and reg.opt.param_groups[0]["lr"] == 3e-5
    owned = {id(p) for p in reg.critic.parameters()}
    assert {id(p) for p in reg.opt.param_groups[0]["params"]} == owned
    assert not owned & {id(p) for p in model.parameters()}  # never the autoencoder's
