"""HTTP request and response bodies, and the strict request parser.

Request bodies are parsed from the raw bytes by :func:`parse_request`: the JSON
is decoded by pydantic-core (Rust; the ``NaN``/``Infinity`` literals are kept so
the runtime can name them) and validated in pydantic's strict mode, so ``"0.5"``,
``true``, ``null`` and objects are rejected instead of coerced. Every list
fails fast on its first bad element: a body full of bad values costs no more to
reject than a good one costs to accept (``fail_fast`` needs pydantic >= 2.8). What
this costs for a full batch is measured by ``benchmarks/serving_validation.py``
(results in benchmarks/RESULTS.md): the same as pydantic's lax mode.

Shapes, finiteness and value ranges are checked by the runtime
(:meth:`aezoo.runtime.model.OnnxModel.check_inputs`), the one authority on
what a model accepts.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
import pydantic_core
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
)

from aezoo.errors import (
    AezooError,
    ArtifactError,
    InputError,
    ModelNotFoundError,
    OperationNotSupportedError,
)
from aezoo.runtime.batcher import DeadlineExceededError, QueueFullError, QueueTimeoutError
from aezoo.runtime.model import MAX_INTERPOLATION_STEPS
from aezoo.spec import DenoiserSpec, InputSpec, Operation

# -- errors and their statuses --------------------------------------------------------


class MalformedJSONError(InputError):
    """The body is empty or not JSON."""


class RequestValidationFailed(InputError):
    """The JSON does not fit the request schema (missing field, non-number, ...).

    Attributes:
        details: one ``{"loc", "type", "msg"}`` entry per problem found.
    """

    def __init__(self, message: str, details: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.details = details


class BodyTooLargeError(InputError):
    """The body is longer than ``max_body_bytes``."""


class BatchTooLargeError(InputError):
    """The batch has more samples than ``max_batch_size``."""


class UnsupportedMediaTypeError(InputError):
    """The body's ``Content-Type`` is not JSON, ``application/x-npy`` or, for an image
    model, ``image/png`` / ``image/jpeg``."""


class NotAcceptableError(InputError):
    """The ``Accept`` header asks for an answer this request cannot have (``image/png``
    from a model that is not an image model, or for a batch)."""


class OverloadedError(AezooError):
    """Too much in flight (queue, queue time, body bytes or connections): retry after
    ``retry_after_s``.

    Attributes:
        reason: which bound was hit (``queue_full``, ``queue_timeout``, ``body_budget``,
            ``connections``).
        retry_after_s: seconds for the ``Retry-After`` header.
    """

    def __init__(self, message: str, reason: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.reason, self.retry_after_s = reason, retry_after_s


class NotReadyError(AezooError):
    """Models are still loading, or failed to load."""


class InternalError(AezooError):
    """An unexpected failure while serving a request (a bug; see the server log)."""


# (exception type, HTTP status, error type, when): the first isinstance match wins.
ERROR_TABLE: tuple[tuple[type[Exception], int, str, str], ...] = (
    (MalformedJSONError, 400, "malformed_json", "empty body, or not valid JSON"),
    (
        RequestValidationFailed,
        422,
        "validation_error",
        "missing or unknown field, non-number value (string, boolean, null, object), "
        f"steps not an integer in [2, {MAX_INTERPOLATION_STEPS}]",
    ),
    (
        BodyTooLargeError,
        413,
        "body_too_large",
        "body longer than max_body_bytes or than max_batch_size samples need, "
        "or a JSON body with more numbers than they hold",
    ),
    (BatchTooLargeError, 413, "batch_too_large", "more samples than max_batch_size"),
    (
        UnsupportedMediaTypeError,
        415,
        "unsupported_media_type",
        "Content-Type not JSON, .npy, or (image models) image/png or image/jpeg",
    ),
    (NotAcceptableError, 406, "not_acceptable", "Accept: image/png where no image answers"),
    (
        InputError,
        422,
        "invalid_input",
        "wrong sample length or shape, ragged rows, empty batch, NaN/Inf, outside value_range",
    ),
    (ModelNotFoundError, 404, "model_not_found", "no model of that name is served"),
    (
        OperationNotSupportedError,
        404,
        "operation_not_supported",
        "the model does not offer the operation (e.g. classify without a head)",
    ),
    (
        OverloadedError,
        429,
        "overloaded",
        "queue, queue time, in-flight body bytes or connections at their limit; "
        "retry after Retry-After s",
    ),
    (QueueFullError, 429, "overloaded", "the model's queue holds max_queue samples"),
    (
        QueueTimeoutError,
        429,
        "overloaded",
        "the request waited max_queue_time_ms (event loop, then the model's queue) before running",
    ),
    (
        DeadlineExceededError,
        504,
        "deadline_exceeded",
        "the caller's deadline (gRPC) passed while the request waited; it was not run",
    ),
    (NotReadyError, 503, "not_ready", "models still loading, or failed to load"),
    (ArtifactError, 500, "artifact_error", "an artifact file is missing or corrupted"),
    (AezooError, 500, "internal_error", "anything else (a bug; see the server log)"),
)


def error_status(exc: BaseException) -> tuple[int, str]:
    """``(status, error type)`` of an exception according to :data:`ERROR_TABLE`."""
    for cls, status, kind, _ in ERROR_TABLE:
        if isinstance(exc, cls):
            return status, kind
    return 500, "internal_error"


# -- request bodies ------------------------------------------------------------------

_FailFastList = Field(fail_fast=True)
_Flat = Annotated[list[float], _FailFastList]
_Rows = Annotated[list[_Flat], _FailFastList]
_Planes = Annotated[list[_Rows], _FailFastList]


def _depth(value: Any) -> str:
    """Nesting depth of a sample ("1" flat, "2" image, "3" multi-channel), read off first items."""
    depth = 0
    while isinstance(value, list) and depth < 3:
        depth += 1
        if not value:
            break
        value = value[0]
    return str(max(depth, 1))


Sample = Annotated[
    Annotated[_Flat, Tag("1")] | Annotated[_Rows, Tag("2")] | Annotated[_Planes, Tag("3")],
    Discriminator(_depth),
]
"""One sample: ``n_features`` numbers, or nested lists in the model's ``input.shape``."""


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class BatchRequest(_Request):
    """Body of ``encode``, ``denoise`` and ``classify``."""

    inputs: Annotated[list[Sample], _FailFastList] = Field(
        description=(
            "Batch of samples, shape (batch, n_features) or (batch, *input.shape): "
            "JSON numbers in the model's input.value_range (see GET /v1/models). "
            "1 <= batch <= max_batch_size."
        ),
        examples=[[[0.0] * 784]],
    )


