"""Calibrated thresholds and p-values for anomaly scores (``calibration.json``).

A score (:mod:`aezoo.models.score`) has no unit a user can set a threshold in. Calibration
takes the scores of held-out *normal* rows ``v_1 <= ... <= v_n`` and stores:

* ``threshold``: the ``ceil((1 - fpr) (n + 1))``-th smallest validation score (the
  split-conformal quantile; Vovk et al., *Algorithmic Learning in a Random World*, 2005,
  §2; Angelopoulos & Bates 2021, arXiv:2107.07511 §1, eq. 1), so a fresh normal row of the
  same distribution exceeds it with probability at most ``fpr``. With ``contamination``
  instead (PyOD's convention: the share of anomalies in the calibration rows), the
  threshold is the ``(1 - contamination)`` empirical quantile of the rows' scores.
* ``table``: the sorted validation scores (or, above :data:`MAX_TABLE` rows, that many
  evenly spaced order statistics), for conformal p-values
  ``p(s) = (1 + #{v_i >= s}) / (n + 1)`` in ``(0, 1]``: small = unlike the normal data.
* ``rows`` and ``data_sha256`` of the calibration data, so the number can be traced, and
  ``source``: what the rows were (a path, or a split of a named data set), when known.

``is_outlier = scores > threshold``. A model without ``calibration.json`` answers scores
only: threshold ``None``, no ``is_outlier``, no ``p_values``.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from aezoo.errors import ConfigError
from aezoo.registry.format import CALIBRATION

DEFAULT_FPR = 0.01
MAX_TABLE = 10_000  # order statistics kept for p-values (80 kB of JSON floats)


class Calibration(BaseModel):
    """``calibration.json``: how the threshold was set and the p-value table.

    Attributes:
        method: ``"fpr"`` or ``"contamination"``.
        fpr, contamination: the target (one of them set), in (0, 0.5].
        threshold: score above which a row is an outlier (score units, >= 0).
        table: ascending validation scores (<= MAX_TABLE entries).
        rows: calibration rows; data_sha256: hash of their float32 bytes.
        source: what the rows were (``aezoo calibrate``'s ``--data``, or a sentence such as
            "MNIST validation split"); ``None`` when the caller gave arrays only.
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal["fpr", "contamination"]
    fpr: float | None = Field(None, gt=0.0, le=0.5)
    contamination: float | None = Field(None, gt=0.0, le=0.5)
    threshold: float
    table: list[float]
    rows: int = Field(gt=0)
    data_sha256: str
    source: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Calibration:
        if (self.fpr is None) == (self.contamination is None):
            raise ValueError("exactly one of fpr and contamination is set")
        if not self.table or any(b < a for a, b in zip(self.table, self.table[1:], strict=False)):
            raise ValueError("table must be a non-empty ascending list of scores")
        return self

    def is_outlier(self, scores: np.ndarray) -> np.ndarray:
        """bool ``(B,)``: ``scores > threshold`` (the one definition every surface answers)."""
        return np.asarray(scores) > self.threshold

    def p_values(self, scores: np.ndarray) -> np.ndarray:
        """Conformal p-values ``(B,)`` float64 in ``(0, 1]`` of scores ``(B,)``."""
        table = np.asarray(self.table)
        n_ge = table.size - np.searchsorted(table, np.asarray(scores, np.float64), side="left")
        return (1.0 + n_ge) / (table.size + 1.0)


def judge(scores: np.ndarray, calibration: Calibration | None) -> dict[str, Any]:
    """``{"scores", "threshold", "p_values"[, "is_outlier"]}`` of scores ``(B,)`` (see
    :meth:`aezoo.runtime.model.OnnxModel.score`); no ``is_outlier`` without calibration."""
    if calibration is None:
        return {"scores": scores, "threshold": None, "p_values": None}
    return {
        "scores": scores,
        "threshold": calibration.threshold,
        "p_values": calibration.p_values(scores),
        "is_outlier": calibration.is_outlier(scores),
    }


def data_hash(x: np.ndarray) -> str:
    """sha256 of ``x`` as C-contiguous float32 bytes, with its shape."""
    arr = np.ascontiguousarray(x, dtype=np.float32)
    h = hashlib.sha256(repr(arr.shape).encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def calibrate(
    scores: np.ndarray,
    data_sha256: str,
    fpr: float | None = None,
    contamination: float | None = None,
    source: str | None = None,
) -> Calibration:
    """Threshold and p-value table from the scores ``(n,)`` of calibration rows.

    Args:
        scores: anomaly scores of normal held-out rows (``fpr``) or of rows with
            ``contamination`` anomalies among them.
        data_sha256: :func:`data_hash` of the rows.
        fpr: target false-positive rate in (0, 0.5]; default :data:`DEFAULT_FPR` when
            ``contamination`` is not given.
        contamination: share of anomalies in the rows, in (0, 0.5].
        source: what the rows were, recorded in ``calibration.json``.

    Raises:
        ConfigError: both targets given, a target out of range, non-finite scores, or too
            few rows (``fpr`` needs ``n >= 1 / fpr - 1`` for a finite conformal quantile).
    """
    if fpr is not None and contamination is not None:
        raise ConfigError("give fpr or contamination, not both")
    if fpr is None and contamination is None:
        fpr = DEFAULT_FPR
    target = fpr if fpr is not None else contamination
    if not 0.0 < float(target) <= 0.5:
        raise ConfigError(
            f"{'fpr' if fpr is not None else 'contamination'} = {target}; expected (0, 0.5]"
        )
    v = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    n = v.size
    if n == 0 or not np.isfinite(v).all():
        raise ConfigError(f"calibration needs finite scores; got {n} rows with non-finite values")
    if fpr is not None:
        k = math.ceil((1.0 - fpr) * (n + 1))  # 1-based rank of the conformal quantile
        if k > n:
            raise ConfigError(
                f"{n} calibration rows are too few for fpr = {fpr}: need at least "
                f"{math.ceil(1.0 / fpr) - 1}"
            )
        threshold = float(v[k - 1])
    else:
        threshold = float(np.quantile(v, 1.0 - float(contamination), method="higher"))
    if n > MAX_TABLE:
        v = v[np.linspace(0, n - 1, MAX_TABLE).round().astype(np.int64)]
    return Calibration(
        method="fpr" if fpr is not None else "contamination",
        fpr=fpr,
        contamination=contamination,
        threshold=threshold,
        table=[float(s) for s in v],
        rows=n,
        data_sha256=data_sha256,
        source=source,
    )


def read_calibration(root: Path) -> Calibration | None:
    """The artifact's ``calibration.json``, or ``None`` when it has none.

    Raises:
        ConfigError: the file exists but is not a valid calibration.
    """
    path = Path(root) / CALIBRATION
    if not path.is_file():
        return None
    try:
        return Calibration.model_validate(json.loads(path.read_text()))
    except ValueError as e:
        raise ConfigError(f"{path} is not a valid calibration: {e}") from e


def write_calibration(root: Path, calibration: Calibration) -> Path:
    """Write ``calibration.json`` under ``root`` (the caller re-hashes the manifest)."""
    path = Path(root) / CALIBRATION
    path.write_text(calibration.model_dump_json(indent=1) + "\n")
    return path
