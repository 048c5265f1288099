"""onnxruntime, numpy in and out, torch never imported: a loaded artifact
(:class:`~aezoo.runtime.model.OnnxModel`) with its input checks, and loading models by
registry reference (:func:`~aezoo.runtime.loading.load_models`)."""

from aezoo.runtime.model import OnnxModel

__all__ = ["OnnxModel"]
