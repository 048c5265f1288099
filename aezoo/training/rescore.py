"""Give an existing artifact the ``score`` operation from its weights, without retraining.

Artifacts exported before :mod:`aezoo.models.score` existed have no ``onnx/scorer.onnx``.
:func:`add_score` rebuilds the torch model from ``model.safetensors`` (verified as for
serving), exports the scorer graph beside the unchanged encoder/decoder/classifier graphs
(with the export's parity check), calibrates a threshold on held-out normal rows
(:func:`aezoo.runtime.calibrate.calibrate_model`), rewrites ``onnx/export.json``, the card
and the manifest. The bundled models were given their scorer this way
(``scripts/add_scores.py``).

:func:`calibrate_artifact` is that calibration step alone (threshold, card, manifest) for an
artifact that has its scorer; :func:`calibrate_after_training` is what ``aezoo train`` runs
on a freshly built artifact with its held-out test split, saying on stderr when it cannot.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from aezoo.errors import ConfigError
from aezoo.export.card import render_card, score_section
from aezoo.export.onnx import export_scorer
from aezoo.export.torch_io import load_torch_model
from aezoo.models.base import AutoEncoder
from aezoo.models.score import SCORE_TEXT, score_kind
from aezoo.registry.artifact import CARD, EXPORT_RECORD, TRAINING, read_config
from aezoo.registry.format import SCORER, read_manifest, write_manifest
from aezoo.runtime.calibrate import calibrate_model
from aezoo.runtime.calibration import Calibration, write_calibration
from aezoo.runtime.model import OnnxModel


def add_score(
    root: Path,
    rows: np.ndarray,
    source: str,
    held_out: tuple[str, np.ndarray] | None = None,
    fpr: float = 0.01,
) -> tuple[Calibration, int | None]:
    """Export ``onnx/scorer.onnx`` for the artifact at ``root`` and calibrate it in place.

    Args:
        root: an artifact directory (rewritten: scorer graph, ``calibration.json``,
            ``onnx/export.json``, ``README.md``, ``manifest.json``; weights and the other
            graphs are left as they are).
        rows: normal rows ``(n, n_features)`` float32 the model was not trained on, in its
            input space; ``n >= 1 / fpr - 1``.
        source: what ``rows`` are (recorded in ``calibration.json`` and the card).
        held_out: ``(what, rows)``: a second held-out normal set whose share above the
            threshold the card reports.
        fpr: target false-positive rate in (0, 0.5].

    Returns:
        The calibration and the number of ``held_out`` rows above its threshold (None
        without ``held_out``).

    Raises:
        ArtifactError: the artifact fails verification.
        ExportError: the scorer fails the checker or the parity check.
        ConfigError, InputError: bad ``fpr`` or rows (see ``calibrate_model``).
    """
    root = Path(root)
    manifest = read_manifest(root)
    model = load_torch_model(root)
    record = json.loads((root / EXPORT_RECORD).read_text())
    record.setdefault("parity_max_abs_error", {})[SCORER] = export_scorer(model, root)
    (root / EXPORT_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    write_manifest(root, manifest.name, manifest.version)
    return calibrate_artifact(root, rows, source, held_out, fpr, model=model)


def calibrate_artifact(
    root: Path,
    rows: np.ndarray,
    source: str,
    held_out: tuple[str, np.ndarray] | None = None,
    fpr: float = 0.01,
    body: str = "",
    model: AutoEncoder | None = None,
) -> tuple[Calibration, int | None]:
    """Calibrate the artifact at ``root`` in place, as ``aezoo calibrate`` does.

    Writes ``calibration.json`` (threshold at ``fpr``, p-value table, the rows' count and
    sha256), the card's "Anomaly score" section and the manifest; weights and graphs are
    left as they are.

    Args:
        root: an artifact directory with ``onnx/scorer.onnx``.
        rows: normal rows ``(n, n_features)`` float32 the model was not trained on, in its
            input space; ``n >= 1 / fpr - 1``.
        source: what ``rows`` are (recorded in ``calibration.json`` and the card).
        held_out: ``(what, rows)``: a second held-out normal set whose share above the
            threshold the card reports.
        fpr: target false-positive rate in (0, 0.5].
        body: the card's extra markdown (the "Data" section of a model trained on one's own
            data), kept when the card is rewritten.
        model: the artifact's torch model, when the caller has it (else read from
            ``root``): its family names the score in the card.

    Returns:
        The calibration and the number of ``held_out`` rows above its threshold (None
        without ``held_out``).

    Raises:
        ArtifactError: the artifact fails verification.
        OperationNotSupportedError: the artifact has no scorer graph.
        ConfigError, InputError: bad ``fpr`` or rows (see ``calibrate_model``).
    """
    root = Path(root)
    manifest = read_manifest(root)
    if (root / "calibration.json").exists():  # the old one would not match
        (root / "calibration.json").unlink()
        write_manifest(root, manifest.name, manifest.version)
    onnx_model = OnnxModel(root, intra_op_threads=1)
    cal = calibrate_model(onnx_model, rows, fpr=fpr, source=source)
    write_calibration(root, cal)
    flagged = None
    held = None
    if held_out is not None:
        what, x = held_out
        scores, _ = onnx_model.score_contributions(x)
        flagged = int(cal.is_outlier(scores).sum())
        held = (what, flagged, len(x))
    training = json.loads((root / TRAINING).read_text())
    record = json.loads((root / EXPORT_RECORD).read_text())
    figures = (
        sorted(p.name for p in (root / "figures").glob("*")) if (root / "figures").is_dir() else []
    )
    kind = score_kind(model if model is not None else load_torch_model(root, verify=False))
    (root / CARD).write_text(
        render_card(
            manifest.name,
            read_config(root),
            training,
            record,
            figures,
            body,
            score=score_section(SCORE_TEXT[kind], cal.model_dump(), held),
        )
    )
    write_manifest(root, manifest.name, manifest.version)
    return cal, flagged


def calibrate_after_training(
    root: Path,
    rows: np.ndarray | None,
    fpr: float,
    source: str,
    body: str = "",
    model: AutoEncoder | None = None,
) -> Calibration | None:
    """``aezoo train``'s default calibration: :func:`calibrate_artifact` on the held-out
    test split ``rows`` ``(n, n_features)`` (None or empty: the data has none); ``source``,
    ``body`` and ``model`` as there.

    What cannot be calibrated is not an error: no scorer graph, no test split, or fewer
    test rows than ``fpr`` needs are said in one line on stderr, the artifact is left
    uncalibrated (scores only, no threshold) and None is returned.

    Raises:
        ConfigError: ``fpr`` outside (0, 0.5] (the caller's mistake, said before training
            by the CLI).
    """
    if not 0.0 < fpr <= 0.5:
        raise ConfigError(f"--calibrate-fpr = {fpr}; expected (0, 0.5]")
    root = Path(root)
    why = None
    if not (root / SCORER).is_file():
        why = "the model has no score graph (onnx/scorer.onnx)"
    elif rows is None or len(rows) == 0:
        why = "the data has no held-out test split"
    else:
        try:
            return calibrate_artifact(root, rows, source, fpr=fpr, body=body, model=model)[0]
        except ConfigError as e:  # too few rows for fpr, non-finite scores
            why = str(e)
    print(
        f"note: not calibrated ({why}); the model answers scores without a threshold. "
        "`aezoo calibrate NAME --data NORMAL_ROWS` sets one later.",
        file=sys.stderr,
    )
    return None
