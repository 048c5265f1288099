"""OpenAPI operations of whole-image denoisers (``config.denoiser``), for
:mod:`aezoo.serving.http.openapi`: ``POST /v1/models/{name}/denoise`` with its image, ``.npy``
and JSON bodies, the required ``?sigma=`` in the model's range and the answers
(:mod:`aezoo.serving.http.photo`), and the v2 ``infer`` body with the ``image`` tensor
(:mod:`aezoo.serving.http.oip_photo`)."""

from __future__ import annotations

import copy
from typing import Any

from aezoo.runtime.model import OnnxModel
from aezoo.serving.oip_model import IMAGE, PHOTO_TYPES, SIGMA

_BINARY = {"type": "string", "format": "binary"}
_NUMBER = {"type": "number"}


def _sigma_schema(model: OnnxModel) -> dict[str, Any]:
    lo, hi = model.config.denoiser.sigma_range  # type: ignore[union-attr]
    return {"type": "number", "minimum": lo, "maximum": hi}


def _grid(leaf: dict[str, Any], min_size: int) -> dict[str, Any]:
    row = {"type": "array", "items": leaf, "minItems": min_size}
    return {"type": "array", "items": row, "minItems": min_size}


def photo_v1_operation(
    template: dict[str, Any], model: OnnxModel, name: str, max_pixels: int
) -> dict[str, Any]:
    """The denoise operation of ``template`` made concrete for the denoiser ``model``."""
    spec = model.config.denoiser
    assert spec is not None
    op = copy.deepcopy(template)
    op["operationId"] = f"{op.get('operationId', 'op')}_{name.replace('.', '_')}"
    lo, hi = spec.sigma_range
    op["summary"] = "Denoise one whole photograph (any size)."
    op["description"] = (
        f"A whole-image denoiser: one image of any size >= {spec.min_size} pixels a side and at "
        f"most max_image_pixels={max_pixels:,} pixels, grayscale or colour (denoised per "
        f"channel), large images in tiles with {spec.halo} px of context (no seams). "
        "Bodies: image/png or image/jpeg (answered image/png); application/x-npy, an (H, W) or "
        "(H, W, 3) array, uint8 or float on the uint8/255 scale (answered .npy, same dtype); "
        'application/json {"inputs": [[...]]} on the uint8/255 scale (answered '
        '{"outputs": [[...]]}). Accept: application/x-npy or image/png choose the answer. '
        f"Corrupt images, decompression bombs and more than max_image_pixels: 422. sigma "
        f"outside [{lo:g}, {hi:g}]: 422 naming the range."
    )
    op["parameters"] = [p for p in op.get("parameters", []) if p.get("name") != "name"]
    op["parameters"].append({
        "name": "sigma", "in": "query", "required": True, "schema": _sigma_schema(model),
        "description": "noise standard deviation on the 0-255 scale",
    })  # fmt: skip
    image = {"schema": {**_BINARY, "description": "one PNG or JPEG file"}}
    grid = _grid(_NUMBER, spec.min_size)
    op["requestBody"] = {
        "required": True,
        "content": {
            "image/png": image,
            "image/jpeg": image,
            "application/x-npy": {"schema": {**_BINARY, "description": "numpy.save bytes"}},
            "application/json": {"schema": {
                "type": "object", "required": ["inputs"], "additionalProperties": False,
                "properties": {"inputs": grid},
            }},
        },
    }  # fmt: skip
    ok = op["responses"]["200"]
    ok["description"] = "The denoised image, same size."
    ok["content"] = {
        "image/png": {"schema": _BINARY},
        "application/x-npy": {"schema": _BINARY},
        "application/json": {"schema": {"type": "object", "properties": {"outputs": grid}}},
    }
    return op


def photo_oip_schema(model: OnnxModel) -> dict[str, Any]:
    """The v2 ``infer`` JSON body of a denoiser: the ``image`` tensor and ``parameters.sigma``."""
    min_size = model.config.denoiser.min_size  # type: ignore[union-attr]
    side = {"type": "integer", "minimum": min_size}
    tensor = {
        "type": "object",
        "required": ["name", "datatype", "shape", "data"],
        "properties": {
            "name": {"const": IMAGE},
            "datatype": {"enum": sorted(PHOTO_TYPES)},
            "shape": {
                "type": "array",
                "prefixItems": [side, side, {"const": 3}],
                "minItems": 2,
                "maxItems": 3,
                "description": "[H, W] grayscale or [H, W, 3] colour",
            },
            "data": {"type": "array", "description": "H*W(*3) numbers, row-major, may be nested; "
                     "UINT8 0..255, FP32/FP64 on the uint8/255 scale"},
        },
        "additionalProperties": False,
    }  # fmt: skip
    return {
        "type": "object",
        "required": ["inputs", "parameters"],
        "properties": {
            "id": {"type": "string"},
            "inputs": {"type": "array", "items": tensor, "minItems": 1, "maxItems": 1},
            "parameters": {
                "type": "object",
                "required": [SIGMA],
                "properties": {
                    SIGMA: _sigma_schema(model),
                    "binary_data_output": {"type": "boolean"},
                },
            },
        },
        "description": f"or a second input {SIGMA!r} FP32 [1] instead of parameters.sigma; "
        "binary tensors (Inference-Header-Content-Length) as for every model",
    }


__all__ = ["photo_oip_schema", "photo_v1_operation"]
