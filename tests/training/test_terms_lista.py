"""The terms that make a LISTA sparse coder VDL (Evtimova & LeCun, arXiv:2112.09214, §3),
each pinned by a test that fails without it: the variance hinge
``beta * sum_j max(0, T - std_j(Z))^2`` in the energy and in FISTA's codes, the L1 term,
and the encoder trained towards the FISTA codes."""

from __future__ import annotations

import math

import pytest
import torch

from aezoo.models.lista import LISTAConfig, SparseCodingAutoencoder, variance_hinge
from aezoo.training.lista import LISTATrainConfig, code_energy, energy

torch.set_num_threads(1)
TINY = LISTAConfig(n_components=16, n_iterations=1, fista_step=0.5, fista_max_steps=30)


def test_variance_hinge_by_hand() -> None:
    Z = torch.tensor([[0.0, 1.0, 0.2], [0.0, 3.0, 0.4]])  # unbiased stds 0, sqrt 2, 0.1 sqrt 2
    s = 0.1 * math.sqrt(2)
    # float32 stds of two samples and a few squares: some 10 roundings (~6e-7), inside 1e-6
    assert float(variance_hinge(Z)) == pytest.approx(0.5**2 + (0.5 - s) ** 2, rel=1e-6)
    assert float(variance_hinge(Z, threshold=2.0)) == pytest.approx(
        4.0 + (2.0 - math.sqrt(2)) ** 2 + (2.0 - s) ** 2, rel=1e-6
    )


def setup(beta: float) -> tuple[SparseCodingAutoencoder, torch.Tensor, LISTATrainConfig]:
    torch.manual_seed(0)
    model = SparseCodingAutoencoder(TINY)
    x = (torch.rand(32, 784) < 0.2).float()
    return model, x, LISTATrainConfig(model=TINY, beta=beta, gamma=5.0)


def test_code_energy_adds_the_hinge_and_the_l1_term_by_hand() -> None:
    model, x, cfg = setup(beta=10.0)
    y = model.normalize(x)
    Z = torch.rand(32, 16) * 0.3
    with torch.no_grad():
        got = float(code_energy(model, y, Z, cfg))
        recon = (y - model.reconstruct(Z)).pow(2).mean()
        l1 = TINY.lam * Z.abs().sum(1).mean()
        hinge = cfg.beta * variance_hinge(Z, cfg.hinge_threshold) / len(y)
    assert float(hinge) > 0  # the codes' stds sit below T = 0.5
    # code_energy's own operations on the same tensors (|Z| = Z for Z >= 0): the same bits
    assert got == float(recon + l1 + hinge)


def test_fista_codes_follow_the_variance_hinge() -> None:
    """Same model, inputs and start: with beta > 0 the codes spread (their hinge drops) and
    their energy under the VDL objective is lower than that of the beta = 0 codes."""
    model, x, vdl = setup(beta=10.0)
    sdl = vdl.model_copy(update={"beta": 0.0})
    with torch.no_grad():
        z_vdl = energy(model, x, vdl)["codes"]
        z_sdl = energy(model, x, sdl)["codes"]
        y = model.normalize(x)
        e_vdl, e_sdl = code_energy(model, y, z_vdl, vdl), code_energy(model, y, z_sdl, vdl)
    assert float(variance_hinge(z_vdl)) < 0.9 * float(variance_hinge(z_sdl))
    assert float(e_vdl) < float(e_sdl)


def test_the_decoder_and_encoder_losses_by_hand() -> None:
    """``recon`` = per-pixel MSE of D(Z*) (trains the decoder), ``pred`` = per-component MSE
    of the encoder's prediction against Z* (trains the encoder, amortised inference)."""
    model, x, cfg = setup(beta=10.0)
    out = energy(model, x, cfg)
    y = model.normalize(x)
    z_star = out["codes"]
    assert not z_star.requires_grad and float(z_star.min()) >= 0.0
    # energy()'s own operations on the same tensors: the same bits, so a swapped target or a
    # missing term cannot hide under a tolerance
    exact = {"rtol": 0, "atol": 0}
    recon, pred = (y - model.reconstruct(z_star)).pow(2).mean(), (z_star - model.encoder(y))
    torch.testing.assert_close(out["recon"], recon, **exact)
    torch.testing.assert_close(out["pred"], pred.pow(2).mean(), **exact)
    torch.testing.assert_close(out["loss"], out["recon"] + out["pred"], **exact)
    with torch.no_grad():
        by_hand = code_energy(model, y, z_star, cfg) + cfg.gamma * out["pred"]
    torch.testing.assert_close(out["energy"], by_hand, **exact)
    out["loss"].backward()
    assert all(p.grad is not None for p in model.encoder.parameters())  # encoder learns
    assert all(p.grad is not None for p in model.decoder.parameters())  # decoder learns


