"""TorchServe handler of an aezoo model archive (``aezoo export-torchserve``).

This file travels inside the ``.mar`` as its handler; TorchServe imports it in its
Python worker, where aezoo must be installed (``pip install aezoo``: core only, no
torch needed by the handler). At load, :meth:`AezooHandler.initialize` checks the
archived artifact (``artifact/`` in the archive) against its ``manifest.json``
(sha256 of every file, nothing unlisted, no symlinks), loads it with aezoo's
onnxruntime runtime (:class:`aezoo.runtime.OnnxModel`) and runs one forward pass;
a check or pass that fails fails the load, so TorchServe never serves the model.

Routes (TorchServe's inference API; the operation is the path after the version)::

    POST /predictions/{name}                         encode
    POST /predictions/{name}/{version}/{operation}   encode | denoise | classify | score

Request body, one per request:
  ``application/json``   ``{"inputs": [[...], ...]}`` as aezoo's v1 API, parsed in
                         pydantic's strict mode (numbers only, unknown fields rejected)
  ``application/x-npy``  a ``numpy.save`` array, float32 or float64, shape
                         ``(batch, n_features)``, ``(n_features,)`` or the image shape
TorchServe decodes JSON bodies itself unless its environment sets
``TS_DECODE_INPUT_REQUEST=false``; the handler accepts both (a decoded body is
encoded again for the strict parser, so large JSON bodies are faster with the
variable set). Every sample then goes through :meth:`OnnxModel.check_inputs` (shape, NaN/Inf, value
range), at most ``max_batch_size`` samples per request.

Answer: JSON as aezoo's v1 API (``{"codes"}``, ``{"outputs"}``, ``{"labels",
"probabilities"}``), or with ``Accept: application/x-npy`` a ``.npy`` array (codes,
outputs, or probabilities; classify puts the labels in the ``X-Aezoo-Labels`` header
as a JSON list). ``score`` answers ``{"scores", "threshold", "p_values"[, "is_outlier"]}``
as v1's ``/score`` (``.npy``: the scores ``(batch,)``). Errors answer ``{"error": {"type", "message"[, "details"]}}`` with the
status of :data:`aezoo.serving.schemas.ERROR_TABLE` (400, 404, 413, 422), and 415 for
an unsupported content type.

TorchServe batches requests (``batchSize`` and ``maxBatchDelay`` in the archive's
``model-config.yaml``): requests of one operation in a batch run as one onnxruntime
call on their concatenated samples, and each gets its own rows back.

Source: TorchServe custom service contract (``initialize(context)``,
``handle(data, context) -> list``, per-request status via ``context``).
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pydantic_core

from aezoo.errors import AezooError, ArtifactError, InputError, OperationNotSupportedError
from aezoo.runtime import OnnxModel
from aezoo.runtime.calibration import judge
from aezoo.serving import schemas

log = logging.getLogger("aezoo.torchserve")

ARTIFACT_DIR = "artifact"  # where the artifact's files sit inside the archive
OPERATIONS = ("encode", "denoise", "classify", "score")
NPY = "application/x-npy"
LABELS_HEADER = "X-Aezoo-Labels"
ACCEPTED = ("application/json", NPY, "")  # "": no Content-Type sent, read as JSON


def _header(context: Any, idx: int, name: str) -> str:
    headers = context.get_all_request_header(idx) or {}
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value if isinstance(value, str) else ""
    return ""


def _content_type(context: Any, idx: int) -> str:
    return _header(context, idx, "Content-Type").split(";")[0].strip().lower()


def _read_npy(body: bytes) -> np.ndarray:
    if not body.startswith(b"\x93NUMPY"):
        raise InputError(
            "request body is not a .npy file (no \\x93NUMPY magic); write it with numpy.save"
        )
    try:
        arr = np.load(io.BytesIO(body), allow_pickle=False)
    except Exception as e:  # untrusted header: numpy's literal_eval raises
        # ValueError, SyntaxError, tokenize.TokenError, RecursionError, ... on bad input
        raise InputError(
            f"request body is not a valid .npy array: {type(e).__name__}: {e}"
        ) from None
    if not isinstance(arr, np.ndarray) or arr.dtype not in (np.float32, np.float64):
        raise InputError(f"a .npy body must hold float32 or float64, got {arr.dtype}")
    return arr


def _error(
    context: Any, idx: int, status: int, kind: str, message: str, details: Any = None
) -> bytes:
    body: dict[str, Any] = {"type": kind, "message": message}
    if details is not None:
        body["details"] = details
    context.set_response_status(status, kind, idx=idx)
    context.set_response_content_type(idx, "application/json")
    return pydantic_core.to_json({"error": body})


class AezooHandler:
    """Serves one aezoo artifact from an extracted ``.mar`` (TorchServe's handler class)."""

    def __init__(self) -> None:
        self.model: OnnxModel | None = None
        self.max_batch_size = 1024

    def initialize(self, context: Any) -> None:
        """Verify and load ``artifact/``, then run one forward pass.

        Raises:
            ArtifactError / IntegrityError: files missing, modified or unlisted, or the
                artifact is not the name and version the archive was built from.
        """
        root = Path(context.system_properties["model_dir"]) / ARTIFACT_DIR
        settings = (getattr(context, "model_yaml_config", None) or {}).get("aezoo", {})
        # verify_artifact (inside OnnxModel) refuses symlinks, unlisted and modified files
        model = OnnxModel(root, intra_op_threads=int(settings.get("intra_op_threads", 0)))
        want = (settings.get("name", model.name), str(settings.get("version", model.version)))
        if (model.name, model.version) != want:
            raise ArtifactError(
                f"archive was built from {want[0]}@{want[1]} but holds {model.name}@{model.version}"
            )
        self.max_batch_size = int(settings.get("max_batch_size", self.max_batch_size))
        model.warm_up()  # ready means a forward pass through every operation succeeded
        self.model = model
        log.info("aezoo: serving %s@%s from %s", model.name, model.version, root)

    # -- one request -> (operation, validated samples) ------------------------------------

    def _operation(self, context: Any, idx: int) -> str:
        assert self.model is not None
        op = _header(context, idx, "url_path").strip("/") or "encode"
        if op not in OPERATIONS:
            raise OperationNotSupportedError(
                f"unknown operation {op!r}; TorchServe serves {', '.join(OPERATIONS)} "
                "(POST /predictions/NAME/VERSION/OPERATION)"
            )
        if op not in self.model.operations:
            raise OperationNotSupportedError(
                f"model {self.model.name!r} does not offer {op!r}; "
                f"it offers {', '.join(o for o in self.model.operations if o in OPERATIONS)}"
            )
        return op

    def _samples(self, row: dict[str, Any], context: Any, idx: int) -> np.ndarray:
        assert self.model is not None
        body = row.get("body", row.get("data"))
        if isinstance(body, (dict, list)):  # TorchServe already decoded the JSON
            body = json.dumps(body).encode()
        if body is None:
            raise schemas.MalformedJSONError('request body is empty; send {"inputs": [[...]]}')
        if _content_type(context, idx) == NPY:
            x = _read_npy(bytes(body))
        else:
            req = schemas.parse_request(bytes(body), schemas.BatchRequest)
            x = schemas.to_array(req.inputs, "inputs")
        x = self.model.check_inputs(x)
        if len(x) > self.max_batch_size:
            raise schemas.BatchTooLargeError(
                f"batch of {len(x)} samples exceeds max_batch_size={self.max_batch_size}; "
                f"split it into requests of at most {self.max_batch_size} samples"
            )
        return x

    # -- answers -----------------------------------------------------------------------

    def _run(self, op: str, x: np.ndarray) -> np.ndarray:
        assert self.model is not None
        if op == "encode":
            return self.model.encode(x)
        if op == "denoise":
            return self.model.denoise(x)
        if op == "score":
            return self.model.score_contributions(x)[0]  # (batch,)
        return self.model.predict_proba(x)

    def _answer(self, op: str, out: np.ndarray, context: Any, idx: int) -> bytes:
        assert self.model is not None
        npy = NPY in _header(context, idx, "Accept")
        labels = None
        if op == "classify":
            names = self.model.config.class_names or [str(i) for i in range(out.shape[1])]
            labels = [names[i] for i in out.argmax(axis=1)]
        if npy:
            buf = io.BytesIO()
            np.save(buf, out, allow_pickle=False)
            context.set_response_content_type(idx, NPY)
            if labels is not None:
                context.set_response_header(idx, LABELS_HEADER, json.dumps(labels))
            return buf.getvalue()
        context.set_response_content_type(idx, "application/json")
        if op == "score":
            judged = judge(out, self.model.calibration)
            return pydantic_core.to_json(
                {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in judged.items()}
            )
        if op == "classify":
            return pydantic_core.to_json({"labels": labels, "probabilities": out.tolist()})
        return pydantic_core.to_json({"codes" if op == "encode" else "outputs": out.tolist()})

    def handle(self, data: list[dict[str, Any]], context: Any) -> list[bytes]:
        """Answer a batch of TorchServe requests, one answer (or error) per request."""
        answers: list[bytes] = [b""] * len(data)
        groups: dict[str, list[tuple[int, np.ndarray]]] = {}
        for idx, row in enumerate(data):
            ctype = _content_type(context, idx)
            if ctype not in ACCEPTED:
                answers[idx] = _error(
                    context,
                    idx,
                    415,
                    "unsupported_media_type",
                    f"Content-Type {ctype!r} is not accepted; send application/json or {NPY}",
                )
                continue
            try:
                groups.setdefault(self._operation(context, idx), []).append(
                    (idx, self._samples(row, context, idx))
                )
            except AezooError as e:
                status, kind = schemas.error_status(e)
                answers[idx] = _error(
                    context, idx, status, kind, str(e), getattr(e, "details", None)
                )
        for op, items in groups.items():
            try:
                out = self._run(op, np.concatenate([x for _, x in items]))
            except Exception:
                log.exception("%s on a batch of %d requests failed", op, len(items))
                for idx, _ in items:
                    answers[idx] = _error(
                        context, idx, 500, "internal_error", f"{op} failed; see the TorchServe log"
                    )
                continue
            ends = np.cumsum([len(x) for _, x in items])
            for (idx, _), part in zip(items, np.split(out, ends[:-1]), strict=True):
                answers[idx] = self._answer(op, part, context, idx)
        return answers
