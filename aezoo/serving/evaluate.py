"""Evaluate a served artifact (onnxruntime, numpy only) on an MNIST split.

What ``aezoo evaluate`` prints: :func:`aezoo.training.evaluate.headline_metrics`
computed through the exported graphs, the same function (and the same noise)
that wrote the model card's numbers during training.
"""

from __future__ import annotations

from aezoo.serving.runtime import OnnxModel
from aezoo.training.data import load_mnist
from aezoo.training.evaluate import headline_metrics


def evaluate_artifact(
    model: OnnxModel, data_dir: str | None = None, split: str = "test"
) -> dict[str, float]:
    """Metrics of ``model`` on an MNIST split, in the units their names say."""
    X, y = load_mnist(split, data_dir)
    predict = model.predict_proba if "classify" in model.operations else None
    return {"n_samples": float(len(X)), **headline_metrics(model.denoise, X, y, predict, split)}
