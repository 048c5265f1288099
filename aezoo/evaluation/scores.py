"""What a model is scored on, by data set and family: one function for cards and ``aezoo evaluate``.

:func:`score` takes the model's operations as numpy callables (:class:`Ops`), so the
same code scores a torch model while its artifact is built
(:func:`aezoo.training.ops.torch_ops`) and the exported ONNX graphs afterwards
(:func:`onnx_ops`); both print identical keys.

* ``mnist``: :func:`aezoo.evaluation.metrics.headline_metrics` (error, PSNR, 25%
  masking denoising), the full-train linear probe when ``probe``; for the sparse
  families also :func:`sparse_code_metrics`.
* ``lines``: reconstruction MSE and PSNR (R = 2 for [-1, 1]) on the test lines, and
  the ACAI interpolation metrics (arXiv:1807.07543 §4) on 16 pairs x 16 steps.
* ``patches``: reconstruction PSNR (``R`` = 8, about the LCN patches' peak-to-peak
  range), code sparsity and collapsed components.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aezoo.data import datasets, lines
from aezoo.errors import AezooError
from aezoo.evaluation.lines import lines_metrics
from aezoo.evaluation.metrics import (
    ArrayFn,
    batched,
    denoising_metrics,
    headline_metrics,
    linear_probe,
    reconstruction_metrics,
)

SPARSE_FAMILIES = ("lista", "drsae")  # families whose codes are scored for sparsity
GAUSSIAN_STD = 0.3  # std of the Gaussian denoising test noise, in pixel units ([0, 1])
LABELS_PER_CLASS = 100  # the few-label probe (arXiv:2112.09214 §5: 100 labels per class)
N_PAIRS, N_STEPS = 16, 16  # lines interpolation metrics (ACAI §4)


@dataclass(frozen=True)
class Ops:
    """A model's operations on numpy float32 batches ``(n, n_features)`` / ``(n, n_components)``."""

    encode: ArrayFn
    decode: ArrayFn
    denoise: ArrayFn
    predict: ArrayFn | None = None  # logits or probabilities; None without a head


def onnx_ops(model: Any) -> Ops:
    """:class:`Ops` of an :class:`~aezoo.runtime.model.OnnxModel`."""
    predict = model.predict_proba if "classify" in model.operations else None
    return Ops(model.encode, model.decode, model.denoise, predict)


def sparse_code_metrics(Z: np.ndarray) -> dict[str, float]:
    """Sparsity facts of codes ``Z`` ``(n, n_components)``.

    Returns:
        ``code_zero_pct`` (% of entries exactly 0), ``collapsed_components`` (components
        never non-zero on these inputs), ``negative_code_entries`` (count of entries < 0).
    """
    return {
        "code_zero_pct": 100.0 * float(np.mean(Z == 0)),
        "collapsed_components": float(np.sum(~np.any(Z != 0, axis=0))),
        "negative_code_entries": float(np.sum(Z < 0)),
    }


def gaussian_noise_np(X: np.ndarray, std: float, seed: int = 0, clip=(0.0, 1.0)) -> np.ndarray:
    """``X + N(0, std^2)``, seeded, clipped to ``clip`` (the model's input range)."""
    rng = np.random.default_rng(seed)
    noisy = X + rng.normal(0.0, std, X.shape).astype(np.float32)
    return np.clip(noisy, *clip).astype(np.float32)


