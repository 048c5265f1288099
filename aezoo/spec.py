"""The schema of an artifact's ``config.json`` (no torch needed).

``config.json`` holds everything needed to rebuild the network (``architecture``
+ ``model_args``) and everything a client needs to call it (``input``,
``operations``, ``class_names``). It is validated with pydantic on every load;
unknown keys are rejected so a typo never passes silently.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Operation = Literal["encode", "denoise", "classify", "interpolate"]
ALL_OPERATIONS: tuple[Operation, ...] = ("encode", "denoise", "classify", "interpolate")


class InputSpec(BaseModel):
    """What a model takes as input, and so what ``denoise`` returns.

    Attributes:
        n_features: number of float32 values in one sample (MNIST: 784).
        shape: optional image shape whose product is ``n_features`` (MNIST: [28, 28]);
            clients may send samples flat or in this shape.
        value_range: closed interval the values must lie in (MNIST: [0.0, 1.0]).
        preprocessing: human-readable description of how raw data maps to inputs.
    """

    model_config = ConfigDict(extra="forbid")

    n_features: int = Field(gt=0)
    shape: list[int] | None = None
    dtype: Literal["float32"] = "float32"
    value_range: tuple[float, float] = (0.0, 1.0)
    preprocessing: str = ""

    @model_validator(mode="after")
    def _check(self) -> InputSpec:
        if self.shape is not None:
            prod = 1
            for d in self.shape:
                prod *= d
            if prod != self.n_features:
                raise ValueError(
                    f"input shape {self.shape} has {prod} values, n_features is {self.n_features}"
                )
        lo, hi = self.value_range
        if not lo < hi:
            raise ValueError(f"value_range must satisfy low < high, got {self.value_range}")
        return self


class ModelConfig(BaseModel):
    """Contents of ``config.json``.

    Attributes:
        architecture: registered constructor family name (e.g. ``"sda"``).
        family: model family shown to users (``"sda"``, ``"lista"``, ``"drsae"``, ...).
        model_args: keyword arguments of the family's config class; rebuilds the net.
        input: the input spec.
        n_components: width of the code ``z`` returned by ``encode``.
        operations: operations this artifact offers.
        class_names: label names, in logit order, when ``classify`` is offered.
        aezoo_version: version of aezoo that wrote the artifact.
    """

    model_config = ConfigDict(extra="forbid")

    architecture: str
    family: str
    model_args: dict[str, Any]
    input: InputSpec
    n_components: int = Field(gt=0)
    operations: list[Operation]
    class_names: list[str] | None = None
    aezoo_version: str

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if "classify" in self.operations and not self.class_names:
            raise ValueError("a model offering 'classify' must list class_names")
        if len(set(self.operations)) != len(self.operations):
            raise ValueError(f"operations must be unique, got {self.operations}")
        return self
