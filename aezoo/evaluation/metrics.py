"""Evaluation shared by every family: PSNR, reconstruction, denoising, linear probe, error.

All functions take numpy arrays ``X`` of shape ``(n_samples, n_features)`` and
callables mapping such arrays to arrays, so the same code evaluates a torch
model during training and an onnxruntime artifact after export.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ArrayFn = Callable[[np.ndarray], np.ndarray]
MASKING_LEVEL = 0.25  # the denoising metrics' corruption (Vincent et al. 2010, §4.2)


def batched(fn: ArrayFn, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    return np.concatenate([fn(X[i : i + batch_size]) for i in range(0, len(X), batch_size)])


def psnr(X: np.ndarray, X_hat: np.ndarray, data_range: float = 1.0) -> float:
    """Mean over samples of ``10 log10(R^2 / MSE_i)`` in dB (R = ``data_range``)."""
    mse = np.mean((X.astype(np.float64) - X_hat.astype(np.float64)) ** 2, axis=1)
    return float(np.mean(10.0 * np.log10(data_range**2 / np.maximum(mse, 1e-12))))


def reconstruction_metrics(
    denoise: ArrayFn, X: np.ndarray, data_range: float = 1.0
) -> dict[str, float]:
    """``recon_mse`` (mean squared error per feature) and ``recon_psnr`` (dB) of ``denoise(X)``."""
    X_hat = batched(denoise, X)
    return {
        "recon_mse": float(np.mean((X - X_hat) ** 2)),
        "recon_psnr": psnr(X, X_hat, data_range),
    }


def denoising_metrics(
    denoise: ArrayFn, X: np.ndarray, X_noisy: np.ndarray, data_range: float = 1.0
) -> dict[str, float]:
    """PSNR of the corrupted input and of its denoised version against the clean ``X``."""
    noisy = psnr(X, X_noisy, data_range)
    clean = psnr(X, batched(denoise, X_noisy), data_range)
    return {"noisy_psnr": noisy, "denoised_psnr": clean, "denoise_gain_db": clean - noisy}


def classification_error(logits: ArrayFn, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of samples whose argmax logit differs from the label, in [0, 1]."""
    return float(np.mean(batched(logits, X).argmax(axis=1) != y))


def linear_probe(
    Z_train: np.ndarray, y_train: np.ndarray, Z_test: np.ndarray, y_test: np.ndarray, seed: int = 0
) -> float:
    """Test accuracy of a logistic regression on standardised codes (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, random_state=seed))
    clf.fit(Z_train, y_train)
    return float(clf.score(Z_test, y_test))


def masking_noise_np(X: np.ndarray, level: float, seed: int = 0, fill: float = 0.0) -> np.ndarray:
    """Set exactly ``round(level * n_features)`` random inputs of each row to ``fill``
    (seeded, numpy; ``fill`` = the background: 0 for MNIST pixels)."""
    rng = np.random.default_rng(seed)
    k = round(level * X.shape[1])
    idx = np.argsort(rng.random(X.shape), axis=1)[:, :k]
    out = X.copy()
    np.put_along_axis(out, idx, fill, axis=1)
    return out


def headline_metrics(
    denoise: ArrayFn,
    X: np.ndarray,
    y: np.ndarray,
    predict: ArrayFn | None = None,
    split: str = "test",
    seed: int = 0,
) -> dict[str, float]:
    """The metrics of a model card and of ``aezoo evaluate``, from the model's operations.

    Args:
        denoise: ``decode(encode(x))``, ``(n, n_features)`` -> same, values in [0, 1].
        X, y: a split, ``(n, n_features)`` float32 in [0, 1] and ``(n,)`` labels.
        predict: logits or probabilities ``(n, n_classes)``; None when the model has no head.
        split: names the error metric (``test_error_pct``, ``val_error_pct``).
        seed: of the 25% masking noise.

    Returns:
        ``{split}_error_pct`` (if ``predict``), ``recon_psnr_db``, ``masking25_noisy_psnr_db``,
        ``masking25_denoised_psnr_db``, ``denoise_gain_db``.
    """
    metrics: dict[str, float] = {}
    if predict is not None:
        metrics[f"{split}_error_pct"] = 100 * classification_error(predict, X, y)
    metrics["recon_psnr_db"] = reconstruction_metrics(denoise, X)["recon_psnr"]
    dn = denoising_metrics(denoise, X, masking_noise_np(X, MASKING_LEVEL, seed))
    metrics["masking25_noisy_psnr_db"] = dn["noisy_psnr"]
    metrics["masking25_denoised_psnr_db"] = dn["denoised_psnr"]
    metrics["denoise_gain_db"] = dn["denoise_gain_db"]
    return metrics
