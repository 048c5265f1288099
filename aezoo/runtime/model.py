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
from typing import Any, Literal

import numpy as np
import onnxruntime as ort

from aezoo.errors import ConfigError, InputError, OperationNotSupportedError
from aezoo.registry.artifact import CLASSIFIER, DECODER, DENOISER, ENCODER, SCORER, read_config
from aezoo.registry.verify import DENOISER_OUTPUT, check_graphs, verify_artifact
from aezoo.runtime.calibration import judge, read_calibration
from aezoo.runtime.tiling import denoise_image
from aezoo.spec import ModelConfig, Operation

MAX_INTERPOLATION_STEPS = 1024
_RANGE_TOL = 1e-6


def _within(arr: np.ndarray, lo: float, hi: float) -> bool:
    """True when every value of ``arr`` is finite and in ``[lo, hi]``.

    ``argmin``/``argmax`` give the first NaN's index when there is one, so one pass each
    catches NaN, +-Inf and out-of-range values together. They are used instead of
    ``np.minimum.reduce``: next to a batch-1 onnxruntime run, numpy's ufunc-reduce
    machinery costs about 5 us more than its own time, most of the runtime's overhead
    at batch 1 (measured with ``benchmarks/serving_engine.py --overhead-only``).
    """
    return lo <= arr.item(arr.argmin()) and arr.item(arr.argmax()) <= hi


