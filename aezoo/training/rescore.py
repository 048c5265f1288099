"""Give an existing artifact the ``score`` operation from its weights, without retraining.

Artifacts exported before :mod:`aezoo.models.score` existed have no ``onnx/scorer.onnx``.
:func:`add_score` rebuilds the torch model from ``model.safetensors`` (verified as for
serving), exports the scorer graph beside the unchanged encoder/decoder/classifier graphs
(with the export's parity check), calibrates a threshold on held-out normal rows
(:func:`aezoo.runtime.calibrate.calibrate_model`), rewrites ``onnx/export.json``, the card
and the manifest. The bundled models were given their scorer this way
(``scripts/add_scores.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from aezoo.export.card import render_card, score_section
from aezoo.export.onnx import export_scorer
from aezoo.export.torch_io import load_torch_model
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
    (root / "calibration.json").unlink(missing_ok=True)  # the old one would not match
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
    figures = (
        sorted(p.name for p in (root / "figures").glob("*")) if (root / "figures").is_dir() else []
    )
    (root / CARD).write_text(
        render_card(
            manifest.name,
            read_config(root),
            training,
            record,
            figures,
            score=score_section(SCORE_TEXT[score_kind(model)], cal.model_dump(), held),
        )
    )
    write_manifest(root, manifest.name, manifest.version)
    return cal, flagged
