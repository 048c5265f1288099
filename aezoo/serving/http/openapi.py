"""The OpenAPI document states what the server does (checked by schemathesis in the slow tests).

FastAPI's generated document is the base; :func:`install_openapi` rewrites it on each change
of the served models:

- Inference bodies are per model: ``POST /v1/models/{name}/{op}`` and the v2 ``infer``
  routes are listed once per served model, as concrete paths (``/v1/models/sda-mnist/encode``),
  each with a request schema that states that model's row length (``n_features`` numbers, or
  nested in ``input.shape``), its ``value_range`` and ``max_batch_size``: a body valid under
  the schema is a valid request. The templated inference paths are not listed (the row
  length depends on ``{name}``, which a schema cannot tie to the body). An image model's
  v1 routes also list ``image/png``, ``image/jpeg`` and ``multipart/form-data`` bodies.
- A whole-image denoiser's routes are described by :mod:`aezoo.serving.http.openapi_photo`
  (image bodies of any size, the required ``?sigma=``, the ``image`` tensor on v2).
- Every route lists every status it can answer, with its error body: the v1 routes
  ``{"error": {"type", "message"}}``, the v2 routes the protocol's ``{"error": "..."}``;
  401 wherever an API key is required.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI

from aezoo.runtime.model import OnnxModel
from aezoo.serving.engine import Engine
from aezoo.serving.http.oip_codec import DATATYPES, INPUT, output_names
from aezoo.serving.http.openapi_photo import photo_oip_schema, photo_v1_operation
from aezoo.serving.schemas import MAX_INTERPOLATION_STEPS

V1_OPS = ("encode", "denoise", "classify", "interpolate", "score")
OIP_ERROR = {
    "type": "object",
    "title": "OipError",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What was wrong."}},
}
_V1_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_OIP_STATUS = {
    400: "Not a valid inference request: JSON, tensor name, datatype, shape or data.",
    401: "Missing or wrong API key (when the server has one).",
    404: "No such model, or not the version served.",
    413: "Body or batch above the server's limits.",
    415: "Content-Type other than application/json or application/octet-stream.",
    429: "Overloaded: queue, body budget or connections at their limit; see Retry-After.",
    503: "Models not loaded yet, or this one failed its warm-up.",
}
# v2 route suffix -> the statuses it answers besides 200
_OIP_ROUTES = {"": (401, 404, 503), "/ready": (401, 404, 503)}
_OIP_INFER = (400, 401, 404, 413, 415, 429, 503)


def _number(model: OnnxModel) -> dict[str, Any]:
    lo, hi = model.config.input.value_range
    return {"type": "number", "minimum": lo, "maximum": hi}


def _nested(dims: list[int], leaf: dict[str, Any]) -> dict[str, Any]:
    for d in reversed(dims):
        leaf = {"type": "array", "items": leaf, "minItems": d, "maxItems": d}
    return leaf


def sample_forms(model: OnnxModel) -> list[dict[str, Any]]:
    """The forms of one sample of ``model``: ``n_features`` numbers in its value range, and
    (for image models) the same nested in its ``input.shape``."""
    spec = model.config.input
    flat = _nested([spec.n_features], _number(model))
    if not spec.shape or list(spec.shape) == [spec.n_features]:
        return [flat]
    return [flat, _nested(list(spec.shape), _number(model))]


def _one_of(forms: list[dict[str, Any]]) -> dict[str, Any]:
    return forms[0] if len(forms) == 1 else {"anyOf": forms}


def v1_request_schema(model: OnnxModel, op: str, max_batch_size: int) -> dict[str, Any]:
    """The JSON body of ``POST /v1/models/{model}/{op}`` (a batch's samples share one form)."""
    forms = sample_forms(model)
    if op == "interpolate":
        steps = {"type": "integer", "minimum": 2, "maximum": MAX_INTERPOLATION_STEPS}
        props: dict[str, Any] = {"a": _one_of(forms), "b": _one_of(forms), "steps": steps}
        required = ["a", "b"]
    else:
        batches = [
            {"type": "array", "items": form, "minItems": 1, "maxItems": max_batch_size}
            for form in forms
        ]
        props, required = {"inputs": _one_of(batches)}, ["inputs"]
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


def oip_request_schema(model: OnnxModel) -> dict[str, Any]:
    """The JSON body of ``POST /v2/models/{model}/infer`` for one sample (larger batches:
    shape ``[batch, ...]`` with ``batch`` samples of data, as the protocol says).

    A strict subset of what the server takes (no ``id`` or ``parameters``, which the protocol
    leaves open): every body valid under it is a valid request.
    """
    spec = model.config.input
    shapes = [[1, spec.n_features]] + ([[1, *spec.shape]] if spec.shape else [])
    tensor = {
        "type": "object",
        "required": ["name", "datatype", "shape", "data"],
        "properties": {
            "name": {"const": INPUT},
            "datatype": {"enum": sorted(DATATYPES)},
            "shape": {"enum": shapes},
            "data": _nested([spec.n_features], _number(model)),
        },
        "additionalProperties": False,
    }
    output = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"enum": output_names(model)}},
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "inputs": {"type": "array", "items": tensor, "minItems": 1, "maxItems": 1},
            "outputs": {"type": "array", "items": output, "minItems": 1},
        },
        "additionalProperties": False,
    }


