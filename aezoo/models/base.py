"""The interface every aezoo model family answers.

Orientation (all families): a batch ``X`` is float32 of shape ``(batch, n_features)``
in the value range the model's :class:`~aezoo.spec.InputSpec` declares; a code
``Z`` is float32 of shape ``(batch, n_components)``; ``decode(Z)`` returns
``(batch, n_features)`` in the same value range as ``X``.

Any input normalisation a family needs happens inside ``encode``/``classify``
so that the exported ONNX graphs take raw inputs in the declared range.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import BaseModel
from torch import nn

from aezoo.errors import OperationNotSupportedError
from aezoo.spec import InputSpec, Operation


def head_class_names(n_classes: int | None, class_names: list[str] | None) -> list[str] | None:
    """A classifier head's label names: ``class_names`` when given, else ``"0"``, ``"1"``, ...

    Raises:
        ValueError: ``class_names`` given without a head, or not ``n_classes`` unique names.
    """
    if class_names is None:
        return [str(i) for i in range(n_classes)] if n_classes else None
    if not n_classes or len(class_names) != n_classes or len(set(class_names)) != n_classes:
        raise ValueError(f"class_names must be {n_classes or 0} unique names, got {class_names}")
    return list(class_names)


class AutoEncoder(nn.Module):
    """Base class: encode / decode / classify with one orientation.

    Subclasses set ``architecture`` (the registry key), ``family`` and
    ``config_class`` and implement :meth:`encode` and :meth:`decode`; those
    with a supervised head override :meth:`classify` and ``has_classifier``.
    """

    architecture: ClassVar[str]
    family: ClassVar[str]
    config_class: ClassVar[type[BaseModel]]

    def __init__(self, config: BaseModel) -> None:
        super().__init__()
        self.config = config

    # -- shape facts -------------------------------------------------------
    @property
    def n_features(self) -> int:
        return int(self.config.n_features)  # type: ignore[attr-defined]

    @property
    def n_components(self) -> int:
        raise NotImplementedError

    @property
    def has_classifier(self) -> bool:
        return False

    @property
    def class_names(self) -> list[str] | None:
        return None

    def input_spec(self) -> InputSpec:
        """The input contract written to config.json; override for non-MNIST inputs."""
        raise NotImplementedError

    @property
    def operations(self) -> list[Operation]:
        ops: list[Operation] = ["encode", "denoise", "interpolate"]
        if self.has_classifier:
            ops.insert(2, "classify")
        return ops

    def model_args(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able) that rebuild this net with ``config_class``."""
        return self.config.model_dump(mode="json")

    def filters(self) -> torch.Tensor | None:
        """Learned filters or dictionary atoms ``(n, n_features)`` for figures; None if none."""
        return None

    # -- operations --------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Map inputs ``(B, n_features)`` to codes ``(B, n_components)``."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Map codes ``(B, n_components)`` back to inputs ``(B, n_features)``."""
        raise NotImplementedError

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Map inputs ``(B, n_features)`` to class logits ``(B, n_classes)``.

        Raises:
            OperationNotSupportedError: the model has no supervised head.
        """
        raise OperationNotSupportedError(f"{type(self).__name__} has no classifier head")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))
