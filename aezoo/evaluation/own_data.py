"""The card's metrics for a model trained on a user's data: one pass over its held-out split.

Every number is computed on the test split of the user's source, from the model's
operations as served (raw units in, raw units out):

* ``recon_mse``: mean squared reconstruction error of ``decode(encode(x))`` per value, in
  the units the model was trained in: pixels in [0, 1] for images, the training split's
  min-max scaled units for tables (1.0 = the whole training range of a feature);
* ``recon_psnr_db``: :func:`~aezoo.evaluation.metrics.psnr` with R = 1, same units;
* ``recon_r2``: fraction of the test data's variance the reconstruction explains,
  ``1 - sum (x_hat - x)^2 / sum (x - mean_test x)^2`` (1 is perfect, 0 predicts the mean);
* sparse families (LISTA, DrSAE): ``code_zero_pct`` and ``collapsed_components``
  (:func:`aezoo.evaluation.scores.sparse_code_metrics`);
* labelled sources: ``test_error_pct`` when the model classifies, and ``probe_accuracy_pct``,
  a logistic regression on the codes of (at most :data:`PROBE_ROWS`) training rows.
"""

from __future__ import annotations

import numpy as np

from aezoo.evaluation.metrics import batched, classification_error, linear_probe, psnr
from aezoo.evaluation.scores import SPARSE_FAMILIES, Ops, sparse_code_metrics

PROBE_ROWS = 10_000  # training rows the linear probe is fitted on, at most


def score_own_data(
    ops: Ops,
    splits: dict[str, tuple[np.ndarray, np.ndarray | None]],
    family: str,
    offset: np.ndarray | None = None,
    scale: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """The metrics of the module docstring.

    Args:
        ops: the model's operations on raw float32 rows ``(n, n_features)``.
        splits: ``{"train": (X, y), "test": (X, y)}``; ``y`` int64 class indices or None.
        family: the model's family (``"sda"``, ``"lista"``, ...).
        offset, scale: ``(n_features,)`` scaling of a table model (None for images).
        seed: of the linear probe.

    Returns:
        ``{metric: value}`` (names as in the module docstring).

    Raises:
        ValueError: an empty test split.
    """
    X, y = splits["test"]
    if len(X) == 0:
        raise ValueError("the test split is empty")
    Z = batched(ops.encode, X)
    X_hat = batched(ops.decode, Z)

    def units(A: np.ndarray) -> np.ndarray:
        A = A.astype(np.float64)
        return A if offset is None else (A - offset) / scale

    x, x_hat = units(X), units(X_hat)
    err = x_hat - x
    total = float(np.sum((x - x.mean(axis=0)) ** 2))
    out = {
        "recon_mse": float(np.mean(err**2)),
        "recon_psnr_db": psnr(x, x_hat, 1.0),
        "recon_r2": 1.0 - float(np.sum(err**2)) / total if total > 0 else float("nan"),
    }
    if family in SPARSE_FAMILIES:
        out.update(sparse_code_metrics(Z))
    if y is not None:
        if ops.predict is not None:
            out["test_error_pct"] = 100.0 * classification_error(ops.predict, X, y)
        Xtr, ytr = splits["train"]
        if ytr is not None and len(np.unique(ytr)) > 1:
            n = min(len(Xtr), PROBE_ROWS)
            Ztr = batched(ops.encode, Xtr[:n])
            out["probe_accuracy_pct"] = 100.0 * linear_probe(Ztr, ytr[:n], Z, y, seed)
    return out
