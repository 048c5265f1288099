"""Export a whole-image denoiser (:class:`aezoo.models.denoiser.CSCDenoiser`) as an artifact.

The one graph, ``onnx/denoiser.onnx`` (:data:`aezoo.registry.format.DENOISER`), follows
:class:`aezoo.spec.DenoiserSpec`: inputs ``noisy`` float32 ``(N, 1, H, W)`` and ``sigma``
float32 ``(N,)``, output ``denoised`` float32 ``(N, 1, H, W)``, with ``N``, ``H`` and
``W`` dynamic. The graph is :class:`aezoo.export.denoiser_graph.DenoiserGraph`, the model
rewritten for onnxruntime's kernels. Export fails (:class:`~aezoo.errors.ExportError`) when
the ONNX checker rejects the graph or onnxruntime and torch disagree by more than
``PARITY_ATOL x max(1, max |output|)`` on noisy non-square images (:data:`PARITY_SHAPES`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from safetensors.torch import load_file

from aezoo._version import __version__
from aezoo.errors import ArtifactError, ExportError
from aezoo.export.denoiser_graph import DenoiserGraph
from aezoo.export.onnx import OPSET, PARITY_ATOL, export_versions
from aezoo.export.torch_io import assemble_artifact
from aezoo.models.denoiser import CSCDenoiser, CSCDenoiserConfig
from aezoo.registry.artifact import (
    DENOISER,
    WEIGHTS,
    read_config,
)
from aezoo.registry.verify import check_graphs, check_weights, verify_artifact
from aezoo.spec import DenoiserSpec, InputSpec, ModelConfig

PARITY_SHAPES = ((1, 37, 53), (3, 64, 48))  # (N, H, W): odd, non-square, batched


def denoiser_config(model: CSCDenoiser, sigma_range: tuple[float, float]) -> ModelConfig:
    """``config.json`` of a whole-image denoiser trained for ``sigma_range`` (0-255)."""
    cfg = model.config
    return ModelConfig(
        architecture=CSCDenoiser.architecture,
        family="lista-denoiser",
        model_args=cfg.model_dump(),
        input=InputSpec(
            n_features=1,
            value_range=(-1.0, 2.0),
            preprocessing=(
                "one grayscale channel as uint8 / 255 with white Gaussian noise added "
                "(not clipped); colour images one channel at a time"
            ),
        ),
        n_components=cfg.n_filters,
        operations=["denoise"],
        aezoo_version=__version__,
        denoiser=DenoiserSpec(sigma_range=sigma_range, halo=cfg.halo, min_size=cfg.min_size),
    )


def _noisy(shape: tuple[int, int, int], gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    n, h, w = shape
    clean = torch.rand(n, 1, h, w, generator=gen)
    sigma = 5.0 + 50.0 * torch.rand(n, generator=gen)
    return clean + torch.randn(clean.shape, generator=gen) * sigma[:, None, None, None] / 255, sigma


def export_denoiser_onnx(model: CSCDenoiser, path: Path, seed: int = 0) -> dict[str, Any]:
    """Write ``path`` (the ONNX graph), check it, and compare it with torch.

    Returns:
        The export record (opset, versions, max abs error per parity shape).

    Raises:
        ExportError: the checker rejects the graph or the parity check fails.
    """
    model = model.eval()
    graph = DenoiserGraph(model).eval()  # the same function, in operations onnxruntime runs fast
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    example = _noisy((2, 40, 56), gen)
    batch, height, width = (torch.export.Dim(n, min=1) for n in ("N", "H", "W"))
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            example,
            str(path),
            dynamo=True,
            external_data=False,
            opset_version=OPSET,
            input_names=["noisy", "sigma"],
            output_names=["denoised"],
            dynamic_shapes={"noisy": {0: batch, 2: height, 3: width}, "sigma": {0: batch}},
            verbose=False,
        )
    try:
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    except Exception as e:  # onnx raises several checker error types
        raise ExportError(f"ONNX checker rejected {path.name}: {e}") from e
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    errors: dict[str, float] = {}
    for shape in PARITY_SHAPES:
        noisy, sigma = _noisy(shape, gen)
        with torch.no_grad():
            want = model(noisy, sigma).numpy()
        got = sess.run(["denoised"], {"noisy": noisy.numpy(), "sigma": sigma.numpy()})[0]
        key = "x".join(map(str, shape))
        if got.shape != want.shape:
            raise ExportError(
                f"{path.name}: {key}: onnxruntime shape {got.shape} != torch {want.shape}"
            )
        err = errors[key] = float(np.abs(got - want).max())
        tol = PARITY_ATOL * max(1.0, float(np.abs(want).max()))
        if not err <= tol:
            raise ExportError(
                f"{path.name}: parity failed on {key}: max |onnx - torch| = {err:.3g} > {tol:.3g}"
            )
    return {
        **export_versions(),
        "parity_shapes": [list(s) for s in PARITY_SHAPES],
        "parity_max_abs_error": {DENOISER: errors},
    }


def build_denoiser_artifact(
    model: CSCDenoiser,
    out_dir: Path,
    *,
    name: str,
    sigma_range: tuple[float, float],
    version: str = "1",
    training: Mapping[str, Any] | None = None,
    figures: Mapping[str, bytes] | None = None,
    card_text: str = "",
    samples: Mapping[str, Any] | None = None,
) -> Path:
    """Write a complete, verified denoiser artifact at ``out_dir`` (which must not exist).

    Assembled in a temporary sibling directory and renamed into place once the export,
    the parity check and the manifest succeeded (:func:`aezoo.export.torch_io.assemble_artifact`).

    Raises:
        ExportError: ONNX checker or parity failure.
        FileExistsError: ``out_dir`` exists.
    """
    model = model.eval()
    return assemble_artifact(
        out_dir,
        name=name,
        version=version,
        config=denoiser_config(model, sigma_range),
        state=model.state_dict(),
        export=lambda root: export_denoiser_onnx(model, root / DENOISER),
        training=training,
        figures=figures,
        card_text=card_text,
        samples=samples,
    )


def load_denoiser(path: Path | str, verify: bool = True) -> CSCDenoiser:
    """The torch module of a denoiser artifact (verified as for serving by default).

    Raises:
        ArtifactError: a tampered artifact, or weights that do not fit the config.
    """
    path = Path(path)
    if verify:
        verify_artifact(path)
    config = read_config(path)
    if config.architecture != CSCDenoiser.architecture:
        raise ArtifactError(
            f"{path} holds a {config.architecture!r}, not a {CSCDenoiser.architecture!r}"
        )
    if verify:
        check_graphs(path, config)
    model = CSCDenoiser(CSCDenoiserConfig(**config.model_args))
    check_weights(path, {k: tuple(v.shape) for k, v in model.state_dict().items()})
    model.load_state_dict(load_file(str(path / WEIGHTS)))
    return model.eval()
