"""The ``python_function`` flavor of an exported aezoo version.

``predict(X, params={"operation": OP})`` answers what :func:`aezoo.load` answers for OP:
``encode`` (default; codes ``(batch, code_dim)`` float32), ``decode`` (X are codes),
``denoise`` (``(batch, n_features)`` float32 in the input's value range), ``predict_proba``
(``(batch, n_classes)`` float32 in [0, 1]), ``classify`` (``(batch,)`` int64 labels) and
``interpolate`` (``params={"operation": "interpolate", "steps": N}``, X holds the pairs
``a, b`` stacked as rows ``[a0, b0, a1, b1, ...]``; answer ``(pairs * steps, n_features)``).
Only operations the model's config offers are accepted (``classify`` also enables
``predict_proba``, ``decode`` comes with ``encode``). Errors raise
:class:`aezoo.errors.OperationNotSupportedError` or :class:`aezoo.errors.InputError`.
Source: MLflow 3 docs, "Custom PyFunc models" (PythonModel.predict with params).
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np

from aezoo.errors import InputError, OperationNotSupportedError

ARTIFACT_KEY = "aezoo"  # the key of the aezoo artifact directory in context.artifacts


def offered(operations: list[str]) -> list[str]:
    """The pyfunc operations a model with these aezoo operations answers."""
    out = ["encode", "decode"] if "encode" in operations else []
    for op in ("denoise", "classify", "interpolate"):
        if op in operations:
            out += ["predict_proba", "classify"] if op == "classify" else [op]
    return out


def answer(model: Any, x: Any, params: dict[str, Any] | None) -> np.ndarray:
    """Run one operation of an :class:`aezoo.runtime.model.OnnxModel` on ``x``."""
    params = dict(params or {})
    op = params.get("operation") or "encode"
    ops = offered(list(model.operations))
    if op not in ops:
        raise OperationNotSupportedError(
            f"model {model.name!r} does not offer operation {op!r}; it offers {', '.join(ops)}"
        )
    arr = np.asarray(getattr(x, "values", x), dtype=np.float32)
    if op == "interpolate":
        if arr.ndim != 2 or arr.shape[0] % 2:
            raise InputError("interpolate needs an even number of rows: pairs a, b stacked")
        steps = int(params.get("steps") or 8)
        return np.concatenate(
            [model.interpolate(arr[i], arr[i + 1], steps=steps) for i in range(0, len(arr), 2)]
        )
    return np.asarray(getattr(model, op)(arr))


class AezooPyfunc(mlflow.pyfunc.PythonModel):
    """Loads the aezoo artifact with onnxruntime (no torch) and answers :func:`answer`."""

    def load_context(self, context: Any) -> None:
        from aezoo.runtime.loading import load_model

        self._model = load_model(context.artifacts[ARTIFACT_KEY])

    # np.ndarray: MLflow infers no schema from it (the logged signature describes the
    # float32 tensor) and keeps the input as it comes; list[...] hints would switch it to
    # row-wise validation.
    def predict(
        self, context: Any, model_input: np.ndarray, params: dict[str, Any] | None = None
    ) -> np.ndarray:
        return answer(self._model, model_input, params)
