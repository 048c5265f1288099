"""DrSAE trainer: norm bounds, per-matrix learning rates, the two phases, resume, recipe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aezoo.errors import ConfigError
from aezoo.models.drsae import DrSAEConfig
from aezoo.training.drsae import DrSAETrainConfig, DrSAETrainer, losses, stages
from aezoo.training.pipeline import make_figures, parse_config
from aezoo.training.recipes import apply_overrides, read_recipe
from tests.tolerance import sum_atol
from tests.training.helpers import killed_after

TINY = DrSAEConfig(n_components=16, n_steps=5)


def _data(n: int = 192) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    X = (rng.random((n, 784)) < 0.2).astype(np.float32)
    y = (X[:, :392].sum(1) > X[:, 392:].sum(1)).astype(np.int64)  # learnable labels
    return {"train": (X, y), "val": (X[:64], y[:64])}


def _cfg(**kw) -> DrSAETrainConfig:
    base = {"model": TINY, "unsupervised_epochs": 1, "discriminative_epochs": 2, "batch_size": 32}
    return DrSAETrainConfig(**{**base, **kw})


def test_norm_bounds_hold_after_a_training_step(tmp_path: Path) -> None:
    cfg = _cfg(unsupervised_epochs=0, discriminative_epochs=1, unsupervised_lr=0.1)
    trainer = DrSAETrainer(cfg, _data(32), tmp_path, show_progress=False)
    model = trainer.model
    with torch.no_grad():  # push every matrix far outside its bounds
        model.D.mul_(7.0)
        model.E.mul_(7.0)
        model.C.mul_(50.0)
    assert model.D.norm(dim=0).max() > 1.0 and model.C.norm(dim=1).max() > 5.0
    trainer.fit()  # one step: 32 samples, batch 32
    # rescaled to the bound in float32, then measured by another float32 norm: a relative
    # 784-term (D, E) or n_components-term (C) sum-of-squares error on each side
    tol, tol_c = sum_atol(np.float32, 784), sum_atol(np.float32, model.n_components)
    assert model.D.norm(dim=0).max() <= 1.0 * (1 + tol)  # columns of D
    assert model.E.norm(dim=1).max() <= 1.25 / (5 - 1) * (1 + tol)  # rows of E
    assert model.C.norm(dim=1).max() <= 5.0 * (1 + tol_c)  # rows of C
    # the projection rescales, it does not zero: the bounds are reached, not undershot
    assert model.C.norm(dim=1).min() > 5.0 - 1e-3


def test_learning_rate_divided_by_uses_in_the_unrolled_graph(tmp_path: Path) -> None:
    trainer = DrSAETrainer(_cfg(discriminative_lr=0.01), _data(), tmp_path, show_progress=False)
    opt = trainer.make_optimizer({"kind": "discriminative", "epochs": 1})
    lrs = {g["name"]: g["lr"] for g in opt.param_groups}
    assert lrs == pytest.approx({"E": 0.01 / 5, "b": 0.01 / 5, "S": 0.01 / 4, "D": 0.01, "C": 0.01})
    plain = DrSAETrainer(_cfg(lr_division=False), _data(), tmp_path / "p", show_progress=False)
    assert {g["lr"] for g in plain.make_optimizer({"kind": "unsupervised"}).param_groups} == {1e-3}


def test_gradients_flow_through_time_and_phase_one_ignores_labels() -> None:
    torch.manual_seed(0)
    trainer_cfg = _cfg()
    from aezoo.models.drsae import DrSAE

    model = DrSAE(TINY)
    x = torch.from_numpy(_data(16)["train"][0][:16])
    terms = losses(model, x, None, 0.1)
    assert set(terms) == {"recon", "l1"}
    (terms["recon"] + terms["l1"]).backward()
    assert model.S.grad is not None and model.S.grad.abs().sum() > 0  # BPTT reaches S
    assert model.C.grad is None  # phase 1 does not train the classifier
    y = torch.zeros(16, dtype=torch.long)
    assert "cls" in losses(model, x, y, trainer_cfg.sparsity)
    # denoising: the encoder sees x_in, the target stays the clean (unit-norm) x
    with torch.no_grad():
        blind = losses(model, x, None, 0.1, x_in=torch.zeros_like(x))  # z = 0 for a zero input
    # 0.5 |x / |x||^2: two float32 784-term sums of squares (the norm, then the loss), each
    # gamma_784 relative at most, and a few roundings: inside 0.5 * sum_atol's 2 gamma_784
    recon_atol = 0.5 * sum_atol(np.float32, 784 + 8)
    assert float(blind["recon"]) == pytest.approx(0.5, abs=recon_atol)
    assert float(blind["l1"]) == 0.0
    assert [s["kind"] for s in stages(trainer_cfg)] == ["unsupervised", "discriminative"]


def test_two_phases_train_checkpoint_and_early_stop(tmp_path: Path) -> None:
    cfg = _cfg(unsupervised_epochs=3, discriminative_epochs=3, sparsity=0.01)
    trainer = DrSAETrainer(cfg, _data(), tmp_path, show_progress=False)
    trainer.fit()
    hist = trainer.state["history"]
    phase1 = [r["recon"] for r in hist if r["stage"] == "unsupervised"]
    assert phase1[-1] < phase1[0]
    phase2 = [r for r in hist if r["stage"] == "discriminative"]
    assert len(phase2) == 3 and all("val_error" in r and "cls" in r for r in phase2)
    assert trainer.state["best_val_error"] == min(r["val_error"] for r in phase2)
    assert (tmp_path / "checkpoint.pt").is_file()
    stopped = DrSAETrainer(
        _cfg(discriminative_epochs=50, patience=1, discriminative_lr=1e-9),
        _data(),
        tmp_path / "es",
        show_progress=False,
    )
    stopped.fit()  # a learning rate of ~0 cannot improve: stops after patience epochs
    assert len([r for r in stopped.state["history"] if r["stage"] == "discriminative"]) == 2


def test_resume_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    cfg = _cfg()
    full = DrSAETrainer(cfg, _data(), tmp_path / "full", show_progress=False).fit()
    with killed_after(2), pytest.raises(KeyboardInterrupt):  # killed in the middle of phase 2
        DrSAETrainer(cfg, _data(), tmp_path / "cut", show_progress=False).fit()
    resumed = DrSAETrainer(cfg, _data(), tmp_path / "cut", resume=True, show_progress=False)
    assert resumed.state["stage"] == 1 and resumed.state["epoch"] == 1
    model = resumed.fit()
    # not bit for bit (unlike SdA, ConvAE and ACAI): D differs by ~2e-8 (an ulp) after the
    # resume, a rounding somewhere in the restored state; no a-priori bound follows training
    # dynamics, so assert_close's float32 defaults stay
    for (k, a), b in zip(full.state_dict().items(), model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=k)
    with pytest.raises(ValueError, match="different recipe"):
        DrSAETrainer(cfg.model_copy(update={"seed": 3}), _data(), tmp_path / "cut", resume=True)


def test_recipe_validates_and_rejects_unknown_keys() -> None:
    cfg = parse_config(read_recipe("drsae-mnist"))
    assert isinstance(cfg, DrSAETrainConfig)
    assert (cfg.model.n_components, cfg.model.n_steps) == (400, 11)
    cfg = parse_config(apply_overrides(read_recipe("drsae-mnist"), ["model.n_steps=2"]))
    assert cfg.model.n_steps == 2
    with pytest.raises(ConfigError, match="lamda"):
        parse_config(apply_overrides(read_recipe("drsae-mnist"), ["lamda=0.1"]))


def test_model_card_figures_include_the_analysis(tmp_path: Path) -> None:
    trainer = DrSAETrainer(_cfg(), _data(), tmp_path, show_progress=False)
    X, y = _data(40)["train"]
    figs = make_figures(trainer.model.eval(), X, (28, 28), 0, y)
    assert {"unit_selectivity.png", "step_activity.png", "filters.png"} <= set(figs)
    assert all(v.startswith(b"\x89PNG") for v in figs.values())
    assert "unit_selectivity.png" not in make_figures(trainer.model, X, (28, 28))
