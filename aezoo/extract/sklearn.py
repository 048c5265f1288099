"""A scikit-learn transformer over an aezoo model, for ``Pipeline`` s before a classifier.

Needs scikit-learn (imported here at the top; :mod:`aezoo.extract.features` does not)::

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from aezoo.extract.sklearn import EncoderTransformer

    clf = make_pipeline(EncoderTransformer("sda-mnist"), LogisticRegression(max_iter=500))
    clf.fit(X_train, y_train)  # X: (n, 784) float32 in [0, 1]
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from aezoo.errors import InputError
from aezoo.extract.features import _check_args, _check_rows, run_in_batches
from aezoo.runtime.loading import load_model
from aezoo.runtime.model import OnnxModel


class EncoderTransformer(TransformerMixin, BaseEstimator):
    """Codes (or denoised inputs) of a pretrained autoencoder as features.

    ``fit`` learns nothing from the data: it loads the model and checks the shape of
    ``X``. The model's weights are fixed, so ``fit_transform(X) == transform(X)``.

    Args:
        model: registry reference ``name[@version|@alias]`` or artifact directory.
        batch_size: rows per onnxruntime call in ``transform``.
        operation: ``"encode"`` -> ``(n, n_components)`` codes; ``"denoise"`` ->
            ``(n, n_features)`` reconstructions.
        scale: multiply ``X`` by this first (``1/255`` for uint8 pixels); ``None`` = 1.

    Attributes:
        model_: the loaded :class:`~aezoo.runtime.model.OnnxModel`. Pickling drops
            its onnxruntime sessions; the copy reloads from ``artifact_path_`` on first
            use, so joblib and ``cross_val_score(n_jobs=...)`` work.
        artifact_path_: the resolved artifact directory (an alias like ``latest`` is
            pinned at fit time).
        n_features_in_: input values per sample (784 for MNIST).
        n_features_out_: output columns.

    Raises:
        InputError (a ValueError): ``X`` of the wrong shape, NaN/Inf, or outside the
            model's value range (``fit`` checks shape only; ``transform`` everything).
        ConfigError (a ValueError): bad ``operation``, ``batch_size`` or ``scale``, at fit.
        ModelNotFoundError: the model cannot be found, at fit.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "sda-mnist",
        batch_size: int = 1024,
        operation: str = "encode",
        scale: float | None = None,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.operation = operation
        self.scale = scale

    def fit(self, X: Any, y: Any = None) -> EncoderTransformer:
        """Load the model and check ``X`` ``(n, n_features)`` or ``(n, *image_shape)``.

        Returns:
            self.
        """
        model = load_model(self.model)
        self.n_features_out_ = _check_args(model, self.operation, self.batch_size, self.scale)
        _check_rows(model, np.shape(X), "X")
        self.model_ = model
        self.artifact_path_ = str(model.path)
        self.n_features_in_ = model.config.input.n_features
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Features of ``X``: float32 ``(n, n_components)`` (encode) or ``(n, n_features)``."""
        check_is_fitted(self, "n_features_in_")
        return run_in_batches(self.model_, X, self.operation, self.batch_size, self.scale)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``code0 .. code{k-1}`` for encode; the input names (or ``x0 ..``) for denoise."""
        check_is_fitted(self, "n_features_in_")
        if self.operation == "encode":
            return np.asarray([f"code{i}" for i in range(self.n_features_out_)], dtype=object)
        if input_features is None:
            return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
        if len(input_features) != self.n_features_in_:
            raise InputError(
                f"input_features has {len(input_features)} names; expected {self.n_features_in_}"
            )
        return np.asarray(input_features, dtype=object)

    # -- pickling: onnxruntime sessions do not pickle; reload lazily ----------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__
        state.pop("model_", None)
        return state

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: ``model_`` after unpickling.
        if name == "model_" and "artifact_path_" in self.__dict__:
            model = self.__dict__["model_"] = OnnxModel(self.__dict__["artifact_path_"])
            return model
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


__all__ = ["EncoderTransformer"]