class InterpolateRequest(_Request):
    """Body of ``interpolate``: two samples and the number of rows to return."""

    a: Sample = Field(description="First sample: n_features numbers, or nested in input.shape.")
    b: Sample = Field(description="Second sample, same form as a.")
    steps: int = Field(
        8,
        ge=2,
        le=MAX_INTERPOLATION_STEPS,
        description=f"Rows returned (integer in [2, {MAX_INTERPOLATION_STEPS}]); mixing "
        "coefficients are linspace(0, 1, steps).",
    )

    @field_validator("steps", mode="before")
    @classmethod
    def _integral_number(cls, value: Any) -> Any:
        """``8.0`` is the integer 8 in JSON (and JSON Schema); ``8.5`` and ``"8"`` stay refused."""
        if type(value) is float and value.is_integer():
            return int(value)
        return value


# -- response bodies -----------------------------------------------------------------


class EncodeResponse(BaseModel):
    codes: list[list[float]] = Field(description="Codes, shape (batch, n_components).")


class ScoreResponse(BaseModel):
    scores: list[float] = Field(
        description="Anomaly score of each sample, shape (batch,), >= 0, higher = more "
        "anomalous; defined per family (aezoo.models.score)."
    )
    threshold: float | None = Field(
        description="Calibrated threshold (calibration.json); null when the model has none."
    )
    p_values: list[float] | None = Field(
        description="Conformal p-value of each sample in (0, 1] (small = unlike the "
        "calibration data); null without calibration."
    )
    is_outlier: list[bool] | None = Field(
        None, description="scores > threshold; absent without calibration."
    )


class DenoiseResponse(BaseModel):
    outputs: list[list[float]] = Field(
        description="decode(encode(x)), shape (batch, n_features), in input.value_range."
    )


class ClassifyResponse(BaseModel):
    labels: list[str] = Field(description="Predicted class name of each sample, shape (batch,).")
    probabilities: list[list[float]] = Field(
        description="Softmax probabilities, shape (batch, n_classes), columns in class_names order."
    )


class InterpolateResponse(BaseModel):
    outputs: list[list[float]] = Field(
        description="Shape (steps, n_features); row 0 reconstructs a, the last row reconstructs b."
    )


class ModelInfo(BaseModel):
    name: str
    version: str
    family: str
    operations: list[Operation]
    input: InputSpec
    n_components: int = Field(description="Width of the code returned by encode.")
    class_names: list[str] | None = Field(
        description="Labels in logit order, when classify is offered."
    )


class ModelCard(ModelInfo):
    denoiser: DenoiserSpec | None = Field(
        None,
        description="Whole-image denoisers only (else null): sigma_range (0-255 scale), halo, "
        "min_size; their denoise route takes photographs with ?sigma=.",
    )
    metrics: dict[str, Any] | None = Field(description='training.json\'s "metrics", if recorded.')
    card: str = Field(description="The artifact's README.md (model card, markdown).")


class ModelList(BaseModel):
    models: list[ModelInfo]


class LiveResponse(BaseModel):
    status: Literal["live"] = "live"


class ReadyResponse(BaseModel):
    status: Literal["ready", "loading", "failed"]
    models: list[str] = Field(description="Models whose warm-up forward pass succeeded.")
    versions: dict[str, str] | None = Field(None, description="Version each model serves.")
    error: str | None = None