def few_label_indices(y: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` samples of each label in ``y`` (seeded, sorted).

    Raises:
        ValueError: a class has fewer than ``per_class`` samples.
    """
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < per_class:
            raise ValueError(f"class {c} has {len(idx)} samples, fewer than {per_class}")
        picks.append(rng.choice(idx, per_class, replace=False))
    return np.sort(np.concatenate(picks))


def sparse_coding_scores(
    ops: Ops, splits: dict[str, tuple[np.ndarray, np.ndarray]], seed: int = 0
) -> dict[str, float]:
    """The evaluation of arXiv:2112.09214 §5 on MNIST (issue 3 item 4).

    Code sparsity and collapsed components on the test set, PSNR of denoise() under
    Gaussian noise of std :data:`GAUSSIAN_STD` (clipped to [0, 1]), and the test
    accuracy of a logistic regression fit on 100 labelled training images per class,
    on the codes and, for reference, on the raw pixels.
    """
    X, y = splits["test"]
    Xtr, ytr = splits["train"]
    Z = batched(ops.encode, X)
    out = sparse_code_metrics(Z)
    dn = denoising_metrics(ops.denoise, X, gaussian_noise_np(X, GAUSSIAN_STD, seed))
    out["gaussian_noisy_psnr_db"] = dn["noisy_psnr"]
    out["gaussian_denoised_psnr_db"] = dn["denoised_psnr"]
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise AezooError(
            "scoring a sparse coder needs scikit-learn (few-label probe): "
            "pip install 'aezoo[train]'"
        ) from None
    few = few_label_indices(ytr, LABELS_PER_CLASS, seed)
    out["probe100_accuracy_pct"] = 100 * linear_probe(
        batched(ops.encode, Xtr[few]), ytr[few], Z, y, seed
    )
    out["pixels_probe100_accuracy_pct"] = 100 * linear_probe(Xtr[few], ytr[few], X, y, seed)
    return out


def interpolation_frames(
    ops: Ops, x_start: np.ndarray, x_end: np.ndarray, n_steps: int
) -> np.ndarray:
    """``decode((1 - t) encode(a) + t encode(b))`` for ``t`` in ``linspace(0, 1, n_steps)``.

    Returns:
        float32 ``(n_pairs, n_steps, n_features)``.
    """
    z0, z1 = ops.encode(x_start), ops.encode(x_end)  # (P, n_components)
    t = np.linspace(0.0, 1.0, n_steps, dtype=np.float32)[None, :, None]
    z = ((1 - t) * z0[:, None] + t * z1[:, None]).astype(np.float32)  # (P, N, n_components)
    frames = ops.decode(z.reshape(-1, z.shape[-1]))
    return frames.reshape(len(x_start), n_steps, -1).astype(np.float32)


def lines_scores(ops: Ops, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Reconstruction of the test lines and the interpolation metrics (ACAI §4)."""
    X = splits["test"][0]
    recon = reconstruction_metrics(ops.denoise, X, data_range=datasets.info("lines").psnr_peak)
    xs, xe, _ = lines.interpolation_pairs(N_PAIRS, seed=0)
    m = lines_metrics(interpolation_frames(ops, xs, xe, N_STEPS))
    return {
        "recon_mse": recon["recon_mse"],
        "recon_psnr_db": recon["recon_psnr"],
        "lines_mean_distance": m["mean_distance"],
        "lines_smoothness": m["smoothness"],
        "lines_undefined_pairs": float(m["n_undefined"]),
    }


def score(
    dataset: str,
    family: str,
    ops: Ops,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    seed: int = 0,
    probe: bool = True,
) -> dict[str, float]:
    """Every number a model of ``family`` trained on ``dataset`` is judged by.

    Args:
        dataset: ``"mnist"``, ``"lines"`` or ``"patches"``.
        family: the model's family (``"sda"``, ``"lista"``, ...).
        ops: the model's operations.
        splits: at least ``train`` and ``test`` (see :func:`datasets.load_splits`).
        seed: of the test noise and the probes.
        probe: fit the full-training-set linear probe (MNIST; seconds to a minute).

    Returns:
        ``{metric: value}`` in the units the names say (``_pct``, ``_db``).

    Raises:
        ConfigError: unknown data set.
    """
    datasets.info(dataset)
    if dataset == "lines":
        return lines_scores(ops, splits)
    X, y = splits["test"]
    if dataset == "patches":
        peak = datasets.info(dataset).psnr_peak
        out = {"recon_psnr_db": reconstruction_metrics(ops.denoise, X, peak)["recon_psnr"]}
        return {**out, **sparse_code_metrics(batched(ops.encode, X))}
    out = headline_metrics(ops.denoise, X, y, ops.predict, "test", seed)
    if probe:
        Xtr, ytr = splits["train"]
        out["probe_accuracy_pct"] = 100 * linear_probe(
            batched(ops.encode, Xtr), ytr, batched(ops.encode, X), y, seed
        )
    if family in SPARSE_FAMILIES:
        out.update(sparse_coding_scores(ops, splits, seed))
    return out
