"""onnxruntime-backed model: numpy in, numpy out, torch never imported.

An :class:`OnnxModel` owns one inference session per graph of an artifact and
composes them into the four operations (ARCHITECTURE.md):
``encode = encoder(x)``, ``denoise = decoder(encoder(x))``,
``classify = argmax softmax(classifier(x))`` and
``interpolate = decoder((1 - alpha) encoder(a) + alpha encoder(b))`` with
``alpha`` evenly spaced over [0, 1] (Berthelot et al. 2018, arXiv:1807.07543, §2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from aezoo.errors import InputError, OperationNotSupportedError
from aezoo.registry.artifact import CLASSIFIER, DECODER, ENCODER, read_config
from aezoo.registry.verify import check_graphs, verify_artifact
from aezoo.spec import ModelConfig, Operation

MAX_INTERPOLATION_STEPS = 1024
_RANGE_TOL = 1e-6


def default_providers() -> list[str]:
    """CUDA first where onnxruntime-gpu sees a GPU, then CPU."""
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxModel:
    """A loaded artifact, ready to run.

    Args:
        path: artifact directory.
        providers: onnxruntime execution providers; default :func:`default_providers`.
        intra_op_threads: threads per session (0 = onnxruntime's default).
        verify: check every file against the manifest's sha256 before loading.

    Attributes:
        path: the artifact directory.
        config: the validated ``config.json``.
        name, version: from the manifest.

    Raises:
        ArtifactError and its subclasses: missing, unlisted or tampered files, or a config
        that disagrees with the graphs (see :mod:`aezoo.registry.verify`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        providers: list[str] | None = None,
        intra_op_threads: int = 0,
        verify: bool = True,
    ) -> None:
        self.path = Path(path)
        manifest = verify_artifact(self.path) if verify else None
        self.config: ModelConfig = read_config(self.path)
        self.name = manifest.name if manifest else self.path.name
        self.version = manifest.version if manifest else "unversioned"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_threads
        self.providers = providers or default_providers()
        self._sessions: dict[str, ort.InferenceSession] = {}
        graphs = {"encoder": ENCODER, "decoder": DECODER}
        if "classify" in self.config.operations:
            graphs["classifier"] = CLASSIFIER
        for key, rel in graphs.items():
            self._sessions[key] = ort.InferenceSession(
                str(self.path / rel), sess_options=opts, providers=self.providers
            )
        check_graphs(self.path, self.config, self._sessions)  # widths agree with config.json

    def __repr__(self) -> str:
        return f"OnnxModel({self.name!r}, version={self.version!r}, family={self.config.family!r})"

    @property
    def operations(self) -> list[Operation]:
        return list(self.config.operations)

    # -- input checking ----------------------------------------------------
    def check_inputs(self, x: Any, what: str = "inputs") -> np.ndarray:
        """Validate and reshape to ``(batch, n_features)`` float32.

        Accepts one sample (``(n_features,)`` or the image shape) or a batch
        (``(batch, n_features)`` or ``(batch, *shape)``).

        Raises:
            InputError: not numeric, wrong shape, empty, NaN/Inf, or outside value_range.
        """
        spec = self.config.input
        try:
            arr = np.asarray(x, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise InputError(f"{what} must be numbers in arrays of equal length: {e}") from None
        shape = tuple(spec.shape or ())
        if arr.size == 0:  # [] or (0, n_features): one message for every empty form
            raise InputError(f"{what} is an empty batch; send at least one sample")
        if arr.shape in ((spec.n_features,), shape):
            arr = arr.reshape(1, spec.n_features)
        elif arr.ndim >= 2 and (arr.shape[1:] == (spec.n_features,) or arr.shape[1:] == shape):
            arr = arr.reshape(arr.shape[0], spec.n_features)
        else:
            want = f"(batch, {spec.n_features})" + (
                f" or (batch, {', '.join(map(str, shape))})" if shape else ""
            )
            raise InputError(f"{what} has shape {arr.shape}; expected {want}")
        if not np.isfinite(arr).all():
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise InputError(
                f"{what} contains NaN or Inf (first at sample {bad[0]}, feature {bad[1]})"
            )
        lo, hi = spec.value_range
        if arr.min() < lo - _RANGE_TOL or arr.max() > hi + _RANGE_TOL:
            raise InputError(
                f"{what} values must lie in [{lo:g}, {hi:g}] ({spec.preprocessing or 'see the model config'}); "
                f"got min {arr.min():g}, max {arr.max():g}"
            )
        return arr

    def _require(self, op: Operation) -> None:
        if op not in self.config.operations:
            raise OperationNotSupportedError(
                f"model {self.name!r} does not offer {op!r}; it offers {', '.join(self.config.operations)}"
            )

    def _run(self, key: str, x: np.ndarray) -> np.ndarray:
        sess = self._sessions[key]
        return sess.run(None, {sess.get_inputs()[0].name: x})[0]

    # -- operations --------------------------------------------------------
    def encode(self, x: Any) -> np.ndarray:
        """Codes ``(batch, n_components)`` float32 for inputs ``(batch, n_features)``."""
        self._require("encode")
        return self._run("encoder", self.check_inputs(x))

    def decode(self, z: Any) -> np.ndarray:
        """Inputs-space outputs ``(batch, n_features)`` for codes ``(batch, n_components)``."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.config.n_components:
            raise InputError(
                f"codes have shape {z.shape}; expected (batch, {self.config.n_components})"
            )
        return self._run("decoder", z)

    def denoise(self, x: Any) -> np.ndarray:
        """``decode(encode(x))``: ``(batch, n_features)`` in the input value range."""
        self._require("denoise")
        return self._run("decoder", self._run("encoder", self.check_inputs(x)))

    def predict_proba(self, x: Any) -> np.ndarray:
        """Class probabilities ``(batch, n_classes)`` (softmax of the classifier's logits)."""
        self._require("classify")
        logits = self._run("classifier", self.check_inputs(x)).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def classify(self, x: Any) -> np.ndarray:
        """Predicted label indices ``(batch,)`` int64 (names in ``config.class_names``)."""
        return self.predict_proba(x).argmax(axis=1)

    def interpolate(self, a: Any, b: Any, steps: int = 8) -> np.ndarray:
        """Decode ``steps`` codes evenly mixed from ``encode(a)`` to ``encode(b)``.

        Args:
            a, b: one sample each (``(n_features,)`` or the image shape).
            steps: number of rows, >= 2; mixing coefficients ``linspace(0, 1, steps)``,
                so row 0 is the reconstruction of ``a`` and row ``steps-1`` that of ``b``.

        Returns:
            ``(steps, n_features)`` float32.
        """
        self._require("interpolate")
        if (
            isinstance(steps, bool)
            or not isinstance(steps, (int, np.integer))
            or not (2 <= steps <= MAX_INTERPOLATION_STEPS)
        ):
            raise InputError(
                f"steps must be an integer in [2, {MAX_INTERPOLATION_STEPS}], got {steps!r}"
            )
        xa, xb = self.check_inputs(a, "a"), self.check_inputs(b, "b")
        if xa.shape[0] != 1 or xb.shape[0] != 1:
            raise InputError("a and b must each be one sample, not a batch")
        z = self._run("encoder", np.concatenate([xa, xb]))  # (2, n_components)
        alphas = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[:, None]
        mixed = (1.0 - alphas) * z[0] + alphas * z[1]  # (steps, n_components)
        return self._run("decoder", mixed.astype(np.float32))
