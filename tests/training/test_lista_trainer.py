"""LISTA trainer: one tiny epoch lowers the energy; SDL keeps unit-norm atoms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aezoo.models.lista import LISTAConfig
from aezoo.training.lista import LISTATrainConfig, LISTATrainer, energy
from tests.tolerance import sum_atol

TINY = LISTAConfig(n_components=16, n_iterations=2, fista_max_steps=50)


def _data(n: int = 128) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    X = (rng.random((n, 784)) < 0.2).astype(np.float32)
    y = np.zeros(n, dtype=np.int64)
    return {"train": (X, y), "val": (X[:32], y[:32])}


def _energy(trainer: LISTATrainer, x: torch.Tensor) -> float:
    with torch.no_grad():
        return float(energy(trainer.model, x, trainer.cfg)["energy"])


@pytest.mark.parametrize(
    "model",
    [TINY, TINY.model_copy(update={"decoder": "nl", "nl_hidden": 32, "lam": 0.01})],
    ids=["linear", "nl"],
)
def test_one_epoch_lowers_the_energy(model: LISTAConfig, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = LISTATrainConfig(model=model, epochs=1, batch_size=32, decoder_lr=1e-3, encoder_lr=1e-3)
    data = _data()
    trainer = LISTATrainer(cfg, data, tmp_path, show_progress=False)
    x = torch.from_numpy(data["train"][0][:64])
    before = _energy(trainer, x)
    out = trainer.fit()
    after = _energy(trainer, x)
    assert after < before
    assert (tmp_path / "checkpoint.pt").exists()
    assert trainer.state["history"][0]["stage"] == "sparse-coding"
    with torch.no_grad():
        terms = energy(out, x, cfg)
    assert float(terms["codes"].min()) >= 0.0 and int(terms["fista_steps"]) >= 1


def test_sdl_keeps_unit_norm_atoms(tmp_path: Path) -> None:
    model = TINY.model_copy(update={"unit_norm_atoms": True, "lam": 0.005})
    cfg = LISTATrainConfig(
        model=model, beta=0.0, gamma=1.0, epochs=1, batch_size=32, decoder_lr=0.05
    )
    trainer = LISTATrainer(cfg, _data(64), tmp_path, show_progress=False)
    trainer.fit()
    norms = trainer.model.decoder.weight.norm(dim=0)
    # w / |w| then |.| again in float32: 784-term sums of squares adding up to 1, each side
    # gamma_784 / 2 relative plus a few roundings: inside sum_atol's 2 gamma_784
    torch.testing.assert_close(norms, torch.ones(16), atol=sum_atol(np.float32, 784), rtol=0)


def test_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="extra"):
        LISTATrainConfig(lambda_=0.1)  # type: ignore[call-arg]


@pytest.mark.parametrize("select", ["last", "val_energy"])
def test_checkpoint_selection_by_validation_energy(select: str, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = (rng.random((64, 784)) < 0.2).astype(np.float32)
    X_val = (rng.random((32, 784)) < 0.2).astype(np.float32)  # unseen: its energy rises
    y = np.zeros(64, dtype=np.int64)
    cfg = LISTATrainConfig(
        model=TINY, epochs=4, batch_size=32, decoder_lr=0.01, encoder_lr=0.01,
        select_checkpoint=select,
    )  # fmt: skip
    trainer = LISTATrainer(cfg, {"train": (X, y), "val": (X_val, y[:32])}, tmp_path, False)
    trainer.fit()
    val = [h["val_energy"] for h in trainer.state["history"]]
    assert len(val) == 4 and int(np.argmin(val)) != 3  # the last epoch is not the best here
    if select == "val_energy":
        assert trainer.state["best_epoch"] == int(np.argmin(val)) + 1
        # the best epoch's weights, restored bit for bit, on the same batches: the same value
        assert trainer.val_energy() == min(val)
    else:
        assert trainer.val_energy() == val[-1]