def score_response_schema(model: OnnxModel) -> dict[str, Any]:
    """The JSON answer of ``POST /v1/models/{model}/score`` for this model: its calibration's
    threshold as a constant, with ``p_values`` and ``is_outlier``; without a calibration
    ``threshold`` and ``p_values`` are null and ``is_outlier`` is absent
    (:func:`aezoo.runtime.calibration.judge`)."""
    scores = {
        "type": "array",
        "items": {"type": "number", "minimum": 0.0},
        "description": "Anomaly score of each sample, shape (batch,), higher = more anomalous "
        "(the energy the model was trained to lower; aezoo.models.score).",
    }
    cal = model.calibration
    if cal is None:
        return {
            "type": "object",
            "description": "This model has no calibration: scores only, no threshold.",
            "required": ["scores", "threshold", "p_values"],
            "properties": {
                "scores": scores,
                "threshold": {"type": "null", "description": "No calibration: no threshold."},
                "p_values": {"type": "null"},
            },
            "additionalProperties": False,
        }
    target = f"fpr {cal.fpr:g}" if cal.fpr is not None else f"contamination {cal.contamination:g}"
    return {
        "type": "object",
        "description": f"Calibrated at {target} on {cal.rows} held-out rows"
        + (f" ({cal.source})" if cal.source else "")
        + ": is_outlier = scores > threshold.",
        "required": ["scores", "threshold", "p_values", "is_outlier"],
        "properties": {
            "scores": scores,
            "threshold": {
                "type": "number",
                "const": cal.threshold,
                "description": "The calibrated threshold (calibration.json), in score units.",
            },
            "p_values": {
                "type": "array",
                "items": {"type": "number", "exclusiveMinimum": 0.0, "maximum": 1.0},
                "description": "Conformal p-value of each sample, (1 + #{calibration scores "
                ">= score}) / (n + 1): small = unlike the calibration data.",
            },
            "is_outlier": {
                "type": "array",
                "items": {"type": "boolean"},
                "description": "scores > threshold, per sample.",
            },
        },
        "additionalProperties": False,
    }


def _score_responses(op: dict[str, Any], model: OnnxModel) -> None:
    """Put this model's score answer (JSON and ``.npy``) into operation ``op``'s 200."""
    ok = op["responses"]["200"]
    ok["content"] = {
        "application/json": {"schema": score_response_schema(model)},
        "application/x-npy": {
            "schema": {"type": "string", "format": "binary"},
            "description": "with Accept: application/x-npy, the scores alone, float32 (batch,)",
        },
    }
    if model.calibration is not None:
        ok["headers"] = {
            "X-Threshold": {
                "description": "The calibrated threshold (on .npy answers).",
                "schema": {"type": "string"},
            }
        }


def image_bodies(op: str) -> dict[str, Any]:
    """An image model's other bodies: one encoded image, or several as multipart parts."""
    binary = {"type": "string", "format": "binary"}
    multipart = {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"image": {"type": "array", "items": binary}},
                "description": "one image file per part, in order (interpolate: a, then b)",
            }
        }
    }
    if op == "interpolate":
        return multipart
    one = {"schema": {**binary, "description": "one PNG or JPEG file"}}
    return {"image/png": one, "image/jpeg": one, **multipart}


def _oip_errors(statuses: tuple[int, ...]) -> dict[str, Any]:
    """v2 error responses: the protocol's ``{"error": "..."}``, except where the server's
    guards answer first (401 from the API key, a 429 from the connection cap: aezoo's shape)."""
    oip = {"$ref": "#/components/schemas/OipError"}
    schema = {401: _V1_ERROR_REF, 429: {"anyOf": [oip, _V1_ERROR_REF]}}
    return {
        str(code): {
            "description": _OIP_STATUS[code],
            "content": {"application/json": {"schema": schema.get(code, oip)}},
        }
        for code in statuses
    }


