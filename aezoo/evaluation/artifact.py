"""Evaluate a served artifact (onnxruntime) on a split of the data set it was trained on.

What ``aezoo evaluate`` prints: :func:`aezoo.evaluation.scores.score` computed
through the exported graphs, the same function (and the same noise) that wrote
the model card's numbers during training; the data set is read from the
artifact's ``training.json`` (MNIST when absent). The full-training-set linear
probe is left to the card (it fits on all training codes).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aezoo.data import datasets
from aezoo.evaluation.scores import onnx_ops, score

if TYPE_CHECKING:  # evaluation sits beside runtime, not above it: no import at run time
    from aezoo.runtime.model import OnnxModel


def training_record(model: OnnxModel) -> dict:
    """The artifact's ``training.json`` (``{}`` when it has none)."""
    path = model.path / "training.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def evaluate_artifact(
    model: OnnxModel, data_dir: str | None = None, split: str = "test"
) -> dict[str, float]:
    """Metrics of ``model`` on ``split`` of its data set, in the units their names say.

    Raises:
        DataError: MNIST files missing or malformed; ConfigError: unknown data set.
    """
    training = training_record(model)
    dataset = str(training.get("dataset", "mnist"))
    recipe = training.get("recipe", {})
    splits = datasets.load_splits(
        dataset, data_dir, int(recipe.get("seed", 0)), recipe.get("n_train") or 1
    )
    splits["test"] = splits[split]
    metrics = score(dataset, model.config.family, onnx_ops(model), splits, probe=False)
    return {"n_samples": float(len(splits["test"][0])), **metrics}