class ErrorBody(BaseModel):
    type: str = Field(description="Machine-readable kind, e.g. invalid_input, model_not_found.")
    message: str = Field(description="One human sentence naming the problem and what was expected.")
    details: list[dict[str, Any]] | None = Field(None, description="Per-field problems, if any.")


class ErrorResponse(BaseModel):
    error: ErrorBody


# -- parsing -------------------------------------------------------------------------

R = TypeVar("R", bound=BaseModel)
_MAX_DETAILS = 20


def parse_request(body: bytes, model: type[R]) -> R:
    """Decode and strictly validate a JSON request body.

    Raises:
        MalformedJSONError: empty body or invalid JSON (names line and column).
        RequestValidationFailed: the JSON does not fit ``model``; names each bad field.
    """
    if not body.strip():
        raise MalformedJSONError(
            'request body is empty; send a JSON object like {"inputs": [[...]]}'
        )
    try:
        data = pydantic_core.from_json(body, allow_inf_nan=True)
    except ValueError as e:
        raise MalformedJSONError(f"request body is not valid JSON: {e}") from None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        messages, details = [], []
        for err in e.errors(include_url=False)[:_MAX_DETAILS]:
            msg = _describe_error(err, model)
            messages.append(msg)
            details.append({"loc": _loc(err["loc"]), "type": err["type"], "msg": msg})
        more = e.error_count() - 3
        message = "; ".join(messages[:3]) + (f" (and {more} more)" if more > 0 else "")
        raise RequestValidationFailed(message, details) from None


def to_array(value: list[Any], what: str) -> np.ndarray:
    """Validated nested lists -> float32 array; names the first mismatch of a ragged array.

    Raises:
        InputError: samples (or rows) of different lengths.
    """
    try:
        with np.errstate(over="ignore"):  # beyond float32 -> inf; the runtime names it
            return np.asarray(value, dtype=np.float32)
    except ValueError:
        raise InputError(_ragged_message(value, what)) from None


def _loc(loc: tuple[int | str, ...]) -> list[int | str]:
    # Strings after the field name are union tags ("1", "2", "3"), not part of the path.
    return [p for i, p in enumerate(loc) if i == 0 or isinstance(p, int)]


def _where(loc: list[int | str]) -> str:
    if not loc:
        return "request body"
    return str(loc[0]) + "".join(f"[{p}]" for p in loc[1:])


def _show(value: Any) -> str:
    """A JSON value as a short phrase: 'string "0.5"', 'boolean true', 'null', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    text = json.dumps(value, default=str)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{'string' if isinstance(value, str) else 'object'} {text}"


def _describe_error(err: Any, model: type[BaseModel]) -> str:
    loc = _loc(err["loc"])
    where, kind, got = _where(loc), err["type"], _show(err.get("input"))
    if kind == "missing":
        return f"missing required field '{where}'"
    if kind == "extra_forbidden":
        return f"unexpected field '{where}' (expected fields: {', '.join(model.model_fields)})"
    if kind in ("model_type", "dict_type") and not loc:
        fields = ", ".join(f"'{f}'" for f in model.model_fields)
        return f"request body must be a JSON object with fields {fields}, got {got}"
    if where == "steps":
        return f"steps must be an integer in [2, {MAX_INTERPOLATION_STEPS}], got {got}"
    if kind == "float_type":
        return f"{where} must be a number, got {got}"
    if kind == "list_type" and len(loc) == 2 and loc[0] == "inputs":
        return f"{where} must be an array (one sample; {loc[0]} is a batch of them), got {got}"
    if kind == "list_type":
        return f"{where} must be an array, got {got}"
    return f"{where}: {err['msg']} (got {got})"


def _shape(x: Any) -> tuple[int, ...] | None:
    """Shape of a nested list, ``None`` if it is ragged somewhere inside."""
    if not isinstance(x, list):
        return ()
    shapes = {_shape(v) for v in x}
    if None in shapes or len(shapes) > 1:
        return None
    return (len(x), *shapes.pop()) if x else (0,)


def _ragged_message(value: list[Any], what: str, path: tuple[int, ...] = ()) -> str:
    shapes = [_shape(v) for v in value]
    for i, s in enumerate(shapes):
        if s is None:
            return _ragged_message(value[i], what, (*path, i))
    i = next((i for i, s in enumerate(shapes) if s != shapes[0]), 0)
    if i == 0:
        return f"{what} could not be read as an array of numbers"
    first, other = _where([what, *path, 0]), _where([what, *path, i])
    return (
        f"ragged array: {first} has {_size(shapes[0])} but {other} has {_size(shapes[i])}; "
        "every sample (and every row of a sample) must have the same length"
    )


def _size(shape: tuple[int, ...] | None) -> str:
    if not shape:
        return "a number"
    if len(shape) > 1:
        return f"shape {shape}"
    return f"{shape[0]} value" + ("" if shape[0] == 1 else "s")