def _v1_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _V1_ERROR_REF}}}


def _concrete(template: dict[str, Any], name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """``template`` (an operation of a ``{name}`` path) for model ``name`` with body ``schema``."""
    op = copy.deepcopy(template)
    op["operationId"] = f"{op.get('operationId', 'op')}_{name.replace('.', '_')}"
    op["parameters"] = [p for p in op.get("parameters", []) if p.get("name") != "name"]
    content = op.setdefault("requestBody", {"required": True}).setdefault("content", {})
    json_body = content.setdefault("application/json", {})
    json_body["schema"] = schema
    json_body.pop("example", None)
    return op


def build(base: dict[str, Any], engine: Engine) -> dict[str, Any]:
    """The document for the models ``engine`` serves now (``base``: FastAPI's, not modified)."""
    doc = copy.deepcopy(base)
    paths, served = doc["paths"], engine.pool.all() if engine.pool is not None else []
    doc.setdefault("components", {}).setdefault("schemas", {})["OipError"] = OIP_ERROR
    for suffix in ("", "/versions/{version}"):
        for tail, statuses in _OIP_ROUTES.items():
            get = paths[f"/v2/models/{{name}}{suffix}{tail}"]["get"]
            get["responses"] = {"200": get["responses"]["200"], **_oip_errors(statuses)}
        infer = paths.pop(f"/v2/models/{{name}}{suffix}/infer")["post"]
        infer["responses"] = {"200": infer["responses"]["200"], **_oip_errors(_OIP_INFER)}
        for m in served:  # the version served, too: any other is a 404
            schema = (
                photo_oip_schema(m.model)
                if m.model.config.denoiser is not None
                else oip_request_schema(m.model)
            )
            op = _concrete(infer, m.name, schema)
            op["parameters"] = [p for p in op["parameters"] if p.get("name") != "version"]
            path = f"/v2/models/{m.name}{suffix.replace('{version}', m.version)}/infer"
            paths[path] = {"post": op}
    paths["/v2/health/ready"]["get"]["responses"]["503"] = {
        "description": "Not every served model is ready.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    for op in V1_OPS:
        template = paths.pop(f"/v1/models/{{name}}/{op}")["post"]
        for m in served:
            if m.model.config.denoiser is not None:  # whole images: openapi_photo.py
                if op == "denoise":
                    paths[f"/v1/models/{m.name}/{op}"] = {"post": photo_v1_operation(
                        template, m.model, m.name, engine.settings.max_image_pixels
                    )}  # fmt: skip
            elif op in m.model.operations:
                schema = v1_request_schema(m.model, op, engine.settings.max_batch_size)
                concrete = _concrete(template, m.name, schema)
                if m.model.config.input.image is not None:
                    concrete["requestBody"]["content"].update(image_bodies(op))
                if op == "score":
                    _score_responses(concrete, m.model)
                paths[f"/v1/models/{m.name}/{op}"] = {"post": concrete}
    for path in ("/v1/models/{name}/files", "/v1/models/{name}/files/{path}"):
        responses = paths[path]["get"]["responses"]
        responses.pop("422", None)  # path parameters are plain strings: never invalid
        responses["503"] = _v1_error("Models not loaded yet.")
    paths["/v1/models/{name}/files/{path}"]["get"]["responses"]["500"] = _v1_error(
        "The file changed on disk since the server loaded it (never served)."
    )
    paths["/v1/models/{name}"]["get"]["responses"].pop("422", None)
    if engine.settings.api_key is not None:
        for path, item in paths.items():
            if not path.startswith(("/health/", "/v2/health/")):
                for operation in item.values():
                    operation["responses"].setdefault("401", _v1_error("Missing or wrong API key."))
    return doc


def install_openapi(app: FastAPI, engine: Engine) -> None:
    """Serve :func:`build`'s document at ``/openapi.json``, rebuilt when the models change."""
    generate = app.openapi
    cache: dict[Any, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        served = engine.pool.all() if engine.pool is not None else []
        key = tuple((m.name, m.version) for m in served)
        if key not in cache:
            cache.clear()
            cache[key] = build(generate(), engine)
        app.openapi_schema = cache[key]
        return cache[key]

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = [
    "build",
    "install_openapi",
    "oip_request_schema",
    "sample_forms",
    "score_response_schema",
    "v1_request_schema",
]
