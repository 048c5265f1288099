"""One short real training run per family, each held to a quality floor (slow; issue 15).

The floors sit well above what a broken trainer reaches (chance, or the trivial
reconstruction that outputs the mean training image) and below what these runs reach
(numbers measured on a 2-core machine, same seeds, in each test's comment). Each run
takes seconds to about two minutes: real MNIST (``AEZOO_DATA_DIR``) or real lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aezoo.data import datasets
from aezoo.evaluation.metrics import classification_error, psnr
from aezoo.evaluation.scores import sparse_code_metrics
from aezoo.training.ops import torch_ops

pytestmark = [pytest.mark.slow, pytest.mark.integration]
N_TEST = 2000


@pytest.fixture(scope="module")
def mnist(mnist_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    torch.set_num_threads(1)
    return datasets.load_splits("mnist", str(mnist_dir))


def mean_image_psnr(splits: dict, peak: float = 1.0) -> float:
    """PSNR on the test images of the trivial model that outputs the mean training image."""
    X = splits["test"][0][:N_TEST]
    return psnr(X, np.broadcast_to(splits["train"][0].mean(0), X.shape), peak)


def error_pct(model, splits) -> float:
    X, y = splits["test"][0][:N_TEST], splits["test"][1][:N_TEST]
    return 100 * classification_error(torch_ops(model).predict, X, y)


def test_sda_joint_pretraining_then_fine_tuning(mnist, tmp_path: Path) -> None:
    """Measured: 12.6% test error (chance: 90%)."""
    from aezoo.models.sda import SdAConfig
    from aezoo.training.sda import SdATrainConfig, SdATrainer

    cfg = SdATrainConfig(model=SdAConfig(hidden_sizes=[128, 32]), pretrain_epochs=1,
                         finetune_epochs=4, max_train_samples=6000, batch_size=64)  # fmt: skip
    model = SdATrainer(cfg, mnist, tmp_path, show_progress=False).fit()
    assert error_pct(model, mnist) < 20.0


def test_drsae_two_phases(mnist, tmp_path: Path) -> None:
    """Measured: 12.6% test error, 59% of the code entries exactly zero."""
    from aezoo.models.drsae import DrSAEConfig
    from aezoo.training.drsae import DrSAETrainConfig, DrSAETrainer

    cfg = DrSAETrainConfig(model=DrSAEConfig(n_components=64, n_steps=3), unsupervised_epochs=1,
                           discriminative_epochs=3, max_train_samples=6000)  # fmt: skip
    model = DrSAETrainer(cfg, mnist, tmp_path, show_progress=False).fit()
    assert error_pct(model, mnist) < 20.0
    Z = torch_ops(model).encode(mnist["test"][0][:N_TEST])
    assert sparse_code_metrics(Z)["code_zero_pct"] > 30.0


def test_lista_vdl(mnist, tmp_path: Path) -> None:
    """Measured: 14.5 dB from the encoder's codes (the mean image: 12.1 dB), 85% zeros,
    no collapsed component (the variance hinge's claim, arXiv:2112.09214)."""
    from aezoo.models.lista import LISTAConfig
    from aezoo.training.lista import LISTATrainConfig, LISTATrainer

    model_cfg = LISTAConfig(n_components=64, fista_step=0.5, fista_max_steps=50)
    cfg = LISTATrainConfig(model=model_cfg, epochs=10, max_train_samples=6000,
                           decoder_lr=1e-3, encoder_lr=1e-3)  # fmt: skip
    model = LISTATrainer(cfg, mnist, tmp_path, show_progress=False).fit()
    ops, X = torch_ops(model), mnist["test"][0][:N_TEST]
    assert psnr(X, ops.denoise(X)) > mean_image_psnr(mnist) + 1.5
    codes = sparse_code_metrics(ops.encode(X))
    assert codes["code_zero_pct"] > 50.0 and codes["collapsed_components"] == 0


def test_conv_autoencoder_with_acai_on_lines(tmp_path: Path) -> None:
    """Measured (5 epochs): 18.4 dB on the test lines (the mean image: 16.5 dB), Mean
    Distance 0.031 (ACAI §4)."""
    from aezoo.evaluation.scores import lines_scores
    from aezoo.models.conv import ConvAEConfig
    from aezoo.training.acai import ACAIConfig
    from aezoo.training.conv import ConvAETrainConfig, ConvAETrainer

    torch.set_num_threads(1)
    cfg = ConvAETrainConfig(model=ConvAEConfig(depth=4, init_gain=2**0.5), n_train=4096,
                            epochs=5, lr=3e-3, acai=ACAIConfig(enabled=True, critic_lr=1e-3))  # fmt: skip
    splits = datasets.load_splits("lines", None, cfg.seed, cfg.n_train)
    trainer = ConvAETrainer(cfg, splits, tmp_path, show_progress=False)
    model = trainer.fit()
    assert all(np.isfinite(r["critic_loss"]) for r in trainer.state["history"])
    scores = lines_scores(torch_ops(model), splits)
    assert scores["recon_psnr_db"] > mean_image_psnr(splits, peak=2.0) + 1.0
    assert scores["lines_mean_distance"] < 0.06 and scores["lines_undefined_pairs"] == 0
