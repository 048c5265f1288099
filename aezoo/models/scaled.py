"""A family's model behind a per-feature affine scaling fitted on the training data.

Tables come in their own units (volts, counts, z-scores), while every family is built for
inputs in [0, 1] (MNIST pixels): the SdA's sigmoid output, DrSAE's clipped decoder and the
LISTA dictionary's clamp all assume that range. :class:`ScaledAutoEncoder` keeps the
scaling inside the model, so that it is exported into every ONNX graph and applied
identically by onnxruntime, the server, extraction, TorchServe and Ray::

    encode(x)   = base.encode((x - offset) / scale)                 x: raw units
    classify(x) = base.classify((x - offset) / scale)
    decode(z)   = base.decode(z) * scale + offset                   back in raw units

``offset`` and ``scale`` (``(n_features,)`` float32 buffers, in ``model.safetensors``) come
from :func:`aezoo.data.preprocess.fit_scaling` on the training split only: min-max
(``offset = min``, ``scale = max - min``, so the training data maps to [0, 1]) or
standardisation (``offset = mean``, ``scale = std``; ``"standard-floor"``: ``scale =
max(std, 0.1 x median std)``). A constant column gets ``scale = 1``.
With ``impute``, a NaN in ``x`` is first replaced by ``fill`` (the training split's column
means, :func:`aezoo.data.preprocess.fit_fill`), in the graph too. The model takes any
finite float32 (its input spec's ``value_range`` is
:data:`aezoo.spec.UNBOUNDED`); values outside the training range reach the base model
outside [0, 1], and its decoder brings reconstructions back into the training range.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from aezoo.models.base import AutoEncoder
from aezoo.spec import UNBOUNDED, InputSpec, Operation

SCALING_TEXT = {
    "minmax": "min-max scaled per feature to [0, 1] on the training split",
    "standard": "standardised per feature (mean 0, std 1) on the training split",
    "standard-floor": "standardised per feature on the training split, each scale at least "
    "0.1 x the median per-feature std (near-constant columns are not blown up)",
}
Method = Literal["minmax", "standard", "standard-floor"]  # aezoo.data.preprocess's methods


class ScaledConfig(BaseModel):
    """Constructor arguments of :class:`ScaledAutoEncoder`.

    Attributes:
        base_architecture, base_args: the wrapped family's architecture and arguments
            (its ``n_features`` must equal this one's).
        n_features: input width (columns of the table).
        method: ``"minmax"``, ``"standard"`` or ``"standard-floor"`` (module docstring).

    The table's column names are not constructor arguments: they live in the input spec
    (``config.json``'s ``input.columns``), given to the export with ``input_spec``.
    """

    model_config = ConfigDict(extra="forbid")

    base_architecture: str
    base_args: dict[str, Any]
    n_features: int = Field(gt=0)
    method: Method = "minmax"
    impute: bool = False  # NaN inputs take the training split's column means (buffer fill)


class ScaledAutoEncoder(AutoEncoder):
    """Any family's :class:`AutoEncoder` behind an affine per-feature scaling.

    Args:
        config: the wrapped model and the scaling (:class:`ScaledConfig`).
        base: an already built (trained) base model; None builds it from the config.

    Raises:
        ConfigError: the base architecture is unknown or its arguments invalid.
        ValueError: the base model's ``n_features`` differs from ``config.n_features``.
    """

    architecture = "scaled"
    family = "scaled"  # replaced per instance by the base model's family
    config_class = ScaledConfig

    def __init__(self, config: ScaledConfig, base: AutoEncoder | None = None) -> None:
        super().__init__(config)
        if base is None:
            from aezoo.models import create_model  # the registry imports this module

            base = create_model(config.base_architecture, config.base_args)
        if base.n_features != config.n_features:
            raise ValueError(
                f"base model takes {base.n_features} features, scaling has {config.n_features}"
            )
        self.base = base
        self.family = base.family  # type: ignore[misc]
        self.register_buffer("offset", torch.zeros(config.n_features))
        self.register_buffer("scale", torch.ones(config.n_features))
        if config.impute:
            self.register_buffer("fill", torch.zeros(config.n_features))

    @classmethod
    def wrap(
        cls,
        base: AutoEncoder,
        offset: Any,
        scale: Any,
        method: Method = "minmax",
        fill: Any = None,
    ) -> ScaledAutoEncoder:
        """Wrap a trained ``base`` with a fitted scaling (``offset``, ``scale``: ``(n,)``)
        and, when ``fill`` ``(n,)`` is given, the imputation of NaN inputs by it."""
        config = ScaledConfig(
            base_architecture=base.architecture,
            base_args=base.model_args(),
            n_features=base.n_features,
            method=method,
            impute=fill is not None,
        )
        model = cls(config, base)
        with torch.no_grad():
            model.offset.copy_(torch.as_tensor(offset, dtype=torch.float32))
            model.scale.copy_(torch.as_tensor(scale, dtype=torch.float32))
            if fill is not None:
                model.fill.copy_(torch.as_tensor(fill, dtype=torch.float32))
        return model

    # -- shape facts, delegated ---------------------------------------------
    @property
    def n_components(self) -> int:
        return self.base.n_components

    @property
    def has_classifier(self) -> bool:
        return self.base.has_classifier

    @property
    def class_names(self) -> list[str] | None:
        return self.base.class_names

    @property
    def operations(self) -> list[Operation]:
        return self.base.operations

    def input_spec(self, columns: list[str] | None = None) -> InputSpec:
        """Raw features of any finite value; ``columns`` names them (a table's header)."""
        impute = (
            "; NaN (a missing value) takes the training split's mean of its column"
            if self.config.impute
            else ""
        )
        return InputSpec(
            n_features=self.config.n_features,
            value_range=UNBOUNDED,
            preprocessing=f"raw feature values (any finite float32), "
            f"{SCALING_TEXT[self.config.method]}{impute}; inside every graph",
            columns=columns,
            missing="impute" if self.config.impute else "refuse",
        )

    def filters(self) -> torch.Tensor | None:
        return self.base.filters()

    # -- operations ------------------------------------------------------------
    def _scale_in(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.impute:
            x = torch.where(torch.isnan(x), self.fill, x)
        return (x - self.offset) / self.scale

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Raw inputs ``(B, n_features)`` -> the base model's codes ``(B, n_components)``."""
        return self.base.encode(self._scale_in(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, n_components)`` -> reconstructions ``(B, n_features)`` in raw units."""
        return self.base.decode(z) * self.scale + self.offset

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Raw inputs ``(B, n_features)`` -> logits ``(B, n_classes)`` of the base model."""
        return self.base.classify(self._scale_in(x))