def test_optimizer_groups_and_the_vdl_nl_halving(tmp_path) -> None:
    """Decoder at decoder_lr (NL: its hidden bias with nl_bias_weight_decay), encoder at
    encoder_lr; with decoder_lr_halving_epochs N the decoder's rate halves every N epochs."""
    import numpy as np

    from aezoo.training.lista import LISTATrainer

    X = (np.random.default_rng(0).random((8, 784)) < 0.2).astype(np.float32)
    data = {"train": (X, np.zeros(8, np.int64)), "val": (X, np.zeros(8, np.int64))}
    nl = TINY.model_copy(update={"decoder": "nl", "nl_hidden": 8})
    cfg = LISTATrainConfig(model=nl, decoder_lr=3e-4, encoder_lr=1e-4, nl_bias_weight_decay=1e-3,
                           decoder_lr_halving_epochs=3)  # fmt: skip
    trainer = LISTATrainer(cfg, data, tmp_path, show_progress=False)
    opt = trainer.make_optimizer(trainer.make_stages()[0])
    groups = [(g["lr"], g["weight_decay"], len(g["params"])) for g in opt.param_groups]
    dec = trainer.model.decoder
    assert groups == [(3e-4, 0.0, len(list(dec.parameters())) - 1), (3e-4, 1e-3, 1), (1e-4, 0.0, 3)]
    assert opt.param_groups[1]["params"][0] is dec.fc1.bias
    stage = trainer.make_stages()[0]
    assert stage["epochs"] == cfg.epochs
    assert trainer.lr_factors(stage, 0, 3) == [1.0, 1.0, 1.0]
    assert trainer.lr_factors(stage, 7, 3) == [0.25, 0.25, 1.0]  # epoch 7 // 3 = 2 halvings
    plain = LISTATrainer(cfg.model_copy(update={"decoder_lr_halving_epochs": None}), data,
                         tmp_path / "p", show_progress=False)  # fmt: skip
    assert plain.lr_factors(stage, 7, 3) is None


def test_validation_energy_is_the_mean_over_full_batches(tmp_path) -> None:
    import numpy as np

    from aezoo.training.lista import LISTATrainer

    rng = np.random.default_rng(0)
    X = (rng.random((8, 784)) < 0.2).astype(np.float32)
    X_val = (rng.random((11, 784)) < 0.2).astype(np.float32)  # batches of 4, 4, 3
    data = {"train": (X, np.zeros(8, np.int64)), "val": (X_val, np.zeros(11, np.int64))}
    cfg = LISTATrainConfig(model=TINY, batch_size=4)
    trainer = LISTATrainer(cfg, data, tmp_path, show_progress=False)
    model = trainer.model
    with torch.no_grad():
        parts = []
        for i in (0, 4, 8):
            y = model.normalize(torch.from_numpy(X_val[i : i + 4]))
            parts.append((float(code_energy(model, y, model.encoder(y), cfg)), len(y)))
    by_hand = sum(e * n for e, n in parts) / 11  # float64 sums of the same batch energies
    assert trainer.val_energy() == pytest.approx(by_hand, rel=1e-12)
    data["val"] = (X_val[:9], np.zeros(9, np.int64))  # 4, 4 and a lone sample: dropped
    trainer = LISTATrainer(cfg, data, tmp_path / "b", show_progress=False)
    assert trainer.val_energy() == pytest.approx(sum(e * n for e, n in parts[:2]) / 8, rel=1e-12)
