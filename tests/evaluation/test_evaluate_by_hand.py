"""``aezoo evaluate`` against numbers worked out by hand on a tiny case.

The model: the tiny SdA with every weight zero, so ``denoise`` returns 0.25 in every
pixel whatever the input (the first decoder's bias is logit(0.25)) and the classifier
always says 3 (its bias). The data: an MNIST directory whose 4 test images are each one
grey level v in {0.2, 0.4, 0.6, 1.0} with labels 3, 3, 1, 7. Then, per image, the
reconstruction's squared error is (v - 0.25)^2, 25% masking zeroes exactly 196 of 784
pixels (error v^2 / 4), and the metrics follow from PSNR = 10 log10(1 / MSE).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

LEVELS = (51, 102, 153, 255)  # uint8 grey levels: 0.2, 0.4, 0.6, 1.0
LABELS = (3, 3, 1, 7)
P = 0.25  # what the model outputs in every pixel


def write_idx(path: Path, array: np.ndarray) -> None:
    magic = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)  # unsigned byte
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(magic + dims + array.astype(np.uint8).tobytes()))


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    d = tmp_path / "mnist"
    d.mkdir()
    test = np.stack([np.full((28, 28), v, np.uint8) for v in LEVELS])
    write_idx(d / "t10k-images-idx3-ubyte.gz", test)
    write_idx(d / "t10k-labels-idx1-ubyte.gz", np.array(LABELS))
    n_train = 2001  # the protocol keeps the last 2,000 for validation
    write_idx(d / "train-images-idx3-ubyte.gz", np.zeros((n_train, 28, 28)))
    write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros(n_train))
    return d


@pytest.fixture
def constant_model(tmp_path: Path) -> Path:
    torch = pytest.importorskip("torch")
    from aezoo.export.torch_io import build_artifact
    from aezoo.models import create_variant

    model = create_variant("sda_mnist_tiny")
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.layers[0].decoder_bias.fill_(math.log(P / (1 - P)))  # sigmoid -> 0.25
        model.head.bias[3] = 5.0  # always class 3
    return build_artifact(model, tmp_path / "constant", name="constant",
                          training={"dataset": "mnist"})  # fmt: skip


def psnr(mse: float) -> float:
    return 10 * math.log10(1 / mse)


def test_evaluate_matches_the_hand_computation(constant_model: Path, tiny_mnist: Path) -> None:
    v = [lvl / 255 for lvl in LEVELS]
    recon = sum(psnr((x - P) ** 2) for x in v) / 4  # 26.02, 16.48, 9.12, 2.50 dB
    noisy = sum(psnr(196 / 784 * x**2) for x in v) / 4  # masking writes 0 in 196 pixels
    expected = {
        "n_samples": 4,
        "test_error_pct": 50.0,  # labels 1 and 7 are not 3
        "recon_psnr_db": recon,
        "masking25_noisy_psnr_db": noisy,
        "masking25_denoised_psnr_db": recon,  # the output does not depend on the input
        "denoise_gain_db": recon - noisy,
    }
    env = {**os.environ, "AEZOO_HOME": str(tiny_mnist.parent / "home")}
    out = run_cli("evaluate", str(constant_model), "--data-dir", str(tiny_mnist), "--json", env=env)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert set(got) == set(expected)
    # PSNR in float64 of float32 pixels (level / 255) and a float32 sigmoid output: (x - P)^2
    # errs by at most ~2 (|x| + 4 |P|) u / |x - P| ~ 3e-6 relative (level 51), 1.3e-5 dB
    for key, want in expected.items():
        assert got[key] == pytest.approx(want, abs=1e-4), key
    assert got["recon_psnr_db"] == pytest.approx(13.5290, abs=1e-4)  # the worked figure


def test_evaluate_artifact_in_process_matches_too(constant_model: Path, tiny_mnist: Path) -> None:
    """The same numbers through :func:`evaluate_artifact` in this process (what the CLI calls)."""
    import aezoo
    from aezoo.evaluation.artifact import evaluate_artifact

    got = evaluate_artifact(aezoo.load(constant_model), data_dir=str(tiny_mnist))
    v = [lvl / 255 for lvl in LEVELS]
    assert got["test_error_pct"] == 50.0 and got["n_samples"] == 4
    assert got["recon_psnr_db"] == pytest.approx(13.5290, abs=1e-4)
    noisy = sum(psnr(x**2 / 4) for x in v) / 4
    assert got["masking25_noisy_psnr_db"] == pytest.approx(noisy, abs=1e-4)
    assert got["masking25_denoised_psnr_db"] == pytest.approx(13.5290, abs=1e-4)
    assert got["denoise_gain_db"] == pytest.approx(13.5290 - noisy, abs=1e-4)


def test_psnr_is_the_mean_of_per_sample_psnr() -> None:
    """Two samples with MSE 0.01 and 0.0001: 20 and 40 dB, mean 30 (not the PSNR of the pooled
    MSE, 22.97 dB); peak R = 2 adds 20 log10(2) = 6.02 dB."""
    from aezoo.evaluation.metrics import classification_error
    from aezoo.evaluation.metrics import psnr as psnr_db

    X = np.zeros((2, 4))  # float64 closed forms: approx's 1e-6 is far above their rounding
    X_hat = np.array([[0.1] * 4, [0.01] * 4])
    assert psnr_db(X, X_hat) == pytest.approx(30.0)
    assert psnr_db(X, X_hat, data_range=2.0) == pytest.approx(30.0 + 20 * math.log10(2))
    assert psnr_db(X, X) == pytest.approx(120.0)  # MSE floored at 1e-12
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert classification_error(lambda a: a, logits, np.array([1, 1, 1])) == pytest.approx(1 / 3)


def test_reconstruction_and_denoising_metrics_by_hand() -> None:
    """Errors of +-0.1 and +-0.2 around a 0 image; peak R = 2 (the lines' [-1, 1] range)."""
    from aezoo.evaluation.metrics import denoising_metrics, masking_noise_np
    from aezoo.evaluation.metrics import reconstruction_metrics as recon

    X = np.zeros((2, 4))
    X_hat = np.array([[0.1, -0.1, 0.1, -0.1], [0.2, -0.2, 0.2, -0.2]])
    got = recon(lambda a: X_hat[: len(a)], X, data_range=2.0)
    assert got["recon_mse"] == pytest.approx((0.01 + 0.04) / 2)
    want = (10 * math.log10(4 / 0.01) + 10 * math.log10(4 / 0.04)) / 2
    assert got["recon_psnr"] == pytest.approx(want)
    dn = denoising_metrics(lambda a: np.zeros_like(a) + 0.1, X, X_hat, data_range=2.0)
    assert dn["noisy_psnr"] == pytest.approx(want)
    assert dn["denoised_psnr"] == pytest.approx(10 * math.log10(4 / 0.01))
    assert dn["denoise_gain_db"] == pytest.approx(dn["denoised_psnr"] - want)
    ones = np.ones((3, 8))
    a, b = masking_noise_np(ones, 0.25, seed=5), masking_noise_np(ones, 0.25, seed=5)
    assert np.array_equal(a, b) and (a == 0).sum(1).tolist() == [2, 2, 2]
    assert not np.array_equal(a, masking_noise_np(ones, 0.25, seed=6))
