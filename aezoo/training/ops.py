"""A torch model's operations as numpy callables, for the shared scores of
:mod:`aezoo.evaluation.scores` (cards are scored through these while the artifact is built)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aezoo.evaluation.metrics import ArrayFn
from aezoo.evaluation.scores import Ops


def torch_ops(model: Any) -> Ops:
    """:class:`Ops` of a torch :class:`~aezoo.models.base.AutoEncoder` (eval mode, no grad)."""

    def op(name: str) -> ArrayFn:
        def fn(a: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return getattr(model, name)(torch.from_numpy(np.ascontiguousarray(a))).numpy()

        return fn

    model.eval()
    predict = op("classify") if model.has_classifier else None
    return Ops(op("encode"), op("decode"), op("forward"), predict)
