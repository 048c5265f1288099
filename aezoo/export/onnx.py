"""Export a model's operations to ONNX, with the checker and a parity check built in.

Each graph has one input and one output with a dynamic batch axis:
``encoder.onnx`` inputs ``(batch, n_features)`` -> codes ``(batch, n_components)``;
``decoder.onnx`` codes -> outputs ``(batch, n_features)``;
``classifier.onnx`` inputs -> logits ``(batch, n_classes)``;
``scorer.onnx`` inputs -> ``scores`` ``(batch,)`` and ``contributions``
``(batch, n_features)`` (:mod:`aezoo.models.score`; two outputs).
Export fails loudly (:class:`~aezoo.errors.ExportError`) if the ONNX checker
rejects a graph or onnxruntime and torch disagree by more than
``PARITY_ATOL x max(1, max |output|)`` on fresh random input at any of
``PARITY_BATCH_SIZES``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from aezoo.errors import ExportError
from aezoo.models.base import AutoEncoder
from aezoo.models.score import Scorer, score
from aezoo.registry.artifact import CLASSIFIER, DECODER, ENCODER, SCORER

PARITY_BATCH_SIZES = (1, 7, 256)
PARITY_ATOL = 1e-4
OPSET = 20


class _Op(nn.Module):
    """Wraps one bound method of a model as the forward of an exportable module."""

    def __init__(self, model: AutoEncoder, op: str) -> None:
        super().__init__()
        self.model = model
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self.model, self.op)(x)


def _random_input(model: AutoEncoder, op: str, batch: int, gen: torch.Generator) -> torch.Tensor:
    if op == "decode":
        # codes: sample real codes of random inputs so the decoder sees its own domain
        with torch.no_grad():
            return model.encode(_random_input(model, "encode", batch, gen))
    lo, hi = model.input_spec().value_range
    if hi - lo > 1e3:  # unbounded (real-valued) inputs
        return torch.randn(batch, model.n_features, generator=gen)
    return lo + (hi - lo) * torch.rand(batch, model.n_features, generator=gen)


def _export_one(
    module: nn.Module, example: torch.Tensor, path: Path, names: tuple[str, ...]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=True,
            external_data=False,
            opset_version=OPSET,
            input_names=[names[0]],
            output_names=list(names[1:]),
            dynamic_shapes={"x": {0: batch}},
            verbose=False,
        )
    try:
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    except Exception as e:  # onnx raises several checker error types
        raise ExportError(f"ONNX checker rejected {path.name}: {e}") from e


def _parity(
    fn: Callable[[torch.Tensor], Any],
    path: Path,
    make_input: Callable[[int], torch.Tensor],
) -> dict[str, float]:
    """Max |onnxruntime - torch| per batch size over every output of the graph."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    errors: dict[str, float] = {}
    for b in PARITY_BATCH_SIZES:
        x = make_input(b)
        with torch.no_grad():
            out = fn(x)
        wants = [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]
        gots = sess.run(None, {name: x.numpy().astype(np.float32)})
        for got, want in zip(gots, wants, strict=True):
            if got.shape != want.shape:
                raise ExportError(
                    f"{path.name}: batch {b}: onnxruntime shape {got.shape} != torch {want.shape}"
                )
        err = max(float(np.abs(g - w).max()) for g, w in zip(gots, wants, strict=True))
        errors[str(b)] = err
        # relative to the outputs' size: a table model answers in its own units (1e3, 1e6)
        tol = PARITY_ATOL * max(1.0, max(float(np.abs(w).max()) for w in wants))
        if not err <= tol:
            raise ExportError(
                f"{path.name}: parity check failed at batch {b}: max |onnx - torch| = {err:.3g} "
                f"> {tol:.3g} ({PARITY_ATOL:g} x max(1, max |output|))"
            )
    return errors


def export_versions() -> dict[str, Any]:
    """The opset, the library versions and the parity tolerance of an export record."""
    return {
        "opset": OPSET,
        "torch_version": torch.__version__,
        "onnx_version": onnx.__version__,
        "onnxruntime_version": ort.__version__,
        "parity_atol": PARITY_ATOL,
    }


def export_scorer(
    model: AutoEncoder, root: Path, gen: torch.Generator | None = None
) -> dict[str, float]:
    """Export ``onnx/scorer.onnx`` (:mod:`aezoo.models.score`) of ``model`` under ``root``.

    Args:
        model: the model in eval mode.
        root: artifact directory; other graphs there are left untouched.
        gen: source of the random parity inputs (default: seeded with 0).

    Returns:
        Max |onnxruntime - torch| over both outputs, per batch size (as strings).

    Raises:
        ExportError: checker failure or parity error above ``PARITY_ATOL``.
    """
    gen = gen or torch.Generator().manual_seed(0)
    path = Path(root) / SCORER
    _export_one(
        Scorer(model),
        _random_input(model, "encode", 2, gen),
        path,
        ("inputs", "scores", "contributions"),
    )
    return _parity(
        lambda x: score(model, x), path, lambda b: _random_input(model, "encode", b, gen)
    )


def export_onnx(model: AutoEncoder, root: Path, seed: int = 0) -> dict[str, Any]:
    """Export encoder, decoder, scorer and (if present) classifier graphs under ``root/onnx/``.

    Args:
        model: a trained model; it is put in eval mode.
        root: artifact directory.
        seed: seed of the fresh random parity inputs.

    Returns:
        The export record (opset, versions, per-graph parity errors by batch size),
        written by the caller to ``onnx/export.json``.

    Raises:
        ExportError: checker failure or parity error above ``PARITY_ATOL``.
    """
    model = model.eval()
    gen = torch.Generator().manual_seed(seed)
    graphs = [("encode", ENCODER, ("inputs", "codes")), ("decode", DECODER, ("codes", "outputs"))]
    if model.has_classifier:
        graphs.append(("classify", CLASSIFIER, ("inputs", "logits")))
    parity: dict[str, dict[str, float]] = {}
    for op, rel, names in graphs:
        path = Path(root) / rel
        example = _random_input(model, op, 2, gen)
        _export_one(_Op(model, op), example, path, names)
        parity[rel] = _parity(
            getattr(model, op), path, lambda b, op=op: _random_input(model, op, b, gen)
        )
    parity[SCORER] = export_scorer(model, root, gen)
    return {
        **export_versions(),
        "parity_batch_sizes": list(PARITY_BATCH_SIZES),
        "parity_max_abs_error": parity,
    }
