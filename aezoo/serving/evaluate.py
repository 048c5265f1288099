"""Evaluate a served artifact (onnxruntime, numpy only) on an MNIST split.

What ``aezoo evaluate`` prints: classification error (if the model classifies),
reconstruction PSNR, and the PSNR gain of ``denoise`` on inputs with 25%
masking noise (Vincent et al. 2010, §4.2), all against the clean images.
"""

from __future__ import annotations

import numpy as np

from aezoo.serving.runtime import OnnxModel
from aezoo.training.data import load_mnist
from aezoo.training.evaluate import classification_error, denoising_metrics, reconstruction_metrics

MASKING_LEVEL = 0.25


def masking_noise_np(X: np.ndarray, level: float, seed: int = 0) -> np.ndarray:
    """Set exactly ``round(level * n_features)`` random inputs of each row to 0 (numpy)."""
    rng = np.random.default_rng(seed)
    k = round(level * X.shape[1])
    idx = np.argsort(rng.random(X.shape), axis=1)[:, :k]
    out = X.copy()
    np.put_along_axis(out, idx, 0.0, axis=1)
    return out


def evaluate_artifact(
    model: OnnxModel, data_dir: str | None = None, split: str = "test"
) -> dict[str, float]:
    """Metrics of ``model`` on an MNIST split, in the units their names say."""
    X, y = load_mnist(split, data_dir)
    metrics: dict[str, float] = {"n_samples": float(len(X))}
    if "classify" in model.operations:
        logits = lambda a: model.predict_proba(a)  # noqa: E731  (argmax is what counts)
        metrics[f"{split}_error_pct"] = 100 * classification_error(logits, X, y)
    metrics["recon_psnr_db"] = reconstruction_metrics(model.denoise, X)["recon_psnr"]
    dn = denoising_metrics(model.denoise, X, masking_noise_np(X, MASKING_LEVEL))
    metrics["masking25_noisy_psnr_db"] = dn["noisy_psnr"]
    metrics["masking25_denoised_psnr_db"] = dn["denoised_psnr"]
    metrics["denoise_gain_db"] = dn["denoise_gain_db"]
    return metrics