BatchOp = Literal["encode", "denoise", "predict_proba", "score"]
BATCH_OPS: tuple[BatchOp, ...] = ("encode", "denoise", "predict_proba", "score")
"""Operations that take a batch and answer one row per sample, so requests can be merged."""
_OP_OF: dict[str, Operation] = {
    "encode": "encode",
    "denoise": "denoise",
    "predict_proba": "classify",
    "score": "score",
}


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, returned as float32 ``(batch, n_classes)``."""
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
DEVICES = ("auto", "cpu", "cuda")


def default_providers() -> list[str]:
    """CUDA first where onnxruntime-gpu sees a GPU, then CPU."""
    available = ort.get_available_providers()
    return [p for p in (CUDA, CPU) if p in available]


def providers_for(device: str) -> list[str]:
    """Execution providers for ``device``: ``"auto"`` (CUDA if present, else CPU), ``"cpu"``
    or ``"cuda"``.

    Raises:
        ConfigError: unknown device, or ``"cuda"`` where onnxruntime has no CUDA execution
            provider (the CPU ``onnxruntime`` wheel; install ``aezoo[gpu]``, i.e. onnxruntime-gpu).
    """
    if device == "auto":
        return default_providers()
    if device == "cpu":
        return [CPU]
    if device == "cuda":
        if CUDA not in ort.get_available_providers():
            raise ConfigError(
                "device 'cuda' needs onnxruntime's CUDAExecutionProvider, which this onnxruntime "
                f"lacks (it has {', '.join(ort.get_available_providers())}); "
                "install aezoo[gpu] (onnxruntime-gpu) on a machine with a CUDA GPU"
            )
        return [CUDA, CPU]
    raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")


class OnnxModel:
    """A loaded artifact, ready to run.

    Args:
        path: artifact directory.
        providers: onnxruntime execution providers; default :func:`default_providers`.
        intra_op_threads: threads per session (0 = onnxruntime's default, one per
            physical core).
        verify: check every file against the manifest's sha256 before loading.
        spinning: let onnxruntime's idle worker threads spin (onnxruntime's default; lowest
            latency in a process that does nothing else). A server turns it off so idle
            threads leave the cores to the HTTP side.

    Attributes:
        path: the artifact directory.
        config: the validated ``config.json``.
        name, version: from the manifest.

        providers: the execution providers the sessions use, first = preferred.

    Raises:
        ArtifactError and its subclasses: missing, unlisted or tampered files, or a config
            that disagrees with the graphs (see :mod:`aezoo.registry.verify`).
        ConfigError: CUDA was asked for (first in ``providers``) but a session runs on CPU.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        providers: list[str] | None = None,
        intra_op_threads: int = 0,
        verify: bool = True,
        spinning: bool = True,
    ) -> None:
        self.path = Path(path)
        manifest = verify_artifact(self.path) if verify else None
        self.config: ModelConfig = read_config(self.path)
        self.name = manifest.name if manifest else self.path.name
        self.version = manifest.version if manifest else "unversioned"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_threads
        opts.inter_op_num_threads = 1  # the graphs are chains: nothing runs in parallel
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        requested = providers or default_providers()
        self._sessions: dict[str, ort.InferenceSession] = {}
        # (input name, output names) per graph, read once: get_inputs() costs per call
        self._io: dict[str, tuple[str, list[str]]] = {}
        graphs = {"encoder": ENCODER, "decoder": DECODER}
        if self.config.denoiser is not None:  # whole-image denoiser: one graph
            graphs = {"denoiser": DENOISER}
        elif "classify" in self.config.operations:
            graphs["classifier"] = CLASSIFIER
        if (self.path / SCORER).is_file():  # optional (aezoo.models.score)
            graphs["scorer"] = SCORER
        for key, rel in graphs.items():
            sess = ort.InferenceSession(
                str(self.path / rel), sess_options=opts, providers=requested
            )
            if requested[0] == CUDA and sess.get_providers()[0] != CUDA:
                raise ConfigError(
                    f"{self.path / rel}: CUDA was requested but onnxruntime runs it on "
                    f"{sess.get_providers()[0]} (is a GPU visible to onnxruntime-gpu?)"
                )
            self._sessions[key] = sess
            self._io[key] = (sess.get_inputs()[0].name, [o.name for o in sess.get_outputs()])
        check_graphs(self.path, self.config, self._sessions)  # widths agree with config.json
        self.providers: list[str] = next(iter(self._sessions.values())).get_providers()
        spec = self.config.input
        self._n_features = spec.n_features
        self._image_shape = tuple(spec.shape or ())
        self._lo, self._hi = spec.value_range[0] - _RANGE_TOL, spec.value_range[1] + _RANGE_TOL
        self.calibration = read_calibration(self.path)  # None: scores without a threshold

    def __repr__(self) -> str:
        return f"OnnxModel({self.name!r}, version={self.version!r}, family={self.config.family!r})"

    @property
    def operations(self) -> list[Operation]:
        """``config.operations``, plus ``"score"`` when the artifact has a scorer graph."""
        ops = list(self.config.operations)
        return [*ops, "score"] if "scorer" in self._sessions and "score" not in ops else ops

    # -- input checking ----------------------------------------------------
    def check_inputs(self, x: Any, what: str = "inputs") -> np.ndarray:
        """Validate and reshape to ``(batch, n_features)`` float32.

        Accepts one sample (``(n_features,)`` or the image shape) or a batch
        (``(batch, n_features)`` or ``(batch, *shape)``).

        Raises:
            InputError: not numeric, wrong shape, empty, NaN/Inf, or outside value_range.
        """
        if (  # fast path: already a float32 (batch, n_features) array
            type(x) is np.ndarray
            and x.dtype == np.float32
            and x.ndim == 2
            and x.shape[1] == self._n_features
            and x.shape[0] > 0
        ):
            if _within(x, self._lo, self._hi):
                return x
            return self._check_values(x, what)
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
        if _within(arr, self._lo, self._hi):
            return arr
        return self._check_values(arr, what)

    def _check_values(self, arr: np.ndarray, what: str) -> np.ndarray:
        """Name the first NaN/Inf or the out-of-range extremes of ``arr`` (batch, n_features)."""
        spec = self.config.input
        bad_mask = ~np.isfinite(arr)
        if spec.missing == "impute":  # NaN = a missing value the graphs fill in; Inf is not
            bad_mask &= ~np.isnan(arr)
        if bad_mask.any():
            bad = np.argwhere(bad_mask)[0]
            kind = "Inf" if spec.missing == "impute" else "NaN or Inf"
            raise InputError(f"{what} contains {kind} (first at sample {bad[0]}, feature {bad[1]})")
        lo, hi = spec.value_range
        if np.isnan(arr).all():
            return arr
        if np.nanmin(arr) < lo - _RANGE_TOL or np.nanmax(arr) > hi + _RANGE_TOL:
            raise InputError(
                f"{what} values must lie in [{lo:g}, {hi:g}] ({spec.preprocessing or 'see the model config'}); "
                f"got min {arr.min():g}, max {arr.max():g}"
            )
        return arr

    def _require(self, op: Operation) -> None:
        if op not in self.operations:
            raise OperationNotSupportedError(
                f"model {self.name!r} does not offer {op!r}; it offers {', '.join(self.operations)}"
            )

    def _run(self, key: str, x: np.ndarray) -> np.ndarray:
        if key not in self._io:  # rows through a whole-image denoiser: no such graph
            raise OperationNotSupportedError(
                f"model {self.name!r} is a whole-image denoiser: it has no {key} graph; use "
                "denoise_image(image, sigma) (HTTP: the denoise route with ?sigma=)"
            )
        name, outputs = self._io[key]
        return self._sessions[key].run(outputs, {name: x})[0]

    def compute(self, op: BatchOp, x: np.ndarray) -> np.ndarray:
        """Run ``op`` on a batch that :meth:`check_inputs` has already accepted.

        The batcher (:mod:`aezoo.runtime.batcher`) checks each request once, merges them and
        calls this; nothing is checked again here.

        Args:
            op: ``"encode"`` -> codes ``(batch, n_components)``, ``"denoise"`` ->
                ``(batch, n_features)``, ``"predict_proba"`` -> ``(batch, n_classes)``,
                ``"score"`` -> anomaly scores ``(batch,)``.
            x: float32 ``(batch, n_features)`` from :meth:`check_inputs`.

        Raises:
            OperationNotSupportedError: the model does not offer ``op``.
        """
        if op == "encode":
            self._require("encode")
            return self._run("encoder", x)
        if op == "denoise":
            self._require("denoise")
            return self._run("decoder", self._run("encoder", x))
        if op == "predict_proba":
            self._require("classify")
            return _softmax(self._run("classifier", x))
        if op == "score":
            self._require("score")
            return self._run("scorer", x)  # scores (batch,); judge() adds the calibration
        raise OperationNotSupportedError(f"unknown batch operation {op!r}; expected {BATCH_OPS}")

    def denoise_image(
        self, image: Any, sigma: float, *, tile: int | None = None, scale: float = 1.0
    ) -> np.ndarray:
        """Denoise one whole photograph with a whole-image denoiser (``config.denoiser``).

        Args:
            image: ``(H, W)`` grayscale or ``(H, W, 3)`` colour (each channel on its own),
                uint8, or float on the 0-``scale`` scale (1.0: [0, 1]; 255.0: [0, 255]).
            sigma: noise standard deviation on the 0-255 scale, inside
                ``config.denoiser.sigma_range``.
            tile: output block side; blocks carry ``config.denoiser.halo`` pixels of
                context, so the result equals one pass (see :mod:`aezoo.runtime.tiling`,
                which also states the memory bound). None (default): one pass for images
                of at most :data:`aezoo.runtime.tiling.DEFAULT_MAX_PIXELS` pixels, else
                256-pixel tiles.
            scale: white of a float image (ignored for uint8).

        Returns:
            Same shape and dtype: uint8 rounded and clipped; floats on the input's scale,
            clipped to [0, ``scale``].

        Raises:
            OperationNotSupportedError: the model is not a whole-image denoiser.
            InputError: bad shape, dtype, size below ``min_size``, NaN/Inf, or sigma outside
                the range (named in the message).
        """
        spec = self.config.denoiser
        if spec is None:
            raise OperationNotSupportedError(
                f"model {self.name!r} is not a whole-image denoiser; denoise_image needs a "
                "model with config.denoiser (use denoise for rows)"
            )
        sess = self._sessions["denoiser"]
        outputs = [DENOISER_OUTPUT]

        def run(block: np.ndarray, sig: np.ndarray) -> np.ndarray:
            return sess.run(outputs, {"noisy": block, "sigma": sig})[0]

        return denoise_image(run, spec, np.asarray(image), sigma, tile=tile, scale=scale)

    def blank_inputs(self, batch: int = 1) -> np.ndarray:
        """``(batch, n_features)`` float32 inputs at the value in range closest to 0 (warm-up)."""
        lo, hi = self.config.input.value_range
        return np.full((batch, self._n_features), min(max(0.0, lo), hi), dtype=np.float32)

    def warm_up(self) -> None:
        """One real forward pass through every operation the model offers.

        Raises:
            whatever onnxruntime raises when a graph cannot run (a broken artifact).
        """
        if self.config.denoiser is not None:
            side = max(self.config.denoiser.min_size, 2 * self.config.denoiser.halo + 1)
            lo = self.config.denoiser.sigma_range[0]
            out = self.denoise_image(np.zeros((side, side), np.float32), lo)
            if not np.isfinite(out).all():
                raise ConfigError(f"warm-up denoise_image of {self.name!r} gave non-finite values")
            return
        x = self.blank_inputs(2)
        for op in BATCH_OPS:
            if _OP_OF[op] in self.operations:
                out = self.compute(op, x)
                if out.shape[0] != 2 or not np.isfinite(out).all():
                    raise ConfigError(
                        f"warm-up {op} of {self.name!r} gave {out.shape} / non-finite"
                    )

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
        return _softmax(self._run("classifier", self.check_inputs(x)))

    def classify(self, x: Any) -> np.ndarray:
        """Predicted label indices ``(batch,)`` int64 (names in ``config.class_names``)."""
        return self.predict_proba(x).argmax(axis=1)

    @property
    def has_scorer(self) -> bool:
        """Whether the artifact carries ``onnx/scorer.onnx`` (older artifacts do not)."""
        return "scorer" in self._sessions

    def score_contributions(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """Anomaly scores ``(batch,)`` and per-feature contributions ``(batch, n_features)``,
        float32, >= 0, higher = more anomalous; defined per family in
        :mod:`aezoo.models.score` and computed in the space the model sees (a table
        model: its scaled inputs).

        Raises:
            InputError: bad inputs (as :meth:`encode`).
            OperationNotSupportedError: the artifact has no scorer graph (re-export it).
        """
        self._require("score")
        x = self.check_inputs(x)
        name, outputs = self._io["scorer"]
        scores, contributions = self._sessions["scorer"].run(outputs, {name: x})
        return scores, contributions

    def score(self, x: Any) -> dict[str, Any]:
        """Anomaly scores of inputs ``(batch, n_features)``, judged by the calibration.

        Returns:
            ``{"scores": (batch,) float32, "threshold": float | None, "p_values":
            (batch,) float64 in (0, 1] | None, "is_outlier": (batch,) bool}``; an
            uncalibrated model (no ``calibration.json``) answers ``threshold`` and
            ``p_values`` ``None`` and no ``is_outlier`` key
            (:mod:`aezoo.runtime.calibration`).

        Raises:
            InputError, OperationNotSupportedError: as :meth:`score_contributions`.
        """
        scores, _ = self.score_contributions(x)
        return judge(scores, self.calibration)

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
