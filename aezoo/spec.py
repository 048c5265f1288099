"""The schema of an artifact's ``config.json`` (no torch needed).

``config.json`` holds everything needed to rebuild the network (``architecture``
+ ``model_args``) and everything a client needs to call it (``input``,
``operations``, ``class_names``). It is validated with pydantic on every load;
unknown keys are rejected so a typo never passes silently.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Operation = Literal["encode", "denoise", "classify", "interpolate", "score"]
# "score" is offered by an artifact with onnx/scorer.onnx (aezoo.models.score), whatever
# config.json lists; ALL_OPERATIONS are those a config may list.
# value_range of a model that takes any finite float32 (a table scaled inside its graphs):
# the largest finite float32, so that the range check is exactly the finiteness check.
FLOAT32_MAX = 3.4028234663852886e38
UNBOUNDED: tuple[float, float] = (-FLOAT32_MAX, FLOAT32_MAX)
ALL_OPERATIONS: tuple[Operation, ...] = ("encode", "denoise", "classify", "interpolate")


class ImageInput(BaseModel):
    """How one encoded image (PNG, JPEG, BMP, ...) becomes one input row of a model.

    The image is decoded with Pillow, converted to ``mode`` (``"L"``: 8-bit grayscale,
    ``"RGB"``: three 8-bit channels), resized to ``height x width`` with ``resample``
    when its size differs, scaled to [0, 1] as ``uint8 / 255`` and flattened
    channel-first (``(channels, height, width)``, row-major) to ``channels * height * width``
    float32 values. Every runtime that takes image bodies applies exactly this.

    Attributes:
        height, width: pixels of the model's input image.
        mode: Pillow mode of the input (``"L"`` or ``"RGB"``).
        resample: Pillow filter used when an image must be resized.
    """

    model_config = ConfigDict(extra="forbid")

    height: int = Field(gt=0)
    width: int = Field(gt=0)
    mode: Literal["L", "RGB"] = "L"
    resample: Literal["bilinear"] = "bilinear"

    @property
    def channels(self) -> int:
        return 3 if self.mode == "RGB" else 1

    @property
    def n_features(self) -> int:
        return self.channels * self.height * self.width

    @property
    def shape(self) -> list[int]:
        """``[H, W]`` for grayscale, ``[3, H, W]`` for RGB: the input shape clients may send."""
        hw = [self.height, self.width]
        return hw if self.channels == 1 else [self.channels, *hw]


class DenoiserSpec(BaseModel):
    """A whole-image Gaussian denoiser: the graph ``onnx/denoiser.onnx`` of the artifact.

    The graph takes ``noisy``: float32 ``(N, 1, H, W)``, one grayscale channel scaled as
    ``uint8 / 255`` (noise makes values leave [0, 1]; they are not clipped), with any
    ``H, W >= min_size``, and ``sigma``: float32 ``(N,)``, the standard deviation of the
    additive white Gaussian noise on the 0-255 scale (the field's convention: sigma 25 means
    ``N(0, 25^2)`` added to 8-bit pixel values). It returns ``denoised``: float32
    ``(N, 1, H, W)`` on the same scale as ``noisy``, not clipped.

    Colour images are denoised one channel at a time (``color == "per_channel"``); runtimes
    process large images in overlapping tiles, each extended by ``halo`` pixels of context
    on every side, so that the tiled result equals one pass over the whole image up to
    float rounding.

    Attributes:
        sigma_range: closed interval of noise levels (0-255 scale) the model was trained for;
            a request outside it is refused. ``low == high``: a one-level model, trained at
            that sigma only.
        halo: receptive-field radius in pixels: an output pixel depends only on input pixels
            at most ``halo`` rows and columns away.
        min_size: smallest height and width the graph takes.
        color: how colour images are handled.
    """

    model_config = ConfigDict(extra="forbid")

    sigma_range: tuple[float, float]
    halo: int = Field(ge=0)
    min_size: int = Field(gt=0)
    color: Literal["per_channel"] = "per_channel"

    @model_validator(mode="after")
    def _check(self) -> DenoiserSpec:
        lo, hi = self.sigma_range
        if not (0 <= lo <= hi and hi > 0):
            raise ValueError(
                f"sigma_range must satisfy 0 <= low <= high, high > 0 (low == high: a "
                f"one-level model), got {self.sigma_range}"
            )
        return self


class InputSpec(BaseModel):
    """What a model takes as input, and so what ``denoise`` returns.

    Attributes:
        n_features: number of float32 values in one sample (MNIST: 784).
        shape: optional image shape whose product is ``n_features`` (MNIST: [28, 28]);
            clients may send samples flat or in this shape.
        value_range: closed interval the values must lie in (MNIST: [0.0, 1.0]);
            :data:`UNBOUNDED` for any finite float32 (tables scaled inside the graphs).
        preprocessing: human-readable description of how raw data maps to inputs, and
            what the graphs apply themselves (per-feature scaling fitted on training data).
        image: for models trained on images: how an encoded image becomes one input row
            (servers accept ``image/png`` and ``image/jpeg`` bodies for such models).
        columns: for models trained on a table: the feature columns, in input order.
        missing: ``"refuse"``: NaN is an input error; ``"impute"``: NaN (a missing value;
            infinity is still an error) is replaced inside the graphs by the training
            split's mean of its column (a table trained with ``--allow-missing``).
    """

    model_config = ConfigDict(extra="forbid")

    n_features: int = Field(gt=0)
    shape: list[int] | None = None
    dtype: Literal["float32"] = "float32"
    value_range: tuple[float, float] = (0.0, 1.0)
    preprocessing: str = ""
    image: ImageInput | None = None
    columns: list[str] | None = None
    missing: Literal["refuse", "impute"] = "refuse"

    @property
    def bounded(self) -> bool:
        """False when the model takes any finite float32 (:data:`UNBOUNDED`)."""
        return self.value_range != UNBOUNDED

    @model_validator(mode="after")
    def _check(self) -> InputSpec:
        if self.image is not None and self.image.n_features != self.n_features:
            raise ValueError(
                f"input image {self.image.shape} has {self.image.n_features} values, "
                f"n_features is {self.n_features}"
            )
        if self.columns is not None and len(self.columns) != self.n_features:
            raise ValueError(
                f"input has {len(self.columns)} columns, n_features is {self.n_features}"
            )
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
        denoiser: set for whole-image denoisers (:class:`DenoiserSpec`): the artifact has
            ``onnx/denoiser.onnx`` instead of an encoder and a decoder, offers ``denoise``
            on whole images of any size, and ``input.n_features`` is the number of channels
            the graph takes per pixel (1).
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
    denoiser: DenoiserSpec | None = None

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if "classify" in self.operations and not self.class_names:
            raise ValueError("a model offering 'classify' must list class_names")
        if len(set(self.operations)) != len(self.operations):
            raise ValueError(f"operations must be unique, got {self.operations}")
        if self.denoiser is not None and self.operations != ["denoise"]:
            raise ValueError(
                f"a whole-image denoiser offers operations ['denoise'], got {self.operations}"
            )
        return self
