"""SdA trainer: the two schemes' gradients, stages, resume, recipes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aezoo.errors import ConfigError
from aezoo.models.sda import SdAConfig, StackedDenoisingAutoencoder
from aezoo.training.pipeline import parse_config
from aezoo.training.recipes import apply_overrides, list_recipes, read_recipe
from aezoo.training.sda import SdATrainConfig, SdATrainer, joint_loss, layer_loss, stages
from tests.training.helpers import killed_after

TINY = SdAConfig(hidden_sizes=[24, 12, 8])


def _grads(model: StackedDenoisingAutoencoder, loss: torch.Tensor) -> list[float]:
    model.zero_grad()
    loss.backward()
    return [
        float(layer.encoder.weight.grad.abs().sum())
        if layer.encoder.weight.grad is not None
        else 0.0
        for layer in model.layers
    ]


def test_joint_loss_trains_every_layer_layerwise_only_one() -> None:
    torch.manual_seed(0)
    model = StackedDenoisingAutoencoder(TINY)
    x = torch.rand(16, 784)
    cfg = SdATrainConfig(model=TINY)
    assert all(
        g > 0 for g in _grads(model, joint_loss(model, x, cfg, torch.Generator().manual_seed(0)))
    )
    g = _grads(model, layer_loss(model, 1, x, cfg, torch.Generator().manual_seed(0)))
    assert g[0] == 0.0 and g[1] > 0 and g[2] == 0.0


def test_local_terms_add_to_the_global_term() -> None:
    torch.manual_seed(0)
    model = StackedDenoisingAutoencoder(TINY)
    x = torch.rand(8, 784)
    no_local = joint_loss(
        model, x, SdATrainConfig(model=TINY, local_weight=0.0), torch.Generator().manual_seed(1)
    )
    with_local = joint_loss(model, x, SdATrainConfig(model=TINY), torch.Generator().manual_seed(1))
    assert float(with_local.detach()) > float(no_local.detach()) > 0


def test_stages_share_the_budget() -> None:
    lw = stages(
        SdATrainConfig(model=TINY, scheme="layerwise", pretrain_epochs=7, finetune_epochs=2)
    )
    assert [(s["kind"], s["layer"], s["epochs"]) for s in lw] == [
        ("layerwise", 0, 3),
        ("layerwise", 1, 2),
        ("layerwise", 2, 2),
        ("finetune", -1, 2),
    ]
    joint = stages(SdATrainConfig(model=TINY, pretrain_epochs=7, finetune_epochs=0))
    assert [(s["kind"], s["epochs"]) for s in joint] == [("joint", 7)]


def _data(n: int = 256) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    X = (rng.random((n, 784)) < 0.2).astype(np.float32)
    y = (X[:, :392].sum(1) > X[:, 392:].sum(1)).astype(np.int64)  # learnable labels
    return {"train": (X, y), "val": (X[:64], y[:64])}


def test_training_reduces_loss_and_checkpoints(tmp_path: Path) -> None:
    cfg = SdATrainConfig(model=TINY, pretrain_epochs=3, finetune_epochs=2, batch_size=32)
    trainer = SdATrainer(cfg, _data(), tmp_path, show_progress=False)
    trainer.fit()
    joint = [r["loss"] for r in trainer.state["history"] if r["stage"] == "joint"]
    assert joint[-1] < joint[0]
    assert (tmp_path / "checkpoint.pt").is_file()
    assert trainer.state["best_val_error"] is not None


def test_resume_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    cfg = SdATrainConfig(model=TINY, pretrain_epochs=2, finetune_epochs=2, batch_size=32)
    full = SdATrainer(cfg, _data(), tmp_path / "full", show_progress=False).fit()

    with (
        killed_after(2),
        pytest.raises(KeyboardInterrupt),
    ):  # stop after 2 epochs, like a killed job
        SdATrainer(cfg, _data(), tmp_path / "cut", show_progress=False).fit()
    resumed = SdATrainer(cfg, _data(), tmp_path / "cut", resume=True, show_progress=False)
    assert resumed.state["stage"] == 1 and resumed.state["epoch"] == 0
    model = resumed.fit()
    # a resumed run repeats the full run's operations in the same process: the same bits
    for (k, a), b in zip(full.state_dict().items(), model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)


def test_resume_refuses_a_different_recipe(tmp_path: Path) -> None:
    cfg = SdATrainConfig(model=TINY, pretrain_epochs=1, finetune_epochs=0)
    SdATrainer(cfg, _data(), tmp_path, show_progress=False).fit()
    other = cfg.model_copy(update={"seed": 5})
    with pytest.raises(ValueError, match="different recipe"):
        SdATrainer(other, _data(), tmp_path, resume=True, show_progress=False)


def test_recipes_validate_and_reject_unknown_keys() -> None:
    assert "sda-mnist" in list_recipes()
    for name in list_recipes():
        parse_config(read_recipe(name))
    data = apply_overrides(
        read_recipe("sda-mnist"), ["seed=3", "model.hidden_sizes=[10,5]", "scheme=layerwise"]
    )
    cfg = parse_config(data)
    assert (cfg.seed, cfg.model.hidden_sizes, cfg.scheme) == (3, [10, 5], "layerwise")
    with pytest.raises(ConfigError, match="lerning_rate"):
        parse_config(apply_overrides(read_recipe("sda-mnist"), ["lerning_rate=0.1"]))
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["seed"])
    with pytest.raises(ConfigError, match="unknown recipe"):
        read_recipe("no-such-recipe")


@pytest.mark.parametrize("split", ["train", "train_full"])
def test_train_split_decides_between_best_and_final_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split: str
) -> None:
    data = _data()
    X, y = data["train"]
    data["train_full"] = (np.concatenate([X, X[:32]]), np.concatenate([y, y[:32]]))
    errors = iter([0.1, 0.5, 0.9])  # the first fine-tuning epoch is the best one
    monkeypatch.setattr(SdATrainer, "val_error", lambda self: next(errors))
    cfg = SdATrainConfig(
        model=TINY,
        pretrain_epochs=1,
        finetune_epochs=3,
        batch_size=32,
        patience=0,
        train_split=split,
    )
    trainer = SdATrainer(cfg, data, tmp_path, show_progress=False)
    assert len(trainer.X) == len(X) + (32 if split == "train_full" else 0)
    model = trainer.fit()
    final = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["model"]
    best = trainer.best_state
    assert best is not None and trainer.state["best_epoch"] == 1
    want = final if split == "train_full" else best
    other = best if split == "train_full" else final
    got = model.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in got)
    assert not all(torch.equal(got[k], other[k]) for k in got)


def test_reconstruction_stage_stops_on_validation_mse_and_keeps_its_best_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aezoo.training.trainer import StagedTrainer

    real = StagedTrainer._epoch
    calls = {"n": 0}

    def epoch(self, *args, **kwargs):  # after the first epoch, every epoch wrecks the weights
        out = real(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] > 1:
            with torch.no_grad():
                for p in self.model.parameters():
                    p.add_(torch.randn_like(p) * 3.0)
        return out

    monkeypatch.setattr(StagedTrainer, "_epoch", epoch)
    cfg = SdATrainConfig(
        model=SdAConfig(hidden_sizes=[24, 12, 8], n_classes=None),
        pretrain_epochs=20,
        batch_size=32,
        recon_patience=2,
    )
    trainer = SdATrainer(cfg, _data(), tmp_path, show_progress=False)
    model = trainer.fit()
    history = trainer.state["history"]
    assert len(history) == 3 and all("val_recon_mse" in r for r in history)  # 1 + patience
    assert history[0]["val_recon_mse"] < min(r["val_recon_mse"] for r in history[1:])
    assert trainer.state["best_epoch"] == 1
    got, best = model.state_dict(), trainer.best_state
    assert all(torch.equal(got[k], best[k]) for k in got)  # the first epoch's weights
    cfg_off = cfg.model_copy(update={"recon_patience": 0, "pretrain_epochs": 3})
    off = SdATrainer(cfg_off, _data(), tmp_path / "off", show_progress=False)
    off.fit()
    assert len(off.state["history"]) == 3 and "val_recon_mse" not in off.state["history"][0]
